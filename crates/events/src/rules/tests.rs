//! Rules on facts built here: no event, no file.

use std::collections::BTreeMap;

use rdp_doctor_model::{Action, CauseId, Evidence, FindingId, Machine, Severity};

use super::*;
use crate::facts::{AddressActivity, Logon};
use crate::integrity::Truncation;

fn tally(ids: &[u32], count: usize) -> Tally {
    Tally {
        event_ids: ids.iter().copied().collect(),
        count,
        first: Some("2020-09-19T03:21:48Z".into()),
        last: Some("2020-09-19T03:22:09Z".into()),
        records: (1..=count.min(10) as u64).collect(),
    }
}

fn breakdown(ids: &[u32], by: &[(&str, usize)]) -> Breakdown {
    Breakdown {
        tally: tally(ids, by.iter().map(|(_, n)| n).sum()),
        by: by.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
    }
}

fn commands(f: &rdp_doctor_model::Finding) -> Vec<(Machine, String)> {
    f.remedies
        .iter()
        .flat_map(|r| &r.actions)
        .filter_map(|a| match a {
            Action::Run { on, command } => Some((*on, command.clone())),
            _ => None,
        })
        .collect()
}

fn burst(n: usize, step: f64, account: &str) -> FailedLogons {
    FailedLogons {
        tally: tally(&[4625], n),
        times: (0..n).map(|i| 1000.0 + i as f64 * step).collect(),
        accounts: BTreeMap::from([(account.to_string(), n)]),
        then_succeeded: None,
    }
}

#[test]
fn brute_force_without_address_is_keyed_by_workstation_and_account() {
    let source = LogonSource::Workstation {
        workstation: "kali".into(),
        account: "Administrator".into(),
    };
    let mut failed = burst(95, 0.2, "Administrator");
    let o = Options::default();
    let f = brute_force(&source, &failed, &o).expect("95 in 19 s");
    assert_eq!(
        (f.id, f.severity),
        (FindingId::BruteForce, Severity::Warning)
    );
    assert_eq!(f.cause, Some(CauseId::Credentials));
    assert!(
        f.title
            .starts_with("brute force from workstation kali (no address) against Administrator: 95 failed logons"),
        "{}",
        f.title
    );
    // Without an address there is nothing to block at the firewall.
    assert!(commands(&f).is_empty());

    let mut event = tally(&[4624], 1);
    event.records = vec![4242];
    failed.then_succeeded = Some(Logon {
        event,
        time_unix: 1100.0,
        account: Some(r"C137\Administrator".into()),
        logon_type: Some("10".into()),
        address: Some("194.61.24.102".into()),
    });
    let f = brute_force(&source, &failed, &o).expect("still");
    assert!(f.title.ends_with("then a successful logon"), "{}", f.title);
    let Evidence::Events {
        event_ids,
        records,
        detail,
        ..
    } = &f.evidence[1]
    else {
        panic!("{:?}", f.evidence)
    };
    assert_eq!(
        (event_ids.as_slice(), records.as_slice()),
        (&[4624][..], &[4242][..])
    );
    assert!(
        detail.contains(r"C137\Administrator (logon type 10) from 194.61.24.102"),
        "{detail}"
    );
}

#[test]
fn brute_force_threshold_and_window() {
    let source = LogonSource::Address("203.0.113.7".into());
    // 10 failures, one per 100 s: 7 in any 600 s window.
    let slow = burst(10, 100.0, "admin");
    assert!(brute_force(&source, &slow, &Options::default()).is_none());
    let lower = Options {
        brute_force_threshold: 7,
        ..Options::default()
    };
    let f = brute_force(&source, &slow, &lower).expect("7 within 600 s");
    assert_eq!(
        commands(&f),
        [(
            Machine::Host,
            "New-NetFirewallRule -DisplayName 'Block RDP brute force 203.0.113.7' -Direction Inbound -RemoteAddress 203.0.113.7 -Action Block".to_string()
        )]
    );
}

#[test]
fn denied_logons_name_the_accounts() {
    let b = breakdown(&[4825], &[(r"OFFSEC\svc6test1", 2), (r"OFFSEC\bob", 1)]);
    let f = no_remote_desktop_right(&b).expect("EVT005");
    assert_eq!(f.id, FindingId::NoRemoteDesktopRight);
    assert!(
        f.title.contains(r"OFFSEC\bob, OFFSEC\svc6test1"),
        "{}",
        f.title
    );
    assert_eq!(
        commands(&f),
        [
            (
                Machine::Host,
                r#"net localgroup "Remote Desktop Users" "OFFSEC\bob" /add"#.to_string()
            ),
            (
                Machine::Host,
                r#"net localgroup "Remote Desktop Users" "OFFSEC\svc6test1" /add"#.to_string()
            )
        ]
    );
    assert!(no_remote_desktop_right(&Breakdown::default()).is_none());
}

#[test]
fn never_authenticated_counts_every_attempt() {
    let attempts = tally(&[131], 154);
    let f = never_authenticated("10.23.123.11", &attempts, 0, Some("FS03")).expect("EVT008");
    assert!(f.title.contains("154 connections"), "{}", f.title);
    assert_eq!(
        commands(&f),
        [(Machine::Client, "rdp-doctor diagnose FS03".to_string())]
    );
    assert!(never_authenticated("10.23.123.11", &attempts, 1, None).is_none());
    assert!(never_authenticated("10.23.123.11", &tally(&[131], 2), 0, None).is_none());
}

#[test]
fn truncated_logs_name_the_file_and_chunks() {
    let f = truncated_logs(&[TruncatedFile {
        path: "logs/Security.evtx".into(),
        truncation: Truncation {
            chunks_read: 3,
            chunks_in_header: 5,
            partial_bytes: 1000,
        },
    }])
    .expect("EVT014");
    assert_eq!(
        (f.id, f.severity),
        (FindingId::LogTruncated, Severity::Warning)
    );
    assert_eq!(
        f.evidence,
        [Evidence::File {
            path: "logs/Security.evtx".into(),
            detail: "truncated: 3 complete chunk(s) read, the header counts 5, the file ends 1000 bytes into a 64 KiB chunk".into()
        }]
    );
    assert!(truncated_logs(&[]).is_none());
}

#[test]
fn findings_come_sorted_by_severity() {
    let mut facts = Facts {
        bad_credentials: breakdown(&[4625], &[("0xC000006A", 3)]),
        denied: breakdown(&[4825], &[("bob", 1)]),
        ..Facts::default()
    };
    facts.addresses.insert(
        "192.0.2.1".into(),
        AddressActivity {
            attempts: tally(&[131], 4),
            ..AddressActivity::default()
        },
    );
    let ids: Vec<FindingId> = findings(&facts, &Options::default())
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(
        ids,
        [
            FindingId::NoRemoteDesktopRight,
            FindingId::NeverAuthenticated,
            FindingId::FailedLogons
        ]
    );
}

#[test]
fn windows() {
    assert_eq!(max_in_window(&[0.0, 1.0, 2.0, 100.0, 101.0], 10.0), 3);
    assert_eq!(max_in_window(&[], 10.0), 0);
}
