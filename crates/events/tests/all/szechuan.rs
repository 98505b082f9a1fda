//! The Szechuan Security log: 95 failed NLA logons (type 3) against Administrator in
//! 21 s from workstation `kali`, with no address (IpAddress `-`), then a type-10 logon.

use rdp_doctor_events::{analyze, read_evtx, Options};
use rdp_doctor_model::{Evidence, FindingId, Severity};

use crate::load;

#[test]
fn brute_force_without_address_and_the_logon_that_followed() {
    let events = read_evtx(&load("szechuan_DC01_Security"))
        .expect("reads")
        .events;
    let findings = analyze(events, &Options::default()).findings;
    let brute: Vec<_> = findings
        .iter()
        .filter(|f| f.id == FindingId::BruteForce)
        .collect();
    let [f] = &brute[..] else {
        panic!("one brute force: {findings:#?}")
    };
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.title,
        "brute force from workstation kali (no address) against Administrator: 95 failed logons \
         within 600 s (95 in all over 21 s), then a successful logon"
    );
    let [Evidence::Events {
        event_ids,
        count,
        first,
        last,
        records,
        ..
    }, Evidence::Events {
        event_ids: then_ids,
        records: then_records,
        first: then_time,
        detail,
        ..
    }] = &f.evidence[..]
    else {
        panic!("{:#?}", f.evidence)
    };
    assert_eq!((event_ids.as_slice(), *count), (&[4625][..], 95));
    assert_eq!(first.as_deref(), Some("2020-09-19T03:21:25.7352591Z"));
    assert_eq!(last.as_deref(), Some("2020-09-19T03:21:46.5653915Z"));
    assert_eq!(records.len(), 10);
    assert_eq!(records[0], 7389);
    assert_eq!(
        (then_ids.as_slice(), then_records.as_slice()),
        (&[4624][..], &[7495][..])
    );
    assert_eq!(then_time.as_deref(), Some("2020-09-19T03:21:48.8910879Z"));
    assert!(
        detail.starts_with(
            r"then a successful logon of C137\Administrator (logon type 10) from 194.61.24.102"
        ),
        "{detail}"
    );
    // No address: nothing to block at the firewall, the advice stays.
    assert!(f.remedies.iter().all(|r| r.actions.is_empty()));
}
