//! From events to the RDP story: a timeline per client address and findings.

use std::collections::BTreeMap;

use rdp_doctor_codes::{decode, CauseId, Namespace};
use serde::Serialize;

use crate::event::RdpEvent;

/// Version of the JSON document `logs --json` prints.
pub const SCHEMA: &str = "rdp-doctor.logs/v1";

/// Thresholds of the findings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only events at or after this time (Unix seconds).
    pub since: Option<f64>,
    /// Failed logons from one address within `brute_force_window` that make a brute-force finding.
    pub brute_force_threshold: usize,
    pub brute_force_window: f64,
    /// Connections from one address within `flood_window` that make a flood finding.
    pub flood_threshold: usize,
    pub flood_window: f64,
    /// Entries kept per address in the timeline (the latest).
    pub timeline_entries: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            since: None,
            brute_force_threshold: 10,
            brute_force_window: 600.0,
            flood_threshold: 50,
            flood_window: 60.0,
            timeline_entries: 30,
        }
    }
}

/// Where in the connection sequence an event sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Attempt,
    Transport,
    Auth,
    Session,
    Disconnect,
    Other,
}

/// One line of a client's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub time: String,
    pub event_id: u32,
    pub stage: Stage,
    pub ok: bool,
    pub summary: String,
}

/// The story of one client address.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub address: String,
    pub events: usize,
    pub failed_logons: usize,
    pub successful_logons: usize,
    pub first: String,
    pub last: String,
    /// The latest entries, oldest first.
    pub entries: Vec<Entry>,
}

pub use rdp_doctor_codes::Severity;

/// One finding, with the events behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub cause: CauseId,
    pub count: usize,
    pub first: String,
    pub last: String,
    /// Record IDs of up to 10 events behind it.
    pub records: Vec<u64>,
    pub evidence: Vec<String>,
    pub fix: String,
}

/// Splits "1.2.3.4:5678" or "[v6]:port" to the address.
fn address_only(a: &str) -> String {
    let a = a.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    if a.matches(':').count() == 1 {
        return a.split(':').next().unwrap_or(a).to_string();
    }
    a.to_string()
}

fn field<'a>(e: &'a RdpEvent, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| e.fields.get(*n).map(String::as_str))
        .filter(|v| !v.is_empty() && *v != "-")
}

/// The client address an event is about, if it names one.
pub fn client_address(e: &RdpEvent) -> Option<String> {
    let raw = match e.event_id {
        1149 => field(e, &["Param3"]),
        4624 | 4625 => field(e, &["IpAddress"]),
        4778 | 4779 => field(e, &["ClientAddress"]),
        21 | 22 | 24 | 25 => field(e, &["Address"]),
        131 => field(e, &["ClientIP"]),
        140 => field(e, &["IPString", "ClientIP"]),
        _ => field(e, &["ClientIP", "IpAddress", "ClientAddress", "Address"]),
    }?;
    let a = address_only(raw);
    // "0.0.0.0" and "LOCAL" are placeholders Windows writes when there is no remote address.
    (!a.is_empty() && a != "LOCAL" && a != "0.0.0.0" && a != "::").then_some(a)
}

fn num(v: &str) -> Option<u32> {
    rdp_doctor_codes::query::parse_number(v.trim())
}

fn decoded(ns: Namespace, v: &str) -> String {
    match num(v).and_then(|n| decode(ns, n)) {
        Some(r) if r.name.starts_with("NTSTATUS") => {
            format!("{} ({})", r.hex, r.meaning.trim_end_matches('.'))
        }
        Some(r) => format!("{} {} ({})", r.hex, r.name, r.meaning.trim_end_matches('.')),
        None => v.to_string(),
    }
}

/// Stage, success, and a one-line summary of an event.
pub fn describe(e: &RdpEvent) -> (Stage, bool, String) {
    let user = field(e, &["TargetUserName", "User", "Param1", "AccountName"]).unwrap_or("?");
    match e.event_id {
        261 => (
            Stage::Attempt,
            true,
            "listener received a connection".into(),
        ),
        131 => (
            Stage::Attempt,
            true,
            format!(
                "TCP connection accepted ({})",
                field(e, &["ConnType"]).unwrap_or("?")
            ),
        ),
        98 => (Stage::Transport, true, "TCP connection established".into()),
        1149 => (
            Stage::Auth,
            true,
            format!("network authentication succeeded for {user}"),
        ),
        140 => (
            Stage::Auth,
            false,
            "authentication failed: user name or password not correct".into(),
        ),
        4624 => (
            Stage::Auth,
            true,
            format!(
                "logon of {user} (type {})",
                field(e, &["LogonType"]).unwrap_or("?")
            ),
        ),
        4625 => {
            let status = field(e, &["SubStatus"])
                .filter(|s| *s != "0x0")
                .or(field(e, &["Status"]))
                .unwrap_or("?");
            (
                Stage::Auth,
                false,
                format!(
                    "logon of {user} failed (type {}): {}",
                    field(e, &["LogonType"]).unwrap_or("?"),
                    decoded(Namespace::NtStatus, status)
                ),
            )
        }
        4825 => (
            Stage::Auth,
            false,
            format!("{user} denied Remote Desktop access"),
        ),
        21 => (Stage::Session, true, format!("session logon of {user}")),
        22 => (Stage::Session, true, "shell start".into()),
        25 => (
            Stage::Session,
            true,
            format!("session reconnection of {user}"),
        ),
        4778 => (
            Stage::Session,
            true,
            format!("session of {user} reconnected"),
        ),
        23 => (Stage::Disconnect, true, format!("logoff of {user}")),
        24 => (
            Stage::Disconnect,
            true,
            format!("session of {user} disconnected"),
        ),
        4779 => (
            Stage::Disconnect,
            true,
            format!("session of {user} disconnected"),
        ),
        40 => {
            let reason = field(e, &["Reason"]).unwrap_or("?");
            (
                Stage::Disconnect,
                true,
                format!(
                    "session disconnected, reason {}",
                    decoded(Namespace::ExtendedReason, reason)
                ),
            )
        }
        1026 => {
            let reason = field(e, &["Value", "Reason"]).unwrap_or("?");
            (
                Stage::Disconnect,
                false,
                format!(
                    "client disconnected, reason {}",
                    decoded(Namespace::DisconnectReason, reason)
                ),
            )
        }
        id => {
            let meaning = rdp_doctor_codes::tables()
                .lookup_event(id)
                .first()
                .map(|r| r.message.clone())
                .unwrap_or_else(|| "event".into());
            (Stage::Other, true, meaning)
        }
    }
}

/// Everything read from the logs.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    pub schema: &'static str,
    pub files: Vec<FileSummary>,
    pub records: usize,
    pub failed_records: usize,
    pub rdp_events: usize,
    /// RDP events per (provider, event id).
    pub counts: BTreeMap<String, usize>,
    pub findings: Vec<Finding>,
    pub timelines: Vec<Timeline>,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub records: usize,
    pub failed_records: usize,
    pub rdp_events: usize,
    pub error: Option<String>,
}

fn finding(
    id: &'static str,
    severity: Severity,
    title: String,
    cause: CauseId,
    events: &[&RdpEvent],
    evidence: Vec<String>,
    fix: &str,
) -> Finding {
    Finding {
        id,
        severity,
        title,
        cause,
        count: events.len(),
        first: events.first().map(|e| e.time.clone()).unwrap_or_default(),
        last: events.last().map(|e| e.time.clone()).unwrap_or_default(),
        records: events.iter().take(10).map(|e| e.record_id).collect(),
        evidence,
        fix: fix.to_string(),
    }
}

/// The largest number of `times` (sorted) inside any window of `window` seconds.
fn max_in_window(times: &[f64], window: f64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

/// Builds findings and timelines from the events of all files.
pub fn analyze(mut events: Vec<RdpEvent>, opts: &Options) -> (Vec<Finding>, Vec<Timeline>) {
    if let Some(since) = opts.since {
        events.retain(|e| e.time_unix >= since);
    }
    events.sort_by(|a, b| a.time_unix.total_cmp(&b.time_unix));
    let by = |pred: &dyn Fn(&RdpEvent) -> bool| -> Vec<&RdpEvent> {
        events.iter().filter(|e| pred(e)).collect()
    };
    let mut findings = Vec::new();

    let cert = by(&|e| {
        (matches!(e.event_id, 1057 | 1058) && e.provider.contains("RemoteConnectionManager"))
            || (e.event_id == 36870 && e.provider == "Schannel")
    });
    if !cert.is_empty() {
        findings.push(finding("EVT001", Severity::Error, "the listener cannot create or use its certificate's private key".into(), CauseId::CertificateOrKey, &cert, vec![format!("{} event(s) 1057/1058/36870", cert.len())], "Reset the MachineKeys ACL and delete the Remote Desktop certificate so it is regenerated (rdp-doctor explain event 1058)"));
    }
    let tls =
        by(&|e| e.provider == "Schannel" && matches!(e.event_id, 36871 | 36874 | 36887 | 36888));
    if !tls.is_empty() {
        let mut alerts: BTreeMap<String, usize> = BTreeMap::new();
        for e in &tls {
            let key = match field(e, &["AlertDesc"]) {
                Some(a) => format!("{} alert {a}", e.event_id),
                None => e.event_id.to_string(),
            };
            *alerts.entry(key).or_default() += 1;
        }
        let evidence = alerts
            .iter()
            .map(|(k, n)| format!("Schannel {k}: {n}"))
            .collect();
        findings.push(finding("EVT002", Severity::Warning, "TLS handshakes fail (Schannel)".into(), CauseId::TlsSettings, &tls, evidence, "Check the TLS versions and cipher suites enabled under SCHANNEL; rdp-doctor explain event 36871"));
    }

    // Failed logons per address.
    let mut failures: BTreeMap<String, Vec<&RdpEvent>> = BTreeMap::new();
    for e in events.iter().filter(|e| matches!(e.event_id, 4625 | 140)) {
        if let Some(a) = client_address(e) {
            failures.entry(a).or_default().push(e);
        }
    }
    for (addr, evs) in &failures {
        let times: Vec<f64> = evs.iter().map(|e| e.time_unix).collect();
        let peak = max_in_window(&times, opts.brute_force_window);
        if peak >= opts.brute_force_threshold {
            findings.push(finding("EVT003", Severity::Warning, format!("brute force from {addr}: {peak} failed logons within {:.0} s ({} in all)", opts.brute_force_window, evs.len()), CauseId::ConnectionLimit, evs, vec![format!("threshold {} in {:.0} s", opts.brute_force_threshold, opts.brute_force_window)], "Block the address at the firewall; require NLA; put RDP behind a VPN or RD Gateway; consider account lockout"));
        }
    }
    let denied = by(&|e| {
        e.event_id == 4825
            || (e.event_id == 4625
                && [field(e, &["Status"]), field(e, &["SubStatus"])]
                    .iter()
                    .flatten()
                    .any(|s| num(s) == Some(0xC000_015B)))
    });
    if !denied.is_empty() {
        findings.push(finding("EVT005", Severity::Error, "logons denied: the account may not log on through Remote Desktop".into(), CauseId::NoRemoteLogonRight, &denied, vec![format!("{} event(s) 4825 or 4625 with 0xC000015B", denied.len())], "Add the account to Remote Desktop Users, or grant 'Allow log on through Remote Desktop Services'"));
    }
    let bad_creds =
        by(&|e| e.event_id == 4625 && !denied.iter().any(|d| d.record_id == e.record_id));
    if !bad_creds.is_empty() {
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for e in &bad_creds {
            let s = field(e, &["SubStatus"])
                .filter(|s| num(s) != Some(0))
                .or(field(e, &["Status"]))
                .unwrap_or("?");
            *statuses.entry(decoded(Namespace::NtStatus, s)).or_default() += 1;
        }
        findings.push(finding(
            "EVT006",
            Severity::Info,
            format!("{} failed logon(s)", bad_creds.len()),
            CauseId::Credentials,
            &bad_creds,
            statuses.iter().map(|(k, n)| format!("{n} x {k}")).collect(),
            "Check the account name, password, expiry and lockout (rdp-doctor explain 0xC000006E)",
        ));
    }

    let flood = by(&|e| e.event_id == 1006 && e.provider.contains("RemoteConnectionManager"));
    if !flood.is_empty() {
        findings.push(finding(
            "EVT004",
            Severity::Error,
            "TermService saw a large number of incomplete connections and refused new ones".into(),
            CauseId::ConnectionLimit,
            &flood,
            vec![format!("{} event(s) 1006", flood.len())],
            "Raise MaxOutstandingConnections and block the flood source",
        ));
    }
    let mut accepts: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.event_id == 131) {
        if let Some(a) = client_address(e) {
            accepts.entry(a).or_default().push(e.time_unix);
        }
    }
    for (addr, times) in &accepts {
        let peak = max_in_window(times, opts.flood_window);
        if peak >= opts.flood_threshold {
            let evs: Vec<&RdpEvent> = events
                .iter()
                .filter(|e| e.event_id == 131 && client_address(e).as_deref() == Some(addr))
                .collect();
            findings.push(finding("EVT004", Severity::Warning, format!("connection flood from {addr}: {peak} connections within {:.0} s", opts.flood_window), CauseId::ConnectionLimit, &evs, Vec::new(), "Block the address; raise MaxOutstandingConnections only if the connections are legitimate"));
        }
    }
    let listener = by(&|e| {
        (e.provider.contains("RemoteConnectionManager") && (1050..=1055).contains(&e.event_id))
            || (e.provider == "TermDD" && matches!(e.event_id, 50 | 56))
    });
    if !listener.is_empty() {
        findings.push(finding(
            "EVT007",
            Severity::Warning,
            "the listener or the RDP protocol driver reported errors (RCM 1050-1055, TermDD 50/56)"
                .into(),
            CauseId::SecurityLayerMismatch,
            &listener,
            vec![format!("{} event(s)", listener.len())],
            "rdp-doctor explain event 56; check the listener's security settings and certificate",
        ));
    }

    // The client's own log: disconnect reasons as mstsc's "Error code".
    let client = by(&|e| e.event_id == 1026 && e.provider.contains("ClientActiveXCore"));
    if !client.is_empty() {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut errors = 0;
        for e in &client {
            let v = field(e, &["Value", "Reason"]).unwrap_or("?");
            // Low byte 0-2: no information, local or remote user disconnect: not errors.
            if num(v).is_some_and(|n| n & 0xFF > 2) {
                errors += 1;
            }
            *reasons
                .entry(decoded(Namespace::DisconnectReason, v))
                .or_default() += 1;
        }
        let severity = if errors > 0 {
            Severity::Warning
        } else {
            Severity::Info
        };
        findings.push(finding(
            "EVT009",
            severity,
            format!(
                "the client logged {} disconnect(s), {errors} with an error reason",
                client.len()
            ),
            CauseId::NetworkPath,
            &client,
            reasons.iter().map(|(k, n)| format!("{n} x {k}")).collect(),
            "rdp-doctor explain REASON for each error reason",
        ));
    }

    // Timelines.
    let mut per: BTreeMap<String, Vec<&RdpEvent>> = BTreeMap::new();
    for e in &events {
        if let Some(a) = client_address(e) {
            per.entry(a).or_default().push(e);
        }
    }
    let mut timelines: Vec<Timeline> = per
        .into_iter()
        .map(|(address, evs)| {
            let entries: Vec<Entry> = evs
                .iter()
                .map(|e| {
                    let (stage, ok, summary) = describe(e);
                    Entry {
                        time: e.time.clone(),
                        event_id: e.event_id,
                        stage,
                        ok,
                        summary,
                    }
                })
                .collect();
            let failed_logons = evs
                .iter()
                .filter(|e| matches!(e.event_id, 4625 | 140))
                .count();
            let successful_logons = evs
                .iter()
                .filter(|e| matches!(e.event_id, 4624 | 1149))
                .count();
            let skip = entries.len().saturating_sub(opts.timeline_entries);
            Timeline {
                events: evs.len(),
                failed_logons,
                successful_logons,
                first: evs.first().map(|e| e.time.clone()).unwrap_or_default(),
                last: evs.last().map(|e| e.time.clone()).unwrap_or_default(),
                entries: entries.into_iter().skip(skip).collect(),
                address,
            }
        })
        .collect();
    timelines.sort_by(|a, b| b.events.cmp(&a.events).then(a.address.cmp(&b.address)));

    // Connections that reached the server but never authenticated: the failure is in TLS/CredSSP.
    for t in &timelines {
        let attempts = t
            .entries
            .iter()
            .filter(|e| e.stage == Stage::Attempt)
            .count();
        if attempts >= 3 && t.successful_logons == 0 && t.failed_logons == 0 {
            findings.push(Finding {
                id: "EVT008",
                severity: Severity::Warning,
                title: format!("{}: {attempts} connections reached the server, none authenticated", t.address),
                cause: CauseId::CertificateOrKey,
                count: attempts,
                first: t.first.clone(),
                last: t.last.clone(),
                records: Vec::new(),
                evidence: vec!["no 1149/4624/4625 for this address: the connections ended during TLS or CredSSP (or were scans)".into()],
                fix: "Probe the host: rdp-doctor diagnose HOST; check Schannel and TermService events".into(),
            });
        }
    }
    findings.sort_by_key(|f| f.severity);
    (findings, timelines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_addresses() {
        assert_eq!(max_in_window(&[0.0, 1.0, 2.0, 100.0, 101.0], 10.0), 3);
        assert_eq!(max_in_window(&[], 10.0), 0);
        assert_eq!(address_only("10.1.2.3:50000"), "10.1.2.3");
        assert_eq!(address_only("[fe80::1]:3389"), "fe80::1");
        assert_eq!(address_only("fe80::1"), "fe80::1");
    }
}
