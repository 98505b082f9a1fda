//! `rdp-doctor logs` as a user runs it on exported logs.

use crate::support::golden;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::terminal;

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
    std::fs::write(dir.path().join("Application.evtx"), b"damaged: not a log").unwrap();
    let out = run(&["logs", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("13 RDP events in 3 file(s): 1 problem(s) found"),
        "{text}"
    );
    assert!(
        text.contains("Application.evtx: not an .evtx file"),
        "every .evtx is read: {text}"
    );
    assert!(
        text.contains("[EVT005] error logons denied: svc6test1 may not log on"),
        "{text}"
    );
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
    assert_eq!(v["schema"], "rdp-doctor.logs/v2");
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    let t = &v["timelines"][0];
    assert_eq!(t["address"], "10.23.123.11");
    assert!(t["events"].as_u64().unwrap() < 11);
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

fn run_in(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = args.to_vec();
    let d = dir.to_str().unwrap();
    all.push(d);
    let out = run(&all);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(d, "DIR"),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Exports under other names, in a subfolder, with another case: all read; the rest listed as skipped.
#[test]
fn renamed_exports_are_read_and_skipped_files_named() {
    let dir = tempfile::tempdir().unwrap();
    log_file(
        dir.path(),
        "mdec_Security_4825_rdp_denied",
        "DC01-Security.evtx",
    );
    std::fs::create_dir(dir.path().join("server1")).unwrap();
    log_file(
        &dir.path().join("server1"),
        "mdec_RdpCoreTS_131_bruteforce",
        "server1.EVTX",
    );
    std::fs::write(dir.path().join("server1/readme.txt"), b"exported logs").unwrap();
    let (code, text, err) = run_in(dir.path(), &["logs"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        text.starts_with("156 RDP events in 2 file(s): 3 problem(s) found"),
        "{text}"
    );
    assert!(
        text.contains("  ok   DIR/DC01-Security.evtx: 2 records"),
        "{text}"
    );
    assert!(text.contains("  ok   DIR/server1/server1.EVTX: "), "{text}");
    assert!(
        text.contains("  skip DIR/server1/readme.txt: not an .evtx file name"),
        "{text}"
    );
    assert!(
        text.contains("[EVT005]") && text.contains("[EVT004]"),
        "{text}"
    );

    let (_, json, _) = run_in(dir.path(), &["logs", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["skipped"][0]["path"], "DIR/server1/readme.txt");
    assert_eq!(v["skipped"][0]["reason"], "not an .evtx file name");
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
}

/// A copy cut by `head -c` is reported as cut, with the chunks read, in text and JSON.
#[test]
fn truncated_copy_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let whole = log_file(dir.path(), "mdec_RdpCoreTS_131_bruteforce", "whole");
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::remove_file(&whole).unwrap();
    std::fs::write(
        dir.path().join("cut.evtx"),
        &bytes[..4096 + 65_536 + 30_000],
    )
    .unwrap();
    let (code, text, err) = run_in(dir.path(), &["logs"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        text.contains(
            "  WARN DIR/cut.evtx: truncated: 1 complete chunk(s) read, the header counts 3, \
             the file ends 30000 bytes into a 64 KiB chunk;"
        ),
        "{text}"
    );
    assert!(
        text.contains("[EVT014] warning 1 log file(s) cut short, read up to the cut: DIR/cut.evtx"),
        "{text}"
    );
    let (_, json, _) = run_in(dir.path(), &["logs", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = &v["files"][0]["truncated"];
    assert_eq!(
        (
            &t["chunks_read"],
            &t["chunks_in_header"],
            &t["partial_bytes"]
        ),
        (&1.into(), &3.into(), &30_000.into())
    );
}

/// `logs` shows 10 timeline entries, `diagnose --evtx` 30: the findings are the same, and
/// EVT008 counts every connection (154), not those shown.
#[test]
fn findings_are_the_same_whatever_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_file(
        dir.path(),
        "mdec_RdpCoreTS_131_bruteforce",
        "RdpCoreTS.evtx",
    );
    let log = log.to_str().unwrap();
    let findings = |args: &[&str], pointer: &str| -> serde_json::Value {
        let out = run(args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        v.pointer(pointer).cloned().unwrap()
    };
    let logs10 = findings(&["logs", "--json", log], "/findings");
    let logs2 = findings(&["logs", "--json", "--timeline", "2", log], "/findings");
    // Port 9 on loopback: refused at once; only the logs part is compared.
    let diagnose = findings(
        &[
            "diagnose",
            "--json",
            "--timeout",
            "5",
            "127.0.0.1:9",
            "--evtx",
            log,
        ],
        "/findings",
    );
    // diagnose also holds the probe's findings: compare the event logs' ones, by id.
    let events = |v: serde_json::Value| {
        let mut found: Vec<serde_json::Value> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"].as_str().is_some_and(|id| id.starts_with("EVT")))
            .cloned()
            .collect();
        found.sort_by_key(|f| f["id"].to_string());
        serde_json::Value::Array(found)
    };
    let (logs10, logs2, diagnose) = (events(logs10), events(logs2), events(diagnose));
    assert_eq!(logs10, logs2);
    assert_eq!(logs10, diagnose);
    let never = logs10
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "EVT008")
        .expect("EVT008");
    assert_eq!(
        never["title"],
        "10.23.123.11: 154 connections reached the server, none authenticated"
    );
    assert_eq!(never["evidence"][0]["count"], 154);
}

/// A window after the last event says so, instead of "no RDP failure signature".
#[test]
fn since_window_with_no_event() {
    let dir = tempfile::tempdir().unwrap();
    log_file(dir.path(), "mdec_Security_4825_rdp_denied", "Security.evtx");
    let (code, text, _) = run_in(dir.path(), &["logs", "--since", "24h"]);
    assert_eq!(code, Some(0));
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("0 of 2 RDP events since 20"), "{first}");
    assert!(
        first.ends_with("Z in 1 file(s): nothing to analyze in the window"),
        "{first}"
    );
    let (_, json, _) = run_in(
        dir.path(),
        &["logs", "--json", "--since", "2030-01-01T00:00:00Z"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["window"]["since"], "2030-01-01T00:00:00Z");
    assert_eq!(v["window"]["rdp_events"], 0);
    assert_eq!(v["rdp_events"], 2);
}

#[test]
fn brute_force_threshold_must_be_positive() {
    let dir = tempfile::tempdir().unwrap();
    log_file(dir.path(), "mdec_Security_4825_rdp_denied", "Security.evtx");
    let (code, _, err) = run_in(dir.path(), &["logs", "--brute-force", "0"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value '0' for '--brute-force"),
        "{err}"
    );
    assert!(err.contains("0 is not in 1.."), "{err}");
    let (code, _, err) = run_in(dir.path(), &["logs", "--brute-force", "1"]);
    assert_eq!(code, Some(1), "{err}");
}

/// On a terminal, `logs` over a folder shows a bar of files and bytes read up to the
/// full count; piped, with --no-progress or on a dumb terminal nothing of it appears,
/// and the report is the same bytes in every case.
#[test]
fn progress_bar_only_on_a_terminal() {
    if !rdp_doctor_testing::require_tool("script") {
        return;
    }
    let logs = tempfile::tempdir().unwrap();
    log_file(
        logs.path(),
        "mdec_Security_4825_rdp_denied",
        "Security.evtx",
    );
    log_file(logs.path(), "mdec_RCM_1149_multiple_hosts", "RCM.evtx");
    log_file(logs.path(), "szechuan_DC01_System", "System.evtx");
    let folder = logs.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let stdout = out.path().join("report.txt");

    let piped = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["logs", folder])
        .output()
        .unwrap();
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("in 3 file(s)"));

    let (code, shown) = terminal::on_a_terminal(&["logs", folder], &stdout, "xterm");
    assert_eq!(code, piped.status.code(), "{shown}");
    for text in ["/3 files", "3/3 files", "MiB read"] {
        assert!(shown.contains(text), "{text:?} not in {shown:?}");
    }
    assert_eq!(std::fs::read(&stdout).unwrap(), piped.stdout);

    for (extra, term) in [(Some("--no-progress"), "xterm"), (None, "dumb")] {
        let mut args = vec!["logs", folder];
        args.extend(extra);
        let (code, shown) = terminal::on_a_terminal(&args, &stdout, term);
        assert_eq!(code, piped.status.code(), "{shown}");
        assert!(shown.is_empty(), "{extra:?} TERM={term}: {shown:?}");
        assert_eq!(std::fs::read(&stdout).unwrap(), piped.stdout);
    }
}
