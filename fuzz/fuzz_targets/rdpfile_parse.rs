#![no_main]
//! Any bytes as an .rdp file: parse, lint and clean answer; the clean file
//! reads back to the same lines.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = rdp_doctor_rdpfile::parse(data);
    let _ = rdp_doctor_rdpfile::lint(&file);
    let clean = rdp_doctor_rdpfile::clean::clean(&file);
    let back = rdp_doctor_rdpfile::parse(&clean.to_mstsc_bytes());
    assert_eq!(back.lines, clean.lines);
});
