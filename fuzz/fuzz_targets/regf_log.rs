#![no_main]
//! Any bytes as a hive and two transaction logs: replayed or refused, never a
//! panic, and bounded memory; a replayed hive is clean.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_regf::log::replay;

fuzz_target!(|data: &[u8]| {
    // Layout: primary length (u32 LE), LOG1 length (u32 LE), then the three files.
    if data.len() < 8 {
        return;
    }
    let len = |o: usize| u32::from_le_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]) as usize;
    let rest = &data[8..];
    let a = len(0).min(rest.len());
    let b = (a + len(4)).min(rest.len());
    let (primary, log1, log2) = (&rest[..a], &rest[a..b], &rest[b..]);
    if let Ok(r) = replay(primary, &[log1, log2]) {
        assert_eq!(r.bytes[4..8], r.bytes[8..12], "sequence numbers equal");
        assert!(r.bytes.len() <= data.len() + 8192, "bounded growth");
    }
});
