//! Soak: a real Prometheus scrapes 1,000 targets through `rdp-doctor serve`'s
//! /probe (relabelled as docs/exporter.md shows) for SOAK_SECONDS (default
//! 300). The targets are a fleet in a namespace of the bench's own (live and
//! slow xrdp, refused, filtered; see support/fleet.rs); the exporter and
//! Prometheus run inside it. Every 10 s the exporter's CPU time, RSS and open
//! files are sampled; the report gives first, last and max, which must stay flat.
//!
//! Run: cargo bench -p rdp-doctor --bench serve_soak  (needs root, xrdp, prometheus).
#![allow(clippy::unwrap_used)] // a benchmark stops at the first unexpected value

#[path = "support/fleet.rs"]
mod fleet;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rdp_doctor_testing::{free_port, have_tool, netns};

/// One sample of the exporter process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at_s: u64,
    cpu_s: f64,
    rss_kib: u64,
    fds: usize,
}

fn sample(pid: u32, at_s: u64) -> Sample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let cpu_s = (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / tick;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    Sample {
        at_s,
        cpu_s,
        rss_kib,
        fds,
    }
}

/// A GET over plain HTTP/1.0; the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The value of a one-number instant query.
fn query(prom: &str, q: &str) -> String {
    let body = http_get(prom, &format!("/api/v1/query?query={q}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

fn wait_for_port(addr: &str, deadline: Duration) {
    let started = Instant::now();
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(started.elapsed() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if !netns::available() || !have_tool("xrdp") || !have_tool("prometheus") {
        println!("skipped: needs root, ip, iptables, xrdp and prometheus");
        return;
    }
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let fleet = fleet::Fleet::build(7, [400, 100, 250, 250]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exporter_addr = format!("{}:{}", fleet.ns.ns_addr, free_port());
    let prom_addr = format!("{}:{}", fleet.ns.ns_addr, free_port());
    let config = dir.path().join("exporter.toml");
    std::fs::write(
        &config,
        "max_concurrent_probes = 256\n[allow]\ncidrs = [\"198.18.0.0/15\"]\n\
         [modules.rdp]\nport = 3389\ntimeout_seconds = 8\n",
    )
    .unwrap();
    let targets: Vec<String> = fleet
        .targets
        .iter()
        .map(|(a, _)| format!("'{a}:{}'", fleet::PORT))
        .collect();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\nscrape_configs:\n\
             \x20 - job_name: rdp\n    metrics_path: /probe\n    params:\n      module: [rdp]\n\
             \x20   static_configs:\n      - targets: [{}]\n    relabel_configs:\n\
             \x20     - source_labels: [__address__]\n        target_label: __param_target\n\
             \x20     - source_labels: [__param_target]\n        target_label: instance\n\
             \x20     - target_label: __address__\n        replacement: {exporter_addr}\n",
            targets.join(", ")
        ),
    )
    .unwrap();
    let exporter = Killed(
        fleet
            .ns
            .command(env!("CARGO_BIN_EXE_rdp-doctor"))
            .args(["serve", "--listen", &exporter_addr, "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(&exporter_addr, Duration::from_secs(10));
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Killed(
        fleet
            .ns
            .command("prometheus")
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_for_port(&prom_addr, Duration::from_secs(30));

    let pid = exporter.0.id();
    let started = Instant::now();
    let mut samples = vec![sample(pid, 0)];
    println!("{:>6} {:>9} {:>9} {:>5}", "t/s", "cpu/s", "RSS/KiB", "fds");
    let print = |s: &Sample| {
        println!(
            "{:>6} {:>9.2} {:>9} {:>5}",
            s.at_s, s.cpu_s, s.rss_kib, s.fds
        )
    };
    print(&samples[0]);
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(10));
        let s = sample(pid, started.elapsed().as_secs());
        print(&s);
        samples.push(s);
    }
    let scraped = query(&prom_addr, "count(up)");
    let up = query(&prom_addr, "sum(up)");
    let success = query(&prom_addr, "sum(rdp_probe_success)");
    let probes = query(&prom_addr, "count(scrape_samples_scraped%3E0)");
    println!(
        "{} targets for {seconds} s: Prometheus has {scraped} series of up ({up} up), \
         {success} with rdp_probe_success 1, {probes} scrapes with samples",
        fleet.targets.len()
    );
    // After the first scrape round (the first 30 s), growth is a leak.
    let settled: Vec<&Sample> = samples.iter().filter(|s| s.at_s >= 30).collect();
    let first = settled.first().copied().unwrap_or(&samples[0]);
    let last = samples.last().unwrap();
    let max_rss = samples.iter().map(|s| s.rss_kib).max().unwrap();
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap();
    println!(
        "exporter RSS KiB: first {} (at {} s) last {} max {}; fds: first {} last {} max {}; \
         CPU {:.2} s over {} s ({:.1}% of a core)",
        first.rss_kib,
        first.at_s,
        last.rss_kib,
        max_rss,
        first.fds,
        last.fds,
        max_fds,
        last.cpu_s,
        last.at_s,
        100.0 * last.cpu_s / last.at_s.max(1) as f64
    );
    assert_eq!(
        scraped,
        fleet.targets.len().to_string(),
        "every target scraped"
    );
}
