#![no_main]
//! Any pasted text (a dialog, a log line, a pair of codes) gives codes or an
//! error, never a panic; the codes read are explained and weighted without a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(reported) = rdp_doctor_codes::parse_reported(&text) {
        if let Ok(e) = rdp_doctor_codes::explain_reported(&reported) {
            let _ = rdp_doctor_codes::findings(&e);
        }
        let _ = rdp_doctor_codes::ranked_causes(&reported);
    }
});
