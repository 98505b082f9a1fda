//! From events to the RDP story: a timeline per client address and findings.

use std::collections::BTreeMap;

use rdp_doctor_codes::{decode, CauseId, Namespace};
use serde::Serialize;

use crate::event::RdpEvent;
use crate::gateway::{GatewayEvent, GatewayKind};

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
    let gateway = e.provider.eq_ignore_ascii_case(crate::gateway::PROVIDER);
    let raw = match e.event_id {
        _ if gateway => field(e, &["IpAddress"]),
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
    if let Some(g) = GatewayEvent::from_event(e) {
        return (gateway_stage(g.kind), !g.kind.is_failure(), g.summary());
    }
    if e.provider.eq_ignore_ascii_case(crate::gateway::PROVIDER) {
        // The reference table has no gateway rows: a message of another provider would mislead.
        return (Stage::Other, true, format!("gateway event {}", e.event_id));
    }
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

fn gateway_stage(kind: GatewayKind) -> Stage {
    use GatewayKind::*;
    match kind {
        ConnectionRequest => Stage::Attempt,
        ConnectionAuthorized
        | ConnectionDenied
        | ConnectionLimitReached
        | HealthPolicyDenied
        | AuthMethodUnsupported
        | TunnelFailed
        | ResourceAuthorized
        | ResourceDenied => Stage::Auth,
        ResourceConnected | ResourceUnreachable => Stage::Transport,
        ResourceDisconnected | DisconnectedByAdmin | SessionTimeout | ReauthFailed => {
            Stage::Disconnect
        }
    }
}

/// A new TCP connection: RdpCoreTS 131, or a connection request at the RD Gateway (312).
fn is_connection(e: &RdpEvent) -> bool {
    match GatewayEvent::from_event(e) {
        Some(g) => g.kind == GatewayKind::ConnectionRequest,
        None => e.event_id == 131,
    }
}

/// A logon that succeeded: Security 4624, RCM 1149, or the gateway's RD CAP check (200).
fn is_successful_logon(e: &RdpEvent) -> bool {
    match GatewayEvent::from_event(e) {
        Some(g) => g.kind == GatewayKind::ConnectionAuthorized,
        None => matches!(e.event_id, 4624 | 1149),
    }
}

/// A logon that failed: Security 4625, RdpCoreTS 140, or a gateway refusal before the resource.
fn is_failed_logon(e: &RdpEvent) -> bool {
    use GatewayKind::*;
    match GatewayEvent::from_event(e) {
        Some(g) => matches!(
            g.kind,
            ConnectionDenied | HealthPolicyDenied | AuthMethodUnsupported | TunnelFailed
        ),
        None => matches!(e.event_id, 4625 | 140),
    }
}

/// Findings over the gateway's events: refusals by policy, unreachable resources.
fn gateway_findings(events: &[RdpEvent]) -> Vec<Finding> {
    use GatewayKind::*;
    let typed: Vec<(&RdpEvent, GatewayEvent)> = events
        .iter()
        .filter_map(|e| GatewayEvent::from_event(e).map(|g| (e, g)))
        .collect();
    let rules: [(&str, Severity, &[GatewayKind], &str, &str); 4] = [
        (
            "EVT010",
            Severity::Error,
            &[ConnectionDenied, HealthPolicyDenied],
            "the RD Gateway refused users: no connection authorization policy (RD CAP) admits them",
            "Add the user, or a group of theirs, to the user groups of an RD CAP and check its authentication method (RD Gateway Manager, Connection Authorization Policies)",
        ),
        (
            "EVT011",
            Severity::Error,
            &[ResourceDenied],
            "the RD Gateway refused resources: no resource authorization policy (RD RAP) lets the user reach them",
            "Add the host, by the exact name the client uses (FQDN, NetBIOS name or address), to the computer group of an RD RAP that includes the user",
        ),
        (
            "EVT012",
            Severity::Error,
            &[ResourceUnreachable],
            "the RD Gateway authorized the connection but could not reach the host",
            "Check the host from the gateway: rdp-doctor diagnose HOST (Remote Desktop enabled, port 3389 open to the gateway, the name resolves there)",
        ),
        (
            "EVT013",
            Severity::Warning,
            &[ConnectionLimitReached, AuthMethodUnsupported, TunnelFailed],
            "the RD Gateway did not let users in: connection limit, authentication method or tunnel",
            "Check the gateway's allowed authentication methods (password, smart card), its SSL certificate and its maximum number of connections",
        ),
    ];
    let mut out = Vec::new();
    for (id, severity, kinds, title, fix) in rules {
        let hits: Vec<&(&RdpEvent, GatewayEvent)> = typed
            .iter()
            .filter(|(_, g)| kinds.contains(&g.kind))
            .collect();
        if hits.is_empty() {
            continue;
        }
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for (e, g) in &hits {
            let who = g.user.as_deref().unwrap_or("?");
            let whom = match &g.resource {
                Some(r) => format!("{who} -> {r}"),
                None => who.to_string(),
            };
            let from = client_address(e).unwrap_or_else(|| "?".into());
            let err = g.error().unwrap_or_else(|| format!("event {}", e.event_id));
            *why.entry(format!("{whom} from {from}: {err}")).or_default() += 1;
        }
        let evs: Vec<&RdpEvent> = hits.iter().map(|(e, _)| *e).collect();
        let evidence = why
            .iter()
            .take(10)
            .map(|(k, n)| format!("{n} x {k}"))
            .collect();
        out.push(finding(
            id,
            severity,
            title.to_string(),
            CauseId::Gateway,
            &evs,
            evidence,
            fix,
        ));
    }
    out
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
    for e in events.iter().filter(|e| is_connection(e)) {
        if let Some(a) = client_address(e) {
            accepts.entry(a).or_default().push(e.time_unix);
        }
    }
    for (addr, times) in &accepts {
        let peak = max_in_window(times, opts.flood_window);
        if peak >= opts.flood_threshold {
            let evs: Vec<&RdpEvent> = events
                .iter()
                .filter(|e| is_connection(e) && client_address(e).as_deref() == Some(addr))
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

    findings.extend(gateway_findings(&events));

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
            let failed_logons = evs.iter().filter(|e| is_failed_logon(e)).count();
            let successful_logons = evs.iter().filter(|e| is_successful_logon(e)).count();
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
        let (findings, timelines) = analyze(events, &Options::default());
        let ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
        assert_eq!(ids, ["EVT010", "EVT011", "EVT012"]);
        assert!(findings
            .iter()
            .all(|f| f.severity == Severity::Error && f.cause == CauseId::Gateway));
        assert_eq!(
            findings[0].evidence,
            [
                r"1 x CORP\alice from 198.51.100.9: 23003 (0x59DB) E_PROXY_NAP_ACCESSDENIED (the RD Gateway denies the client access because of its policy)"
            ]
        );
        assert!(
            findings[1].evidence[0].contains(r"CORP\alice -> db01")
                && findings[1].evidence[0].contains("E_PROXY_RAP_ACCESSDENIED")
        );
        assert!(
            findings[2].evidence[0].contains("WSAETIMEDOUT"),
            "{:?}",
            findings[2].evidence
        );
        assert_eq!(findings[2].records, [6]);

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
        let (findings, timelines) = analyze(events, &Options::default());
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
        let (findings, _) = analyze(flood, &Options::default());
        let ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            ["EVT004", "EVT008"],
            "a flood that never authenticates"
        );
        assert_eq!(findings[0].count, 50);
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

    #[test]
    fn windows_and_addresses() {
        assert_eq!(max_in_window(&[0.0, 1.0, 2.0, 100.0, 101.0], 10.0), 3);
        assert_eq!(max_in_window(&[], 10.0), 0);
        assert_eq!(address_only("10.1.2.3:50000"), "10.1.2.3");
        assert_eq!(address_only("[fe80::1]:3389"), "fe80::1");
        assert_eq!(address_only("fe80::1"), "fe80::1");
    }
}
