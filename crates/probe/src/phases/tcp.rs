//! Phase 2: TCP to the first address that connects.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{ms, Ctx};
use crate::report::*;
use crate::text;

/// The typed outcome of a failed connect.
pub(crate) fn classify_connect_error(e: &io::Error) -> TcpOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TcpOutcome::Reset,
        io::ErrorKind::TimedOut => TcpOutcome::TimedOut,
        io::ErrorKind::NetworkUnreachable => TcpOutcome::Unreachable {
            what: Unreachable::Network,
        },
        io::ErrorKind::HostUnreachable => TcpOutcome::Unreachable {
            what: Unreachable::Host,
        },
        _ => TcpOutcome::Error {
            message: e.to_string(),
        },
    }
}

pub(crate) async fn connect(addr: SocketAddr, deadline: Duration) -> Result<TcpStream, TcpOutcome> {
    match tokio::time::timeout(deadline, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(classify_connect_error(&e)),
        Err(_) => Err(TcpOutcome::TimedOut),
    }
}

/// Connects to the first address that answers; `None` (and a failed phase) when none does.
pub(super) async fn phase(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    addrs: &[SocketAddr],
) -> Option<TcpStream> {
    let t = Instant::now();
    let mut stream = None;
    let mut tried = Vec::new();
    for addr in addrs {
        report.connections_used += 1;
        match connect(*addr, ctx.budget.cap(ctx.opts.connect_timeout)).await {
            Ok(s) => {
                report.connected_to = Some(*addr);
                stream = Some(s);
                break;
            }
            Err(outcome) => tried.push((*addr, outcome)),
        }
    }
    let mut evidence: Vec<String> = tried
        .iter()
        .map(|(a, o)| format!("{a}: {}", text::tcp(o)))
        .collect();
    let Some(stream) = stream else {
        let outcome = tried
            .first()
            .map(|(_, o)| o.clone())
            .unwrap_or(TcpOutcome::Error {
                message: "no address to connect to".into(),
            });
        report.phases.push(Phase {
            name: PhaseName::Tcp,
            status: Status::Fail,
            duration_ms: ms(t.elapsed()),
            summary: text::tcp(&outcome),
            evidence,
        });
        report.tcp = Some(outcome);
        return None;
    };
    report.tcp = Some(TcpOutcome::Connected);
    report.tcp_stats = super::stats(&stream);
    if let Some(s) = report.tcp_stats {
        evidence.push(format!(
            "kernel RTT {:.2} ms (var {:.2} ms), MSS {}",
            s.rtt_ms, s.rtt_var_ms, s.mss
        ));
    }
    report.phases.push(Phase {
        name: PhaseName::Tcp,
        status: Status::Ok,
        duration_ms: ms(t.elapsed()),
        summary: format!(
            "connected to {}",
            report
                .connected_to
                .map(|a| a.to_string())
                .unwrap_or_default()
        ),
        evidence,
    });
    Some(stream)
}
