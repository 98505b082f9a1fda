//! Transaction log replay on a real dirty Windows 10 SYSTEM hive, checked
//! against regipy's recovery, and on logs built here for the edge cases.

use crate::common::{available, load, oracle, own_count, own_dump, Scratch};
use rdp_doctor_regf::log::{marvin32, replay, LogFormat};
use rdp_doctor_regf::{base_block_checksum, Data, Hive, HiveEditor};

const TS: &str = "ControlSet001\\Control\\Terminal Server";

#[test]
fn replays_the_dirty_win10_hive() {
    let hive = load("regipy_SYSTEM_B_win10");
    let log1 = load("regipy_SYSTEM_B.LOG1");
    let log2 = load("regipy_SYSTEM_B.LOG2");
    let r = replay(&hive, &[&log1, &log2]).unwrap();
    // LOG1 holds entries 2107..=2110 and LOG2 2111..=2130: LOG2 continues LOG1.
    assert_eq!(r.log_used, vec![0, 1]);
    assert_eq!(r.entries_applied, 24);
    assert_eq!(r.sequence, 2130);
    assert_eq!(r.format, Some(LogFormat::Entries));
    let h = Hive::new(&r.bytes).unwrap();
    assert!(!h.base.is_dirty());
    assert!(h.base.checksum_ok());
    assert_eq!(h.base.bins_size, 12_591_104);
    // The editor accepts the result.
    HiveEditor::new(r.bytes.clone()).unwrap();

    // The order the logs are given in does not matter: the sequence decides.
    let swapped = replay(&hive, &[&log2, &log1]).unwrap();
    assert_eq!(swapped.bytes, r.bytes);
    assert_eq!(swapped.log_used, vec![1, 0]);

    // LOG2 alone does not continue from LOG1's entries' start but is still the
    // earliest available at or after the hive's sequence number.
    let only2 = replay(&hive, &[&log2]).unwrap();
    assert_eq!(only2.entries_applied, 20);
}

/// regipy's recovery of the same hive has the same hive bins and values.
#[test]
fn agrees_with_regipy_recovery() {
    if !available("python:regipy", "PyPI regipy") {
        return;
    }
    let hive = load("regipy_SYSTEM_B_win10");
    let log1 = load("regipy_SYSTEM_B.LOG1");
    let log2 = load("regipy_SYSTEM_B.LOG2");
    let ours = replay(&hive, &[&log1, &log2]).unwrap();
    let (h, l1, l2) = (
        Scratch::new("dirty", &hive),
        Scratch::new("log1", &log1),
        Scratch::new("log2", &log2),
    );
    let restored = Scratch::new("restored", b"");
    let s = |p: &Scratch| p.path().to_str().unwrap().to_string();
    oracle(&["recover", &s(&h), &s(&l1), &s(&l2), &s(&restored)]);
    let theirs = std::fs::read(restored.path()).unwrap();

    // Same pages written: every byte of the hive bins is equal.
    let bins = 4096 + Hive::new(&ours.bytes).unwrap().base.bins_size as usize;
    assert_eq!(theirs.len(), ours.bytes.len());
    assert!(
        ours.bytes[4096..bins] == theirs[4096..bins],
        "hive bins differ"
    );

    // And regipy, reading its own recovered hive, sees the values we read from ours.
    let mine = own_dump(&ours.bytes, TS);
    let listed = oracle(&["regipy", &s(&restored), TS]);
    let n = crate::common::assert_same("regipy", &mine, listed);
    assert!(n > 250, "{n} values compared");

    let mine = own_count(&ours.bytes);
    let counted = oracle(&["count-regipy", &s(&restored)]);
    assert_eq!(counted, vec![format!("{} {}", mine.0, mine.1)]);
    let ours_file = Scratch::new("ours", &ours.bytes);
    assert_eq!(oracle(&["count-regipy", &s(&ours_file)]), counted);
    assert!(mine.0 > 10_000 && mine.1 > 30_000, "{mine:?}");

    // The replay changed values: the primary file alone reads differently somewhere.
    assert_ne!(own_count(&hive), mine);
}

/// A new-format log entry holding `pages` of `edited` (4096-byte pages that differ from `base`).
fn log_entry(sequence: u32, bins_size: u32, pages: &[(u32, &[u8])]) -> Vec<u8> {
    let mut e = vec![0u8; 40];
    e[..4].copy_from_slice(b"HvLE");
    e[12..16].copy_from_slice(&sequence.to_le_bytes());
    e[16..20].copy_from_slice(&bins_size.to_le_bytes());
    e[20..24].copy_from_slice(&(pages.len() as u32).to_le_bytes());
    for (off, p) in pages {
        e.extend_from_slice(&off.to_le_bytes());
        e.extend_from_slice(&(p.len() as u32).to_le_bytes());
    }
    for (_, p) in pages {
        e.extend_from_slice(p);
    }
    e.resize(e.len().div_ceil(512) * 512, 0);
    let size = e.len() as u32;
    e[4..8].copy_from_slice(&size.to_le_bytes());
    let seed = 0x82EF_4D88_7A4E_55C5;
    let h1 = marvin32(seed, &e[40..]);
    e[24..32].copy_from_slice(&h1.to_le_bytes());
    let h2 = marvin32(seed, &e[..32]);
    e[32..40].copy_from_slice(&h2.to_le_bytes());
    e
}

fn log_file(base: &[u8], file_type: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut log = base[..512].to_vec();
    log[4..8].copy_from_slice(&sequence.to_le_bytes());
    log[8..12].copy_from_slice(&sequence.to_le_bytes());
    log[28..32].copy_from_slice(&file_type.to_le_bytes());
    let sum = base_block_checksum(&log);
    log[508..512].copy_from_slice(&sum.to_le_bytes());
    log.extend_from_slice(body);
    log
}

/// A clean hive, an edited copy, and the clean hive made dirty as Windows leaves it.
fn edited_pair() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let clean = load("regipy_SYSTEM_win7_32bit");
    let mut ed = HiveEditor::new(clean.clone()).unwrap();
    ed.set_timestamp(0x01D0_0000_0000_0000);
    ed.set_value(TS, "fDenyTSConnections", &Data::Dword(0))
        .unwrap();
    ed.set_value(
        &format!("{TS}\\Replay\\Test"),
        "Blob",
        &Data::Binary(vec![7; 20000]),
    )
    .unwrap();
    let edited = ed.finish();
    let seq = u32::from_le_bytes(clean[4..8].try_into().unwrap());
    let mut dirty = clean;
    // Windows bumps the primary sequence number before writing the log.
    dirty[4..8].copy_from_slice(&(seq + 1).to_le_bytes());
    let sum = base_block_checksum(&dirty[..512]);
    dirty[508..512].copy_from_slice(&sum.to_le_bytes());
    (dirty, edited, seq.to_le_bytes().to_vec())
}

fn changed_pages(a: &[u8], b: &[u8], page: usize) -> Vec<u32> {
    (4096..b.len())
        .step_by(page)
        .filter(|&o| a.get(o..o + page) != b.get(o..o + page))
        .map(|o| (o - 4096) as u32)
        .collect()
}

#[test]
fn replays_entries_built_from_an_edit() {
    let (dirty, edited, seq) = edited_pair();
    let seq = u32::from_le_bytes(seq.try_into().unwrap());
    let bins = Hive::new(&edited).unwrap().base.bins_size;
    let pages = changed_pages(&dirty, &edited, 4096);
    assert!(pages.len() > 3, "{pages:?}");
    let page = |o: u32| &edited[4096 + o as usize..4096 + o as usize + 4096];
    // Split over two logs, the second continuing the first; LOG1 starts with an
    // already applied entry (sequence number before the hive's), which must be skipped.
    let (first, second) = pages.split_at(pages.len() / 2);
    let stale = log_entry(seq - 1, bins, &[(first[0], &[0xEE; 4096])]);
    let mut body1 = stale;
    body1.extend(log_entry(
        seq,
        bins,
        &first.iter().map(|&o| (o, page(o))).collect::<Vec<_>>(),
    ));
    let body2 = log_entry(
        seq + 1,
        bins,
        &second.iter().map(|&o| (o, page(o))).collect::<Vec<_>>(),
    );
    let log1 = log_file(&dirty, 6, seq - 1, &body1);
    let log2 = log_file(&dirty, 6, seq + 1, &body2);
    let r = replay(&dirty, &[&log1, &log2]).unwrap();
    assert_eq!(r.entries_applied, 2);
    assert_eq!(r.log_used, vec![0, 1]);
    assert_eq!(r.sequence, seq + 1);
    let len = 4096 + bins as usize;
    assert!(r.bytes[4096..len] == edited[4096..len]);
    let hive = Hive::new(&r.bytes).unwrap();
    assert!(!hive.base.is_dirty() && hive.base.checksum_ok());
    assert_eq!(
        hive.root()
            .unwrap()
            .path(TS)
            .unwrap()
            .unwrap()
            .value("fDenyTSConnections")
            .unwrap(),
        Some(Data::Dword(0))
    );

    // A damaged second entry: the first alone is applied.
    let mut bad2 = log2.clone();
    bad2[512 + 60] ^= 1;
    let r = replay(&dirty, &[&log1, &bad2]).unwrap();
    assert_eq!(r.entries_applied, 1);
    assert_eq!(r.log_used, vec![0]);

    // No log continues the hive: an error that says so, never a hive marked clean.
    let e = replay(&dirty, &[&bad2]).unwrap_err();
    assert!(e.message.contains("dirty"), "{e}");
    assert!(e.message.contains("hash"), "{e}");
    let e = replay(&dirty, &[]).unwrap_err();
    assert!(e.message.contains("no transaction log"), "{e}");
}

#[test]
fn replays_an_old_format_dirty_vector() {
    let (dirty, edited, _) = edited_pair();
    let bins = Hive::new(&edited).unwrap().base.bins_size;
    let pages = changed_pages(&dirty, &edited, 512);
    let bits = bins as usize / 512;
    let mut bitmap = vec![0u8; bits.div_ceil(8)];
    for &p in &pages {
        let bit = p as usize / 512;
        bitmap[bit / 8] |= 1 << (bit % 8);
    }
    let mut body = b"DIRT".to_vec();
    body.extend_from_slice(&bitmap);
    body.resize((512 + body.len()).div_ceil(512) * 512 - 512, 0);
    for &p in &pages {
        body.extend_from_slice(&edited[4096 + p as usize..4096 + p as usize + 512]);
    }
    let mut base = edited[..512].to_vec();
    // The log's base block carries the hive's timestamp (the applicability check).
    base[12..20].copy_from_slice(&dirty[12..20]);
    let seq = u32::from_le_bytes(dirty[4..8].try_into().unwrap());
    let log = log_file(&base, 1, seq, &body);
    let r = replay(&dirty, &[b"", &log]).unwrap();
    assert_eq!(r.format, Some(LogFormat::DirtyVector));
    assert_eq!(r.log_used, vec![1]);
    assert_eq!(r.pages_written, pages.len());
    let len = 4096 + bins as usize;
    assert!(r.bytes[4096..len] == edited[4096..len]);
    assert!(!Hive::new(&r.bytes).unwrap().base.is_dirty());

    // A log from another write (other timestamp) does not apply.
    let mut other = base.clone();
    other[12] ^= 1;
    let log = log_file(&other, 1, seq, &body);
    assert!(replay(&dirty, &[&log]).is_err());
    // A truncated log is an error naming the offset.
    let log = log_file(&base, 1, seq, &body[..body.len() - 600]);
    let e = replay(&dirty, &[&log]).unwrap_err();
    assert!(e.to_string().starts_with("at file offset 0x"), "{e}");
}

#[test]
fn clean_hives_pass_through_and_bad_input_is_an_error() {
    let clean = load("regipy_SYSTEM_win7_32bit");
    let r = replay(&clean, &[]).unwrap();
    assert_eq!(r.entries_applied, 0);
    assert!(r.bytes == clean);
    for bad in [&b""[..], &b"regf"[..], &[0u8; 8192][..]] {
        let e = replay(bad, &[]).unwrap_err();
        assert!(e.to_string().starts_with("at file offset 0x0:"), "{e}");
    }
    // Logs of garbage next to a dirty hive: an error listing why each was refused.
    let (dirty, _, _) = edited_pair();
    let junk = vec![0x41u8; 5000];
    let e = replay(&dirty, &[&junk, b""]).unwrap_err();
    assert!(e.message.contains("#1 has no 'regf'"), "{e}");
    assert!(e.message.contains("#2 is empty"), "{e}");
}
