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
        text.contains("Repeated handshakes (3 asked: 3 run, 3 succeeded (100% of those run)"),
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
        first.contains("fails at TLS;") && first.contains("network path"),
        "{text}"
    );
    assert!(text.contains("then nothing until the deadline"), "{text}");
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
    assert_eq!(v["tls"]["failure"], serde_json::Value::Null);

    // An IPv6 target is shown as [::1]:PORT, never ::1:PORT.
    let out = rdp_doctor(&[
        "probe",
        &format!("[::1]:{}", server.addr.port()),
        "--no-matrix",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("[::1]:{}", server.addr.port())),
        "{text}"
    );
    assert!(
        !text.contains(&format!(" ::1:{}", server.addr.port())),
        "{text}"
    );
}

/// `--repeat` runs inside the `--timeout` budget, and every handshake asked
/// for is reported: those without time as not run, with the reason.
#[test]
fn repeat_stays_inside_the_total_budget_and_reports_every_handshake() {
    let Some(server) = xrdp_at("127.0.0.1") else {
        return;
    };
    let one_way = DirectionFaults::latency(Duration::from_millis(150));
    let proxy = FaultProxy::start(
        server.addr,
        Faults {
            to_server: one_way,
            to_client: one_way,
        },
    )
    .expect("proxy");
    let target = proxy.addr.to_string();
    let started = std::time::Instant::now();
    let out = rdp_doctor(&[
        "probe",
        &target,
        "--repeat",
        "50",
        "--no-matrix",
        "--timeout",
        "6",
        "--step-timeout",
        "2",
        "--json",
    ]);
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(7500),
        "{elapsed:?} with --timeout 6"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let repeat = &v["path"]["repeat"];
    let asked = repeat["requested"].as_u64().expect("requested");
    let run = repeat["attempts"].as_u64().expect("attempts");
    let not_run = repeat["not_run"].as_u64().expect("not_run");
    assert_eq!(asked, 50, "{repeat:#}");
    assert!(run > 0 && not_run > 0, "{repeat:#}");
    assert_eq!(run + not_run, 50, "{repeat:#}");
    assert_eq!(repeat["not_run_reason"], "budget_exhausted", "{repeat:#}");

    let out = rdp_doctor(&[
        "probe",
        &target,
        "--repeat",
        "50",
        "--no-matrix",
        "--timeout",
        "4",
        "--step-timeout",
        "2",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(50 asked: "), "{text}");
    assert!(
        text.contains("not run: the --timeout budget ran out"),
        "{text}"
    );
    let help = rdp_doctor(&["probe", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--repeat handshakes included"), "{help}");
    assert!(help.contains("reported as not run"), "{help}");
}

/// A web server on the RDP port: said in words (not hex, not debug output),
/// each piece of evidence once.
#[test]
fn an_http_server_on_the_port_is_named_in_words_once() {
    if !require_tool("python3") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let port = rdp_doctor_testing::free_port();
    let mut web = rdp_doctor_testing::PeerProcess::spawn(
        "python3 -m http.server",
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir.path()),
        &dir.path().join("http.log"),
    )
    .expect("http.server starts");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    rdp_doctor_testing::wait_for_port(addr, &mut web, Duration::from_secs(10)).expect("listens");
    let target = addr.to_string();

    let out = rdp_doctor(&["probe", &target, "--step-timeout", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("an HTTP server or proxy answered"), "{text}");
    for debug in ["Garbage", "message:", "{ ", "ConnectFailed", "3c 21 44"] {
        assert!(!text.contains(debug), "{debug}: {text}");
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for l in &lines {
        assert_eq!(
            lines.iter().filter(|m| *m == l).count(),
            1,
            "repeated: {l}\n{text}"
        );
    }

    let out = rdp_doctor(&["diagnose", &target, "--step-timeout", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let f = &v["findings"][0];
    assert_eq!(f["id"], "RDP002", "{f:#}");
    let evidence: Vec<String> = f["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["observed"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("an HTTP server or proxy answered")),
        "{evidence:#?}"
    );
    for e in &evidence {
        assert_eq!(
            evidence.iter().filter(|x| *x == e).count(),
            1,
            "repeated: {e}"
        );
    }
}
