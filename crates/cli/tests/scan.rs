//! `rdp-doctor scan` over 1,000 probes of local targets: xrdp servers on
//! several loopback addresses, closed ports, and filtered addresses in a
//! namespace of the test's own. Every result must be the right one, in bounded time.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use rdp_doctor_testing::netns::{self, Netns};
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};
use rdp_doctor_testing::{free_port, require_tool};

#[test]
fn one_thousand_probes_with_correct_results() {
    if !require_tool("xrdp") {
        return;
    }
    let negotiate = Xrdp::start_at(
        "127.0.0.2",
        SecurityLayer::Negotiate,
        CertCase::Valid("a.test".into()),
    )
    .unwrap();
    let tls = Xrdp::start_at(
        "127.0.0.3",
        SecurityLayer::Tls,
        CertCase::Valid("b.test".into()),
    )
    .unwrap();
    let nokey = Xrdp::start_at("127.0.0.4", SecurityLayer::Tls, CertCase::MissingKey).unwrap();
    let ns = if netns::available() {
        let ns = Netns::create(2).unwrap();
        ns.iptables(&["-A", "INPUT", "-p", "tcp", "-j", "DROP"])
            .unwrap();
        Some(ns)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with ip and iptables"
        );
        None
    };

    // expected finding per target ("" = healthy)
    let mut expected: Vec<(String, &str)> = Vec::new();
    expected.push((negotiate.addr.to_string(), ""));
    expected.push((tls.addr.to_string(), ""));
    expected.push((nokey.addr.to_string(), "NEG001"));
    let closed_base = free_port();
    for i in 0..980u32 {
        // Closed ports on other loopback addresses (nothing listens there): all distinct.
        let port = closed_base.wrapping_add((i / 200) as u16).max(1);
        expected.push((format!("127.0.1.{}:{port}", 1 + i % 200), "NET002"));
    }
    if let Some(ns) = &ns {
        for port in 0..10 {
            expected.push((format!("{}:{}", ns.ns_addr, 3389 + port), "NET003"));
        }
    }
    let mut extra = 0u8;
    while expected.len() < 1000 {
        extra += 1;
        expected.push((format!("127.0.2.{extra}:{closed_base}"), "NET002"));
    }
    let mut list = expected
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Targets listed again (one line, comma-separated) are probed once.
    list.push_str(&format!("\n{}, {}\n", negotiate.addr, expected[10].0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    std::fs::write(&file, list).unwrap();

    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args([
            "scan",
            "--no-matrix",
            "--format",
            "ndjson",
            "--concurrency",
            "32",
            "--timeout",
            "9",
            "-f",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1000);
    let distinct: std::collections::HashSet<&str> =
        rows.iter().filter_map(|r| r["target"].as_str()).collect();
    assert_eq!(distinct.len(), 1000, "each target once");
    let want: HashMap<&str, &str> = expected.iter().map(|(t, f)| (t.as_str(), *f)).collect();
    let mut wrong = Vec::new();
    for r in &rows {
        let target = r["target"].as_str().unwrap();
        let got = r["finding"].as_str().unwrap_or("");
        let status = r["status"].as_str().unwrap();
        let w = want[target];
        let right = if w.is_empty() {
            status == "ok"
        } else {
            got == w
        };
        if !right {
            wrong.push(format!(
                "{target}: want {w:?}, got {status} {got} ({})",
                r["verdict"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong of 1000: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    // Filtered targets cost one connect deadline (3 s); everything else answers at once.
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    println!("1000 probes in {elapsed:?}");
}

/// A phrase is one bad entry (a usage error naming it), not five targets;
/// a target given twice is probed once.
#[test]
fn bad_entries_are_refused_and_duplicates_probed_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["scan", "this is not a host"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"this is not a host\""), "{stderr}");

    let closed = format!("127.0.1.7:{}", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["scan", "--no-matrix", "--format", "json", "--timeout", "3"])
        .arg(&closed)
        .arg(format!("{closed}, {closed}"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["hosts"], 1, "{v:#}");
    assert_eq!(v["results"][0]["finding"], "NET002", "{v:#}");
}
