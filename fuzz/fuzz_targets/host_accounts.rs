#![no_main]
//! Any bytes as a SAM alias `C`, a user `F`, the account domain's `V`, a binary
//! SID, and as a SAM or SECURITY hive: parsed or refused, never a panic; what
//! parses goes through the account rules.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_host::accounts::{lsa, rules, sam, AccountFacts, Sid};
use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::Hive;

fuzz_target!(|data: &[u8]| {
    let _ = sam::alias_members(data);
    let _ = sam::account_from_f(data);
    let _ = sam::domain_sid(data);
    if let Some((sid, len)) = Sid::parse(data) {
        assert_eq!(sid.to_bytes(), data[..len]);
    }
    let Ok(hive) = Hive::new(data) else { return };
    let origin = RegistryOrigin::Hive {
        file: "fuzz".into(),
    };
    let rights = lsa::read(&hive, origin.clone()).ok();
    let groups = sam::read_groups(&hive, origin.clone()).ok();
    let user = sam::read_account(&hive, "Preston", None, origin).ok();
    let facts = AccountFacts {
        rights,
        groups,
        user,
        now: 0,
    };
    let _ = rules::all(&facts);
});
