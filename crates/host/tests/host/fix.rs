//! `host fix` through the library: broken copies of real hives are found,
//! planned, applied, verified and undone byte for byte.

use crate::common::*;
use rdp_doctor_host::apply::{self, Input};
use rdp_doctor_host::fix::{self, HeldReason, Options};
use rdp_doctor_host::{Action, Report, Root};
use rdp_doctor_model::FindingId;
use rdp_doctor_regf::{Data, Hive, HiveEditor};

struct Case {
    name: &'static str,
    system: fn(&mut HiveEditor),
    software: Option<fn(&mut HiveEditor)>,
    id: &'static str,
    status: Seen,
    /// An action the plan must contain: (root, key, name, data; None = delete).
    action: (Root, &'static str, &'static str, Option<Data>),
}

const CCS_TS: &str = "CurrentControlSet\\Control\\Terminal Server";
const CCS_RDP: &str = "CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp";
const CCS_RULES: &str =
    "CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "Remote Desktop off",
            system: |ed| dword(ed, TS, "fDenyTSConnections", 1),
            software: None,
            id: "HOST001",
            status: Seen::Error,
            action: (
                Root::System,
                CCS_TS,
                "fDenyTSConnections",
                Some(Data::Dword(0)),
            ),
        },
        Case {
            name: "listener disabled",
            system: |ed| dword(ed, RDP_TCP, "fEnableWinStation", 0),
            software: None,
            id: "HOST002",
            status: Seen::Error,
            action: (
                Root::System,
                CCS_RDP,
                "fEnableWinStation",
                Some(Data::Dword(1)),
            ),
        },
        Case {
            name: "TermService disabled",
            system: |ed| dword(ed, "ControlSet001\\Services\\TermService", "Start", 4),
            software: None,
            id: "HOST004",
            status: Seen::Error,
            action: (
                Root::System,
                "CurrentControlSet\\Services\\TermService",
                "Start",
                Some(Data::Dword(3)),
            ),
        },
        Case {
            name: "UmRdpService disabled",
            system: |ed| dword(ed, "ControlSet001\\Services\\UmRdpService", "Start", 4),
            software: None,
            id: "HOST004",
            status: Seen::Warning,
            action: (
                Root::System,
                "CurrentControlSet\\Services\\UmRdpService",
                "Start",
                Some(Data::Dword(3)),
            ),
        },
        Case {
            name: "drain mode",
            system: |ed| dword(ed, TS, "TSServerDrainMode", 1),
            software: None,
            id: "HOST005",
            status: Seen::Error,
            action: (
                Root::System,
                CCS_TS,
                "TSServerDrainMode",
                Some(Data::Dword(0)),
            ),
        },
        Case {
            name: "logons disabled",
            system: |ed| dword(ed, TS, "WinStationsDisabled", 1),
            software: None,
            id: "HOST005",
            status: Seen::Error,
            action: (
                Root::System,
                CCS_TS,
                "WinStationsDisabled",
                Some(Data::Dword(0)),
            ),
        },
        Case {
            name: "port changed without a firewall rule",
            system: |ed| dword(ed, RDP_TCP, "PortNumber", 3390),
            software: None,
            id: "HOST006",
            status: Seen::Error,
            action: (
                Root::System,
                CCS_RULES,
                "RdpDoctor-RemoteDesktop-In-TCP-3390",
                None,
            ),
        },
        Case {
            name: "built-in firewall rule inactive",
            system: |ed| {
                let rule = "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|Profile=Domain|Profile=Private|Profile=Public|LPort=3389|App=System|Name=@FirewallAPI.dll,-28753|Desc=@FirewallAPI.dll,-28756|EmbedCtxt=@FirewallAPI.dll,-28752|";
                ed.set_value("ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules", "RemoteDesktop-In-TCP", &Data::String(rule.into())).unwrap();
            },
            software: None,
            id: "HOST006",
            // Public is still covered by RemoteDesktop-In-TCP_1; the network's profile is unknown.
            status: Seen::Warning,
            action: (Root::System, CCS_RULES, "RemoteDesktop-In-TCP", None),
        },
        Case {
            name: "few outstanding connections",
            system: |ed| dword(ed, TS, "MaxOutstandingConnections", 2),
            software: None,
            id: "HOST007",
            status: Seen::Warning,
            action: (
                Root::System,
                CCS_TS,
                "MaxOutstandingConnections",
                Some(Data::Dword(10_000)),
            ),
        },
        Case {
            name: "one concurrent connection",
            system: |ed| dword(ed, RDP_TCP, "MaxInstanceCount", 1),
            software: None,
            id: "HOST008",
            status: Seen::Warning,
            action: (
                Root::System,
                CCS_RDP,
                "MaxInstanceCount",
                Some(Data::Dword(u32::MAX)),
            ),
        },
        Case {
            name: "bound to one adapter",
            system: |ed| dword(ed, RDP_TCP, "LanAdapter", 2),
            software: None,
            id: "HOST009",
            status: Seen::Warning,
            action: (Root::System, CCS_RDP, "LanAdapter", Some(Data::Dword(0))),
        },
        Case {
            name: "NLA with RDP security",
            system: |ed| {
                dword(ed, RDP_TCP, "SecurityLayer", 0);
                dword(ed, RDP_TCP, "UserAuthentication", 1)
            },
            software: None,
            id: "HOST011",
            status: Seen::Error,
            action: (Root::System, CCS_RDP, "SecurityLayer", Some(Data::Dword(2))),
        },
        Case {
            name: "certificate hash pointing nowhere",
            system: |ed| {
                ed.set_value(
                    RDP_TCP,
                    "SSLCertificateSHA1Hash",
                    &Data::Binary(vec![0xAB; 20]),
                )
                .unwrap()
            },
            software: Some(|_| {}),
            id: "HOST013",
            status: Seen::Error,
            action: (Root::System, CCS_RDP, "SSLCertificateSHA1Hash", None),
        },
        Case {
            name: "Remote Desktop off by policy",
            system: |_| {},
            software: Some(|ed| dword(ed, POLICY, "fDenyTSConnections", 1)),
            id: "HOST001",
            status: Seen::Error,
            action: (
                Root::Software,
                POLICY,
                "fDenyTSConnections",
                Some(Data::Dword(0)),
            ),
        },
    ]
}

fn status_of(r: &Report, id: &str) -> Vec<Seen> {
    seen(r, id)
}

fn only(code: &str) -> Vec<FindingId> {
    vec![FindingId::from_code(code).unwrap()]
}

fn value(bytes: &[u8], key: &str, name: &str) -> Option<Data> {
    let h = Hive::new(bytes).unwrap();
    h.root().unwrap().path(key).unwrap()?.value(name).unwrap()
}

#[test]
fn every_breaking_case_is_found_fixed_verified_and_undone() {
    let clean = clean_system();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let sys_path = write(dir.path(), "SYSTEM", &edited(&clean, case.system));
        let sw_path = case
            .software
            .map(|f| write(dir.path(), "SOFTWARE", &software(f)));
        let (sys_sha, sw_sha) = (sha(&sys_path), sw_path.as_deref().map(sha));

        let system = Input::open(Root::System, &sys_path).unwrap();
        let sw = sw_path
            .as_deref()
            .map(|p| Input::open(Root::Software, p).unwrap());
        let report = apply::check_inputs(&system, sw.as_ref(), None).unwrap();
        assert!(
            status_of(&report, case.id).contains(&case.status),
            "{}: {:#?}",
            case.name,
            report.findings
        );

        let plan = fix::plan(&report, &Options::default());
        let (root, key, name, data) = &case.action;
        let found = plan
            .actions
            .iter()
            .find(|a| a.root() == Some(*root) && a.key() == *key && a.name() == *name);
        let found = found.unwrap_or_else(|| {
            panic!(
                "{}: no action on {key}\\{name}: {:#?}",
                case.name, plan.actions
            )
        });
        match (found, data) {
            (Action::SetValue { data: got, .. }, Some(want)) => {
                assert_eq!(got, want, "{}", case.name)
            }
            (Action::DeleteValue { .. }, None) | (Action::SetValue { .. }, None)
                if case.id == "HOST006" => {}
            (Action::DeleteValue { .. }, None) => {}
            (a, _) => panic!("{}: unexpected {a:?}", case.name),
        }
        assert!(
            plan.steps.iter().all(|s| !s.remedy.downgrade),
            "{}",
            case.name
        );
        // Planning wrote nothing.
        assert_eq!(sha(&sys_path), sys_sha);

        let backup = dir.path().join("backup");
        let done = apply::apply(&system, sw.as_ref(), None, &plan, &backup).unwrap();
        drop((system, sw));
        assert!(
            status_of(&done.report_after, case.id)
                .iter()
                .all(|s| matches!(s, Seen::Passed | Seen::Info)),
            "{}: {:#?}",
            case.name,
            done.report_after.findings
        );
        assert_eq!(
            done.report_after.failures(),
            0,
            "{}: {:#?}",
            case.name,
            done.report_after.findings
        );
        // The file itself, read again, holds the new value.
        let changed = if *root == Root::System {
            &sys_path
        } else {
            sw_path.as_ref().unwrap()
        };
        let bytes = std::fs::read(changed).unwrap();
        let hive_key = key.replace("CurrentControlSet", "ControlSet001");
        match data {
            Some(d) => assert_eq!(
                value(&bytes, &hive_key, name).as_ref(),
                Some(d),
                "{}",
                case.name
            ),
            None if case.id == "HOST006" => {
                let rule = value(&bytes, &hive_key, name).unwrap();
                assert!(
                    rule.as_str().unwrap().contains("Active=TRUE"),
                    "{}",
                    case.name
                );
            }
            None => assert_eq!(value(&bytes, &hive_key, name), None, "{}", case.name),
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["schema"], apply::BACKUP_SCHEMA);
        assert_eq!(
            manifest["files"][0]["sha256_after"],
            apply::sha256_hex(&bytes)
        );

        let restored = apply::undo(&backup, false).unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!(sha(&sys_path), sys_sha, "{}", case.name);
        if let (Some(p), Some(s)) = (&sw_path, &sw_sha) {
            assert_eq!(&sha(p), s, "{}", case.name);
        }
    }
}

#[test]
fn a_downgrade_is_applied_only_when_allowed() {
    // TLS required, the key container empty: the only registry fix is RDP security (a downgrade).
    let dir = tempfile::tempdir().unwrap();
    let sys = write(
        dir.path(),
        "SYSTEM",
        &edited(&clean_system(), |ed| {
            dword(ed, RDP_TCP, "SecurityLayer", 2);
            dword(ed, RDP_TCP, "UserAuthentication", 1);
        }),
    );
    let sw = write(dir.path(), "SOFTWARE", &software(|_| {}));
    let keys = dir
        .path()
        .join("win/ProgramData/Microsoft/Crypto/RSA/MachineKeys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join(format!("f686aace6942fb7f7ceb231212eef4a4_{MACHINE_GUID}")),
        b"",
    )
    .unwrap();
    let windows = dir.path().join("win");

    let system = Input::open(Root::System, &sys).unwrap();
    let software = Input::open(Root::Software, &sw).unwrap();
    let report = apply::check_inputs(&system, Some(&software), Some(&windows)).unwrap();
    assert_eq!(status_of(&report, "HOST017"), vec![Seen::Error]);

    let plan = fix::plan(
        &report,
        &Options {
            only: only("HOST017"),
            allow_downgrade: false,
        },
    );
    assert!(plan.is_empty(), "{:#?}", plan.actions);
    assert!(plan
        .held
        .iter()
        .any(|h| h.reason == HeldReason::Downgrade && h.remedy.downgrade));
    assert!(plan.held.iter().any(|h| h.reason == HeldReason::Manual));

    let plan = fix::plan(
        &report,
        &Options {
            only: only("host017"),
            allow_downgrade: true,
        },
    );
    assert_eq!(plan.steps.len(), 1);
    assert!(plan.steps[0].remedy.downgrade);
    let want = [
        Action::SetValue {
            root: Root::System,
            key: CCS_RDP.into(),
            name: "SecurityLayer".into(),
            data: Data::Dword(0),
        },
        Action::SetValue {
            root: Root::System,
            key: CCS_RDP.into(),
            name: "UserAuthentication".into(),
            data: Data::Dword(0),
        },
    ];
    assert_eq!(plan.actions, want);
    let done = apply::apply(
        &system,
        Some(&software),
        Some(&windows),
        &plan,
        &dir.path().join("b"),
    )
    .unwrap();
    // The key is still broken, but no longer used: a warning, not a failure.
    assert_eq!(
        status_of(&done.report_after, "HOST017"),
        vec![Seen::Warning]
    );
}

#[test]
fn a_contradiction_prefers_raising_security_and_keeps_the_downgrade_as_an_alternative() {
    let bytes = edited(&clean_system(), |ed| {
        dword(ed, RDP_TCP, "SecurityLayer", 0);
        dword(ed, RDP_TCP, "UserAuthentication", 1);
    });
    let h = Hive::new(&bytes).unwrap();
    let r = rdp_doctor_host::check(&h, None, None).unwrap();
    let c = found(&r, "HOST011")[0];
    assert_eq!(c.remedies.len(), 2);
    assert!(!c.remedies[0].downgrade && c.remedies[1].downgrade);
    for allow_downgrade in [false, true] {
        let plan = fix::plan(
            &r,
            &Options {
                only: vec![],
                allow_downgrade,
            },
        );
        // HOST010 and HOST011 both raise SecurityLayer to 2: one action.
        assert_eq!(
            plan.actions,
            vec![Action::SetValue {
                root: Root::System,
                key: CCS_RDP.into(),
                name: "SecurityLayer".into(),
                data: Data::Dword(2)
            }]
        );
    }
}

#[test]
fn a_dirty_hive_is_replayed_from_its_logs_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sys = write(dir.path(), "SYSTEM", &load("regipy_SYSTEM_B_win10"));
    let original = sha(&sys);
    let input = Input::open(Root::System, &sys).unwrap();
    let refused = input.refused.clone().expect("no logs beside it");
    assert!(
        refused.contains("dirty") && refused.contains("SYSTEM.LOG1"),
        "{refused}"
    );
    let report = apply::check_inputs(&input, None, None).unwrap();
    let plan = fix::plan(&report, &Options::default());
    let err = apply::apply(&input, None, None, &plan, &dir.path().join("b")).unwrap_err();
    assert!(err.0.contains("refusing to edit"), "{err}");
    assert!(!dir.path().join("b").exists());
    assert_eq!(sha(&sys), original);

    write(dir.path(), "SYSTEM.LOG1", &load("regipy_SYSTEM_B.LOG1"));
    write(dir.path(), "system.log2", &load("regipy_SYSTEM_B.LOG2"));
    let input = Input::open(Root::System, &sys).unwrap();
    assert_eq!(input.refused, None);
    assert_eq!(input.logs.len(), 2);
    let report = apply::check_inputs(&input, None, None).unwrap();
    assert!(
        seen(&report, "HOST000").is_empty(),
        "replayed: no longer dirty"
    );
    let plan = fix::plan(&report, &Options::default());
    let done = apply::apply(&input, None, None, &plan, &dir.path().join("b")).unwrap();
    assert_eq!(
        done.report_after.failures(),
        0,
        "{:#?}",
        done.report_after.findings
    );
    let h = std::fs::read(&sys).unwrap();
    let hive = Hive::new(&h).unwrap();
    assert!(!hive.base.is_dirty() && hive.base.checksum_ok());
    drop(input);
    apply::undo(&dir.path().join("b"), false).unwrap();
    assert_eq!(sha(&sys), original);
}

#[test]
fn undo_refuses_a_file_changed_since_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let sys = write(
        dir.path(),
        "SYSTEM",
        &edited(&clean_system(), |ed| dword(ed, TS, "fDenyTSConnections", 1)),
    );
    let original = sha(&sys);
    let input = Input::open(Root::System, &sys).unwrap();
    let plan = fix::plan(
        &apply::check_inputs(&input, None, None).unwrap(),
        &Options::default(),
    );
    let b = dir.path().join("b");
    apply::apply(&input, None, None, &plan, &b).unwrap();
    drop(input);
    // Someone edits the hive after the fix.
    let later = edited(&std::fs::read(&sys).unwrap(), |ed| {
        dword(ed, TS, "fDenyTSConnections", 1)
    });
    std::fs::write(&sys, &later).unwrap();
    let err = apply::undo(&b, false).unwrap_err();
    assert!(
        err.0.contains("neither") && err.0.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&sys).unwrap(), later);
    apply::undo(&b, true).unwrap();
    assert_eq!(sha(&sys), original);
    // A damaged backup copy is refused.
    std::fs::write(b.join("SYSTEM"), b"damaged").unwrap();
    assert!(apply::undo(&b, true).unwrap_err().0.contains("damaged"));
    // A backup directory that is not empty is not reused.
    let input = Input::open(Root::System, &sys).unwrap();
    let err = apply::apply(&input, None, None, &plan, &b).unwrap_err();
    assert!(err.0.contains("not empty"), "{err}");
}

#[test]
fn only_limits_the_plan() {
    let bytes = edited(&clean_system(), |ed| {
        dword(ed, TS, "fDenyTSConnections", 1);
        dword(ed, RDP_TCP, "fEnableWinStation", 0);
    });
    let h = Hive::new(&bytes).unwrap();
    let r = rdp_doctor_host::check(&h, None, None).unwrap();
    assert_eq!(fix::plan(&r, &Options::default()).steps.len(), 2);
    let p = fix::plan(
        &r,
        &Options {
            only: only("HOST002"),
            allow_downgrade: false,
        },
    );
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].finding.id, FindingId::ListenerDisabled);
}
