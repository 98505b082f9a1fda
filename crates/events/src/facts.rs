//! Facts first: typed summaries of every event, per kind, before any rule runs and
//! before any display cut. Rules (`rules.rs`) read only these.

use std::collections::{BTreeMap, BTreeSet};

use rdp_doctor_codes::Namespace;
use rdp_doctor_model::Evidence;

use crate::describe::{
    account, client_address, decoded, describe, field, is_connection, is_failed_logon,
    is_successful_logon, num, workstation, Stage,
};
use crate::event::RdpEvent;
use crate::gateway::{GatewayEvent, GatewayKind};
use crate::integrity::Truncation;

/// Record IDs kept as evidence per fact.
const RECORDS_KEPT: usize = 10;

/// Events of one kind: how many, when, which.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub event_ids: BTreeSet<u32>,
    pub count: usize,
    pub first: Option<String>,
    pub last: Option<String>,
    /// Record IDs of the first events.
    pub records: Vec<u64>,
}

impl Tally {
    /// Adds an event; events come in time order.
    pub fn add(&mut self, e: &RdpEvent) {
        self.event_ids.insert(e.event_id);
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(e.time.clone());
        }
        self.last = Some(e.time.clone());
        if self.records.len() < RECORDS_KEPT {
            self.records.push(e.record_id);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// These events as evidence, with what they show.
    pub fn evidence(&self, detail: impl Into<String>) -> Evidence {
        Evidence::Events {
            event_ids: self.event_ids.iter().copied().collect(),
            count: self.count,
            first: self.first.clone(),
            last: self.last.clone(),
            records: self.records.clone(),
            detail: detail.into(),
        }
    }
}

/// Events of one kind, and how many of them carry each value (an alert, account, status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakdown {
    pub tally: Tally,
    pub by: BTreeMap<String, usize>,
}

impl Breakdown {
    fn add(&mut self, e: &RdpEvent, key: String) {
        self.tally.add(e);
        *self.by.entry(key).or_default() += 1;
    }
}

/// Where failed logons came from: the client's address, or, when Windows wrote none
/// (IpAddress `-`, as for NLA failures), the client's computer name and the account tried.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogonSource {
    Address(String),
    Workstation {
        workstation: String,
        account: String,
    },
}

impl std::fmt::Display for LogonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogonSource::Address(a) => f.write_str(a),
            LogonSource::Workstation {
                workstation,
                account,
            } => write!(
                f,
                "workstation {workstation} (no address) against {account}"
            ),
        }
    }
}

/// A successful logon.
#[derive(Debug, Clone, PartialEq)]
pub struct Logon {
    pub event: Tally,
    pub time_unix: f64,
    pub account: Option<String>,
    pub logon_type: Option<String>,
    pub address: Option<String>,
}

/// Failed logons from one source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailedLogons {
    pub tally: Tally,
    /// Times (Unix seconds), in order.
    pub times: Vec<f64>,
    pub accounts: BTreeMap<String, usize>,
    /// The first successful logon of an account tried, after the first failure, from the
    /// same address (or, for a source without address, from anywhere).
    pub then_succeeded: Option<Logon>,
}

/// What one client address did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressActivity {
    /// Connection attempts (RdpCoreTS 131, listener 261, RD Gateway 312).
    pub attempts: Tally,
    /// Times of new TCP connections (131, 312), in order.
    pub connection_times: Vec<f64>,
    pub connections: Tally,
    pub successful_logons: usize,
    pub failed_logons: usize,
    /// The server that logged it.
    pub server: Option<String>,
}

/// The RD Gateway's refusals, grouped as the findings report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GatewayProblem {
    /// 201, 204.
    NoCap,
    /// 301.
    NoRap,
    /// 304.
    HostUnreachable,
    /// 203, 305, 306.
    Refused,
}

impl GatewayProblem {
    fn of(kind: GatewayKind) -> Option<Self> {
        use GatewayKind::*;
        Some(match kind {
            ConnectionDenied | HealthPolicyDenied => GatewayProblem::NoCap,
            ResourceDenied => GatewayProblem::NoRap,
            ResourceUnreachable => GatewayProblem::HostUnreachable,
            ConnectionLimitReached | AuthMethodUnsupported | TunnelFailed => {
                GatewayProblem::Refused
            }
            _ => return None,
        })
    }
}

/// A file cut short.
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedFile {
    pub path: String,
    pub truncation: Truncation,
}

/// Everything the rules read, from all events of all files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// RCM 1057/1058, Schannel 36870.
    pub key_unusable: Tally,
    /// Schannel 36871/36874/36887/36888, by event and alert.
    pub tls_failures: Breakdown,
    pub failed_logons: BTreeMap<LogonSource, FailedLogons>,
    /// 4825, 4625 with 0xC000015B, by account.
    pub denied: Breakdown,
    /// Other 4625, by decoded status.
    pub bad_credentials: Breakdown,
    /// RCM 1006.
    pub refused_incomplete: Tally,
    pub addresses: BTreeMap<String, AddressActivity>,
    /// RCM 1050-1055, TermDD 50/56.
    pub listener_errors: Tally,
    /// The client's 1026, by decoded reason.
    pub client_disconnects: Breakdown,
    /// 1026 whose reason is an error (not a user's disconnect).
    pub client_error_disconnects: usize,
    /// Gateway refusals, by "user -> resource from address: error".
    pub gateway: BTreeMap<GatewayProblem, Breakdown>,
    pub truncated: Vec<TruncatedFile>,
}

fn is_rcm(e: &RdpEvent) -> bool {
    e.provider.contains("RemoteConnectionManager")
}

fn is_denied(e: &RdpEvent) -> bool {
    e.event_id == 4825
        || (e.event_id == 4625
            && [field(e, &["Status"]), field(e, &["SubStatus"])]
                .iter()
                .flatten()
                .any(|s| num(s) == Some(0xC000_015B)))
}

/// The user part of an account, lower case: 4625 and 4624 may spell the domain differently.
fn user_key(account: &str) -> String {
    account
        .rsplit('\\')
        .next()
        .unwrap_or(account)
        .to_lowercase()
}

impl Facts {
    /// Facts of `events`, which are in time order.
    pub fn of(events: &[RdpEvent]) -> Facts {
        let mut f = Facts::default();
        for e in events {
            f.add(e);
        }
        f.link_successes(events);
        f
    }

    fn add(&mut self, e: &RdpEvent) {
        let schannel = e.provider == "Schannel";
        if (matches!(e.event_id, 1057 | 1058) && is_rcm(e)) || (e.event_id == 36870 && schannel) {
            self.key_unusable.add(e);
        }
        if schannel && matches!(e.event_id, 36871 | 36874 | 36887 | 36888) {
            let key = match field(e, &["AlertDesc"]) {
                Some(a) => format!("{} alert {a}", e.event_id),
                None => e.event_id.to_string(),
            };
            self.tls_failures.add(e, key);
        }
        if matches!(e.event_id, 4625 | 140) {
            self.add_failed_logon(e);
        }
        if is_denied(e) {
            self.denied
                .add(e, account(e).unwrap_or_else(|| "(no account named)".into()));
        } else if e.event_id == 4625 {
            let s = field(e, &["SubStatus"])
                .filter(|s| num(s) != Some(0))
                .or(field(e, &["Status"]))
                .unwrap_or("?");
            self.bad_credentials.add(e, decoded(Namespace::NtStatus, s));
        }
        if e.event_id == 1006 && is_rcm(e) {
            self.refused_incomplete.add(e);
        }
        if (is_rcm(e) && (1050..=1055).contains(&e.event_id))
            || (e.provider == "TermDD" && matches!(e.event_id, 50 | 56))
        {
            self.listener_errors.add(e);
        }
        if e.event_id == 1026 && e.provider.contains("ClientActiveXCore") {
            let v = field(e, &["Value", "Reason"]).unwrap_or("?");
            // Low byte 0-2: no information, local or remote user disconnect: not errors.
            if num(v).is_some_and(|n| n & 0xFF > 2) {
                self.client_error_disconnects += 1;
            }
            self.client_disconnects
                .add(e, decoded(Namespace::DisconnectReason, v));
        }
        if let Some(g) = GatewayEvent::from_event(e) {
            self.add_gateway(e, &g);
        }
        if let Some(a) = client_address(e) {
            self.add_activity(e, a);
        }
    }

    fn add_failed_logon(&mut self, e: &RdpEvent) {
        let who = account(e);
        let source = match (client_address(e), workstation(e)) {
            (Some(a), _) => LogonSource::Address(a),
            (None, Some(w)) => LogonSource::Workstation {
                workstation: w,
                account: who.clone().unwrap_or_else(|| "?".into()),
            },
            (None, None) => return,
        };
        let s = self.failed_logons.entry(source).or_default();
        s.tally.add(e);
        s.times.push(e.time_unix);
        if let Some(who) = who {
            *s.accounts.entry(who).or_default() += 1;
        }
    }

    fn add_gateway(&mut self, e: &RdpEvent, g: &GatewayEvent) {
        let Some(problem) = GatewayProblem::of(g.kind) else {
            return;
        };
        let who = g.user.as_deref().unwrap_or("?");
        let whom = match &g.resource {
            Some(r) => format!("{who} -> {r}"),
            None => who.to_string(),
        };
        let from = client_address(e).unwrap_or_else(|| "?".into());
        let err = g.error().unwrap_or_else(|| format!("event {}", e.event_id));
        self.gateway
            .entry(problem)
            .or_default()
            .add(e, format!("{whom} from {from}: {err}"));
    }

    fn add_activity(&mut self, e: &RdpEvent, address: String) {
        let a = self.addresses.entry(address).or_default();
        if describe(e).0 == Stage::Attempt {
            a.attempts.add(e);
        }
        if is_connection(e) {
            a.connections.add(e);
            a.connection_times.push(e.time_unix);
        }
        if is_successful_logon(e) {
            a.successful_logons += 1;
        }
        if is_failed_logon(e) {
            a.failed_logons += 1;
        }
        if a.server.is_none() && !e.computer.is_empty() {
            a.server = Some(e.computer.clone());
        }
    }

    /// For each source of failed logons, the first later successful logon of an account it tried.
    fn link_successes(&mut self, events: &[RdpEvent]) {
        for (source, failed) in self.failed_logons.iter_mut() {
            let Some(&start) = failed.times.first() else {
                continue;
            };
            let tried: BTreeSet<String> = failed.accounts.keys().map(|a| user_key(a)).collect();
            let success = events.iter().find(|e| {
                e.time_unix >= start
                    && matches!(e.event_id, 4624 | 1149)
                    && account(e).is_some_and(|a| tried.contains(&user_key(&a)))
                    && match source {
                        LogonSource::Address(a) => client_address(e).as_ref() == Some(a),
                        LogonSource::Workstation { .. } => true,
                    }
            });
            failed.then_succeeded = success.map(|e| {
                let mut event = Tally::default();
                event.add(e);
                Logon {
                    event,
                    time_unix: e.time_unix,
                    account: account(e),
                    logon_type: field(e, &["LogonType"]).map(str::to_string),
                    address: client_address(e),
                }
            });
        }
    }
}
