//! `host check` on real SYSTEM hives (the regf crate's corpus copies).

use std::path::PathBuf;

use rdp_doctor_codes::CauseId;
use rdp_doctor_host::{check, Status};
use rdp_doctor_regf::Hive;

fn load(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../regf/tests/data")
        .join(format!("{name}.xz"));
    let compressed = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut out).unwrap();
    out
}

fn status_of(report: &rdp_doctor_host::Report, id: &str) -> Status {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .status
}

#[test]
fn rdp_enabled_win7_host_is_clean() {
    let bytes = load("regipy_SYSTEM_win7_32bit");
    let r = check(&Hive::new(&bytes).unwrap(), None, None).unwrap();
    assert_eq!(r.failures(), 0, "{:#?}", r.checks);
    assert_eq!(r.current_control_set, "ControlSet001");
    assert!(!r.system_dirty);
    assert_eq!(status_of(&r, "HOST001"), Status::Ok);
    assert_eq!(status_of(&r, "HOST006"), Status::Ok);
    // NLA off on this host (UserAuthentication=0): reported, not a failure.
    assert_eq!(status_of(&r, "HOST011"), Status::Info);
}

#[test]
fn rdp_disabled_hosts_are_found_with_the_path() {
    for name in [
        "regipy_SYSTEM_2_win8_sensei",
        "regipy_SYSTEM_B_win10",
        "regipy_SYSTEM_win10_1709",
    ] {
        let bytes = load(name);
        let r = check(&Hive::new(&bytes).unwrap(), None, None).unwrap();
        let deny = r.checks.iter().find(|c| c.id == "HOST001").unwrap();
        assert_eq!(deny.status, Status::Fail, "{name}");
        assert_eq!(deny.cause, Some(CauseId::RemoteDesktopDisabled));
        assert_eq!(
            deny.path,
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\fDenyTSConnections"
        );
        assert!(r.system_dirty, "{name} is dirty in the corpus");
        assert_eq!(status_of(&r, "HOST000"), Status::Warn);
        assert!(
            r.verdict.contains("Remote Desktop is turned off"),
            "{}",
            r.verdict
        );
    }
}

#[test]
fn inactive_remote_desktop_firewall_rules_are_a_failure() {
    // This host's RemoteDesktop rules exist but are inactive, and the firewall is on.
    let bytes = load("regipy_SYSTEM_win10_1709");
    let r = check(&Hive::new(&bytes).unwrap(), None, None).unwrap();
    let fw = r.checks.iter().find(|c| c.id == "HOST006").unwrap();
    assert_eq!(
        (fw.status, fw.cause),
        (Status::Fail, Some(CauseId::FirewallOrPort))
    );
}

#[test]
fn a_truncated_hive_is_an_error_naming_the_place() {
    let mut bytes = load("regipy_SYSTEM_win7_32bit");
    bytes.truncate(64 * 1024);
    let err = match Hive::new(&bytes) {
        Err(e) => e.to_string(),
        Ok(h) => check(&h, None, None)
            .expect_err("a truncated SYSTEM hive cannot be checked")
            .to_string(),
    };
    assert!(err.contains("offset 0x") || err.contains("Select"), "{err}");
}
