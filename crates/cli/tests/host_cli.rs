//! `rdp-doctor host check` on a real SYSTEM hive, as a user runs it.

use std::path::Path;
use std::process::Command;

fn hive(dir: &Path, name: &str) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../regf/tests/data")
        .join(format!("{name}.xz"));
    let out = Command::new("xz").arg("-dc").arg(&src).output().unwrap();
    let path = dir.join("SYSTEM");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

#[test]
fn check_reports_the_failing_value_with_its_path_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let system = hive(dir.path(), "regipy_SYSTEM_B_win10");
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["host", "check", "--system"])
        .arg(&system)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
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
    assert!(text.contains("fix: Set fDenyTSConnections to 0"), "{text}");

    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["host", "check", "--json", "--system"])
        .arg(&system)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.host-check/v1");
    assert_eq!(v["system_dirty"], true);

    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a hive").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["host", "check", "--system"])
        .arg(&junk)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a readable hive"));
}
