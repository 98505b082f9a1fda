#![no_main]
//! Any text as the exporter's configuration file: parsed or refused with a reason.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = rdp_doctor_fleet::exporter::Config::parse(&text, std::path::Path::new("fuzz.toml")) {
        for host in ["127.0.0.1", "::1", "a.corp.example", "[::1]"] {
            let _ = c.allow.allows(host);
        }
    }
    let _ = rdp_doctor_fleet::scan::parse_targets(&text, 3389);
});
