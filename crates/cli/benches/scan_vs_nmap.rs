//! Benchmark: hosts per second for `rdp-doctor scan` beside
//! `nmap --script +rdp-enum-encryption` on the same local target set (three
//! xrdp servers on 127.0.0.2-4, each address scanned on all three ports, so
//! six of the nine host:port pairs are closed), same facts: which security
//! protocols each port accepts.
//!
//! Run: cargo bench -p rdp-doctor --bench scan_vs_nmap  (needs root, xrdp, nmap).
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::process::Command;
use std::time::{Duration, Instant};

use rdp_doctor_testing::have_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let servers = [
        Xrdp::start_at(
            "127.0.0.2",
            SecurityLayer::Negotiate,
            CertCase::Valid("a.test".into()),
        )
        .expect("xrdp"),
        Xrdp::start_at(
            "127.0.0.3",
            SecurityLayer::Tls,
            CertCase::Valid("b.test".into()),
        )
        .expect("xrdp"),
        Xrdp::start_at(
            "127.0.0.4",
            SecurityLayer::Rdp,
            CertCase::Valid("c.test".into()),
        )
        .expect("xrdp"),
    ];
    let hosts: Vec<String> = servers.iter().map(|s| s.addr.ip().to_string()).collect();
    let ports: Vec<String> = servers.iter().map(|s| s.addr.port().to_string()).collect();
    let pairs: Vec<String> = hosts
        .iter()
        .flat_map(|h| ports.iter().map(move |p| format!("{h}:{p}")))
        .collect();
    let bin = env!("CARGO_BIN_EXE_rdp-doctor");
    let runs = 3;
    let mut ours = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["scan", "--format", "json"])
            .args(&pairs)
            .output()
            .expect("scan");
        ours.push(t.elapsed());
        assert!(!out.stdout.is_empty());
    }
    let ours = median(ours);
    let n = pairs.len() as f64;
    println!("{} host:port pairs ({} open)", pairs.len(), servers.len());
    println!(
        "  rdp-doctor scan  {:>8.1} ms  {:>8.1} hosts/s",
        ours.as_secs_f64() * 1e3,
        n / ours.as_secs_f64()
    );
    if !have_tool("nmap") {
        println!("  nmap not installed");
        return;
    }
    let mut theirs = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        Command::new("nmap")
            .args([
                "-Pn",
                "-n",
                "-p",
                &ports.join(","),
                "--script",
                "+rdp-enum-encryption",
            ])
            .args(&hosts)
            .output()
            .expect("nmap");
        theirs.push(t.elapsed());
    }
    let theirs = median(theirs);
    println!(
        "  nmap             {:>8.1} ms  {:>8.1} hosts/s  -> rdp-doctor is {:.1}x faster",
        theirs.as_secs_f64() * 1e3,
        n / theirs.as_secs_f64(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
