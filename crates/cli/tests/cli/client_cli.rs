//! `rdp-doctor client` and `host --collected` as a user runs them, on real hives.

use crate::support::xz_bytes as unxz;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .args(paths)
        .output()
        .expect("run rdp-doctor")
}

/// A SOFTWARE hive: a real hive's layout with the TCP-only policy merged by hivexregedit.
fn software(dir: &Path) -> PathBuf {
    let hive = dir.join("SOFTWARE");
    std::fs::write(&hive, unxz(&data("regf/tests/data/regipy_NTUSER_win7.xz"))).expect("write");
    let reg = dir.join("v.reg");
    let mut text = String::from("Windows Registry Editor Version 5.00\n\n");
    let key = "Policies\\Microsoft\\Windows NT\\Terminal Services\\Client";
    let parts: Vec<&str> = key.split('\\').collect();
    for n in 1..=parts.len() {
        text.push_str(&format!(
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\{}]\n",
            parts[..n].join("\\")
        ));
        if n == parts.len() {
            text.push_str("\"fClientDisableUDP\"=dword:00000001\n");
        }
        text.push('\n');
    }
    std::fs::write(&reg, text).expect("write");
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE"])
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("hivexregedit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hive
}

#[test]
fn check_fix_and_undo_on_a_software_hive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sw = software(dir.path());
    let before = std::fs::read(&sw).expect("read");
    let out = run(&["client", "check", "--json", "--software"], &[&sw]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["schema"], "rdp-doctor.client-check/v1");
    assert_eq!(v["findings"][0]["id"], "CLIENT001");

    // A dry run changes nothing and says what it would do.
    let out = run(&["client", "fix", "--udp-on", "--software"], &[&sw]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("would change"));
    assert_eq!(std::fs::read(&sw).expect("read"), before);

    let backup = dir.path().join("backup");
    let out = run(
        &["client", "fix", "--udp-on", "--apply", "--backup-dir"],
        &[&backup, Path::new("--software"), &sw],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = Command::new("hivexget")
        .arg(&sw)
        .args([
            "Policies\\Microsoft\\Windows NT\\Terminal Services\\Client",
            "fClientDisableUDP",
        ])
        .output()
        .expect("hivexget");
    assert!(!got.status.success(), "the value is gone");
    let out = run(&["client", "undo"], &[&backup]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&sw).expect("read"), before, "byte for byte");

    // Without any source: a usage error.
    assert_eq!(run(&["client", "check"], &[]).status.code(), Some(2));
    // Without --software, fix has nothing to change.
    assert_eq!(
        run(&["client", "fix", "--tcp-only"], &[]).status.code(),
        Some(2)
    );
}

#[test]
fn host_check_reads_a_collected_folder_as_the_hive_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hives = dir.path().join("evidence/hives");
    std::fs::create_dir_all(&hives).expect("mkdir");
    let system = hives.join("SYSTEM");
    std::fs::write(
        &system,
        unxz(&data("regf/tests/data/regipy_SYSTEM_win7_32bit.xz")),
    )
    .expect("write");
    let via = run(
        &["host", "check", "--json", "--collected"],
        &[&dir.path().join("evidence")],
    );
    let direct = run(&["host", "check", "--json", "--system"], &[&system]);
    assert_eq!(via.status.code(), direct.status.code());
    let ids = |o: &Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v["checks"].to_string()
    };
    assert_eq!(ids(&via), ids(&direct));
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = run(&["host", "check", "--collected"], &[&empty]);
    assert_eq!(out.status.code(), Some(2));
    // Collecting needs the Windows host.
    if !cfg!(windows) {
        assert_eq!(
            run(&["host", "collect", "-o"], &[&dir.path().join("x")])
                .status
                .code(),
            Some(2)
        );
    }
}
