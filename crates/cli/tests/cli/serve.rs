//! `rdp-doctor serve` with real peers: xrdp servers to probe, promtool to
//! check the exposition format, and a real Prometheus scraping the exporter.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

use crate::support::http;
use rdp_doctor_testing::{free_port, require_tool, wait_for_port, PeerProcess};

fn start_exporter(dir: &Path, config: &str) -> (PeerProcess, SocketAddr) {
    let config_path = dir.join("exporter.toml");
    std::fs::write(&config_path, config).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut p = PeerProcess::spawn(
        "rdp-doctor serve",
        Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(&config_path),
        &dir.join("exporter.log"),
    )
    .unwrap();
    wait_for_port(addr, &mut p, Duration::from_secs(10)).unwrap();
    (p, addr)
}

const CONFIG: &str = r#"
max_concurrent_probes = 8
[allow]
cidrs = ["127.0.0.0/8"]
[modules.rdp]
timeout_seconds = 5
[modules.repeat]
timeout_seconds = 5
handshakes = 3
"#;

#[test]
fn probe_metrics_pass_promtool_and_prometheus_scrapes_them() {
    if !require_tool("xrdp") || !require_tool("promtool") || !require_tool("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let xrdp = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("metrics.test".into()),
    )
    .unwrap();
    let (_exporter, addr) = start_exporter(dir.path(), CONFIG);

    let (status, body) = http(
        addr,
        "GET",
        &format!("/probe?target={}&module=rdp", xrdp.addr),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\nrdp_probe_success 1\n"), "{body}");
    assert!(
        body.contains("rdp_probe_protocol_supported{protocol=\"PROTOCOL_SSL\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_protocol_supported{protocol=\"PROTOCOL_HYBRID\"} 0"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_phase_duration_seconds{phase=\"tls\"}"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_tls_cert_not_after_timestamp_seconds{"),
        "{body}"
    );
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Repeated handshakes: success ratio and jitter.
    let (_, body) = http(
        addr,
        "GET",
        &format!("/probe?target={}&module=repeat", xrdp.addr),
    );
    assert!(
        body.contains("rdp_probe_handshake_success_ratio 1"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_handshake_jitter_seconds"),
        "{body}"
    );

    // A real Prometheus scrapes the exporter.
    let prom_port = free_port();
    let prom_config = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: rdp\n    metrics_path: /probe\n    params:\n      module: [rdp]\n      target: ['{}']\n    static_configs:\n      - targets: ['{addr}']\n",
            xrdp.addr
        ),
    )
    .unwrap();
    let prom_addr: SocketAddr = format!("127.0.0.1:{prom_port}").parse().unwrap();
    let mut prom = PeerProcess::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}")),
        &dir.path().join("prometheus.log"),
    )
    .unwrap();
    wait_for_port(prom_addr, &mut prom, Duration::from_secs(30)).unwrap();
    let started = Instant::now();
    loop {
        let (status, body) = http(prom_addr, "GET", "/api/v1/query?query=rdp_probe_success");
        if status == 200 && body.contains("\"value\":[") {
            assert!(body.contains(&format!("\"instance\":\"{addr}\"")), "{body}");
            assert!(body.contains(",\"1\"]"), "{body}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "Prometheus never stored rdp_probe_success: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let (_, body) = http(
        prom_addr,
        "GET",
        "/api/v1/query?query=rdp_probe_phase_duration_seconds",
    );
    for phase in ["dns", "tcp", "x224", "tls"] {
        assert!(
            body.contains(&format!("\"phase\":\"{phase}\"")),
            "{phase}: {body}"
        );
    }
}

#[test]
fn allowlist_bad_requests_reload_and_self_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (exporter, addr) = start_exporter(dir.path(), CONFIG);
    // Outside the allowlist: refused without any probe.
    let (status, body) = http(addr, "GET", "/probe?target=192.0.2.10&module=rdp");
    assert_eq!(status, 403, "{body}");
    assert_eq!(http(addr, "GET", "/probe?module=rdp").0, 400);
    assert_eq!(
        http(addr, "GET", "/probe?target=127.0.0.1&module=nope").0,
        400
    );
    assert_eq!(http(addr, "GET", "/probe?target=a%20b").0, 400);
    // A closed port: a probe that fails, with the reason as a finding.
    let closed = free_port();
    let (status, body) = http(addr, "GET", &format!("/probe?target=127.0.0.1:{closed}"));
    assert_eq!(status, 200);
    assert!(body.contains("\nrdp_probe_success 0\n"), "{body}");
    assert!(
        body.contains(
            "rdp_probe_finding{id=\"NET002\",severity=\"error\",cause=\"firewall_or_port\"} 1"
        ),
        "{body}"
    );

    // Reload on SIGHUP: a new module appears; a broken file keeps the old configuration.
    std::fs::write(
        dir.path().join("exporter.toml"),
        format!("{CONFIG}\n[modules.extra]\ntimeout_seconds = 2\n"),
    )
    .unwrap();
    // SAFETY: signalling the exporter process this test started.
    unsafe { libc::kill(exporter.pid() as i32, libc::SIGHUP) };
    let started = Instant::now();
    // Poll /metrics (not /probe, whose refusals would count as bad requests).
    while !http(addr, "GET", "/metrics")
        .1
        .contains("rdp_exporter_config_reloads_total{result=\"success\"} 1")
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "reload not applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        http(
            addr,
            "GET",
            &format!("/probe?target=127.0.0.1:{closed}&module=extra")
        )
        .0,
        200
    );
    std::fs::write(dir.path().join("exporter.toml"), "not toml [").unwrap();
    let (status, body) = http(addr, "POST", "/-/reload");
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        http(
            addr,
            "GET",
            &format!("/probe?target=127.0.0.1:{closed}&module=extra")
        )
        .0,
        200
    );

    let (_, metrics) = http(addr, "GET", "/metrics");
    assert!(
        metrics.contains("rdp_exporter_requests_rejected_total{reason=\"not_allowed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rdp_exporter_requests_rejected_total{reason=\"bad_request\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rdp_exporter_config_last_reload_successful 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rdp_exporter_config_reloads_total{result=\"success\"} 1"),
        "{metrics}"
    );
    // Nothing secret in any output: credentials are refused in configs of this version.
    assert!(!metrics.contains("password"));
}

/// 200 concurrent /probe requests against listeners that never answer:
/// probes are bounded by max_concurrent_probes, file descriptors and memory stay bounded.
#[test]
fn two_hundred_concurrent_probes_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let (exporter, addr) = start_exporter(
        dir.path(),
        "max_concurrent_probes = 16\n[allow]\ncidrs = [\"127.0.0.0/8\"]\n[modules.rdp]\ntimeout_seconds = 2\n",
    );
    // A listener that accepts and stays silent: every probe waits for its deadlines.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let pid = exporter.pid();
    let fds = move || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let rss_kb = move || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("VmRSS:").map(|v| {
                        v.trim()
                            .trim_end_matches(" kB")
                            .trim()
                            .parse::<u64>()
                            .unwrap_or(0)
                    })
                })
            })
            .unwrap_or(0)
    };
    let started = Instant::now();
    let handles: Vec<_> = (0..200)
        .map(|_| {
            std::thread::spawn(move || http(addr, "GET", &format!("/probe?target={silent_addr}")).0)
        })
        .collect();
    let mut peak_fds = 0;
    let mut peak_rss = 0;
    while handles.iter().any(|h| !h.is_finished()) {
        peak_fds = peak_fds.max(fds());
        peak_rss = peak_rss.max(rss_kb());
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "requests did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    let busy = statuses.iter().filter(|&&s| s == 503).count();
    assert_eq!(ok + busy, 200, "{statuses:?}");
    assert!(ok >= 16, "{ok} answered");
    // 200 HTTP sockets + at most 16 probes x 3 open connections + the runtime's own.
    assert!(peak_fds < 200 + 16 * 3 + 64, "peak fds {peak_fds}");
    assert!(peak_rss < 128 * 1024, "peak RSS {peak_rss} kB");
    println!("200 concurrent probes: {ok} answered, {busy} busy, peak fds {peak_fds}, peak RSS {peak_rss} kB, {:?}", started.elapsed());
}

/// Every sample value has at most 6 decimals (no binary rounding noise).
fn values_have_fixed_precision(body: &str) -> Result<(), String> {
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap_or_default();
        let decimals = value.split_once('.').map_or(0, |(_, d)| d.len());
        if decimals > 6 {
            return Err(line.to_string());
        }
    }
    Ok(())
}

/// A server without TLS: the TLS phase is reported as skipped, not as failed;
/// values are printed with fixed precision; a failed reload is logged; an
/// unreadable configuration is said once.
#[test]
fn skipped_phases_fixed_precision_and_logged_errors() {
    if !require_tool("xrdp") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let xrdp = Xrdp::start(SecurityLayer::Rdp, CertCase::Valid("rdp-only.test".into())).unwrap();
    let (_exporter, addr) = start_exporter(dir.path(), CONFIG);
    let (status, body) = http(
        addr,
        "GET",
        &format!("/probe?target={}&module=rdp", xrdp.addr),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("rdp_probe_phase_ok{phase=\"tls\"}"),
        "a skipped phase is not a failed one: {body}"
    );
    assert!(
        body.contains("rdp_probe_phase_skipped{phase=\"tls\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("rdp_probe_phase_ok{phase=\"x224\"} 1"),
        "{body}"
    );
    if let Err(line) = values_have_fixed_precision(&body) {
        panic!("more than 6 decimals: {line}\n{body}");
    }

    std::fs::write(dir.path().join("exporter.toml"), "not toml [").unwrap();
    let (status, _) = http(addr, "POST", "/-/reload");
    assert_eq!(status, 500);
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(dir.path().join("exporter.log")).unwrap_or_default();
        if log.contains("reload failed, old configuration kept") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the failed reload is not logged: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let missing = dir.path().join("missing.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr.matches("No such file").count(),
        1,
        "the error is said once: {stderr}"
    );
}
