//! Account, domain and computer names in other scripts, as Windows writes them on
//! localized systems.
//!
//! No real non-English .evtx was found under a license that allows copying it here, so
//! this test derives variants of corpus logs itself, in memory: every UTF-16LE occurrence
//! of a name in the chunks is replaced by a German, French, Cyrillic or Japanese name of
//! the same length, and the chunk checksums are recomputed (libyal's EVTX format,
//! `libevtx/evtx_chunk.h`: the event records CRC32 at chunk offset 52 over bytes
//! 512..free space offset, the header CRC32 at offset 124 over bytes 0..120 and
//! 128..512). These are derived files, not real localized logs: the message templates
//! and everything but the replaced names stay those of the English originals.
//!
//! What it shows: with non-ASCII substitution strings both readers accept the files
//! (python-evtx and the evtx crate with checksum validation), they count the same records
//! per event ID, the names come out in the typed events, timelines and findings exactly
//! as written, and the findings are those of the original file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use rdp_doctor_events::{analyze, read_evtx, Options, RdpEvent, Timeline};
use rdp_doctor_model::Finding;

use crate::{evidence_lines, load, python_evtx_available, python_script};

const FILE_HEADER: usize = 4096;
const CHUNK: usize = 65_536;
const CHUNK_HEADER: usize = 512;

/// A corpus log, the language of its variant, and the names replaced in it (in this
/// order), each by one of the same number of UTF-16 code units.
struct Variant {
    source: &'static str,
    language: &'static str,
    names: &'static [(&'static str, &'static str)],
    /// New names the per-client timeline must show (the LSM log has console logons only,
    /// which have no client address and so no timeline).
    in_timeline: &'static [&'static str],
}

const VARIANTS: &[Variant] = &[
    Variant {
        // A failed RDP logon (4625, logon type 10) of Administrator on TEMPORAL.
        source: "omer_Security_short_selected",
        language: "German",
        names: &[
            ("Administrator", "Jürgen.Müller"),
            ("TEMPORAL", "BÜRO-PC1"),
            ("temporal", "büro-pc1"),
        ],
        in_timeline: &["Jürgen.Müller"],
    },
    Variant {
        // LocalSessionManager logons, reconnects and disconnects of a domain user.
        source: "belkasoft_win10_LSM_Operational",
        language: "French",
        names: &[
            ("anit.ghosh", "hélène.roy"),
            ("PRAIVACYMATRIX", "DÉPARTEMENT-01"),
            ("praivacymatrix", "département-01"),
        ],
        in_timeline: &[],
    },
    Variant {
        // A user denied Remote Desktop access (4825).
        source: "mdec_Security_4825_rdp_denied",
        language: "Russian (Cyrillic)",
        names: &[
            ("svc6test1", "иванов.ап"),
            ("OFFSEC", "ДОМЕН1"),
            ("offsec", "домен1"),
        ],
        in_timeline: &["иванов.ап"],
    },
    Variant {
        // Session reconnect / disconnect (4778 / 4779) from a jump host.
        source: "mdec_Security_4778_4779_rdp_hijack",
        language: "Japanese",
        names: &[
            ("admmarsid", "管理者やまだたろう"),
            ("admmig", "すずき・はな"),
            ("JUMP01", "踏み台サーバ"),
            ("OFFSEC", "本社ドメイン"),
            ("offsec", "本社ドメイン"),
        ],
        in_timeline: &["管理者やまだたろう", "すずき・はな"],
    },
];

/// CRC-32 (IEEE 802.3, reflected), the checksum of EVTX chunks.
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The (records, header) checksums a chunk should carry.
fn chunk_checksums(chunk: &[u8]) -> (u32, u32) {
    let free = (u32_at(chunk, 48) as usize).clamp(CHUNK_HEADER, CHUNK);
    let records = crc32(&[&chunk[CHUNK_HEADER..free]]);
    let header = crc32(&[&chunk[..120], &chunk[128..CHUNK_HEADER]]);
    (records, header)
}

fn chunks(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (FILE_HEADER..len)
        .step_by(CHUNK)
        .filter(move |start| start + CHUNK <= len)
        .map(|start| start..start + CHUNK)
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Replaces every UTF-16LE occurrence of each name inside the chunks; returns the number
/// of occurrences per name.
fn replace_names(bytes: &mut [u8], names: &[(&str, &str)]) -> Vec<usize> {
    let mut counts = Vec::new();
    for (from, to) in names {
        let (from, to) = (utf16le(from), utf16le(to));
        assert_eq!(from.len(), to.len(), "same length in UTF-16");
        let mut n = 0;
        let mut at = FILE_HEADER;
        while at + from.len() <= bytes.len() {
            if bytes[at..at + from.len()] == from[..] {
                bytes[at..at + from.len()].copy_from_slice(&to);
                n += 1;
                at += from.len();
            } else {
                at += 1;
            }
        }
        counts.push(n);
    }
    counts
}

/// Writes the checksums of every chunk whose bytes differ from the original's; each of
/// those must have carried correct checksums before (else the variant would make a
/// damaged chunk look sound). Returns how many chunks were rewritten.
fn fix_checksums(original: &[u8], variant: &mut [u8]) -> usize {
    let mut fixed = 0;
    for range in chunks(variant.len()) {
        if original[range.clone()] == variant[range.clone()] {
            continue;
        }
        let before = &original[range.clone()];
        assert_eq!(&before[..8], b"ElfChnk\0", "a changed chunk is a chunk");
        assert_eq!(
            chunk_checksums(before),
            (u32_at(before, 52), u32_at(before, 124)),
            "the original chunk at {} carries the checksums computed here",
            range.start
        );
        let (records, _) = chunk_checksums(&variant[range.clone()]);
        variant[range.start + 52..range.start + 56].copy_from_slice(&records.to_le_bytes());
        // The header checksum covers offset 52, so it is computed after the records one.
        let (_, header) = chunk_checksums(&variant[range.clone()]);
        variant[range.start + 124..range.start + 128].copy_from_slice(&header.to_le_bytes());
        fixed += 1;
    }
    fixed
}

/// Records the evtx crate reads with checksum validation on: (decoded, refused).
fn strict_read(bytes: &[u8]) -> (usize, usize) {
    let settings = evtx::ParserSettings::new().validate_checksums(true);
    let mut parser = evtx::EvtxParser::from_buffer(bytes.to_vec())
        .expect("file header")
        .with_configuration(settings);
    let (mut ok, mut refused) = (0, 0);
    for record in parser.records_json_value() {
        match record {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    (ok, refused)
}

/// What python-evtx says about a file: chunks with a bad CRC32, records per event ID,
/// records it could not render.
struct Oracle {
    bad_checksums: usize,
    counts: BTreeMap<u32, usize>,
    failed: usize,
}

fn python_evtx(path: &Path) -> std::process::Child {
    Command::new("python3")
        .arg(python_script())
        .arg("--verify-checksums")
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3")
}

fn oracle(child: std::process::Child, what: &str) -> Oracle {
    let out = child.wait_with_output().expect("python-evtx");
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut o = Oracle {
        bad_checksums: usize::MAX,
        counts: BTreeMap::new(),
        failed: usize::MAX,
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next().map(str::parse::<usize>)) {
            (Some("badcrc"), Some(Ok(n))) => o.bad_checksums = n,
            (Some("failed"), Some(Ok(n))) => o.failed = n,
            (Some(_record), Some(Ok(id))) => {
                *o.counts.entry(id as u32).or_default() += 1;
            }
            _ => panic!("{what}: odd line {line:?}"),
        }
    }
    o
}

fn localize(text: &str, names: &[(&str, &str)]) -> String {
    names
        .iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, to))
}

/// Every string of an event: its computer and fields.
fn strings(e: &RdpEvent) -> Vec<&str> {
    std::iter::once(e.computer.as_str())
        .chain(e.fields.values().map(String::as_str))
        .collect()
}

fn finding_kinds(f: &[Finding]) -> Vec<String> {
    f.iter()
        .map(|f| {
            format!(
                "{} {:?} {:?} {:?}",
                f.id,
                f.severity,
                f.cause,
                f.evidence.len()
            )
        })
        .collect()
}

fn timeline_lines(t: &[Timeline], names: &[(&str, &str)]) -> Vec<String> {
    t.iter()
        .flat_map(|t| {
            t.entries.iter().map(move |e| {
                localize(
                    &format!("{} {} {} {}", t.address, e.time, e.event_id, e.summary),
                    names,
                )
            })
        })
        .collect()
}

#[test]
fn non_ascii_names_read_exactly_as_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let python = python_evtx_available();
    let mut pending = Vec::new();
    for v in VARIANTS {
        let original = load(v.source);
        let mut variant = original.clone();
        let found = replace_names(&mut variant, v.names);
        for ((from, to), n) in v.names.iter().zip(&found) {
            assert!(*n > 0, "{}: {from} is not in the log", v.source);
            assert!(!to.is_ascii(), "{to} is ASCII");
        }
        // Changed bytes under the old checksums: a validating reader refuses the chunks.
        let (_, refused) = strict_read(&variant);
        assert!(refused > 0, "{}: checksums not validated", v.source);
        let stale = dir.join(format!("{}.stale.evtx", v.source));
        if python {
            std::fs::write(&stale, &variant).expect("write variant");
        }
        let fixed = fix_checksums(&original, &mut variant);
        assert!(fixed > 0, "{}", v.source);
        assert_eq!(
            strict_read(&variant),
            strict_read(&original),
            "{}: records read with checksum validation",
            v.source
        );
        assert_eq!(strict_read(&variant).1, 0, "{}", v.source);

        let ours = read_evtx(&variant).expect("variant reads");
        let before = read_evtx(&original).expect("original reads");
        assert_eq!(ours.failed_records, 0, "{}", v.source);
        assert_eq!(ours.counts, before.counts, "{}", v.source);
        assert_eq!(ours.events.len(), before.events.len(), "{}", v.source);
        assert!(!ours.events.is_empty(), "{}: no RDP events", v.source);

        // Every string of every typed event is the original's with the names replaced,
        // and each new name is there.
        for (b, o) in before.events.iter().zip(&ours.events) {
            let expected: Vec<String> = strings(b).iter().map(|s| localize(s, v.names)).collect();
            assert_eq!(strings(o), expected, "{}: record {}", v.source, b.record_id);
            assert_eq!(
                (o.record_id, o.event_id, &o.time),
                (b.record_id, b.event_id, &b.time)
            );
        }
        for (_, to) in v.names {
            assert!(
                ours.events
                    .iter()
                    .any(|e| strings(e).iter().any(|s| s.contains(to))),
                "{}: {to} is in no typed event",
                v.source
            );
        }

        // Findings and timelines: the same, with the names as written.
        let rdp_events = ours.events.len();
        let opts = Options::default();
        let before_analysis = analyze(before.events, &opts);
        let variant_analysis = analyze(ours.events, &opts);
        let (f_before, t_before) = (before_analysis.findings, before_analysis.timelines);
        let (f_variant, t_variant) = (variant_analysis.findings, variant_analysis.timelines);
        assert_eq!(
            finding_kinds(&f_variant),
            finding_kinds(&f_before),
            "{}",
            v.source
        );
        for (b, o) in f_before.iter().zip(&f_variant) {
            assert_eq!(o.title, localize(&b.title, v.names));
            let evidence: Vec<String> = evidence_lines(b)
                .iter()
                .map(|e| localize(e, v.names))
                .collect();
            assert_eq!(evidence_lines(o), evidence, "{}: {}", v.source, b.id);
        }
        let lines = timeline_lines(&t_variant, &[]);
        for name in v.in_timeline {
            assert!(
                lines.iter().any(|l| l.contains(name)),
                "{}: {name} not in the timeline {lines:#?}",
                v.source
            );
        }
        assert_eq!(lines, timeline_lines(&t_before, v.names), "{}", v.source);
        println!(
            "{} ({}): names replaced {:?} times in {fixed} chunk(s); {} records, {} RDP events, \
             findings {:?}, {} timeline entries",
            v.source,
            v.language,
            found,
            ours.records,
            rdp_events,
            finding_kinds(&f_variant),
            lines.len()
        );

        if python {
            let path = dir.join(format!(
                "{}.{}.evtx",
                v.source,
                v.language.replace(' ', "_")
            ));
            std::fs::write(&path, &variant).expect("write variant");
            pending.push((
                v.source,
                python_evtx(&path),
                python_evtx(&stale),
                ours.counts,
            ));
        }
    }
    for (source, child, stale, ours) in pending {
        let stale = oracle(stale, source);
        assert!(
            stale.bad_checksums > 0,
            "{source}: python-evtx ignores checksums"
        );
        let theirs = oracle(child, source);
        assert_eq!(theirs.bad_checksums, 0, "{source}: python-evtx checksums");
        assert_eq!(theirs.failed, 0, "{source}: python-evtx could not render");
        assert_eq!(theirs.counts, ours, "{source}: counts per event ID differ");
    }
}
