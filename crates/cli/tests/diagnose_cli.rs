//! `rdp-doctor diagnose` and `probe` as a user runs them, against loopback.

use std::net::TcpListener;
use std::process::Command;

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn closed_port_is_a_problem_found_with_a_fix() {
    let port = closed_port();
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["diagnose", &format!("127.0.0.1:{port}"), "--timeout", "3"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert_eq!(first, format!("RDP to 127.0.0.1:{port} fails at TCP: nothing accepts connections on port {port} (refused)"));
    assert!(text.contains("[NET002] error"));
    assert!(text.contains("fix:"));
}

#[test]
fn probe_json_schema_and_usage_errors() {
    let port = closed_port();
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["probe", "--json", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.probe/v1");
    assert_eq!(v["tcp"]["kind"], "refused");
    assert_eq!(v["phases"][1]["status"], "fail");

    for args in [
        vec!["diagnose", "a b"],
        vec!["diagnose", "h", "--timeout", "0"],
        vec!["probe"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
