//! `--since` and display limits: what is counted, and what only is shown.

use rdp_doctor_events::event::parse_time;
use rdp_doctor_events::{read_paths, Options};
use rdp_doctor_model::{Evidence, FindingId};

use crate::{copy_as, find};

#[test]
fn findings_do_not_depend_on_the_timeline_shown() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = copy_as(
        dir.path(),
        "mdec_RdpCoreTS_131_bruteforce",
        "RdpCoreTS.evtx",
    );
    let report = read_paths(&[path], &Options::default(), |_, _, _| {}).expect("report");
    let never = find(&report.findings, FindingId::NeverAuthenticated);
    assert!(
        never.title.contains("154 connections reached the server"),
        "{}",
        never.title
    );
    assert!(matches!(
        never.evidence[..],
        [Evidence::Events { count: 154, .. }]
    ));
    let shown: Vec<_> = [1, 10, 30, 1000]
        .into_iter()
        .map(|n| report.clone().keep_latest(n))
        .collect();
    for r in &shown {
        assert_eq!(r.findings, report.findings);
    }
    assert_eq!(shown[1].timelines[0].entries.len(), 10);
    assert_eq!(shown[3].timelines[0].entries.len(), 154);
}

#[test]
fn a_window_after_the_last_event_counts_none_of_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = copy_as(dir.path(), "mdec_Security_4825_rdp_denied", "Security.evtx");
    let opts = Options {
        since: parse_time("2030-01-01T00:00:00Z"),
        ..Options::default()
    };
    let report = read_paths(&[path], &opts, |_, _, _| {}).expect("report");
    let w = report.window.expect("window");
    assert_eq!(
        (w.since.as_str(), w.rdp_events),
        ("2030-01-01T00:00:00Z", 0)
    );
    assert!(report.rdp_events > 0);
    assert!(report.findings.is_empty());
}
