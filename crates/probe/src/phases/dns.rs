//! Phase 1: every address of the host.

use std::net::SocketAddr;
use std::time::Instant;

use super::{ms, Ctx};
use crate::report::*;

/// Resolves the host; `None` (and a failed phase) when it does not resolve.
pub(super) async fn phase(report: &mut ProbeReport, ctx: &Ctx<'_>) -> Option<Vec<SocketAddr>> {
    let t = Instant::now();
    let host = report.host.clone();
    let lookup = tokio::time::timeout(
        ctx.budget.cap(ctx.opts.io_timeout),
        tokio::net::lookup_host((host.as_str(), report.port)),
    )
    .await;
    let (addrs, summary, evidence) = match lookup {
        Ok(Ok(a)) => (a.collect::<Vec<_>>(), String::new(), Vec::new()),
        Ok(Err(e)) => (
            Vec::new(),
            format!("{host} does not resolve: {e}"),
            Vec::new(),
        ),
        Err(_) => (
            Vec::new(),
            format!("no DNS answer for {host} within the deadline"),
            Vec::new(),
        ),
    };
    report.addresses = addrs.iter().map(|a| a.ip()).collect();
    report.addresses.dedup();
    let listed: Vec<String> = report.addresses.iter().map(|a| a.to_string()).collect();
    report.phases.push(Phase {
        name: PhaseName::Dns,
        status: if addrs.is_empty() {
            Status::Fail
        } else {
            Status::Ok
        },
        duration_ms: ms(t.elapsed()),
        summary: if addrs.is_empty() && !summary.is_empty() {
            summary
        } else {
            format!("{} address(es): {}", listed.len(), listed.join(", "))
        },
        evidence,
    });
    (!addrs.is_empty()).then_some(addrs)
}
