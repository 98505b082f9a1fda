#![no_main]
//! Any text pasted into `explain` gives an explanation or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(2, '\n');
    let first = parts.next().unwrap_or_default();
    let second = parts.next();
    let _ = rdp_doctor_codes::explain_codes(first, second, None);
    let _ = rdp_doctor_codes::explain_event(first, second);
});
