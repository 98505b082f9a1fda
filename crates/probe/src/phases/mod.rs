//! Running the probe: the I/O around the sans-IO protocol code, one module
//! per phase. Every wait has its own deadline and the whole probe a total budget.

mod credssp;
mod dns;
mod mcs;
mod old_tls;
mod tcp;
pub(crate) mod tls;
pub(crate) mod x224;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::report::*;
use crate::target::{BadTarget, Target};
use crate::wire::x224::Protocol;

pub(crate) use tcp::{classify_connect_error, connect};
pub(crate) use tls::{tls_config, tls_handshake};
pub(crate) use x224::negotiate;

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Port when the target names none.
    pub default_port: u16,
    /// Total budget for the whole probe, repeated handshakes included.
    pub total_budget: Duration,
    /// Deadline of one TCP connect.
    pub connect_timeout: Duration,
    /// Deadline of one exchange (X.224 answer, TLS handshake, CredSSP answer).
    pub io_timeout: Duration,
    /// Probe every protocol on its own (one connection each).
    pub protocol_matrix: bool,
    /// Ask for the server's NTLM information over CredSSP.
    pub ntlm_info: bool,
    /// Name to check the certificate against (default: the target's host).
    pub tls_name: Option<String>,
    /// After the phases, this many handshakes one after another (success rate,
    /// loss, RTT, jitter), each with the step deadlines, inside what is left of
    /// `total_budget`. 0: none.
    pub repeat: u32,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            default_port: 3389,
            total_budget: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            io_timeout: Duration::from_secs(3),
            protocol_matrix: true,
            ntlm_info: true,
            tls_name: None,
            repeat: 0,
        }
    }
}

/// Why the probe could not run at all (as opposed to finding a fault).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    BadTarget(#[from] BadTarget),
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// Tracks the total budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    pub(crate) start: Instant,
    pub(crate) total: Duration,
}

impl Budget {
    pub(crate) fn new(total: Duration) -> Self {
        Budget {
            start: Instant::now(),
            total,
        }
    }
    pub(crate) fn left(&self) -> Duration {
        self.total.saturating_sub(self.start.elapsed())
    }
    pub(crate) fn cap(&self, d: Duration) -> Duration {
        d.min(self.left())
    }
}

/// Probes `target` phase by phase, then runs the path tests (a small-MSS
/// retry when TLS stalled, `repeat` handshakes), all inside the total budget.
/// Never fails on what the server does: a fault is a finding in the report.
/// Fails only for an unusable target.
pub async fn probe(target: &str, opts: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    probe_then(target, opts, true).await
}

/// [`probe`]; without the MCS round trip when a credentialed connection
/// (which makes that exchange itself) follows.
pub(crate) async fn probe_then(
    target: &str,
    opts: &ProbeOptions,
    mcs_round_trip: bool,
) -> Result<ProbeReport, ProbeError> {
    let budget = Budget::new(opts.total_budget);
    let mut report = probe_phases(target, opts, &budget, mcs_round_trip).await?;
    crate::path::after_probe(&mut report, opts, &budget).await;
    report.clients = crate::rules::clients::table(&report);
    report.total_ms = ms(budget.start.elapsed());
    Ok(report)
}

/// What the phases hand on to the next one.
pub(crate) struct Ctx<'a> {
    pub(crate) opts: &'a ProbeOptions,
    pub(crate) budget: &'a Budget,
    /// Send the MCS Connect Initial after TLS without NLA.
    pub(crate) mcs_round_trip: bool,
}

/// The phases, each with its deadline, inside the total budget.
async fn probe_phases(
    target: &str,
    opts: &ProbeOptions,
    budget: &Budget,
    mcs_round_trip: bool,
) -> Result<ProbeReport, ProbeError> {
    let t = Target::parse(target, opts.default_port)?;
    let mut report = ProbeReport::new(target, &t.host, t.port);
    let ctx = Ctx {
        opts,
        budget,
        mcs_round_trip,
    };
    run_phases(&mut report, &ctx).await;
    report.total_ms = ms(budget.start.elapsed());
    report.budget_exhausted = budget.left().is_zero();
    Ok(report)
}

async fn run_phases(report: &mut ProbeReport, ctx: &Ctx<'_>) {
    let Some(addrs) = dns::phase(report, ctx).await else {
        return;
    };
    let Some(stream) = tcp::phase(report, ctx, &addrs).await else {
        return;
    };
    let addr: SocketAddr = report.connected_to.unwrap_or(addrs[0]);
    let (stream, selected) = x224::phase(report, ctx, stream, addr).await;
    let Some((stream, protocol)) = tls::connection_for_tls(report, ctx, stream, selected).await
    else {
        report.phases.push(Phase {
            name: PhaseName::Tls,
            status: Status::Skipped,
            duration_ms: 0.0,
            summary: "the server accepts no TLS-based protocol".into(),
            evidence: Vec::new(),
        });
        return;
    };
    let (tls, tap) = tls::phase(report, ctx, stream, protocol).await;
    match (tls, tap) {
        (Some(tls), Some(tap)) if protocol == Protocol::Tls && ctx.mcs_round_trip => {
            mcs::phase(report, ctx, tls, tap, protocol).await
        }
        (Some(tls), Some(tap)) if protocol != Protocol::Tls => {
            credssp::phase(report, ctx, tls, tap, protocol).await
        }
        (Some(_), Some(_)) => {}
        _ => old_tls::phase(report, ctx).await,
    }
}

/// The kernel's statistics of the main connection.
pub(crate) fn stats(stream: &TcpStream) -> Option<crate::path::TcpInfo> {
    crate::path::tcp_info(stream)
}
