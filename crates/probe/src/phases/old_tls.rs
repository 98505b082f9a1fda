//! After TLS found nothing in common: the probe's own ClientHellos (TLS 1.2,
//! 1.1, 1.0 with chosen suites), each on its own connection, to tell a server
//! limited to old TLS versions from one with only old cipher suites.

use std::net::SocketAddr;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{connect, negotiate, Ctx};
use crate::report::*;
use crate::wire::client_hello::{
    self, HelloAnswer, HelloAttempt, TlsScan, TlsVersion, LEGACY_SUITES, MODERN_SUITES,
};
use crate::wire::x224::Protocol;

/// Most hellos per version while listing the suites a server accepts.
const MAX_SUITES_PER_VERSION: usize = 6;

/// A client random: not secret (the handshake is never finished), only fresh.
fn random(n: u32) -> [u8; 32] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(now.to_le_bytes());
    h.update(n.to_le_bytes());
    h.finalize().into()
}

/// One hello on a fresh connection that X.224 agreed to run TLS on.
async fn one_hello(
    addr: SocketAddr,
    protocol: Protocol,
    hello: &[u8],
    ctx: &Ctx<'_>,
) -> Result<HelloAnswer, String> {
    let deadline = ctx.budget.cap(ctx.opts.io_timeout);
    let mut s = connect(addr, ctx.budget.cap(ctx.opts.connect_timeout))
        .await
        .map_err(|o| crate::text::tcp(&o))?;
    match negotiate(&mut s, &[protocol], deadline).await {
        NegotiationOutcome::Selected { .. } => {}
        other => return Err(crate::text::negotiation(&other)),
    }
    let exchange = async {
        s.write_all(hello).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        loop {
            if let Some(len) = client_hello::record_len(&buf).filter(|l| buf.len() >= *l) {
                return client_hello::parse_answer(&buf[..len]);
            }
            let mut chunk = [0u8; 2048];
            match s.read(&mut chunk).await {
                Ok(0) if buf.is_empty() => return Err("closed without an answer".to_string()),
                Ok(0) => return Err(format!("closed after {} byte(s)", buf.len())),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or_else(|_| Err("no answer before the deadline".to_string()))
}

/// The protocol X.224 agreed to run TLS on.
fn tls_protocol(report: &ProbeReport) -> Option<Protocol> {
    if let Some(NegotiationOutcome::Selected { selected, .. }) =
        report.negotiated.as_ref().map(|n| &n.outcome)
    {
        if let Some(p) = Protocol::from_selected(*selected).filter(|p| p.uses_tls()) {
            return Some(p);
        }
    }
    report
        .supported()
        .into_iter()
        .find(|p| p.uses_tls() && *p != Protocol::Rdstls)
}

/// Which suites `version` gets: the server picks one, it is taken out, again.
async fn scan_version(
    version: TlsVersion,
    addr: SocketAddr,
    protocol: Protocol,
    ctx: &Ctx<'_>,
    scan: &mut TlsScan,
    used: &mut u32,
) {
    let mut offer: Vec<u16> = MODERN_SUITES
        .iter()
        .chain(&LEGACY_SUITES)
        .copied()
        .collect();
    let mut picked = Vec::new();
    while picked.len() < MAX_SUITES_PER_VERSION && !offer.is_empty() && !ctx.budget.left().is_zero()
    {
        *used += 1;
        let hello = client_hello::client_hello(version, &offer, random(*used));
        let answer = one_hello(addr, protocol, &hello, ctx).await;
        scan.attempts.push(HelloAttempt {
            offered: version,
            suites_offered: offer.len(),
            answer: answer.clone(),
        });
        // A server limited to lower versions answers with its own: counted there.
        let Ok(HelloAnswer::ServerHello { version: v, suite }) = answer else {
            break;
        };
        if TlsVersion::from_wire(v) != Some(version) {
            break;
        }
        picked.push(suite);
        offer.retain(|s| *s != suite);
    }
    if !picked.is_empty() {
        scan.versions.push(version);
        scan.suites.push((version, picked));
    }
}

/// Runs the hellos when the main TLS handshake found no common version or cipher.
pub(super) async fn phase(report: &mut ProbeReport, ctx: &Ctx<'_>) {
    let no_common = report
        .tls
        .as_ref()
        .is_some_and(|t| t.failure == Some(TlsFailure::NoCommonVersionOrCipher));
    let (Some(addr), Some(protocol)) = (report.connected_to, tls_protocol(report)) else {
        return;
    };
    if !no_common {
        return;
    }
    let mut scan = TlsScan::default();
    let mut used = 0;
    for version in TlsVersion::ALL {
        scan_version(version, addr, protocol, ctx, &mut scan, &mut used).await;
    }
    report.connections_used += used;
    report.tls_scan = Some(scan);
}
