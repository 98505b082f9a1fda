//! `rdp-doctor serve` with a module that has credentials: the exporter makes
//! the full connection, exports its steps and outcome, and the password (read
//! from an environment variable named in the configuration) appears in no
//! metric and no log. Against the FreeRDP shadow server (NLA).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::{free_port, require_tool, wait_for_port, PeerProcess};

use crate::support::http;

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path)
}

#[test]
fn a_module_with_credentials_exports_the_full_connection_and_never_the_password() {
    if !require_tool("freerdp-shadow-cli") || !require_tool("winpr-hash") || !require_tool("Xvfb") {
        return;
    }
    let server = ShadowServer::start().expect("shadow server");
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = "Exp0rter-Wrong-Pw";
    std::fs::write(dir.path().join("wrong.pw"), format!("{wrong}\n")).expect("write");
    let config = format!(
        r#"
[allow]
cidrs = ["127.0.0.0/8"]
[modules.nla]
timeout_seconds = 15
credentials = {{ user = "{user}", password_env = "SHADOW_PW" }}
[modules.wrong]
timeout_seconds = 15
credentials = {{ user = "{user}", password_file = "{file}" }}
[modules.unset]
timeout_seconds = 15
credentials = {{ user = "{user}", password_env = "RDP_DOCTOR_TEST_UNSET_PW" }}
"#,
        user = server.user,
        file = dir.path().join("wrong.pw").display()
    );
    let config_path = dir.path().join("exporter.toml");
    std::fs::write(&config_path, config).expect("config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let log = dir.path().join("exporter.log");
    let mut exporter = PeerProcess::spawn(
        "rdp-doctor serve",
        Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
            .env("SHADOW_PW", &server.password)
            .env_remove("RDP_DOCTOR_TEST_UNSET_PW")
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(&config_path),
        &log,
    )
    .expect("exporter");
    wait_for_port(addr, &mut exporter, Duration::from_secs(10)).expect("exporter listens");

    let (status, body) = get(addr, &format!("/probe?target={}&module=nla", server.addr));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\nrdp_probe_success 1\n"), "{body}");
    assert!(
        body.contains("rdp_probe_phase_ok{phase=\"connect\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_connect_outcome{kind=\"connected\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_connect_step_duration_seconds{step=\"credssp\"}"),
        "{body}"
    );
    assert!(!body.contains(&server.password), "{body}");

    let (status, body) = get(addr, &format!("/probe?target={}&module=wrong", server.addr));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\nrdp_probe_success 0\n"), "{body}");
    assert!(
        body.contains("rdp_probe_connect_outcome{kind=\"auth_failed\"} 1"),
        "{body}"
    );
    assert!(body.contains("rdp_probe_finding{id=\"AUTH002\""), "{body}");
    assert!(!body.contains(wrong), "{body}");

    let (status, body) = get(addr, &format!("/probe?target={}&module=unset", server.addr));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("rdp_probe_credentials_unreadable 1"),
        "{body}"
    );
    assert!(body.contains("\nrdp_probe_success 0\n"), "{body}");

    let (_, metrics) = get(addr, "/metrics");
    assert!(!metrics.contains(&server.password) && !metrics.contains(wrong));
    drop(exporter);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !logged.contains(&server.password) && !logged.contains(wrong),
        "{logged}"
    );
}
