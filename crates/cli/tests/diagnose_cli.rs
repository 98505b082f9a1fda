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

/// Evidence besides the network: the .rdp file, event logs and the host's hives.
#[test]
fn diagnose_merges_every_evidence_source() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let rdp = dir.path().join("c.rdp");
    std::fs::write(
        &rdp,
        format!("full address:s:127.0.0.1:{port}\r\nscreen mode id:i:9\r\n"),
    )
    .unwrap();
    let unxz = |src: &str, dst: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
        let out = Command::new("xz").arg("-dc").arg(path).output().unwrap();
        let dst = dir.path().join(dst);
        std::fs::write(&dst, out.stdout).unwrap();
        dst
    };
    let evtx = unxz(
        "../events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz",
        "Security.evtx",
    );
    let system = unxz("../regf/tests/data/regipy_SYSTEM_win10_1709.xz", "SYSTEM");
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args([
            "diagnose",
            &format!("127.0.0.1:{port}"),
            "--json",
            "--rdp-file",
        ])
        .arg(&rdp)
        .arg("--evtx")
        .arg(&evtx)
        .arg("--system")
        .arg(&system)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.diagnose/v1");
    assert_eq!(v["findings"][0]["id"], "NET002");
    assert!(v["rdp_file"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "RDPF007"));
    assert!(v["logs"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "EVT005"));
    assert!(v["host"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "HOST001" && c["status"] == "fail"));
    assert!(v["other_problems"].as_u64().unwrap() >= 4);
}
