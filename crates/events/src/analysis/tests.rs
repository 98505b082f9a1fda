//! The gateway's events through facts, rules and timelines.

use super::*;
use crate::describe::{describe, Stage};
use rdp_doctor_model::{CauseId, Severity};

/// A gateway event with the fields (UserData/EventInfo) the RD Gateway writes.
fn gw(record_id: u64, event_id: u32, t: f64, fields: &[(&str, &str)]) -> RdpEvent {
    RdpEvent {
        record_id,
        event_id,
        provider: crate::gateway::PROVIDER.into(),
        channel: "Microsoft-Windows-TerminalServices-Gateway/Operational".into(),
        computer: "rdg01".into(),
        time: format!("t{t}"),
        time_unix: t,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn gateway_refusals_become_findings_and_timeline_entries() {
    let user = ("Username", r"CORP\alice");
    let events = vec![
        gw(1, 312, 1.0, &[user, ("IpAddress", "198.51.100.9:50100")]),
        gw(
            2,
            201,
            2.0,
            &[
                user,
                ("IpAddress", "198.51.100.9"),
                ("AuthType", "NTLM"),
                ("ErrorCode", "23003"),
            ],
        ),
        gw(
            3,
            200,
            3.0,
            &[
                user,
                ("IpAddress", "198.51.100.9"),
                ("AuthType", "NTLM"),
                ("ConnectionProtocol", "HTTP"),
            ],
        ),
        gw(
            4,
            301,
            4.0,
            &[
                user,
                ("IpAddress", "198.51.100.9"),
                ("Resource", "db01"),
                ("ErrorCode", "23002"),
            ],
        ),
        gw(
            5,
            300,
            5.0,
            &[
                user,
                ("IpAddress", "198.51.100.9"),
                ("Resource", "rdsh01.corp.example"),
            ],
        ),
        gw(
            6,
            304,
            6.0,
            &[
                user,
                ("IpAddress", "198.51.100.9"),
                ("Resource", "rdsh01.corp.example"),
                ("ErrorCode", "10060"),
            ],
        ),
    ];
    let Analysis {
        findings,
        timelines,
        ..
    } = analyze(events, &Options::default());
    let ids: Vec<&str> = findings.iter().map(|f| f.id.code()).collect();
    assert_eq!(ids, ["EVT010", "EVT011", "EVT012"]);
    assert!(findings
        .iter()
        .all(|f| f.severity == Severity::Error && f.cause == Some(CauseId::Gateway)));
    let detail = |f: &rdp_doctor_model::Finding| match &f.evidence[..] {
        [rdp_doctor_model::Evidence::Events {
            detail, records, ..
        }] => (detail.clone(), records.clone()),
        other => panic!("one events evidence: {other:?}"),
    };
    assert_eq!(
        detail(&findings[0]),
        (
            r"1 x CORP\alice from 198.51.100.9: 23003 (0x59DB) E_PROXY_NAP_ACCESSDENIED (the RD Gateway denies the client access because of its policy)".to_string(),
            vec![2]
        )
    );
    let (rap, _) = detail(&findings[1]);
    assert!(rap.contains(r"CORP\alice -> db01") && rap.contains("E_PROXY_RAP_ACCESSDENIED"));
    let (unreachable, records) = detail(&findings[2]);
    assert!(unreachable.contains("WSAETIMEDOUT"), "{unreachable}");
    assert_eq!(records, [6]);

    let [t] = &timelines[..] else {
        panic!("one client: {timelines:?}")
    };
    assert_eq!(t.address, "198.51.100.9");
    assert_eq!((t.successful_logons, t.failed_logons), (1, 1));
    let stages: Vec<(Stage, bool)> = t.entries.iter().map(|e| (e.stage, e.ok)).collect();
    assert_eq!(
        stages,
        [
            (Stage::Attempt, true),
            (Stage::Auth, false),
            (Stage::Auth, true),
            (Stage::Auth, false),
            (Stage::Auth, true),
            (Stage::Transport, false),
        ]
    );
}

#[test]
fn gateway_sessions_floods_and_unknown_ids() {
    let user = ("Username", r"CORP\bob");
    let ip = ("IpAddress", "192.0.2.4");
    let events = vec![
        gw(1, 312, 1.0, &[user, ("IpAddress", "192.0.2.4:61000")]),
        gw(2, 312, 1.5, &[user, ("IpAddress", "192.0.2.4:61001")]),
        gw(3, 312, 1.7, &[user, ("IpAddress", "192.0.2.4:61002")]),
        gw(4, 200, 2.0, &[user, ip]),
        gw(5, 300, 3.0, &[user, ip, ("Resource", "rdsh01")]),
        gw(6, 302, 4.0, &[user, ip, ("Resource", "rdsh01")]),
        gw(
            7,
            303,
            9.0,
            &[
                user,
                ip,
                ("Resource", "rdsh01"),
                ("ErrorCode", "1226"),
                ("SessionDuration", "5"),
                ("BytesTransfered", "10"),
                ("BytesReceived", "20"),
            ],
        ),
    ];
    let Analysis {
        findings,
        timelines,
        ..
    } = analyze(events, &Options::default());
    // Three 312 attempts, then an authorized session: not "never authenticated" (EVT008).
    assert!(findings.is_empty(), "{findings:?}");
    let last = timelines[0].entries.last().expect("entries");
    assert_eq!((last.stage, last.ok), (Stage::Disconnect, true));
    assert!(
        last.summary.contains("ERROR_GRACEFUL_DISCONNECT"),
        "{}",
        last.summary
    );
    // Fifty connection requests within a minute from one address are a flood.
    let flood: Vec<RdpEvent> = (0..50u32)
        .map(|i| {
            gw(
                100 + u64::from(i),
                312,
                f64::from(i),
                &[user, ("IpAddress", "192.0.2.4:1")],
            )
        })
        .collect();
    let findings = analyze(flood, &Options::default()).findings;
    let ids: Vec<&str> = findings.iter().map(|f| f.id.code()).collect();
    assert_eq!(
        ids,
        ["EVT004", "EVT008"],
        "a flood that never authenticates"
    );
    assert!(matches!(
        findings[0].evidence[..],
        [rdp_doctor_model::Evidence::Events { count: 50, .. }]
    ));
    assert!(
        findings[0].title.contains("192.0.2.4"),
        "{}",
        findings[0].title
    );
    // An ID without a documented meaning is named as the gateway's, not read from another provider's row.
    assert_eq!(
        describe(&gw(8, 101, 10.0, &[])),
        (Stage::Other, true, "gateway event 101".to_string())
    );
}
