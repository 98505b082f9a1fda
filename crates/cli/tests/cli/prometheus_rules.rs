//! The Prometheus files in deploy/prometheus, checked by Prometheus's own
//! promtool: the rules load, their unit tests pass (and fail when a threshold
//! changes), they read only metrics the exporter writes, they give the right
//! alerts on what the real exporter answers for real xrdp servers, and the
//! sharded scrape configuration of docs/exporter.md is valid.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};
use rdp_doctor_testing::{free_port, require_tool, wait_for_port, PeerProcess};

const RULES: &str = "rdp-doctor.rules.yml";
const RULE_TESTS: &str = "rdp-doctor.rules.test.yml";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy() -> PathBuf {
    root().join("deploy/prometheus")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs promtool in `dir` (rule files name each other relative to it).
fn promtool(dir: &Path, args: &[&str]) -> Output {
    Command::new("promtool")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run promtool")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_rules_load_and_their_unit_tests_pass() {
    if !require_tool("promtool") {
        return;
    }
    let check = promtool(&deploy(), &["check", "rules", RULES]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("SUCCESS: 12 rules found"),
        "{}",
        text(&check)
    );
    let test = promtool(&deploy(), &["test", "rules", RULE_TESTS]);
    assert!(test.status.success(), "{}", text(&test));
}

/// The unit tests notice a changed threshold or condition: each change below,
/// made to a copy of the rules, makes `promtool test rules` fail.
#[test]
fn the_unit_tests_fail_when_a_rule_changes() {
    if !require_tool("promtool") {
        return;
    }
    let rules = read(&deploy().join(RULES));
    let tests = read(&deploy().join(RULE_TESTS));
    let changes = [
        ("14 * 86400", "7 * 86400"),
        ("{phase=\"tls\"} > 1", "{phase=\"tls\"} > 2"),
        (
            "unless on (job, instance) rdp_probe_handshake_success_ratio > 0",
            "",
        ),
        (
            "max_over_time(rdp_probe_success[30m]) == 1",
            "rdp_probe_success",
        ),
        ("rdp_probe_success == 0\n", "rdp_probe_success < 2\n"),
        ("[10m])\n", "[1m])\n"),
        ("reason=\"busy\"", "reason=~\".+\""),
    ];
    for (from, to) in changes {
        assert!(rules.contains(from), "the rules no longer contain {from:?}");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(RULES), rules.replacen(from, to, 1)).expect("write");
        std::fs::write(dir.path().join(RULE_TESTS), &tests).expect("write");
        let out = promtool(dir.path(), &["test", "rules", RULE_TESTS]);
        assert!(
            !out.status.success(),
            "the unit tests still pass with {from:?} changed to {to:?}"
        );
    }
}

/// `rdp_…` metric names in a text (recorded names hold colons and are not
/// matched whole).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("rdp_") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if text[i + name.len()..].starts_with(':') {
            continue;
        }
        names.insert(name);
    }
    names
}

/// The rules and their tests use the names the exporter writes: a renamed
/// metric would leave an alert that never fires while its tests still pass.
#[test]
fn the_rules_read_metrics_the_exporter_writes() {
    let written: String = [
        "crates/cli/src/cmd/serve.rs",
        "crates/fleet/src/exporter/server.rs",
    ]
    .iter()
    .map(|f| read(&root().join(f)))
    .collect();
    let written = metric_names(&written);
    let rules = read(&deploy().join(RULES));
    let used: BTreeSet<String> = metric_names(&rules)
        .into_iter()
        .chain(metric_names(&read(&deploy().join(RULE_TESTS))))
        // Job and host names in the examples are not metrics.
        .filter(|n| n.starts_with("rdp_probe_") || n.starts_with("rdp_exporter_"))
        .collect();
    assert!(used.len() >= 8, "{used:?}");
    let unknown: Vec<&String> = used.difference(&written).collect();
    assert!(
        unknown.is_empty(),
        "not written by the exporter: {unknown:?}"
    );
}

#[test]
fn the_sharded_scrape_configuration_is_valid() {
    if !require_tool("promtool") {
        return;
    }
    let out = promtool(&deploy(), &["check", "config", "sharded.yml"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    // A target file that does not exist is only a warning to promtool.
    assert!(!said.contains("WARNING"), "{said}");
    let config = read(&deploy().join("sharded.yml"));
    for shard in 0..3 {
        assert!(
            config.contains(&format!("job_name: rdp-shard-{shard}"))
                && config.contains(&format!("regex: \"{shard}\""))
                && config.contains(&format!("rdp-exporter-{shard}.corp.example:9643")),
            "shard {shard} missing"
        );
    }
    assert_eq!(config.matches("modulus: 3").count(), 3);
    // The documentation shows the same configuration.
    let doc = read(&root().join("docs/exporter.md"));
    for line in [
        "action: hashmod",
        "modulus: 3",
        "regex: \"0\"",
        "deploy/prometheus/sharded.yml",
    ] {
        assert!(doc.contains(line), "docs/exporter.md lacks {line:?}");
    }
}

/// A plain HTTP/1.1 GET on loopback; returns the body of a 200 answer.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {raw}");
    body.to_string()
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// promtool input series holding one scrape's samples for 30 minutes, as
/// Prometheus would store them for `instance`. promtool's clock starts at 0, so
/// the certificate's expiry is moved by the time of the scrape.
fn series(exposition: &str, instance: &str, scraped_at: f64) -> String {
    let mut out = String::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(mut value) = value.parse::<f64>() else {
            continue;
        };
        if series.starts_with("rdp_probe_tls_cert_not_after_timestamp_seconds") {
            value -= scraped_at;
        }
        let labels = format!("job=\"rdp\", instance=\"{instance}\"");
        let series = match series.split_once('{') {
            Some((name, rest)) => format!("{name}{{{labels}, {rest}"),
            None => format!("{series}{{{labels}}}"),
        };
        let quoted = series.replace('\\', "\\\\").replace('\'', "''");
        out.push_str(&format!(
            "      - series: '{quoted}'\n        values: '{value}x30'\n"
        ));
    }
    out
}

/// The rules over the real exporter's answers for a healthy xrdp, one whose
/// certificate expired, and a port where nothing listens: each gets its alert
/// and no other, the healthy server none.
#[test]
fn the_rules_alert_on_what_the_exporter_reports_for_real_servers() {
    if !require_tool("promtool") || !require_tool("xrdp") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let healthy = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("rules.test".into()),
    )
    .expect("start xrdp");
    let expired = Xrdp::start(SecurityLayer::Negotiate, CertCase::Expired).expect("start xrdp");
    let closed: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");

    let config = dir.path().join("exporter.toml");
    std::fs::write(
        &config,
        "[allow]\ncidrs = [\"127.0.0.0/8\"]\n[modules.rdp]\ntimeout_seconds = 5\n\
         [modules.repeat]\ntimeout_seconds = 5\nhandshakes = 3\n",
    )
    .expect("write config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("address");
    let mut exporter = PeerProcess::spawn(
        "rdp-doctor serve",
        Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
            .args(["serve", "--listen", &addr.to_string(), "--config"])
            .arg(&config),
        &dir.path().join("exporter.log"),
    )
    .expect("start the exporter");
    wait_for_port(addr, &mut exporter, Duration::from_secs(10)).expect("exporter listens");

    let mut input = String::new();
    for (instance, target, module) in [
        ("healthy.test", healthy.addr, "rdp"),
        ("repeat.test", healthy.addr, "repeat"),
        ("expired.test", expired.addr, "rdp"),
        ("down.test", closed, "rdp"),
    ] {
        let at = now_unix();
        let body = get(addr, &format!("/probe?target={target}&module={module}"));
        input.push_str(&series(&body, instance, at));
    }
    for name in [
        "rdp_probe_tls_cert_not_after_timestamp_seconds",
        "rdp_probe_phase_duration_seconds",
        "rdp_probe_handshake_success_ratio",
    ] {
        assert!(
            input.contains(name),
            "the exporter wrote no {name}:\n{input}"
        );
    }

    let tests = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}\
         \x20   promql_expr_test:\n\
         \x20     - expr: count by (alertname, instance) (ALERTS{{alertstate=\"firing\"}})\n\
         \x20       eval_time: 20m\n\
         \x20       exp_samples:\n\
         \x20         - labels: '{{alertname=\"RdpCertificateExpired\", instance=\"expired.test\"}}'\n\
         \x20           value: 1\n\
         \x20         - labels: '{{alertname=\"RdpDown\", instance=\"down.test\"}}'\n\
         \x20           value: 1\n"
    );
    std::fs::copy(deploy().join(RULES), dir.path().join("rules.yml")).expect("copy rules");
    std::fs::write(dir.path().join("real.test.yml"), &tests).expect("write tests");
    let out = promtool(dir.path(), &["test", "rules", "real.test.yml"]);
    assert!(out.status.success(), "{}\n{tests}", text(&out));
}
