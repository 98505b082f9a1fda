//! A timeline per client address: every event that names one, in time order.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::describe::{client_address, describe, is_failed_logon, is_successful_logon, Stage};
use crate::event::RdpEvent;

/// One line of a client's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub time: String,
    pub event_id: u32,
    pub stage: Stage,
    pub ok: bool,
    pub summary: String,
}

/// The story of one client address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub address: String,
    /// Every event of the address, shown or not.
    pub events: usize,
    pub failed_logons: usize,
    pub successful_logons: usize,
    pub first: String,
    pub last: String,
    /// The latest entries, oldest first (all of them until [`keep_latest`] cuts them).
    pub entries: Vec<Entry>,
}

/// Timelines of all events (sorted by time), most active address first.
pub fn timelines(events: &[RdpEvent]) -> Vec<Timeline> {
    let mut per: BTreeMap<String, Vec<&RdpEvent>> = BTreeMap::new();
    for e in events {
        if let Some(a) = client_address(e) {
            per.entry(a).or_default().push(e);
        }
    }
    let mut out: Vec<Timeline> = per
        .into_iter()
        .map(|(address, evs)| Timeline {
            events: evs.len(),
            failed_logons: evs.iter().filter(|e| is_failed_logon(e)).count(),
            successful_logons: evs.iter().filter(|e| is_successful_logon(e)).count(),
            first: evs.first().map(|e| e.time.clone()).unwrap_or_default(),
            last: evs.last().map(|e| e.time.clone()).unwrap_or_default(),
            entries: evs.iter().map(|e| entry(e)).collect(),
            address,
        })
        .collect();
    out.sort_by(|a, b| b.events.cmp(&a.events).then(a.address.cmp(&b.address)));
    out
}

fn entry(e: &RdpEvent) -> Entry {
    let (stage, ok, summary) = describe(e);
    Entry {
        time: e.time.clone(),
        event_id: e.event_id,
        stage,
        ok,
        summary,
    }
}

/// Keeps the latest `n` entries of each timeline: a display cut, made after the findings.
pub fn keep_latest(timelines: &mut [Timeline], n: usize) {
    for t in timelines {
        let skip = t.entries.len().saturating_sub(n);
        t.entries.drain(..skip);
    }
}
