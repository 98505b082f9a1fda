//! `rdp-doctor scan` over 1,000 probes of local targets: xrdp servers on
//! several loopback addresses, closed ports, and filtered addresses in a
//! namespace of the test's own. Every result must be the right one, in bounded time.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../benches/support/fleet.rs"]
mod fleet;
use crate::support::terminal;

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

/// 2,000 targets of a fleet built in a namespace (live and slow xrdp, refused,
/// filtered) at 512 at once: every result is its class's, results stream as
/// they finish, and memory and open files stay bounded.
#[test]
fn fleet_of_two_thousand_at_512_at_once() {
    if !netns::require() || !require_tool("xrdp") {
        return;
    }
    let fleet = fleet::Fleet::build(6, [100, 100, 900, 900]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    let text: Vec<String> = fleet.targets.iter().map(|(a, _)| a.to_string()).collect();
    std::fs::write(&list, text.join("\n")).unwrap();
    let mut cmd = fleet.ns.command(env!("CARGO_BIN_EXE_rdp-doctor"));
    cmd.args(["scan", "--no-matrix", "--format", "ndjson", "--stats"])
        .args(["--timeout", "10", "--port", &fleet::PORT.to_string()])
        .args(["-c", "512", "-f"])
        .arg(&list);
    let run = fleet::measure(cmd);
    assert_eq!(run.code, Some(1), "some targets have problems");
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2000);
    let mut seen = std::collections::HashSet::new();
    let mut wrong = Vec::new();
    for r in &rows {
        let target = r["target"].as_str().unwrap();
        assert!(seen.insert(target.to_string()), "{target} twice");
        let class = fleet.class_of(target).unwrap();
        if !fleet::row_is_right(class, r) {
            wrong.push(format!("{target} ({class:?}): {r}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    // Filtered targets take a 3 s connect deadline: the refused ones must be on stdout long before the end.
    let first = run.first_line.unwrap();
    assert!(
        first + Duration::from_secs(2) < run.wall,
        "first line at {first:?} of {:?}",
        run.wall
    );
    assert!(run.wall < Duration::from_secs(60), "{:?}", run.wall);
    assert!(
        run.max_rss_kib < 128 * 1024,
        "peak RSS {} KiB",
        run.max_rss_kib
    );
    assert!(run.peak_fds <= 2 * 512 + 64, "peak fds {}", run.peak_fds);
    println!(
        "2000 targets in {:?}, peak RSS {} KiB, peak fds {}",
        run.wall, run.max_rss_kib, run.peak_fds
    );
}

/// A concurrency the hard open-file limit cannot hold is refused with a clear error.
#[test]
fn concurrency_beyond_the_open_file_limit_is_refused() {
    if !require_tool("sh") {
        return;
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 256 && exec {} scan --no-matrix -c 1024 127.0.3.0/22",
            env!("CARGO_BIN_EXE_rdp-doctor")
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("open files") && stderr.contains("hard limit is 256"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// NDJSON rows without their timings (which differ from run to run), by target.
fn rows(ndjson: &str) -> Vec<serde_json::Value> {
    let mut rows: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| {
            let mut row: serde_json::Value = serde_json::from_str(l).unwrap();
            row.as_object_mut().unwrap().remove("duration_ms");
            row
        })
        .collect();
    rows.sort_by_key(|r| r["target"].to_string());
    rows
}

/// On a terminal, standard error shows a bar of hosts with its rate and the final
/// count; piped, with --no-progress or on a dumb terminal nothing of it appears, and
/// standard output holds the same rows in every case.
#[test]
fn progress_bar_only_on_a_terminal() {
    if !require_tool("script") {
        return;
    }
    let port = free_port();
    let targets: Vec<String> = (21..24).map(|i| format!("127.0.1.{i}:{port}")).collect();
    let mut args = vec![
        "scan",
        "--no-matrix",
        "--timeout",
        "3",
        "--format",
        "ndjson",
    ];
    args.extend(targets.iter().map(String::as_str));
    let dir = tempfile::tempdir().unwrap();
    let stdout = dir.path().join("stdout.ndjson");

    let (code, shown) = terminal::on_a_terminal(&args, &stdout, "xterm");
    assert_eq!(code, Some(1), "{shown}");
    for text in ["/3 hosts", "3/3 hosts", "hosts/s", "3 problem(s)"] {
        assert!(shown.contains(text), "{text:?} not in {shown:?}");
    }
    let on_terminal = std::fs::read_to_string(&stdout).unwrap();
    assert!(!on_terminal.contains('\x1b'), "{on_terminal:?}");
    assert_eq!(rows(&on_terminal).len(), 3, "{on_terminal}");

    let piped = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(1));
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let piped_rows = rows(&String::from_utf8_lossy(&piped.stdout));
    assert_eq!(rows(&on_terminal), piped_rows);

    for (extra, term) in [(Some("--no-progress"), "xterm"), (None, "dumb")] {
        let mut quiet = args.clone();
        quiet.extend(extra);
        let (code, shown) = terminal::on_a_terminal(&quiet, &stdout, term);
        assert_eq!(code, Some(1), "{shown}");
        assert!(shown.is_empty(), "{extra:?} TERM={term}: {shown:?}");
        assert_eq!(rows(&std::fs::read_to_string(&stdout).unwrap()), piped_rows);
    }
}
