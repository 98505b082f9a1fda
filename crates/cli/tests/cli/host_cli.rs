//! `rdp-doctor host check|fix|undo` on real SYSTEM hives, as a user runs it:
//! broken copies made with the hive editor are found, fixed, read back by
//! independent readers (hivex, regipy, python-registry) and restored byte for
//! byte; a kill -9 at any moment leaves the original or the fixed file.

use crate::support::golden;
use crate::support::xz_bytes;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rdp_doctor_regf::{Data, Hive, HiveEditor};

const BIN: &str = env!("CARGO_BIN_EXE_rdp-doctor");
const TS: &str = "ControlSet001\\Control\\Terminal Server";
const RDP_TCP: &str = "ControlSet001\\Control\\Terminal Server\\WinStations\\RDP-Tcp";

fn decompress(name: &str) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../regf/tests/data")
        .join(format!("{name}.xz"));
    xz_bytes(&src)
}

fn hive(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join("SYSTEM");
    std::fs::write(&path, decompress(name)).unwrap();
    path
}

/// The clean Windows 7 SYSTEM hive broken four ways: Remote Desktop off,
/// TermService disabled, the port moved without a firewall rule, a tiny
/// outstanding-connection limit.
fn broken(dir: &Path) -> PathBuf {
    let mut ed = HiveEditor::new(decompress("regipy_SYSTEM_win7_32bit")).unwrap();
    ed.set_value(TS, "fDenyTSConnections", &Data::Dword(1))
        .unwrap();
    ed.set_value(TS, "MaxOutstandingConnections", &Data::Dword(2))
        .unwrap();
    ed.set_value(RDP_TCP, "PortNumber", &Data::Dword(3390))
        .unwrap();
    ed.set_value(
        "ControlSet001\\Services\\TermService",
        "Start",
        &Data::Dword(4),
    )
    .unwrap();
    let path = dir.join("SYSTEM");
    std::fs::write(&path, ed.finish()).unwrap();
    path
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env("NO_COLOR", "1");
    for p in paths {
        c.arg(p);
    }
    c.output().unwrap()
}

fn sha(path: &Path) -> String {
    rdp_doctor_host::apply::sha256_hex(&std::fs::read(path).unwrap())
}

/// Whether an external reader is installed: a missing one fails under CI, else its comparison is skipped.
fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing (scripts/deps): required under CI"
        );
        eprintln!("skipping the {tool} comparison: {tool} is not installed");
    }
    ok
}

fn have_python(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python module {module} is missing (scripts/deps/pip.txt): required under CI"
        );
        eprintln!("skipping the {module} comparison: python3 cannot import {module}");
    }
    ok
}

fn value_in(path: &Path, key: &str, name: &str) -> Option<Data> {
    let bytes = std::fs::read(path).unwrap();
    let h = Hive::new(&bytes).unwrap();
    h.root().unwrap().path(key).unwrap()?.value(name).unwrap()
}

#[test]
fn check_reports_the_failing_value_with_its_path_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let system = hive(dir.path(), "regipy_SYSTEM_B_win10");
    let out = run(&["host", "check", "--system"], &[&system]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("Remote Desktop is turned off"),
        "{text}"
    );
    assert!(text.contains("HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\fDenyTSConnections = 0x00000001 (1)"), "{text}");
    assert!(
        text.contains("fix:      Allow Remote Desktop connections (fDenyTSConnections=0)"),
        "{text}"
    );
    // A rescued disk's fix edits the hive file, never this machine's registry.
    let shown = system.display().to_string();
    assert!(
        text.contains(&format!(
            "rdp-doctor host fix --system {shown} --only HOST001 --apply"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("reg load HKLM\\OFFLINE_SYSTEM {shown}")),
        "{text}"
    );
    assert!(!text.contains("Set-ItemProperty"), "{text}");
    assert!(!text.contains("HKLM:\\"), "{text}");

    let out = run(&["host", "check", "--json", "--system"], &[&system]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.host-check/v2");
    assert_eq!(v["system_dirty"], true);
    let host001 = &v["findings"][0];
    assert_eq!(host001["id"], "HOST001");
    assert_eq!(host001["severity"], "error");
    assert_eq!(host001["evidence"][0]["origin"]["kind"], "hive");
    assert_eq!(host001["evidence"][0]["origin"]["file"], shown.as_str());
    assert!(v["passed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == "HOST002"));

    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a hive").unwrap();
    let out = run(&["host", "check", "--system"], &[&junk]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable hive"));
}

#[test]
fn fix_plans_applies_verifies_and_undoes() {
    let dir = tempfile::tempdir().unwrap();
    let system = broken(dir.path());
    let before = sha(&system);

    let out = run(&["host", "check", "--system"], &[&system]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for id in [
        "[HOST001]",
        "[HOST004] error TermService is disabled",
        "[HOST006]",
        "[HOST007]",
    ] {
        assert!(text.contains(id), "{id}: {text}");
    }

    // Dry run: the plan, exit 1, the file byte-identical.
    for format in ["text", "json", "reg", "powershell"] {
        let out = run(&["host", "fix", "--format", format, "--system"], &[&system]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        assert_eq!(sha(&system), before, "--format {format} changed the hive");
    }
    let out = run(&["host", "fix", "--system"], &[&system]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.starts_with("4 fix(es), 4 change(s) to SYSTEM (dry run"),
        "{text}"
    );
    let out = run(&["host", "fix", "--json", "--system"], &[&system]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.host-fix/v2");
    assert_eq!(v["applied"], false);
    assert_eq!(v["actions"].as_array().unwrap().len(), 4);
    assert_eq!(v["steps"][0]["finding"]["id"], "HOST001");
    assert_eq!(
        v["steps"][0]["remedy"]["actions"][0]["data"]["type"],
        "REG_DWORD"
    );

    // Apply.
    let backup = dir.path().join("backup");
    let out = run(
        &["host", "fix", "--apply", "--backup-dir"],
        &[&backup, Path::new("--system"), &system],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("verified: the fixed checks pass and no other value changed"),
        "{text}"
    );
    let after = sha(&system);
    assert_ne!(after, before);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["files"][0]["sha256_before"], before);
    assert_eq!(manifest["files"][0]["sha256_after"], after);
    assert_eq!(sha(&backup.join("SYSTEM")), before);

    let out = run(&["host", "check", "--system"], &[&system]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&["host", "fix", "--system"], &[&system]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Nothing to fix"));

    // Independent readers see the new values.
    let expected = [
        (TS, "fDenyTSConnections", 0u32),
        (TS, "MaxOutstandingConnections", 10_000),
        ("ControlSet001\\Services\\TermService", "Start", 3),
    ];
    if have("hivexget") {
        for (key, name, v) in expected {
            let out = Command::new("hivexget")
                .arg(&system)
                .arg(key)
                .arg(name)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                v.to_string(),
                "hivexget {key} {name}"
            );
        }
        let out = Command::new("hivexget")
            .arg(&system)
            .arg("ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules")
            .arg("RdpDoctor-RemoteDesktop-In-TCP-3390")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("LPort=3390"),
            "hivexget firewall rule"
        );
    }
    let py_values = |module: &str, script: &str| {
        if !have_python(module) {
            return;
        }
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(&system)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{module}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let got: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(got, ["0", "10000", "3"], "{module}");
    };
    py_values(
        "regipy",
        "import sys\nfrom regipy.registry import RegistryHive\nh = RegistryHive(sys.argv[1])\n\
         for k, n in [(r'\\ControlSet001\\Control\\Terminal Server', 'fDenyTSConnections'), (r'\\ControlSet001\\Control\\Terminal Server', 'MaxOutstandingConnections'), (r'\\ControlSet001\\Services\\TermService', 'Start')]:\n\
         \x20   print(h.get_key(k).get_value(n))",
    );
    py_values(
        "Registry",
        "import sys\nfrom Registry import Registry\nr = Registry.Registry(sys.argv[1])\n\
         for k, n in [(r'ControlSet001\\Control\\Terminal Server', 'fDenyTSConnections'), (r'ControlSet001\\Control\\Terminal Server', 'MaxOutstandingConnections'), (r'ControlSet001\\Services\\TermService', 'Start')]:\n\
         \x20   print(r.open(k).value(n).value())",
    );

    // Undo: byte-identical; a second undo finds the original in place.
    let out = run(&["host", "undo"], &[&backup]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sha(&system), before);
    let out = run(&["host", "undo"], &[&backup]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already original"));
    // A file changed by someone else is not overwritten without --force.
    std::fs::write(&system, decompress("regipy_SYSTEM_win7_32bit")).unwrap();
    let out = run(&["host", "undo"], &[&backup]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = run(&["host", "undo", "--force"], &[&backup]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sha(&system), before);
}

#[test]
fn reg_and_powershell_renderings() {
    let dir = tempfile::tempdir().unwrap();
    let system = broken(dir.path());
    let reg = run(&["host", "fix", "--format", "reg", "--system"], &[&system]);
    let reg_text = String::from_utf8(reg.stdout).unwrap();
    golden("host_fix_broken_win7.reg", &reg_text);
    let ps = run(
        &["host", "fix", "--format", "powershell", "--system"],
        &[&system],
    );
    golden(
        "host_fix_broken_win7.ps1",
        &String::from_utf8(ps.stdout).unwrap(),
    );

    // -o writes the .reg file as regedit does: UTF-16LE with a BOM.
    let file = dir.path().join("fix.reg");
    let out = run(
        &["host", "fix", "--format", "reg", "-o"],
        &[&file, Path::new("--system"), &system],
    );
    assert_eq!(out.status.code(), Some(1));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE]);
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), reg_text);

    // The .reg file, merged into a copy of the broken hive by hivexregedit
    // (another implementation of the format), gives the values --apply writes.
    if !have("hivexregedit") {
        return;
    }
    let merged = dir.path().join("MERGED");
    std::fs::copy(&system, &merged).unwrap();
    let for_hivex = dir.path().join("hivex.reg");
    std::fs::write(
        &for_hivex,
        reg_text.replace("\\CurrentControlSet\\", "\\ControlSet001\\"),
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
        .arg(&merged)
        .arg(&for_hivex)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hivexregedit --merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["host", "fix", "--apply", "--backup-dir"],
        &[&dir.path().join("b"), Path::new("--system"), &system],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = run(&["host", "fix", "--json", "--system"], &[&merged]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        plan["actions"].as_array().unwrap().len(),
        0,
        "the merged hive needs no more fixes: {plan}"
    );
    let applied_plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("b/manifest.json")).unwrap())
            .unwrap();
    for a in applied_plan["actions"].as_array().unwrap() {
        let key = a["key"]
            .as_str()
            .unwrap()
            .replace("CurrentControlSet", "ControlSet001");
        let name = a["name"].as_str().unwrap();
        let ours = value_in(&system, &key, name);
        let theirs = value_in(&merged, &key, name);
        assert!(ours.is_some(), "{key}\\{name}");
        assert_eq!(
            ours, theirs,
            "{key}\\{name}: --apply and hivexregedit --merge differ"
        );
    }
}

#[test]
fn a_downgrade_needs_allow_downgrade_and_says_so() {
    // TLS required and the RDP key container empty: the only registry fix is
    // RDP security without NLA, a downgrade.
    let dir = tempfile::tempdir().unwrap();
    let mut ed = HiveEditor::new(decompress("regipy_SYSTEM_win7_32bit")).unwrap();
    ed.set_value(RDP_TCP, "SecurityLayer", &Data::Dword(2))
        .unwrap();
    ed.set_value(RDP_TCP, "UserAuthentication", &Data::Dword(1))
        .unwrap();
    let system = dir.path().join("SYSTEM");
    std::fs::write(&system, ed.finish()).unwrap();
    let guid = "5a3f29b3-8e74-4c0e-9d4a-2f1b6c7d8e90";
    let ntuser = decompress("regipy_NTUSER_win7");
    let mut ed = HiveEditor::new(ntuser).unwrap();
    ed.set_value(
        "Microsoft\\Cryptography",
        "MachineGuid",
        &Data::String(guid.into()),
    )
    .unwrap();
    ed.set_value(
        "Microsoft\\Windows NT\\CurrentVersion",
        "CurrentVersion",
        &Data::String("6.1".into()),
    )
    .unwrap();
    let software = dir.path().join("SOFTWARE");
    std::fs::write(&software, ed.finish()).unwrap();
    let keys = dir
        .path()
        .join("win/ProgramData/Microsoft/Crypto/RSA/MachineKeys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join(format!("f686aace6942fb7f7ceb231212eef4a4_{guid}")),
        b"",
    )
    .unwrap();
    let windows = dir.path().join("win");
    let before = sha(&system);
    let hives: [&Path; 6] = [
        Path::new("--system"),
        &system,
        Path::new("--software"),
        &software,
        Path::new("--windows"),
        &windows,
    ];

    let out = run(
        &[
            "host",
            "fix",
            "--apply",
            "--only",
            "HOST017",
            "--backup-dir",
            "unused",
        ],
        &hives,
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Nothing to fix automatically"), "{text}");
    assert!(
        text.contains("a security downgrade: applied only with --allow-downgrade"),
        "{text}"
    );
    assert!(text.contains("would set    HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\\SecurityLayer = 0x00000000 (0)"), "{text}");
    assert_eq!(
        sha(&system),
        before,
        "a downgrade was applied without --allow-downgrade"
    );

    let backup = dir.path().join("b");
    let mut args: Vec<&Path> = vec![&backup];
    args.extend(hives);
    let out = run(
        &[
            "host",
            "fix",
            "--apply",
            "--allow-downgrade",
            "--only",
            "HOST017",
            "--backup-dir",
        ],
        &args,
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("(security downgrade, allowed by --allow-downgrade)"),
        "{text}"
    );
    assert_eq!(
        value_in(&system, RDP_TCP, "SecurityLayer"),
        Some(Data::Dword(0))
    );
    assert_eq!(
        value_in(&system, RDP_TCP, "UserAuthentication"),
        Some(Data::Dword(0))
    );
}

#[test]
fn a_dirty_hive_without_logs_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let system = hive(dir.path(), "regipy_SYSTEM_B_win10");
    let before = sha(&system);
    let out = run(
        &["host", "fix", "--apply", "--backup-dir"],
        &[&dir.path().join("b"), Path::new("--system"), &system],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is dirty") && err.contains(".LOG1"), "{err}");
    assert_eq!(sha(&system), before);
    assert!(!dir.path().join("b").exists());
    let out = run(&["host", "fix", "--only", "nope", "--system"], &[&system]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_replays_the_logs_beside_a_dirty_hive_and_leaves_the_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let system = hive(dir.path(), "regipy_SYSTEM_B_win10");
    let without_logs = run(&["host", "check", "--json", "--system"], &[&system]);
    let without: serde_json::Value = serde_json::from_slice(&without_logs.stdout).unwrap();
    assert_eq!(without["system_dirty"], true, "{without}");
    for ext in ["LOG1", "LOG2"] {
        std::fs::write(
            dir.path().join(format!("SYSTEM.{ext}")),
            decompress(&format!("regipy_SYSTEM_B.{ext}")),
        )
        .unwrap();
    }
    let before: Vec<String> = ["SYSTEM", "SYSTEM.LOG1", "SYSTEM.LOG2"]
        .iter()
        .map(|n| sha(&dir.path().join(n)))
        .collect();
    let out = run(&["host", "check", "--json", "--system"], &[&system]);
    let with: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The replayed hive is clean; HOST000 says the logs were read, as information.
    assert_eq!(with["system_dirty"], false, "{with}");
    let host000 = with["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "HOST000")
        .expect("HOST000");
    assert_eq!(host000["severity"], "info");
    assert!(
        host000["evidence"][0]["value"]
            .as_str()
            .unwrap()
            .contains("SYSTEM.LOG2"),
        "{host000}"
    );
    let after: Vec<String> = ["SYSTEM", "SYSTEM.LOG1", "SYSTEM.LOG2"]
        .iter()
        .map(|n| sha(&dir.path().join(n)))
        .collect();
    assert_eq!(before, after, "a check changes no file");
}

/// Runs `fix --apply` and kills it with SIGKILL when `kill_at` says so.
fn apply_and_kill(system: &Path, backup: &Path, kill_at: Kill) {
    let mut c = Command::new(BIN);
    c.args(["host", "fix", "--apply", "--backup-dir"])
        .arg(backup)
        .arg("--system")
        .arg(system)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if matches!(kill_at, Kill::AtStep(_)) {
        c.env("RDP_DOCTOR_STEP_HOOK", "1");
    }
    let mut child = c.spawn().unwrap();
    match kill_at {
        Kill::AtStep(n) => {
            let mut stdin = child.stdin.take().unwrap();
            let stderr = BufReader::new(child.stderr.take().unwrap());
            let mut seen = 0;
            for line in stderr.lines() {
                let line = line.unwrap();
                if !line.starts_with("rdp-doctor: step ") {
                    continue;
                }
                if seen == n {
                    break;
                }
                seen += 1;
                stdin.write_all(b"\n").unwrap();
            }
            let _ = child.kill();
        }
        Kill::After(d) => {
            std::thread::sleep(d);
            let _ = child.kill();
        }
        Kill::Never => {}
    }
    let _ = child.wait();
}

#[derive(Clone, Copy, Debug)]
enum Kill {
    AtStep(usize),
    After(Duration),
    Never,
}

/// Asserts the hive is the original or the fixed one; true when fixed.
fn original_or_fixed(system: &Path, backup: &Path, original: &str, what: &str) -> bool {
    let now = sha(system);
    if now == original {
        return false;
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(backup.join("manifest.json")).unwrap_or_else(|_| {
            panic!("{what}: the hive changed but no manifest was written first")
        }),
    )
    .unwrap_or_else(|e| panic!("{what}: the hive changed but the manifest is not complete: {e}"));
    assert_eq!(
        manifest["files"][0]["sha256_after"], now,
        "{what}: the hive is neither the original nor the fixed one"
    );
    let out = run(&["host", "check", "--system"], &[system]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: the fixed hive does not pass"
    );
    true
}

#[test]
fn kill_9_at_any_moment_leaves_the_original_or_the_fixed_hive() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = std::fs::read(broken(dir.path())).unwrap();
    let system = dir.path().join("SYSTEM");
    let original = sha(&system);
    // At each step of the hook (backup copied, manifest written, temporary
    // file written, renamed, all replaced, verified) and one past the last.
    for n in 0..7 {
        let backup = dir.path().join(format!("step{n}"));
        apply_and_kill(&system, &backup, Kill::AtStep(n));
        let is_fixed =
            original_or_fixed(&system, &backup, &original, &format!("killed at step {n}"));
        // Steps: backup-copied, manifest-written, temp-written (the original
        // until here), renamed (the fixed file from here), replaced, verified.
        assert_eq!(is_fixed, n >= 3, "killed at step {n}");
        std::fs::write(&system, &pristine).unwrap();
    }
    // And at delays spread over a whole run.
    let t = Instant::now();
    let full = dir.path().join("full");
    apply_and_kill(&system, &full, Kill::Never);
    let whole = t.elapsed();
    assert!(
        original_or_fixed(&system, &full, &original, "a whole run"),
        "a whole run fixes the hive"
    );
    let mut fixed = 0;
    for i in 0..18u32 {
        std::fs::write(&system, &pristine).unwrap();
        let backup = dir.path().join(format!("delay{i}"));
        let d = whole * i / 16;
        apply_and_kill(&system, &backup, Kill::After(d));
        if original_or_fixed(&system, &backup, &original, &format!("killed after {d:?}")) {
            fixed += 1;
        }
    }
    // The kills fell before and after the replace.
    assert!(fixed > 0 && fixed < 18, "{fixed} of 18 runs ended fixed");
}

#[test]
fn hives_of_the_wrong_kind_missing_folders_and_unknown_ids_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let system = hive(dir.path(), "regipy_SYSTEM_win7_32bit");
    let ntuser = dir.path().join("NTUSER.DAT");
    std::fs::write(&ntuser, decompress("regipy_NTUSER_win7")).unwrap();
    let sys = Path::new("--system");
    let usage = |args: &[&str], paths: &[&Path], says: &str| {
        let out = run(args, paths);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    // A user hive, or the SYSTEM hive, given as SOFTWARE.
    for wrong in [&ntuser, &system] {
        usage(
            &["host", "check", "--software"],
            &[wrong, sys, &system],
            "not a SOFTWARE hive",
        );
    }
    usage(
        &["host", "check", "--system"],
        &[&ntuser],
        "not a SYSTEM hive",
    );
    usage(
        &["host", "check", "--windows", "/nonexistent"],
        &[sys, &system],
        "--windows /nonexistent: not a folder",
    );
    for cmd in ["check", "fix"] {
        if cmd == "fix" {
            usage(
                &["host", "fix", "--only", "HOST999"],
                &[sys, &system],
                "HOST999",
            );
            usage(
                &["host", "fix", "--only", "NET002"],
                &[sys, &system],
                "not a host check ID",
            );
        }
        usage(
            &["host", cmd, "--software"],
            &[&ntuser, sys, &system],
            "Microsoft\\Windows NT",
        );
    }
}

#[test]
fn output_files_are_never_overwritten_or_followed_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let system = broken(dir.path());
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let link = dir.path().join("fix.reg");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let existing = dir.path().join("old.ps1");
    std::fs::write(&existing, b"old").unwrap();
    for (format, target) in [("reg", &link), ("powershell", &existing)] {
        let out = run(
            &["host", "fix", "--format", format, "-o"],
            &[target, Path::new("--system"), &system],
        );
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--force"), "{err}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&existing).unwrap(), b"old");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // With --force the link itself is replaced; what it pointed at is untouched.
    let out = run(
        &["host", "fix", "--format", "reg", "--force", "-o"],
        &[&link, Path::new("--system"), &system],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(&std::fs::read(&link).unwrap()[..2], &[0xFF, 0xFE]);
}

#[test]
fn apply_on_a_read_only_folder_says_nothing_changed() {
    // The tests run as root, which writes through permissions: a read-only bind
    // mount in a mount namespace of this test's own.
    let dir = tempfile::tempdir().unwrap();
    let hives = dir.path().join("config");
    std::fs::create_dir(&hives).unwrap();
    let system = broken(&hives);
    let before = sha(&system);
    let backup = dir.path().join("backup");
    let script = format!(
        "mount --bind {d} {d} && mount -o remount,bind,ro {d} && exec env NO_COLOR=1 {BIN} host fix --apply --backup-dir {b} --system {s}",
        d = hives.display(),
        b = backup.display(),
        s = system.display()
    );
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot write") && err.contains("nothing changed"),
        "{err}"
    );
    assert!(!err.contains("RESTORING"), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(sha(&system), before);
}

#[test]
fn default_backup_folders_are_named_by_utc_time_and_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let system = broken(dir.path());
    let fix_here = || {
        Command::new(BIN)
            .current_dir(dir.path())
            .args(["host", "fix", "--apply", "--system"])
            .arg(&system)
            .output()
            .unwrap()
    };
    let out = fix_here();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = |out: &Output| {
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = text
            .lines()
            .find(|l| l.starts_with("backup: "))
            .unwrap_or_else(|| panic!("{text}"))
            .to_string();
        line["backup: ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    let first = name(&out);
    // rdp-doctor-backup-20261204T220513Z
    let stamp = first.strip_prefix("rdp-doctor-backup-").expect(&first);
    assert_eq!(stamp.len(), 16, "{first}");
    assert_eq!((&stamp[8..9], &stamp[15..]), ("T", "Z"), "{first}");
    assert!(
        stamp[..8]
            .bytes()
            .chain(stamp[9..15].bytes())
            .all(|b| b.is_ascii_digit()),
        "{first}"
    );
    // Broken again and fixed within the same second: another folder.
    std::fs::copy(dir.path().join(&first).join("SYSTEM"), &system).unwrap();
    std::fs::create_dir_all(dir.path().join(format!("{first}-2"))).unwrap();
    std::fs::write(dir.path().join(format!("{first}-2/taken")), b"").unwrap();
    let second = name(&fix_here());
    assert_ne!(second, first);
    assert!(second.starts_with("rdp-doctor-backup-"), "{second}");
}
