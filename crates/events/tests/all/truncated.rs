//! Logs cut short, as `head -c N` leaves them: reported as cut, with the chunks read.

use std::path::PathBuf;

use rdp_doctor_events::integrity::{truncation, CHUNK, FILE_HEADER};
use rdp_doctor_events::{read_paths, Options};
use rdp_doctor_model::{Evidence, FindingId, Severity};

use crate::{data, find, load};

#[test]
fn no_corpus_log_looks_cut() {
    for entry in std::fs::read_dir(data()).expect("data") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if let Some(stem) = name.strip_suffix(".evtx.xz") {
            assert_eq!(truncation(&load(stem)), None, "{stem}");
        }
    }
}

#[test]
fn cut_copies_are_reported_with_the_chunks_read() {
    // The header counts 3 chunks.
    let whole = load("mdec_RdpCoreTS_131_bruteforce");
    let dir = tempfile::tempdir().expect("temp dir");
    let cuts = [
        ("inside-chunk.evtx", FILE_HEADER + CHUNK + 30_000),
        ("at-boundary.evtx", FILE_HEADER + 2 * CHUNK),
        ("inside-first-chunk.evtx", FILE_HEADER + 30_000),
        ("inside-header.evtx", 2_000),
    ];
    let mut paths: Vec<PathBuf> = Vec::new();
    for (name, len) in cuts {
        let p = dir.path().join(name);
        std::fs::write(&p, &whole[..len]).expect("write");
        paths.push(p);
    }
    let report = read_paths(&paths, &Options::default(), |_, _, _| {}).expect("report");
    let t: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            f.truncated
                .map(|t| (t.chunks_read, t.chunks_in_header, t.partial_bytes))
        })
        .collect();
    assert_eq!(
        t,
        [
            Some((1, 3, 30_000)),
            Some((2, 3, 0)),
            Some((0, 3, 30_000)),
            Some((0, 3, 0)),
        ]
    );
    // The cut inside the first chunk reads no record: it is not "ok, 0 records".
    assert_eq!(report.files[2].records, 0);
    assert!(report.files[3]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("truncated")));
    let f = find(&report.findings, FindingId::LogTruncated);
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.title.starts_with("3 log file(s) cut short"),
        "{}",
        f.title
    );
    let Evidence::File { path, detail } = &f.evidence[0] else {
        panic!("{:?}", f.evidence)
    };
    assert!(path.ends_with("inside-chunk.evtx"), "{path}");
    assert_eq!(
        detail,
        "truncated: 1 complete chunk(s) read, the header counts 3, the file ends 30000 bytes into a 64 KiB chunk"
    );
}
