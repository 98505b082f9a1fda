#![no_main]
//! Any bytes as an .evtx file: read or refused, never a panic or a hang.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdp_doctor_events::integrity::truncation(data);
    if let Ok(f) = rdp_doctor_events::read_evtx(data) {
        let _ = rdp_doctor_events::analyze(f.events, &rdp_doctor_events::Options::default());
    }
});
