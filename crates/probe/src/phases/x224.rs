//! Phase 3: X.224 as mstsc asks (TLS | CredSSP | CredSSP-EX) and, at the
//! same time, the support matrix: one connection per protocol.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{connect, ms, Ctx};
use crate::path::{ConnectionInfo, Tap};
use crate::report::*;
use crate::text;
use crate::wire::foreign::foreign_answer;
use crate::wire::x224::{self, Confirm, Protocol};

/// Requests of the support matrix in flight at once.
const MATRIX_CONCURRENCY: usize = 2;

/// What mstsc offers.
pub(crate) const OFFERED: [Protocol; 3] = [Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx];

/// Reads one TPKT frame (bounded by its own 16-bit length) within `deadline`.
async fn read_tpkt(
    stream: &mut TcpStream,
    deadline: Duration,
) -> Result<Vec<u8>, NegotiationOutcome> {
    let mut buf = Vec::with_capacity(64);
    let read = async {
        loop {
            match x224::tpkt_frame_len(&buf) {
                // An HTTP status line may come in pieces: read up to its end.
                Err(_) if buf.starts_with(b"HTTP/") && !buf.contains(&b'\n') && buf.len() < 256 => {
                }
                Err(e) => {
                    let answer = foreign_answer(&buf, e.to_string());
                    return Err(NegotiationOutcome::NotRdp { answer });
                }
                Ok(Some(len)) if buf.len() >= len => {
                    buf.truncate(len);
                    return Ok(std::mem::take(&mut buf));
                }
                _ => {}
            }
            let mut chunk = [0u8; 512];
            match stream.read(&mut chunk).await {
                Ok(0) if buf.is_empty() => return Err(NegotiationOutcome::Closed),
                Ok(0) if buf.starts_with(b"HTTP/") => {
                    let answer = foreign_answer(&buf, String::new());
                    return Err(NegotiationOutcome::NotRdp { answer });
                }
                Ok(0) => {
                    let answer = ForeignAnswer::Truncated {
                        bytes: buf.len(),
                        hex: x224::hex_prefix(&buf, 16),
                    };
                    return Err(NegotiationOutcome::NotRdp { answer });
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(NegotiationOutcome::Closed)
                }
                Err(e) => {
                    let answer = ForeignAnswer::ReadError {
                        message: e.to_string(),
                    };
                    return Err(NegotiationOutcome::NotRdp { answer });
                }
            }
        }
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(r) => r,
        Err(_) => Err(NegotiationOutcome::TimedOut { bytes_sent: 0 }),
    }
}

fn confirm_outcome(frame: &[u8]) -> NegotiationOutcome {
    match x224::parse_confirm(frame) {
        Ok(Confirm::Selected { protocol, flags }) => NegotiationOutcome::Selected {
            selected: protocol,
            selected_name: Protocol::from_selected(protocol)
                .map(|p| p.name().to_string())
                .unwrap_or_else(|| format!("0x{protocol:X}")),
            flags,
        },
        Ok(Confirm::Failure { code }) => {
            let decoded = rdp_doctor_codes::decode(rdp_doctor_codes::Namespace::NegFailure, code);
            NegotiationOutcome::Failure {
                code,
                name: decoded
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_else(|| "unknown".into()),
                meaning: decoded.map(|r| r.meaning).unwrap_or_default(),
            }
        }
        Ok(Confirm::Legacy) => NegotiationOutcome::Legacy,
        Err(e) => NegotiationOutcome::NotRdp {
            answer: foreign_answer(frame, e.to_string()),
        },
    }
}

/// Sends one Connection Request and reads the answer.
pub(crate) async fn negotiate(
    stream: &mut TcpStream,
    protocols: &[Protocol],
    deadline: Duration,
) -> NegotiationOutcome {
    let request = x224::connection_request(protocols, "rdpdoctor");
    let sent = request.len();
    if let Err(e) = tokio::time::timeout(deadline, stream.write_all(&request))
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")))
    {
        return NegotiationOutcome::ConnectFailed {
            outcome: super::classify_connect_error(&e),
        };
    }
    match read_tpkt(stream, deadline).await {
        Ok(frame) => confirm_outcome(&frame),
        Err(NegotiationOutcome::TimedOut { .. }) => {
            NegotiationOutcome::TimedOut { bytes_sent: sent }
        }
        Err(other) => other,
    }
}

pub(crate) fn accepted(requested: &[Protocol], outcome: &NegotiationOutcome) -> bool {
    match outcome {
        NegotiationOutcome::Selected { selected, .. } => {
            requested.iter().any(|p| p.bits() == *selected)
                || (*selected == 0 && requested.contains(&Protocol::Rdp))
        }
        NegotiationOutcome::Legacy => requested.contains(&Protocol::Rdp),
        _ => false,
    }
}

/// One protocol of the support matrix, on a connection of its own.
async fn one_protocol(
    addr: SocketAddr,
    p: Protocol,
    ctx: &Ctx<'_>,
    connections: &Mutex<Vec<ConnectionInfo>>,
) -> ProtocolProbe {
    let t = Instant::now();
    let outcome = match connect(addr, ctx.budget.cap(ctx.opts.connect_timeout)).await {
        Ok(mut s) => {
            let o = negotiate(&mut s, &[p], ctx.budget.cap(ctx.opts.io_timeout)).await;
            if let Some(tcp) = crate::path::tcp_info(&s) {
                let info = ConnectionInfo {
                    role: format!("matrix {}", p.name()),
                    answer_ms: Some(ms(t.elapsed())),
                    tcp,
                };
                connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(info);
            }
            o
        }
        Err(o) => NegotiationOutcome::ConnectFailed { outcome: o },
    };
    ProtocolProbe {
        requested: vec![p],
        accepted: accepted(&[p], &outcome),
        outcome,
        duration_ms: ms(t.elapsed()),
    }
}

/// The support matrix, two requests at a time: faster than one by one against
/// slow listeners, without bursting past small listen backlogs (xrdp's is 2).
async fn matrix(
    addr: SocketAddr,
    ctx: &Ctx<'_>,
    connections: &Mutex<Vec<ConnectionInfo>>,
) -> Vec<ProtocolProbe> {
    use futures_util::stream::StreamExt;
    if !ctx.opts.protocol_matrix {
        return Vec::new();
    }
    let mut results: Vec<ProtocolProbe> =
        futures_util::stream::iter(Protocol::ALL.map(|p| one_protocol(addr, p, ctx, connections)))
            .buffer_unordered(MATRIX_CONCURRENCY)
            .collect()
            .await;
    results.sort_by_key(|p| {
        p.requested
            .first()
            .map(|f| Protocol::ALL.iter().position(|x| x == f))
    });
    results
}

/// The X.224 phase; gives the main connection back with the protocol selected on it.
pub(super) async fn phase(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    mut stream: TcpStream,
    addr: SocketAddr,
) -> (TcpStream, Option<Protocol>) {
    let t = Instant::now();
    let mut tap = Tap::new(&stream);
    let connections = Mutex::new(Vec::new());
    let (outcome, matrix) = tokio::join!(
        async {
            let sent = Instant::now();
            let o = negotiate(&mut stream, &OFFERED, ctx.budget.cap(ctx.opts.io_timeout)).await;
            (o, ms(sent.elapsed()))
        },
        matrix(addr, ctx, &connections)
    );
    let (outcome, answer_ms) = outcome;
    let answered = outcome.answered();
    let timed_out = matches!(outcome, NegotiationOutcome::TimedOut { .. });
    report
        .path
        .traffic
        .push(tap.phase(PhaseName::X224, answered, timed_out));
    report
        .path
        .connections
        .extend(tap.connection("mstsc request", answered.then_some(answer_ms)));
    // Releases the duplicated descriptor (Linux); elsewhere the tap holds none.
    #[allow(clippy::drop_non_drop)]
    drop(tap);
    report
        .path
        .connections
        .extend(connections.into_inner().unwrap_or_else(|e| e.into_inner()));
    report.connections_used += matrix.len() as u32;
    report.protocols = matrix;
    let negotiated = ProtocolProbe {
        requested: OFFERED.to_vec(),
        accepted: accepted(&OFFERED, &outcome),
        outcome,
        duration_ms: ms(t.elapsed()),
    };
    if let Some(s) = super::stats(&stream) {
        report.tcp_stats = Some(s);
    }
    push_phase(report, ctx, &negotiated, t);
    let selected = match &negotiated.outcome {
        NegotiationOutcome::Selected { selected, .. } => Protocol::from_selected(*selected),
        _ => None,
    };
    report.negotiated = Some(negotiated);
    (stream, selected)
}

/// The matrix's lines, requests with the same answer on one line.
fn matrix_evidence(protocols: &[ProtocolProbe]) -> Vec<String> {
    let mut lines: Vec<(Vec<&str>, String)> = Vec::new();
    for p in protocols {
        let name = p.requested.first().map(|p| p.name()).unwrap_or_default();
        let what = text::negotiation(&p.outcome);
        match lines.iter_mut().find(|(_, w)| *w == what) {
            Some((names, _)) => names.push(name),
            None => lines.push((vec![name], what)),
        }
    }
    lines
        .into_iter()
        .map(|(names, what)| format!("{}: {what}", names.join(", ")))
        .collect()
}

fn push_phase(report: &mut ProbeReport, ctx: &Ctx<'_>, negotiated: &ProtocolProbe, t: Instant) {
    let supported: Vec<&str> = report.supported().iter().map(|p| p.name()).collect();
    let status = match &negotiated.outcome {
        NegotiationOutcome::Selected { .. } | NegotiationOutcome::Legacy => Status::Ok,
        NegotiationOutcome::Failure { .. } if !supported.is_empty() => Status::Warn,
        _ => Status::Fail,
    };
    let main = text::negotiation(&negotiated.outcome);
    let mut evidence = vec![format!(
        "mstsc-style request (TLS|CredSSP|CredSSP-EX): {main}"
    )];
    evidence.extend(matrix_evidence(&report.protocols));
    let summary = match status {
        Status::Fail => main,
        _ if ctx.opts.protocol_matrix => format!(
            "{main}; supported: {}",
            if supported.is_empty() {
                "none".to_string()
            } else {
                supported.join(", ")
            }
        ),
        _ => main,
    };
    report.phases.push(Phase {
        name: PhaseName::X224,
        status,
        duration_ms: ms(t.elapsed()),
        summary,
        evidence,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_matrix_answers_share_one_line() {
        let p = |proto, outcome| ProtocolProbe {
            requested: vec![proto],
            outcome,
            accepted: false,
            duration_ms: 0.0,
        };
        let lines = matrix_evidence(&[
            p(Protocol::Rdp, NegotiationOutcome::Closed),
            p(Protocol::Tls, NegotiationOutcome::Closed),
            p(Protocol::Hybrid, NegotiationOutcome::Legacy),
        ]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("PROTOCOL_RDP, PROTOCOL_SSL: "),
            "{lines:?}"
        );
    }
}
