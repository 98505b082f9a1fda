//! `host check` and `diagnose` with the SECURITY and SAM hives, as a user runs
//! them: the real hives of the host crate's corpus, and a copy of SECURITY in
//! which hivexregedit leaves a deny right behind.

use crate::support::xz_bytes;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rdp-doctor");

fn decompress(dir: &str, name: &str, to: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(dir)
        .join(format!("{name}.xz"));
    let path = to.join(name);
    std::fs::write(&path, xz_bytes(&src)).unwrap();
    path
}

struct Hives {
    _dir: tempfile::TempDir,
    system: PathBuf,
    security: PathBuf,
    sam: PathBuf,
}

/// The real hives, and SECURITY with "Deny log on through Remote Desktop
/// Services" left on Remote Desktop Users (ActSysAc 0x400 | 0x800).
fn hives() -> Hives {
    let dir = tempfile::tempdir().unwrap();
    let system = decompress("../regf/tests/data", "regipy_SYSTEM_win7_32bit", dir.path());
    let security = decompress("../host/tests/data", "regipy_SECURITY", dir.path());
    let sam = decompress("../host/tests/data", "regipy_SAM", dir.path());
    let reg = dir.path().join("deny.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SECURITY\\Policy\\Accounts\\S-1-5-32-555\\ActSysAc]\n\
         @=hex(0):00,0c,00,00\n",
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SECURITY"])
        .arg(&security)
        .arg(&reg)
        .output()
        .expect("hivexregedit is required (scripts/deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Hives {
        _dir: dir,
        system,
        security,
        sam,
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn host_check_names_the_deny_right_and_the_json_cites_security() {
    let h = hives();
    let args = [
        "host",
        "check",
        "--json",
        "--system",
        s(&h.system),
        "--security",
        s(&h.security),
        "--sam",
        s(&h.sam),
    ];
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let deny = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "HOST022")
        .expect("HOST022");
    assert_eq!(deny["cause"], "no_remote_logon_right");
    let ev = &deny["evidence"][0];
    assert_eq!(
        ev["path"],
        "HKLM\\SECURITY\\Policy\\Accounts\\S-1-5-32-555\\ActSysAc"
    );
    assert_eq!(ev["origin"]["file"], s(&h.security));
    // Members of Administrators are not denied: the default groups' grant passes for them.
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "HOST027"));
}

#[test]
fn host_fix_lists_the_commands_without_touching_the_hives() {
    let h = hives();
    let before = std::fs::read(&h.security).unwrap();
    let out = run(&[
        "host",
        "fix",
        "--system",
        s(&h.system),
        "--security",
        s(&h.security),
        "--only",
        "HOST022",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("secedit /configure"), "{text}");
    assert_eq!(std::fs::read(&h.security).unwrap(), before);
}

#[test]
fn user_needs_sam_and_unknown_hive_roles_are_usage_errors() {
    let h = hives();
    let out = run(&[
        "host",
        "check",
        "--system",
        s(&h.system),
        "--user",
        "Preston",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "host",
        "check",
        "--system",
        s(&h.system),
        "--security",
        s(&h.sam),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn diagnose_ranks_the_missing_right_first_for_c000015b() {
    let h = hives();
    let out = run(&[
        "diagnose",
        "--format",
        "json",
        "--code",
        "0xC000015B",
        "--system",
        s(&h.system),
        "--security",
        s(&h.security),
        "--sam",
        s(&h.sam),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let top = &v["causes"][0];
    assert_eq!(top["cause"], "no_remote_logon_right", "{v:#}");
    // The hive's deny right is behind it, joined with the code.
    let host: Vec<&serde_json::Value> = top["for"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["finding"] == "HOST022")
        .collect();
    assert_eq!(host.len(), 2, "the finding and the code with it: {top:#}");
}
