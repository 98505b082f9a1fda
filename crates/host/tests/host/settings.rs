//! TLS, CredSSP, licensing and firewall-scope checks on copies of real hives
//! whose breaking values were written by hivexregedit; every value the facts
//! read is compared with hivexget's, and each fix is applied, verified and
//! undone byte for byte.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use rdp_doctor_host::apply::{self, Input};
use rdp_doctor_host::facts::{self, Reading};
use rdp_doctor_host::fix::{self, Options};
use rdp_doctor_host::{OfflineHives, Root};
use rdp_doctor_model::FindingId;
use rdp_doctor_regf::{Data, Hive};

const SCHANNEL: &str = "ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols";
const TIMEBOMB: &str = "L$RTMTIMEBOMB_1320153D-8DA3-4e8e-B27B-0D888223A588";

/// One .reg key: its path under the root and its value lines (`"Name"=dword:…`).
struct RegKey<'a>(&'a str, &'a [&'a str]);

/// `bytes` with `keys` merged by hivexregedit (every ancestor key listed, as it needs).
fn merged(bytes: &[u8], root: &str, keys: &[RegKey]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let hive = write(dir.path(), "hive", bytes);
    let mut reg = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
    for RegKey(path, values) in keys {
        let parts: Vec<&str> = path.split('\\').collect();
        for depth in 1..=parts.len() {
            reg += &format!(
                "[HKEY_LOCAL_MACHINE\\{root}\\{}]\r\n",
                parts[..depth].join("\\")
            );
            if depth == parts.len() {
                for v in *values {
                    reg += &format!("{v}\r\n");
                }
            }
            reg += "\r\n";
        }
    }
    let file = write(dir.path(), "in.reg", reg.as_bytes());
    let out = Command::new("hivexregedit")
        .args([
            "--merge",
            "--prefix",
            &format!("HKEY_LOCAL_MACHINE\\{root}"),
        ])
        .arg(&hive)
        .arg(&file)
        .output()
        .expect("hivexregedit (libwin-hivex-perl) is installed");
    assert!(
        out.status.success(),
        "hivexregedit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&hive).unwrap()
}

/// hivexget's raw output for a value; `None` when it has none.
fn hivexget(file: &Path, key: &str, name: &str) -> Option<Vec<u8>> {
    let out = Command::new("hivexget")
        .arg(file)
        .arg(key)
        .arg(name)
        .output()
        .expect("hivexget is installed");
    out.status.success().then_some(out.stdout)
}

/// Whether hivexget reads what the facts read.
fn agrees(file: &Path, r: &Reading) {
    let key = r.key.replacen("CurrentControlSet", "ControlSet001", 1);
    let theirs = hivexget(file, &key, &r.name);
    let text = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .trim_end_matches('\n')
            .to_string()
    };
    match (&r.value, theirs) {
        (None, None) => {}
        (Some(Data::Dword(v)), Some(t)) => assert_eq!(text(&t), v.to_string(), "{}", r.path()),
        (Some(Data::Binary(b)), Some(t)) => assert_eq!(&t, b, "{}", r.path()),
        (Some(Data::String(s)), Some(t)) => assert_eq!(&text(&t), s, "{}", r.path()),
        (ours, theirs) => panic!("{}: we read {ours:?}, hivexget {theirs:?}", r.path()),
    }
}

/// Every value the TLS, CredSSP and licensing facts read, checked with hivexget.
fn every_value_agrees(system: &Path, software: Option<&Path>) {
    let (sys, sw) = (
        std::fs::read(system).unwrap(),
        software.map(|p| std::fs::read(p).unwrap()),
    );
    let sys_hive = Hive::new(&sys).unwrap();
    let sw_hive = sw.as_deref().map(|b| Hive::new(b).unwrap());
    let reg = OfflineHives::new(&sys_hive, sw_hive.as_ref()).unwrap();
    let f = facts::read(&reg, None, 0).unwrap();
    let mut system_readings = vec![
        &f.tls.fips,
        &f.licensing.app_compat,
        &f.licensing.mode_local,
        &f.licensing.timebomb,
    ];
    for p in &f.tls.protocols {
        system_readings.push(&p.enabled);
        system_readings.push(&p.disabled_by_default);
    }
    for r in system_readings {
        agrees(system, r);
    }
    let software_readings = [
        f.tls.cipher_policy.as_ref(),
        f.credssp_oracle.as_ref(),
        f.licensing.mode_policy.as_ref(),
        f.licensing.servers_policy.as_ref(),
    ];
    for r in software_readings.into_iter().flatten() {
        agrees(software.expect("SOFTWARE readings only with SOFTWARE"), r);
    }
    // The rule strings too.
    for (name, data) in f.firewall.consec.iter().chain(&f.firewall.rules) {
        let key = if f.firewall.consec.iter().any(|(n, _)| n == name) {
            &f.firewall.consec_key
        } else {
            &f.firewall.rules_key
        };
        agrees(
            system,
            &Reading::new(Root::System, key, name, Some(data.clone())),
        );
    }
}

struct Case {
    name: &'static str,
    system: &'static [RegKey<'static>],
    software: Option<&'static [RegKey<'static>]>,
    id: FindingId,
    status: Seen,
    /// The values the fix sets (root, key, name, data; `None`: deleted); empty: no registry fix.
    fixed: &'static [(Root, &'static str, &'static str, Option<u32>)],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "TLS 1.2 and 1.1 off for the server, only TLS 1.0 left",
            system: &[
                RegKey("ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server", &["\"Enabled\"=dword:00000000", "\"DisabledByDefault\"=dword:00000001"]),
                RegKey("ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.1\\Server", &["\"Enabled\"=dword:00000000"]),
            ],
            software: None,
            id: FindingId::TlsServerProtocols,
            status: Seen::Error,
            fixed: &[
                (Root::System, "ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server", "Enabled", Some(1)),
                (Root::System, "ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server", "DisabledByDefault", Some(0)),
            ],
        },
        Case {
            name: "cipher-suite policy with only RSA-CBC suites",
            system: &[],
            software: Some(&[RegKey("Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002", &["\"Functions\"=\"TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_3DES_EDE_CBC_SHA\""])]),
            id: FindingId::CipherSuitePolicy,
            status: Seen::Error,
            fixed: &[(Root::Software, "Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002", "Functions", None)],
        },
        Case {
            name: "CredSSP oracle Vulnerable",
            system: &[],
            software: Some(&[RegKey("Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters", &["\"AllowEncryptionOracle\"=dword:00000002"])]),
            id: FindingId::CredsspOracle,
            status: Seen::Warning,
            fixed: &[(Root::Software, "Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters", "AllowEncryptionOracle", Some(1))],
        },
        Case {
            name: "FIPS policy on",
            system: &[RegKey("ControlSet001\\Control\\Lsa\\FipsAlgorithmPolicy", &["\"Enabled\"=dword:00000001"])],
            software: None,
            id: FindingId::FipsAlgorithmPolicy,
            status: Seen::Info,
            fixed: &[],
        },
        Case {
            // 2020-01-01: long past, whatever the clock says.
            name: "RD Session Host without licensing, grace period over",
            system: &[
                RegKey("ControlSet001\\Control\\Terminal Server", &["\"TSAppCompat\"=dword:00000001"]),
                RegKey("ControlSet001\\Control\\Terminal Server\\RCM\\GracePeriod", &["\"L$RTMTIMEBOMB_1320153D-8DA3-4e8e-B27B-0D888223A588\"=hex:00,80,3e,d5,de,b1,d5,01"]),
            ],
            software: Some(&[]),
            id: FindingId::LicensingSetup,
            status: Seen::Error,
            fixed: &[],
        },
        Case {
            name: "IPsec required inbound for 3389",
            system: &[RegKey("ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\ConSecRules", &["\"{5c1f2e6a-0000-4000-8000-000000003389}\"=\"v2.10|Action=RequireInRequireOut|Active=TRUE|Protocol=6|EP1Port=3389|Name=RDP needs IPsec|\""])],
            software: None,
            id: FindingId::IpsecRequiredForRdp,
            status: Seen::Warning,
            fixed: &[],
        },
        Case {
            name: "every RDP allow rule limited to one subnet",
            system: &[RegKey("ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules", &[
                "\"RemoteDesktop-In-TCP\"=\"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|Profile=Domain|Profile=Private|LPort=3389|RA4=192.168.10.0/255.255.255.0|App=System|\"",
                "\"RemoteDesktop-In-TCP_1\"=\"v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|Profile=Public|LPort=3389|RA4=192.168.10.0/255.255.255.0|App=System|\"",
            ])],
            software: None,
            id: FindingId::FirewallRemoteScope,
            status: Seen::Warning,
            fixed: &[],
        },
    ]
}

#[test]
fn each_breaking_value_is_found_read_as_hivex_reads_it_and_fixed_and_undone() {
    let clean = clean_system();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let sys_path = write(dir.path(), "SYSTEM", &merged(&clean, "SYSTEM", case.system));
        let sw_path = case.software.map(|keys| {
            write(
                dir.path(),
                "SOFTWARE",
                &merged(&software(|_| {}), "SOFTWARE", keys),
            )
        });
        every_value_agrees(&sys_path, sw_path.as_deref());
        let (sys_sha, sw_sha) = (sha(&sys_path), sw_path.as_deref().map(sha));

        let system = Input::open(Root::System, &sys_path).unwrap();
        let sw = sw_path
            .as_deref()
            .map(|p| Input::open(Root::Software, p).unwrap());
        let report = apply::check_inputs(&system, sw.as_ref(), None).unwrap();
        assert_eq!(
            seen(&report, case.id.code()),
            vec![case.status],
            "{}: {:#?}",
            case.name,
            report.findings
        );
        let finding = report.found(case.id).next().unwrap();
        assert_eq!(finding.cause, case.id.info().cause, "{}", case.name);

        let plan = fix::plan(
            &report,
            &Options {
                only: vec![case.id],
                allow_downgrade: false,
            },
        );
        if case.fixed.is_empty() {
            assert!(plan.is_empty(), "{}: {:#?}", case.name, plan.actions);
            continue;
        }
        let backup = dir.path().join("backup");
        let done = apply::apply(&system, sw.as_ref(), None, &plan, &backup).unwrap();
        drop((system, sw));
        assert!(
            seen(&done.report_after, case.id.code())
                .iter()
                .all(|s| *s == Seen::Passed),
            "{}: {:#?}",
            case.name,
            done.report_after.findings
        );
        for (root, key, name, want) in case.fixed {
            let file = if *root == Root::System {
                &sys_path
            } else {
                sw_path.as_ref().unwrap()
            };
            let got =
                hivexget(file, key, name).map(|b| String::from_utf8_lossy(&b).trim().to_string());
            assert_eq!(
                got,
                want.map(|v| v.to_string()),
                "{}: {key}\\{name}",
                case.name
            );
        }
        apply::undo(&backup, false).unwrap();
        assert_eq!(sha(&sys_path), sys_sha, "{}", case.name);
        if let (Some(p), Some(s)) = (&sw_path, &sw_sha) {
            assert_eq!(&sha(p), s, "{}", case.name);
        }
    }
}

#[test]
fn the_clean_hives_pass_every_new_check() {
    let dir = tempfile::tempdir().unwrap();
    let sys = write(dir.path(), "SYSTEM", &clean_system());
    let sw = write(dir.path(), "SOFTWARE", &software(|_| {}));
    every_value_agrees(&sys, Some(&sw));
    let system = Input::open(Root::System, &sys).unwrap();
    let software = Input::open(Root::Software, &sw).unwrap();
    let report = apply::check_inputs(&system, Some(&software), None).unwrap();
    for id in [
        FindingId::TlsServerProtocols,
        FindingId::CipherSuitePolicy,
        FindingId::CredsspOracle,
        FindingId::LicensingSetup,
        FindingId::IpsecRequiredForRdp,
        FindingId::FirewallRemoteScope,
    ] {
        assert_eq!(
            seen(&report, id.code()),
            vec![Seen::Passed],
            "{id:?}: {:#?}",
            report.findings
        );
    }
    // The Windows 7 hive itself: no Schannel protocol keys, Licensing Core's mode 1 (not a session host).
    assert!(hivexget(&sys, &format!("{SCHANNEL}\\TLS 1.2\\Server"), "Enabled").is_none());
    assert_eq!(
        hivexget(
            &sys,
            "ControlSet001\\Control\\Terminal Server\\RCM\\Licensing Core",
            "LicensingMode"
        )
        .map(|b| String::from_utf8_lossy(&b).trim().to_string()),
        Some("1".into())
    );
    assert!(hivexget(
        &sys,
        "ControlSet001\\Control\\Terminal Server\\RCM\\GracePeriod",
        TIMEBOMB
    )
    .is_none());
}
