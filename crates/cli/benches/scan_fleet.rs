//! Benchmark: `rdp-doctor scan -c 1024` over a fleet of 10,000 targets (live
//! xrdp, slow xrdp behind netem, refused, filtered) built in a network
//! namespace of its own, beside `nmap -sT -p 3389 --script rdp-enum-encryption`
//! on the same addresses (5% live, 5% slow, 45% refused, 45% filtered). Reports wall time, hosts per second, peak RSS and
//! peak open files of each, and checks every rdp-doctor result against its class.
//!
//! Run: cargo bench -p rdp-doctor --bench scan_fleet  (needs root, xrdp, tc, nmap).
//! FLEET_SIZE (default 10000) and SCAN_CONCURRENCY (default 1024) change the load;
//! WITH_NMAP=0 leaves nmap out (it takes about ten minutes).
#![allow(clippy::unwrap_used)] // a benchmark stops at the first unexpected value

#[path = "support/fleet.rs"]
mod fleet;

use std::collections::HashMap;

use fleet::{measure, row_is_right, Class, Fleet, Run, PORT};
use rdp_doctor_testing::{have_tool, netns};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn report(name: &str, n: usize, run: &Run) {
    println!(
        "  {name:<16} {:>9.2} s  {:>8.1} hosts/s  peak RSS {:>7} KiB  peak fds {:>5}",
        run.wall.as_secs_f64(),
        n as f64 / run.wall.as_secs_f64(),
        run.max_rss_kib,
        run.peak_fds
    );
}

fn main() {
    if !netns::available() || !have_tool("xrdp") {
        println!("skipped: needs root, ip, iptables, tc and xrdp");
        return;
    }
    let size = env_usize("FLEET_SIZE", 10_000);
    let concurrency = env_usize("SCAN_CONCURRENCY", 1024);
    // As a scan of address ranges finds them: most addresses refuse or say nothing.
    let twentieth = size / 20;
    let fleet = Fleet::build(
        5,
        [twentieth, twentieth, 9 * twentieth, size - 11 * twentieth],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    let text: Vec<String> = fleet.targets.iter().map(|(a, _)| a.to_string()).collect();
    std::fs::write(&list, text.join("\n")).unwrap();

    let mut cmd = fleet.ns.command(env!("CARGO_BIN_EXE_rdp-doctor"));
    cmd.args(["scan", "--no-matrix", "--format", "ndjson", "--stats"])
        .args(["--timeout", "30", "--port", &PORT.to_string()])
        .args(["-c", &concurrency.to_string(), "-f"])
        .arg(&list);
    let ours = measure(cmd);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&ours.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), size, "one result per target");
    let mut wrong = Vec::new();
    let mut by_class: HashMap<Class, usize> = HashMap::new();
    for r in &rows {
        let target = r["target"].as_str().unwrap();
        let class = fleet.class_of(target).unwrap();
        *by_class.entry(class).or_default() += 1;
        if !row_is_right(class, r) {
            wrong.push(format!("{target} ({class:?}): {r}"));
        }
    }
    println!(
        "{size} targets ({} live, {} slow +{} ms, {} refused, {} filtered), -c {concurrency}",
        by_class[&Class::Live],
        by_class[&Class::Slow],
        fleet::SLOW_DELAY_MS,
        by_class[&Class::Refused],
        by_class[&Class::Filtered]
    );
    println!(
        "  first NDJSON line after {:.3} s",
        ours.first_line.unwrap().as_secs_f64()
    );
    report("rdp-doctor scan", size, &ours);
    // The fleet's few xrdp behind it can fall behind a burst (a stall at X.224):
    // counted and shown, so a run says how far from "all right" it was.
    if wrong.is_empty() {
        println!("  every result matches its class");
    } else {
        println!(
            "  {} of {size} results not their class's, e.g.:",
            wrong.len()
        );
        for w in wrong.iter().take(3) {
            println!("    {w}");
        }
    }

    if env_usize("WITH_NMAP", 1) == 0 {
        return;
    }
    if !have_tool("nmap") {
        println!("  nmap not installed");
        return;
    }
    let mut cmd = fleet.ns.command("nmap");
    cmd.args(["-Pn", "-n", "-sT", "-T4", "-p", &PORT.to_string()])
        .args(["--script", "rdp-enum-encryption", "-oG", "-", "-iL"])
        .arg(&list);
    let theirs = measure(cmd);
    let open = String::from_utf8_lossy(&theirs.stdout)
        .lines()
        .filter(|l| l.contains("/open/"))
        .count();
    report("nmap", size, &theirs);
    println!(
        "  nmap saw {open} open ports; rdp-doctor is {:.1}x faster",
        theirs.wall.as_secs_f64() / ours.wall.as_secs_f64()
    );
}
