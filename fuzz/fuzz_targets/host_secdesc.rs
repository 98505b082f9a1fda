#![no_main]
//! Any bytes as a self-relative security descriptor (an NTFS file's ACL):
//! parsed or refused with the offset, never a panic; a parsed DACL's checks
//! run on every ACE.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_host::secdesc;

fuzz_target!(|data: &[u8]| {
    if let Ok(sd) = secdesc::parse(data) {
        let _ = sd.can_read(&["S-1-5-20", "S-1-1-0"]);
        for ace in sd.effective() {
            let _ = ace.sid.as_ref().map(|s| s.to_string());
        }
    }
});
