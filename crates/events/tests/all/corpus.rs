//! Real exported event logs: typed events, findings, and record counts that
//! agree with python-evtx, an independent reader, on the same files.

use std::collections::BTreeMap;
use std::process::Command;

use rdp_doctor_events::{analyze, read_evtx, Options};
use rdp_doctor_model::{CauseId, Evidence, FindingId, Severity};

use crate::{data, evidence_lines, find, findings_of, load, python_evtx_available, python_script};

fn all_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data())
        .expect("data")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter_map(|n| n.strip_suffix(".evtx.xz").map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn every_corpus_log_reads_without_damage() {
    let names = all_names();
    assert_eq!(names.len(), 14);
    for name in &names {
        let f = read_evtx(&load(name)).expect("reads");
        assert!(f.records > 0, "{name}");
        assert_eq!(f.failed_records, 0, "{name}");
    }
}

/// python-evtx renders some records this reader decodes and cannot render
/// others: every record it renders must be here with the same event ID, and
/// where it renders a whole file, the counts per event ID must be equal.
#[test]
fn counts_agree_with_python_evtx() {
    if !python_evtx_available() {
        return;
    }
    let script = python_script();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let mut compared_records = 0;
    let mut exact_files = 0;
    // The largest log is the benchmark's (python-evtx needs minutes for it); the
    // others run as parallel python-evtx processes.
    let names: Vec<String> = all_names()
        .into_iter()
        .filter(|n| n != "szechuan_DC01_System")
        .collect();
    let mut running = Vec::new();
    for name in &names {
        let bytes = load(name);
        let path = dir.join(format!("{name}.evtx"));
        std::fs::write(&path, &bytes).expect("reads");
        let child = Command::new("python3")
            .arg(&script)
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("reads");
        running.push((name.clone(), bytes, child));
    }
    for (name, bytes, child) in running {
        let out = child.wait_with_output().expect("reads");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut theirs: BTreeMap<u32, usize> = BTreeMap::new();
        let mut failed = 0usize;
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some("failed"), Some(n)) => failed = n.parse().expect("reads"),
                (Some(_record), Some(id)) => {
                    *theirs.entry(id.parse().expect("reads")).or_default() += 1
                }
                _ => panic!("{name}: odd line {line:?}"),
            }
        }
        let ours = read_evtx(&bytes).expect("reads").counts;
        if failed == 0 {
            assert_eq!(ours, theirs, "{name}: counts per event ID differ");
            exact_files += 1;
        } else {
            for (id, n) in &theirs {
                assert!(
                    ours.get(id).copied().unwrap_or(0) >= *n,
                    "{name}: event {id}: python-evtx {n}, here {:?}",
                    ours.get(id)
                );
            }
        }
        compared_records += theirs.values().sum::<usize>();
    }
    assert!(
        exact_files >= 8,
        "only {exact_files} files fully rendered by python-evtx"
    );
    println!("python-evtx agrees on {exact_files} whole files, {compared_records} records");
    assert!(compared_records > 10_000, "{compared_records}");
}

#[test]
fn denied_remote_desktop_access() {
    let f = findings_of(&["mdec_Security_4825_rdp_denied"]);
    let denied = find(&f, FindingId::NoRemoteDesktopRight);
    assert_eq!(
        (denied.severity, denied.cause),
        (Severity::Error, Some(CauseId::NoRemoteLogonRight))
    );
    // The accounts are named.
    assert_eq!(
        denied.title,
        "logons denied: svc6test1 may not log on through Remote Desktop"
    );
}

#[test]
fn failed_rdp_logons_are_decoded() {
    let f = findings_of(&["mdec_Security_4625_LT10_account_restriction"]);
    let bad = find(&f, FindingId::FailedLogons);
    assert!(matches!(
        bad.evidence[..],
        [Evidence::Events { count: 2, .. }]
    ));
    assert!(
        evidence_lines(bad)[0].starts_with("2 x 0xC000006E "),
        "{:?}",
        bad.evidence
    );
}

#[test]
fn connection_flood_from_one_address() {
    let f = findings_of(&["mdec_RdpCoreTS_131_bruteforce"]);
    let flood = find(&f, FindingId::ConnectionFlood);
    assert!(flood.title.contains("10.23.123.11"), "{}", flood.title);
    assert_eq!(flood.cause, Some(CauseId::ConnectionLimit));
}

#[test]
fn schannel_alerts_are_counted() {
    let f = findings_of(&["szechuan_DC01_System"]);
    let tls = find(&f, FindingId::TlsHandshakesFail);
    assert!(
        evidence_lines(tls)
            .iter()
            .any(|e| e.contains("36888 alert 40")),
        "{:?}",
        tls.evidence
    );
}

#[test]
fn timeline_per_client_with_rcm_1149() {
    let events = read_evtx(&load("mdec_RCM_1149_multiple_hosts"))
        .expect("reads")
        .events;
    let timelines = analyze(events, &Options::default()).timelines;
    let t = timelines
        .iter()
        .find(|t| t.address == "10.23.123.11")
        .expect("client");
    assert_eq!(t.successful_logons, 11);
    assert!(t.entries.iter().all(|e| e.summary.contains("admmig")));
}

#[test]
fn client_log_disconnect_reason_is_decoded() {
    let f = findings_of(&["szechuan_DC01_RDPClient_Operational"]);
    let c = find(&f, FindingId::ClientDisconnects);
    assert_eq!(c.severity, Severity::Info);
    assert!(
        evidence_lines(c)[0].contains("disconnectReasonRemoteByUser"),
        "{:?}",
        c.evidence
    );
}

#[test]
fn since_filters() {
    let events = read_evtx(&load("mdec_Security_4625_LT10_account_restriction"))
        .expect("reads")
        .events;
    let late = Options {
        since: rdp_doctor_events::event::parse_time("2021-10-23T21:51:00Z"),
        ..Options::default()
    };
    let f = analyze(events, &late).findings;
    assert!(matches!(
        find(&f, FindingId::FailedLogons).evidence[..],
        [Evidence::Events { count: 1, .. }]
    ));
}

#[test]
fn truncated_files_never_panic() {
    let bytes = load("belkasoft_win10_LSM_Operational");
    for cut in [0, 7, 8, 100, 4096, 4097, 65_536, 70_000, bytes.len() / 2] {
        let _ = read_evtx(&bytes[..cut.min(bytes.len())]);
    }
    let mut flipped = bytes.clone();
    for i in (4096..flipped.len()).step_by(997) {
        flipped[i] ^= 0x5A;
    }
    let _ = read_evtx(&flipped);
}
