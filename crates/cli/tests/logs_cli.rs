//! `rdp-doctor logs` as a user runs it on exported logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Decompresses a corpus log of the events crate into `dir` under a Windows log name.
fn log_file(dir: &Path, corpus: &str, windows_name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/data")
        .join(format!("{corpus}.evtx.xz"));
    let out = Command::new("xz").args(["-dc"]).arg(&src).output().unwrap();
    assert!(out.status.success());
    let path = dir.join(windows_name);
    std::fs::write(&path, out.stdout).unwrap();
    path
}

#[test]
fn a_logs_folder_gives_findings_and_timelines() {
    let dir = tempfile::tempdir().unwrap();
    log_file(dir.path(), "mdec_Security_4825_rdp_denied", "Security.evtx");
    log_file(
        dir.path(),
        "mdec_RCM_1149_multiple_hosts",
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
    );
    std::fs::write(
        dir.path().join("Application.evtx"),
        b"not read: not an RDP log",
    )
    .unwrap();
    let out = run(&["logs", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("13 RDP events in 2 file(s): 1 problem(s) found"),
        "{text}"
    );
    assert!(text.contains("[EVT005] error logons denied"), "{text}");
    assert!(
        text.contains("10.23.123.11  11 event(s), 11 logon(s) ok"),
        "{text}"
    );

    let out = run(&[
        "logs",
        "--json",
        "--since",
        "2021-12-16T10:25:31Z",
        dir.path().to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.logs/v1");
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    let t = &v["timelines"][0];
    assert_eq!(t["address"], "10.23.123.11");
    assert!(t["events"].as_u64().unwrap() < 11);
}

/// Compares with a reviewed golden file; `UPDATE_GOLDEN=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// The human report of a folder holding a server's Security and RCM logs and a client's own log.
#[test]
fn human_report_of_a_logs_folder() {
    let dir = tempfile::tempdir().unwrap();
    log_file(
        dir.path(),
        "mdec_Security_4625_LT10_account_restriction",
        "Security.evtx",
    );
    log_file(
        dir.path(),
        "mdec_RCM_1149_multiple_hosts",
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
    );
    log_file(
        dir.path(),
        "szechuan_DC01_RDPClient_Operational",
        "Microsoft-Windows-TerminalServices-RDPClient%4Operational.evtx",
    );
    let out = run(&["logs", "--timeline", "3", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "only info findings");
    let text = String::from_utf8_lossy(&out.stdout).replace(dir.path().to_str().unwrap(), "DIR");
    golden("logs_folder.txt", &text);
}

#[test]
fn bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        run(&["logs", dir.path().to_str().unwrap()]).status.code(),
        Some(2)
    );
    let junk = dir.path().join("x.evtx");
    std::fs::write(&junk, b"MZ junk").unwrap();
    let out = run(&["logs", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not an .evtx file"));
    assert_eq!(
        run(&["logs", "--since", "soon", junk.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["logs", "/nonexistent/x.evtx"]).status.code(), Some(3));
}
