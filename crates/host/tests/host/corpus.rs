//! `host check` on real SYSTEM hives (the regf crate's corpus copies).

use crate::common::*;
use rdp_doctor_codes::CauseId;
use rdp_doctor_host::{check, check_offline};
use rdp_doctor_regf::{Data, Hive};

#[test]
fn rdp_enabled_win7_host_is_clean() {
    let bytes = load("regipy_SYSTEM_win7_32bit");
    let r = check(&Hive::new(&bytes).unwrap(), None, None).unwrap();
    assert_eq!(r.failures(), 0, "{:#?}", r.findings);
    assert_eq!(r.current_control_set, "ControlSet001");
    assert!(!r.system_dirty);
    assert_eq!(seen(&r, "HOST001"), [Seen::Passed]);
    // NLA off on this host (UserAuthentication=0): reported, not a failure.
    assert_eq!(seen(&r, "HOST011"), [Seen::Info]);
}

#[test]
fn a_rule_for_domain_and_private_only_leaves_the_public_profile_uncovered() {
    // Windows 7: RemoteDesktop-In-TCP (Domain, Private) is active, its Public copy
    // RemoteDesktop-In-TCP_1 is not. Without SOFTWARE the network's profile is unknown.
    let bytes = load("regipy_SYSTEM_win7_32bit");
    let r = check(&Hive::new(&bytes).unwrap(), None, None).unwrap();
    assert_eq!(seen(&r, "HOST006"), [Seen::Warning], "{:#?}", r.findings);
    let w = &found(&r, "HOST006")[0];
    assert!(w.title.contains("Public"), "{}", w.title);
    assert_eq!(w.remedies[0].actions[0].name(), "RemoteDesktop-In-TCP_1");

    // SOFTWARE says the host's network is a domain network: covered.
    let dir = tempfile::tempdir().unwrap();
    let sys = write(dir.path(), "SYSTEM", &bytes);
    let profiles = "Microsoft\\Windows NT\\CurrentVersion\\NetworkList\\Profiles\\{6A1C1E6E-0001}";
    let domain = write(
        dir.path(),
        "SOFTWARE",
        &software(|ed| {
            ed.set_value(profiles, "Category", &Data::Dword(2)).unwrap();
        }),
    );
    let r = check_offline(&sys, Some(&domain), None).unwrap();
    assert_eq!(seen(&r, "HOST006"), [Seen::Passed], "{:#?}", r.findings);
    // A public network: the connection is refused there, an error.
    let public = write(
        dir.path(),
        "SOFTWARE.public",
        &software(|ed| {
            ed.set_value(profiles, "Category", &Data::Dword(0)).unwrap();
        }),
    );
    let r = check_offline(&sys, Some(&public), None).unwrap();
    assert_eq!(seen(&r, "HOST006"), [Seen::Error], "{:#?}", r.findings);
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
        assert_eq!(seen(&r, "HOST001"), [Seen::Error], "{name}");
        let deny = found(&r, "HOST001")[0];
        assert_eq!(deny.cause, Some(CauseId::RemoteDesktopDisabled));
        assert_eq!(
            cited(deny),
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\fDenyTSConnections"
        );
        assert!(r.system_dirty, "{name} is dirty in the corpus");
        assert_eq!(seen(&r, "HOST000"), [Seen::Warning]);
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
    assert_eq!(seen(&r, "HOST006"), [Seen::Error]);
    assert_eq!(found(&r, "HOST006")[0].cause, Some(CauseId::FirewallOrPort));
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
