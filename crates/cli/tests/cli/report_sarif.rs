//! SARIF logs of real findings (a .rdp file, a refused port, a rescued disk's hive,
//! exported event logs), validated against the official SARIF 2.1.0 JSON schema
//! (tests/data/sarif-schema-2.1.0.json) by the Python `jsonschema` package.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_doctor_model::Finding;

const VALIDATE: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(map(str, e.absolute_path)), e.message)
sys.exit(1 if errors else 0)
"#;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Validates `doc` against the SARIF 2.1.0 schema: the validator's complaints, if any.
fn schema_errors(dir: &Path, doc: &serde_json::Value) -> Option<String> {
    let file = dir.join("log.sarif");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
    let out = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(data("tests/data/sarif-schema-2.1.0.json"))
        .arg(&file)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "jsonschema (scripts/deps/pip.txt) is missing: {stderr}"
    );
    (!out.status.success()).then(|| format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)))
}

fn rdp_findings(dir: &Path) -> (PathBuf, Vec<Finding>) {
    let file = dir.join("Work Laptop.rdp");
    let text = "full address:s:rdp.example.com\r\nserver port:i:99999\r\nenablecredsspsupport:i:0\r\nbogus line\r\n";
    std::fs::write(&file, text).expect("write");
    let bytes = std::fs::read(&file).expect("read");
    let report = rdp_doctor_rdpfile::lint(&rdp_doctor_rdpfile::parse(&bytes));
    (file, report.findings)
}

fn probe_findings() -> Vec<Finding> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let opts = rdp_doctor_probe::ProbeOptions::default();
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(rdp_doctor_probe::probe(&format!("127.0.0.1:{port}"), &opts))
        .expect("probe");
    rdp_doctor_probe::diagnose::diagnose(report).findings
}

/// The clean Windows 7 SYSTEM hive with Remote Desktop turned off by hivexregedit.
fn host_findings(dir: &Path) -> Vec<Finding> {
    let xz = Command::new("xz")
        .arg("-dc")
        .arg(data("../regf/tests/data/regipy_SYSTEM_win7_32bit.xz"))
        .output()
        .expect("xz");
    assert!(xz.status.success());
    let hive = dir.join("SYSTEM");
    std::fs::write(&hive, xz.stdout).expect("hive");
    let reg = dir.join("off.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server]\n\"fDenyTSConnections\"=dword:00000001\n",
    )
    .expect("reg");
    let merged = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("hivexregedit");
    assert!(merged.status.success());
    rdp_doctor_host::check_offline(&hive, None, None)
        .expect("hive checked")
        .findings
}

fn event_findings(dir: &Path) -> Vec<Finding> {
    let xz = Command::new("xz")
        .arg("-dc")
        .arg(data(
            "../events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz",
        ))
        .output()
        .expect("xz");
    let log = dir.join("Security.evtx");
    std::fs::write(&log, xz.stdout).expect("log");
    rdp_doctor_events::read_paths(&[log], &Default::default(), |_, _, _| {})
        .expect("logs")
        .findings
}

#[test]
fn real_findings_make_a_valid_sarif_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rdp_file, rdp) = rdp_findings(dir.path());
    let artifact = rdp_file.to_str().expect("utf-8 path");
    let mut all = rdp.clone();
    all.extend(probe_findings());
    all.extend(host_findings(dir.path()));
    all.extend(event_findings(dir.path()));
    let log = rdp_doctor::sarif::to_sarif("rdp-doctor diagnose", &all, Some(artifact));
    if let Some(e) = schema_errors(dir.path(), &log) {
        panic!("not valid SARIF 2.1.0:\n{e}\n{log:#}");
    }

    let run = &log["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), all.len(), "one result per finding");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for r in results {
        let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(
            rules[index]["id"], r["ruleId"],
            "ruleIndex points at its rule"
        );
    }
    let find = |code: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == code)
            .unwrap_or_else(|| panic!("no {code} result"))
    };
    // The .rdp file's bad port: the artifact (a file URI, space encoded) and its line.
    let port = find("RDPF007");
    let physical = &port["locations"][0]["physicalLocation"];
    assert_eq!(physical["region"]["startLine"], 2);
    let uri = physical["artifactLocation"]["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/Work%20Laptop.rdp"),
        "{uri}"
    );
    // The refused port: the probe phase as a logical location.
    let refused = find("NET002");
    assert_eq!(refused["level"], "error");
    assert_eq!(
        refused["locations"][0]["logicalLocations"][0]["name"],
        "TCP"
    );
    // Remote Desktop off: the registry path as a logical location, the hive as the artifact.
    let off = find("HOST001");
    let logical = off["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        .as_str()
        .expect("registry path");
    assert!(logical.ends_with("\\fDenyTSConnections"), "{logical}");
    assert!(!off["properties"]["remedies"]
        .as_array()
        .expect("remedies")
        .is_empty());
    // The event log's finding: a rule with the registry's meaning.
    let denied = find("EVT005");
    let rule = &rules[denied["ruleIndex"].as_u64().expect("index") as usize];
    assert_eq!(
        rule["shortDescription"]["text"],
        rdp_doctor_model::FindingId::NoRemoteDesktopRight
            .info()
            .meaning
    );
}

/// The validator does reject what is not SARIF: the check above can fail.
#[test]
fn the_schema_check_rejects_a_broken_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, findings) = rdp_findings(dir.path());
    let mut log = rdp_doctor::sarif::to_sarif("rdp-doctor rdpfile lint", &findings, file.to_str());
    assert!(schema_errors(dir.path(), &log).is_none());
    log["runs"][0]["results"][0]["level"] = "fatal".into();
    let errors = schema_errors(dir.path(), &log).expect("rejected");
    assert!(errors.contains("fatal"), "{errors}");
}

/// `--format sarif` of every command that reports findings, as a user runs it.
#[test]
fn every_command_prints_a_valid_sarif_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rdp_file, _) = rdp_findings(dir.path());
    host_findings(dir.path()); // leaves dir/SYSTEM with Remote Desktop off
    event_findings(dir.path()); // leaves dir/Security.evtx
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let rdp = rdp_file.to_str().expect("utf-8");
    let hive = dir.path().join("SYSTEM");
    let log = dir.path().join("Security.evtx");
    let target = format!("127.0.0.1:{port}");
    let runs: [(&[&str], &str); 4] = [
        (&["rdpfile", "lint", rdp], "RDPF"),
        (
            &["host", "check", "--system", hive.to_str().expect("utf-8")],
            "HOST001",
        ),
        (&["logs", log.to_str().expect("utf-8")], "EVT005"),
        (
            &[
                "diagnose",
                &target,
                "--timeout",
                "3",
                "--system",
                hive.to_str().expect("utf-8"),
            ],
            "NET002",
        ),
    ];
    for (args, id) in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
            .args(args)
            .args(["--format", "sarif"])
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        if let Some(errors) = schema_errors(dir.path(), &doc) {
            panic!("{args:?}: not valid SARIF 2.1.0: {errors}");
        }
        let results = doc["runs"][0]["results"].as_array().expect("results");
        assert!(
            results
                .iter()
                .any(|r| r["ruleId"].as_str().is_some_and(|r| r.starts_with(id))),
            "{args:?}: no {id} result"
        );
    }
}
