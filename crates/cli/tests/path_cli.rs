//! Path tests through the binary, as a user runs them: `--repeat` through
//! the fault proxy's latency, a TLS stall, and a dual-stack name.

use std::process::{Command, Output};
use std::time::Duration;

use rdp_doctor_testing::proxy::{Cut, DirectionFaults, FaultProxy, Faults};
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn rdp_doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("rdp-doctor runs")
}

fn xrdp_at(address: &str) -> Option<Xrdp> {
    if !require_tool("xrdp") {
        return None;
    }
    Some(
        Xrdp::start_at(
            address,
            SecurityLayer::Negotiate,
            CertCase::Valid("cli-path.test".into()),
        )
        .expect("xrdp starts"),
    )
}

#[test]
fn repeat_through_a_200ms_round_trip() {
    let Some(server) = xrdp_at("127.0.0.1") else {
        return;
    };
    let one_way = DirectionFaults::latency(Duration::from_millis(100));
    let proxy = FaultProxy::start(
        server.addr,
        Faults {
            to_server: one_way,
            to_client: one_way,
        },
    )
    .expect("proxy");
    let target = proxy.addr.to_string();
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--repeat",
        "5",
        "--json",
        "--timeout",
        "15",
        "--step-timeout",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let repeat = &v["probe"]["path"]["repeat"];
    assert_eq!(repeat["succeeded"], 5, "{repeat:#}");
    assert_eq!(repeat["success_rate"], 1.0);
    let median = repeat["answer_ms"]["median"].as_f64().expect("median");
    assert!((195.0..400.0).contains(&median), "{median}");
    assert!(repeat["jitter_ms"].as_f64().is_some());
    let traffic = v["probe"]["path"]["traffic"].as_array().expect("traffic");
    assert_eq!(traffic[0]["phase"], "x224");
    assert_eq!(traffic[0]["bytes_received"], 19);
    assert_eq!(traffic[0]["end"], "completed");

    let out = rdp_doctor(&["probe", &target, "--repeat", "3", "--no-matrix"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Repeated handshakes (3 of 3 tcp+x224+tls handshakes succeeded, 100%"),
        "{text}"
    );
    assert!(text.contains("X.224 answer (RTT)"), "{text}");

    // Out of range is a usage error.
    let out = rdp_doctor(&["probe", &target, "--repeat", "1001"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_tls_stall_is_a_problem_named_at_tls() {
    let Some(server) = xrdp_at("127.0.0.1") else {
        return;
    };
    let proxy = FaultProxy::start(
        server.addr,
        Faults {
            to_client: DirectionFaults::cut(19, Cut::Stall),
            ..Faults::default()
        },
    )
    .expect("proxy");
    let out = rdp_doctor(&[
        "diagnose",
        &proxy.addr.to_string(),
        "--no-matrix",
        "--step-timeout",
        "1",
        "--timeout",
        "5",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("fails at TLS: stall at TLS:") && first.contains("nothing came back"),
        "{text}"
    );
    assert!(text.contains("[NET005] error"), "{text}");
    assert!(text.contains("retry with MSS 536: failed too"), "{text}");
    assert!(!text.contains("CERT001"), "{text}");
}

/// A name with an IPv4 and an IPv6 address (in a private mount namespace's
/// /etc/hosts, so the machine's own file is untouched), xrdp on [::1] only.
#[test]
fn dual_stack_name_reports_both_families_and_connects_over_ipv6() {
    if !require_tool("unshare") || !require_tool("mount") {
        return;
    }
    let Some(server) = xrdp_at("::1") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.0.0.1 dual.rdpdoctor.test\n::1 dual.rdpdoctor.test\n",
    )
    .expect("hosts");
    let target = format!("dual.rdpdoctor.test:{}", server.addr.port());
    let out = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            r#"mount --bind "$1" /etc/hosts && exec "$2" probe --json --step-timeout 2 "$3""#,
            "sh",
        ])
        .arg(&hosts)
        .arg(env!("CARGO_BIN_EXE_rdp-doctor"))
        .arg(&target)
        .output()
        .expect("unshare runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let addresses: Vec<&str> = v["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        addresses.contains(&"::1") && addresses.contains(&"127.0.0.1"),
        "{addresses:?}"
    );
    assert!(
        v["phases"][0]["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("2 address(es)")),
        "{}",
        v["phases"][0]
    );
    assert_eq!(
        v["connected_to"],
        format!("[::1]:{}", server.addr.port()),
        "{}",
        v["phases"][1]
    );
    assert_eq!(v["tls"]["error"], serde_json::Value::Null);
}
