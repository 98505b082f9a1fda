//! The credentialed phase: a full connection, as a client with a user name
//! and password makes it, through CredSSP, MCS, licensing, capabilities and
//! finalization.
//!
//! IronRDP's connector is the state machine; this module is its I/O: every
//! read and write has its own deadline inside the probe's budget, every
//! server frame is read by [`crate::wire::errinfo`] before the connector sees
//! it (a Set Error Info PDU, an MCS Disconnect Provider Ultimatum or a
//! licensing error would otherwise reach the connector only as "cannot
//! decode"), and each sub-phase is timed.
//!
//! The password lives in [`Credentials`] (redacted in `Debug`, never
//! serialised, zeroed on drop) and in the connector's configuration for the
//! length of one connection; it goes on the wire only inside CredSSP or the
//! Client Info PDU, both under TLS. With Standard RDP Security the probe stops
//! before the Client Info PDU: it does not implement RDP's RC4 encryption and
//! never sends a password in the clear.

mod codes;
mod config;
mod driver;
mod io;
mod report;
mod security;
mod sequence;

use std::fmt;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::phases::ms;
use crate::report::{NegotiationOutcome, Phase, PhaseName, ProbeReport, Status};
use crate::wire::x224::Protocol;
use crate::{ProbeError, ProbeOptions};

pub use codes::{decode_code, decode_status, Code};
pub(crate) use driver::run;
pub use report::{outcome_summary, ConnectOutcome, ConnectStep, ConnectionReport, StepTiming};

/// A user name, optional domain and password for the credentialed phase.
///
/// The password is never printed (`Debug` redacts it), never serialised and
/// zeroed when the value is dropped.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    domain: Option<String>,
    password: Zeroizing<String>,
}

impl Credentials {
    /// `user` may be `DOMAIN\user` or `user@domain` (as Windows accepts them) or
    /// a plain name with `domain` given apart.
    pub fn new(
        user: impl Into<String>,
        domain: Option<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            user: user.into(),
            domain: domain.filter(|d| !d.is_empty()),
            password: Zeroizing::new(password.into()),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The user and domain as sent: `DOMAIN\user`, or the user alone.
    pub fn account(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}\\{}", self.user),
            None => self.user.clone(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Probes `target` as [`crate::probe`] does, then makes a full connection
/// with `creds` on a connection of its own (phase `connect`), inside what is
/// left of the total budget.
pub async fn probe_with_credentials(
    target: &str,
    opts: &ProbeOptions,
    creds: &Credentials,
) -> Result<ProbeReport, ProbeError> {
    let start = Instant::now();
    let mut report = crate::phases::probe_then(target, opts, false).await?;
    let left = opts.total_budget.saturating_sub(start.elapsed());
    phase(&mut report, opts, creds, left).await;
    report.total_ms = ms(start.elapsed());
    Ok(report)
}

/// The protocol to connect with: what mstsc's request got, or else one the
/// server accepts on its own.
fn protocol_for(report: &ProbeReport) -> Option<Protocol> {
    match report.negotiated.as_ref().map(|n| &n.outcome) {
        Some(NegotiationOutcome::Selected { selected, .. }) => Protocol::from_selected(*selected),
        Some(NegotiationOutcome::Legacy) => Some(Protocol::Rdp),
        _ => {
            let supported = report.supported();
            supported
                .iter()
                .copied()
                .find(|p| p.uses_tls() && *p != Protocol::Rdstls)
                .or(supported.contains(&Protocol::Rdp).then_some(Protocol::Rdp))
        }
    }
}

/// Why no credentialed connection is made, when none can be.
fn cannot_connect(report: &ProbeReport, budget: Duration) -> Option<&'static str> {
    if report.connected_to.is_none() {
        Some("no credentialed connection: the server cannot be reached")
    } else if protocol_for(report).is_none() {
        Some("no credentialed connection: the server accepts no security protocol")
    } else if budget.is_zero() {
        Some("no credentialed connection: the time budget ran out (raise --timeout)")
    } else {
        None
    }
}

async fn phase(
    report: &mut ProbeReport,
    opts: &ProbeOptions,
    creds: &Credentials,
    budget: Duration,
) {
    let (Some(addr), Some(protocol), None) = (
        report.connected_to,
        protocol_for(report),
        cannot_connect(report, budget),
    ) else {
        let summary = cannot_connect(report, budget)
            .unwrap_or_default()
            .to_string();
        // Out of time only when nothing else stops the connection.
        report.budget_exhausted |=
            report.connected_to.is_some() && protocol_for(report).is_some() && budget.is_zero();
        report.phases.push(Phase {
            name: PhaseName::Connect,
            status: Status::Skipped,
            duration_ms: 0.0,
            summary,
            evidence: Vec::new(),
        });
        return;
    };
    let started = Instant::now();
    let attempt = |budget: Duration| {
        run(
            addr,
            &report.host,
            protocol,
            creds,
            opts.connect_timeout,
            opts.io_timeout,
            budget,
        )
    };
    let mut c = attempt(budget).await;
    let mut connections = 1;
    // The server answered the probe's own X.224 request moments ago, so a close
    // at X.224 now is more likely a listener still tearing down the probe's
    // connections (FreeRDP's server does this) than a refusal: one retry, said so.
    let left = budget.saturating_sub(started.elapsed());
    if closed_at_x224(&c.outcome) && !left.is_zero() {
        connections += 1;
        let first = outcome_summary(&c.outcome);
        c = attempt(left).await;
        c.first_attempt = Some(format!("{first}; retried once"));
    }
    report.connections_used += connections;
    if matches!(c.outcome, ConnectOutcome::TimedOut { .. }) && c.duration_ms >= ms(budget) {
        report.budget_exhausted = true;
    }
    report.phases.push(connect_phase(&c));
    report.connection = Some(c);
}

fn closed_at_x224(o: &ConnectOutcome) -> bool {
    matches!(
        o,
        ConnectOutcome::Closed {
            during: ConnectStep::X224
        }
    )
}

/// The phase line and its evidence: one line per sub-phase.
fn connect_phase(c: &ConnectionReport) -> Phase {
    let status = match &c.outcome {
        ConnectOutcome::Connected { .. } => Status::Ok,
        ConnectOutcome::Unsupported { .. } => Status::Skipped,
        _ => Status::Fail,
    };
    let summary = match &c.outcome {
        ConnectOutcome::Connected { .. } => format!(
            "connected as {} over {}: {} steps through finalization",
            c.account,
            c.selected.as_deref().unwrap_or("?"),
            c.steps.len()
        ),
        other => format!("as {}: {}", c.account, outcome_summary(other)),
    };
    let steps = c.steps.iter().map(|s| {
        let mark = match s.status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skipped => "stop",
        };
        let detail = s
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        format!("{mark} {} {:.1} ms{detail}", s.step.label(), s.duration_ms)
    });
    let evidence = c
        .first_attempt
        .iter()
        .map(|f| format!("first attempt: {f}"))
        .chain(steps)
        .collect();
    Phase {
        name: PhaseName::Connect,
        status,
        duration_ms: c.duration_ms,
        summary,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve` runs probes on a multi-threaded runtime: the future must be Send.
    #[test]
    fn the_credentialed_probe_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let opts = ProbeOptions::default();
        let c = Credentials::new("u", None, "p");
        is_send(&probe_with_credentials("host.test", &opts, &c));
        is_send(&crate::probe("host.test", &opts));
    }

    #[test]
    fn credentials_never_show_the_password() {
        let c = Credentials::new("tester", Some("LAB".into()), "pa55-W0rd!");
        let debug = format!("{c:?}");
        assert!(!debug.contains("pa55-W0rd!"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert_eq!(c.account(), "LAB\\tester");
        assert_eq!(
            Credentials::new("u", Some(String::new()), "p").account(),
            "u"
        );
    }
}
