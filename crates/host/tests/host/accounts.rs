//! The account checks on real SECURITY and SAM hives, every value read
//! compared with independent readers (python-registry, chntpw's samusrgrp and
//! sampasswd, regipy's samparse), and the broken cases made from copies of the
//! real hives by independent writers (hivexregedit, samusrgrp).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::load;
use rdp_doctor_host::accounts::{self, lsa, sam, AccountFiles, Sid, UserLookup};
use rdp_doctor_host::rules::Outcome;
use rdp_doctor_model::{Action, FindingId, RegistryOrigin, Severity};
use rdp_doctor_regf::Hive;

/// 2026-01-01: Preston's account never expires, so any date works.
const NOW: u64 = 1_767_225_600;

fn require_tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is required (scripts/deps): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn origin() -> RegistryOrigin {
    RegistryOrigin::Hive {
        file: "test".into(),
    }
}

/// python-registry's view of Policy\Accounts: key name -> (ActSysAc hex, Sid hex).
fn python_registry_accounts(hive: &Path) -> BTreeMap<String, (String, String)> {
    let script = r#"
import sys
from Registry import Registry
r = Registry.Registry(sys.argv[1])
for k in r.open("Policy\\Accounts").subkeys():
    names = {s.name(): s for s in k.subkeys()}
    if "ActSysAc" not in names:
        continue
    act = names["ActSysAc"].value("(default)").raw_data().hex()
    sid = names["Sid"].value("(default)").raw_data().hex() if "Sid" in names else ""
    print(k.name(), act, sid or "-")
"#;
    require_tool("python3", &["-c", script, hive.to_str().unwrap()])
        .lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            Some((
                p.next()?.to_string(),
                (p.next()?.to_string(), p.next()?.to_string()),
            ))
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn security_rights_are_what_python_registry_reads() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = load("regipy_SECURITY");
    let path = write(dir.path(), "SECURITY", &bytes);
    let rights = lsa::read(&Hive::new(&bytes).unwrap(), origin()).unwrap();
    let theirs = python_registry_accounts(&path);
    assert_eq!(rights.accounts.len(), theirs.len(), "{theirs:?}");
    for a in &rights.accounts {
        let key = a.path.split('\\').nth_back(1).unwrap();
        let (act, sid) = &theirs[key];
        assert_eq!(hex(&a.mask.to_le_bytes()), *act, "{key}");
        assert_eq!(hex(&a.sid.to_bytes()), *sid, "{key}");
        assert_eq!(
            a.sid.to_string(),
            key,
            "the Sid value and the key name agree"
        );
    }
    // The Windows defaults: Administrators and Remote Desktop Users may log on
    // through Remote Desktop, Everyone over the network; Guest is denied the network.
    let mask = |s: &str| {
        rights
            .accounts
            .iter()
            .find(|a| a.sid == accounts::sid(s))
            .map(|a| a.mask)
    };
    assert_eq!(mask(accounts::ADMINISTRATORS), Some(0x407));
    assert_eq!(mask(accounts::REMOTE_DESKTOP_USERS), Some(0x400));
    assert_eq!(mask(accounts::EVERYONE), Some(0x2));
    assert_eq!(
        mask("S-1-5-21-1786693902-1815088602-2777321892-501"),
        Some(0xC1)
    );
}

/// samusrgrp -L: (alias RID, member SID) pairs.
fn chntpw_members(sam: &Path) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = require_tool("samusrgrp", &["-L", sam.to_str().unwrap()])
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((
                u32::from_str_radix(f.first()?, 16).ok()?,
                f.last()?.to_string(),
            ))
        })
        .collect();
    out.sort();
    out
}

fn our_members(g: &sam::Groups) -> Vec<(u32, String)> {
    let mut out: Vec<(u32, String)> = g
        .aliases
        .iter()
        .flat_map(|a| a.members.iter().map(move |m| (a.rid, m.to_string())))
        .collect();
    out.sort();
    out
}

#[test]
fn sam_groups_and_accounts_are_what_chntpw_and_regipy_read() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = load("regipy_SAM");
    let path = write(dir.path(), "SAM", &bytes);
    let hive = Hive::new(&bytes).unwrap();
    let groups = sam::read_groups(&hive, origin()).unwrap();
    assert_eq!(our_members(&groups), chntpw_members(&path));
    assert_eq!(groups.alias(0x22B).map(|a| a.members.len()), Some(0));
    let machine = require_tool("samusrgrp", &["-s", path.to_str().unwrap()]);
    assert_eq!(
        groups.domain.as_ref().map(Sid::to_string).as_deref(),
        Some(machine.trim())
    );

    // sampasswd -l: RID:name:admin:ACB (chntpw sets 0x8000 on a disabled or locked account).
    let listed = require_tool("sampasswd", &["-l", path.to_str().unwrap()]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    for line in listed.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let (rid, name) = (u32::from_str_radix(f[0], 16).unwrap(), f[1]);
        let acb = u16::from_str_radix(f[3], 16).unwrap();
        let UserLookup::Found(a) = sam::read_account(
            &hive,
            &name.to_lowercase(),
            groups.domain.as_ref(),
            origin(),
        )
        .unwrap() else {
            panic!("{name} not found");
        };
        assert_eq!(
            (a.rid, a.name.as_str(), a.control),
            (rid, name, acb & 0x7FFF)
        );
        assert_eq!(acb & 0x8000 != 0, a.disabled() || a.locked(), "{name}");
    }

    // regipy's samparse: the F value's times and counters.
    let script = r#"
import sys
from regipy.registry import RegistryHive
from regipy.plugins.sam.samparse import SAMParsePlugin
p = SAMParsePlugin(RegistryHive(sys.argv[1]), as_json=True)
p.run()
for e in p.entries:
    print(e["rid"], e["account_flags"], e["last_login"], e["password_last_set"], e["account_expires"], e["failed_login_count"])
"#;
    let regipy = require_tool("python3", &["-c", script, path.to_str().unwrap()]);
    let iso = |ft: u64| -> String {
        if ft == 0 || ft == sam::NEVER {
            return "None".into();
        }
        let secs = (ft / 10_000_000) as i64 - 11_644_473_600;
        let micros = (ft % 10_000_000) / 10;
        let out = require_tool(
            "date",
            &["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S"],
        );
        format!("{}.{micros:06}+00:00", out.trim())
    };
    let mut seen = 0;
    for line in regipy.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let rid: u32 = f[0].parse().unwrap();
        let name = match rid {
            500 => "Administrator",
            501 => "Guest",
            1000 => "Preston",
            _ => continue,
        };
        let UserLookup::Found(a) = sam::read_account(&hive, name, None, origin()).unwrap() else {
            panic!("{name}");
        };
        let ours = [
            a.control.to_string(),
            iso(a.last_logon),
            iso(a.password_last_set),
            iso(a.expires),
            a.failed_logons.to_string(),
        ];
        let theirs: Vec<String> = f[1..6].iter().map(|s| s.to_string()).collect();
        // regipy rounds to microseconds through a float: compare to the second.
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(
                o.get(..19),
                t.get(..19),
                "{name}: ours {ours:?}, regipy {theirs:?}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 3, "{regipy}");
}

fn files(security: Option<&Path>, sam: Option<&Path>, user: Option<&str>) -> AccountFiles {
    AccountFiles {
        security: security.map(Path::to_path_buf),
        sam: sam.map(Path::to_path_buf),
        user: user.map(str::to_string),
    }
}

/// What each check concluded: (ID, severity or None for passed).
fn seen(out: &[Outcome], id: FindingId) -> Vec<Option<Severity>> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::Found(f) if f.id == id => Some(Some(f.severity)),
            Outcome::Passed(p) if p.id == id => Some(None),
            _ => None,
        })
        .collect()
}

fn finding(out: &[Outcome], id: FindingId) -> &rdp_doctor_model::Finding {
    out.iter()
        .find_map(|o| match o {
            Outcome::Found(f) if f.id == id && f.severity.is_problem() => Some(f),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {id} problem in {out:#?}"))
}

fn commands(f: &rdp_doctor_model::Finding) -> Vec<String> {
    f.remedies
        .iter()
        .flat_map(|r| &r.actions)
        .filter_map(|a| match a {
            Action::Run { command, .. } => Some(command.clone()),
            _ => None,
        })
        .collect()
}

struct Real {
    _dir: tempfile::TempDir,
    security: PathBuf,
    sam: PathBuf,
}

fn real() -> Real {
    let dir = tempfile::tempdir().unwrap();
    let security = write(dir.path(), "SECURITY", &load("regipy_SECURITY"));
    let sam = write(dir.path(), "SAM", &load("regipy_SAM"));
    Real {
        _dir: dir,
        security,
        sam,
    }
}

#[test]
fn an_administrator_of_the_real_hives_may_log_on() {
    let r = real();
    let out = accounts::check_files(
        &files(Some(&r.security), Some(&r.sam), Some("Preston")),
        NOW,
    )
    .unwrap();
    for id in [
        FindingId::RemoteLogonDenied,
        FindingId::RemoteLogonNotGranted,
        FindingId::AccountDisabled,
        FindingId::AccountLockedOrPasswordChange,
    ] {
        assert_eq!(seen(&out, id), [None], "{id}: {out:#?}");
    }
    assert_eq!(seen(&out, FindingId::NetworkLogonDenied), [None, None]);
    let groups = finding_info(&out);
    assert!(
        groups.contains("Remote Desktop Users has 0 member(s), Administrators 2"),
        "{groups}"
    );
}

fn finding_info(out: &[Outcome]) -> String {
    out.iter()
        .find_map(|o| match o {
            Outcome::Found(f) if f.id == FindingId::RemoteDesktopGroups => Some(f.title.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn the_disabled_builtin_administrator_is_restricted() {
    let r = real();
    let out =
        accounts::check_files(&files(None, Some(&r.sam), Some("administrator")), NOW).unwrap();
    let f = finding(&out, FindingId::AccountDisabled);
    assert_eq!(f.cause, Some(rdp_doctor_model::CauseId::AccountRestriction));
    assert!(f.title.contains("Administrator is disabled"), "{}", f.title);
    assert!(commands(f).contains(&"net user \"Administrator\" /active:yes /expires:never".into()));
    // Without SECURITY, the rights are not judged.
    assert!(seen(&out, FindingId::RemoteLogonDenied).is_empty());
}

/// The real SECURITY hive with the rights a removed Group Policy left behind,
/// written by hivexregedit: Remote Desktop Users denied Remote Desktop, and
/// Local account (S-1-5-113) denied Remote Desktop and the network.
fn stale_deny(dir: &Path, security: &Path) -> PathBuf {
    let copy = dir.join("SECURITY.denied");
    std::fs::copy(security, &copy).unwrap();
    let reg = write(
        dir,
        "deny.reg",
        br"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SECURITY\Policy\Accounts\S-1-5-32-555\ActSysAc]
@=hex(0):00,0c,00,00

[HKEY_LOCAL_MACHINE\SECURITY\Policy\Accounts\S-1-5-113]

[HKEY_LOCAL_MACHINE\SECURITY\Policy\Accounts\S-1-5-113\ActSysAc]
@=hex(0):80,08,00,00

[HKEY_LOCAL_MACHINE\SECURITY\Policy\Accounts\S-1-5-113\Sid]
@=hex(0):01,01,00,00,00,00,00,05,71,00,00,00
",
    );
    require_tool(
        "hivexregedit",
        &[
            "--merge",
            "--prefix",
            "HKEY_LOCAL_MACHINE\\SECURITY",
            copy.to_str().unwrap(),
            reg.to_str().unwrap(),
        ],
    );
    copy
}

#[test]
fn a_deny_right_left_behind_is_found_and_cited() {
    let r = real();
    let dir = tempfile::tempdir().unwrap();
    let denied = stale_deny(dir.path(), &r.security);
    // The written hive reads, for python-registry, as the layout says.
    let theirs = python_registry_accounts(&denied);
    assert_eq!(theirs["S-1-5-32-555"].0, "000c0000");
    assert_eq!(
        theirs["S-1-5-113"],
        ("80080000".into(), "010100000000000571000000".into())
    );

    let out = accounts::check_files(&files(Some(&denied), None, None), NOW).unwrap();
    let f = finding(&out, FindingId::RemoteLogonDenied);
    assert_eq!(f.cause, Some(rdp_doctor_model::CauseId::NoRemoteLogonRight));
    assert!(
        f.title.contains("S-1-5-32-555 (Remote Desktop Users)"),
        "{}",
        f.title
    );
    assert!(f.title.contains("S-1-5-113 (Local account)"), "{}", f.title);
    let cited: Vec<String> = f.evidence.iter().map(|e| e.line()).collect();
    assert!(
        cited
            .iter()
            .any(|l| l.contains("Policy\\Accounts\\S-1-5-32-555\\ActSysAc")
                && l.contains("SeDenyRemoteInteractiveLogonRight")),
        "{cited:?}"
    );
    assert!(commands(f)
        .iter()
        .any(|c| c.starts_with("secedit /configure")));
    // Local account is denied the network: NLA's logon fails for everyone local.
    let n = finding(&out, FindingId::NetworkLogonDenied);
    assert!(n.title.contains("S-1-5-113"), "{}", n.title);
    // The unchanged real hive passes both.
    let clean = accounts::check_files(&files(Some(&r.security), None, None), NOW).unwrap();
    assert_eq!(seen(&clean, FindingId::RemoteLogonDenied), [None]);
}

#[test]
fn an_account_outside_the_remote_desktop_groups_is_told_to_join() {
    let r = real();
    let dir = tempfile::tempdir().unwrap();
    let sam = dir.path().join("SAM.user");
    std::fs::copy(&r.sam, &sam).unwrap();
    // chntpw takes Preston out of Administrators: only Users is left, which
    // holds no Remote Desktop right in the real SECURITY hive.
    require_tool(
        "samusrgrp",
        &["-r", "-u", "Preston", "-g", "0x220", sam.to_str().unwrap()],
    );
    let out =
        accounts::check_files(&files(Some(&r.security), Some(&sam), Some("Preston")), NOW).unwrap();
    let f = finding(&out, FindingId::RemoteLogonNotGranted);
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.title
            .ends_with("none of the groups of the account Preston"),
        "{}",
        f.title
    );
    let cmds = commands(f);
    assert_eq!(
        cmds[0],
        "net localgroup \"Remote Desktop Users\" \"Preston\" /add"
    );
    assert!(
        cmds.iter().any(|c| c.starts_with("chntpw -u \"Preston\"")),
        "{cmds:?}"
    );

    // Joining Remote Desktop Users (chntpw again) is enough, and our reading of
    // the C value chntpw rewrote agrees with chntpw's.
    require_tool(
        "samusrgrp",
        &["-a", "-u", "Preston", "-g", "0x22b", sam.to_str().unwrap()],
    );
    let bytes = std::fs::read(&sam).unwrap();
    let groups = sam::read_groups(&Hive::new(&bytes).unwrap(), origin()).unwrap();
    assert_eq!(our_members(&groups), chntpw_members(&sam));
    let out =
        accounts::check_files(&files(Some(&r.security), Some(&sam), Some("Preston")), NOW).unwrap();
    assert_eq!(seen(&out, FindingId::RemoteLogonNotGranted), [None]);
}

#[test]
fn an_unknown_account_is_a_warning_not_a_guess() {
    let r = real();
    let out = accounts::check_files(
        &files(Some(&r.security), Some(&r.sam), Some("CORP\\alice")),
        NOW,
    )
    .unwrap();
    assert_eq!(
        seen(&out, FindingId::RemoteDesktopGroups),
        [Some(Severity::Info), Some(Severity::Warning)]
    );
    assert!(seen(&out, FindingId::AccountDisabled).is_empty());
}

#[test]
fn hives_of_the_wrong_kind_are_usage_errors_and_garbage_never_panics() {
    let r = real();
    let swapped = accounts::check_files(&files(Some(&r.sam), None, None), NOW);
    assert!(
        matches!(&swapped, Err(rdp_doctor_host::OfflineError::Usage(m)) if m.contains("Policy\\Accounts")),
        "{swapped:?}"
    );
    let swapped = accounts::check_files(&files(None, Some(&r.security), None), NOW);
    assert!(
        matches!(swapped, Err(rdp_doctor_host::OfflineError::Usage(_))),
        "{swapped:?}"
    );

    // Every truncation and byte flip of the real hives: an error or a result, never a panic.
    let dir = tempfile::tempdir().unwrap();
    for name in ["regipy_SAM", "regipy_SECURITY"] {
        let bytes = load(name);
        let mut cases: Vec<Vec<u8>> = [4096, 4200, 8192, bytes.len() / 2]
            .iter()
            .map(|&n| bytes[..n.min(bytes.len())].to_vec())
            .collect();
        for at in (4096..bytes.len().min(40_000)).step_by(97) {
            let mut b = bytes.clone();
            b[at] ^= 0xFF;
            cases.push(b);
        }
        for (i, case) in cases.iter().enumerate() {
            let p = write(dir.path(), &format!("{name}.{i}"), case);
            let f = if name.ends_with("SAM") {
                files(None, Some(&p), Some("Preston"))
            } else {
                files(Some(&p), None, None)
            };
            let _ = accounts::check_files(&f, NOW);
        }
    }
}
