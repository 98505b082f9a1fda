//! From events to the RDP story: facts of all events, findings from the facts, and a
//! timeline per client address.

use rdp_doctor_model::Finding;

use crate::event::RdpEvent;
use crate::facts::Facts;
use crate::timeline::{timelines, Timeline};

/// Version of the JSON document `logs --json` prints.
pub const SCHEMA: &str = "rdp-doctor.logs/v2";

/// Which events count and the thresholds of the findings. Nothing here is a display
/// option: what is shown is cut afterwards ([`crate::timeline::keep_latest`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Only events at or after this time (Unix seconds).
    pub since: Option<f64>,
    /// Failed logons from one source within `brute_force_window` that make a brute-force finding.
    pub brute_force_threshold: usize,
    pub brute_force_window: f64,
    /// Connections from one address within `flood_window` that make a flood finding.
    pub flood_threshold: usize,
    pub flood_window: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            since: None,
            brute_force_threshold: 10,
            brute_force_window: 600.0,
            flood_threshold: 50,
            flood_window: 60.0,
        }
    }
}

/// What the events say.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub facts: Facts,
    pub findings: Vec<Finding>,
    /// Every entry of every address; cut for display with [`crate::timeline::keep_latest`].
    pub timelines: Vec<Timeline>,
    /// Events at or after `since` (all of them without it).
    pub events_in_window: usize,
}

/// Keeps the events inside the window, in time order.
pub fn in_window(mut events: Vec<RdpEvent>, since: Option<f64>) -> Vec<RdpEvent> {
    if let Some(since) = since {
        events.retain(|e| e.time_unix >= since);
    }
    events.sort_by(|a, b| a.time_unix.total_cmp(&b.time_unix));
    events
}

/// Facts, findings and timelines of the events of all files.
pub fn analyze(events: Vec<RdpEvent>, opts: &Options) -> Analysis {
    analyze_with(events, opts, Vec::new())
}

/// As [`analyze`], with facts about the files (cut logs) added.
pub fn analyze_with(
    events: Vec<RdpEvent>,
    opts: &Options,
    truncated: Vec<crate::facts::TruncatedFile>,
) -> Analysis {
    let events = in_window(events, opts.since);
    let mut facts = Facts::of(&events);
    facts.truncated = truncated;
    Analysis {
        findings: crate::rules::findings(&facts, opts),
        timelines: timelines(&events),
        events_in_window: events.len(),
        facts,
    }
}

#[cfg(test)]
mod tests;
