//! The Prometheus files in deploy/prometheus, checked by Prometheus's own
//! promtool: the rules load, their unit tests pass (and fail when a threshold
//! changes), they read only metrics the exporter writes, and the sharded scrape
//! configuration of docs/exporter.md is valid.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rdp_doctor_testing::require_tool;

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
