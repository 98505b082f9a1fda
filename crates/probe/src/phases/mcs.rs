//! Phase 6 (TLS without NLA): the MCS Connect Initial and the server's
//! Connect Response. A round trip inside TLS that needs no credentials: with
//! TLS 1.3 the client's last handshake message needs no answer, so without
//! this exchange a path that dies right after the handshake would look healthy.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tls::TlsStream;
use super::{ms, Ctx};
use crate::path::Tap;
use crate::report::*;
use crate::wire::mcs_connect::{self, McsAnswer};
use crate::wire::x224::{self, Protocol};

fn waited(deadline: Duration) -> u64 {
    u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX)
}

fn io_outcome(e: &std::io::Error) -> McsOutcome {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
            McsOutcome::Reset
        }
        _ => McsOutcome::Io {
            message: e.to_string(),
        },
    }
}

/// Sends the Connect Initial and reads one TPKT frame, within `deadline`.
async fn exchange(tls: &mut TlsStream, protocol: Protocol, deadline: Duration) -> McsOutcome {
    let frame = match mcs_connect::connect_initial(protocol.bits()) {
        Ok(f) => f,
        Err(message) => return McsOutcome::NotMcs { message },
    };
    let run = async {
        if let Err(e) = tls.write_all(&frame).await {
            return io_outcome(&e);
        }
        if let Err(e) = tls.flush().await {
            return io_outcome(&e);
        }
        let mut buf = Vec::new();
        loop {
            match x224::tpkt_frame_len(&buf) {
                Err(e) => {
                    return McsOutcome::NotMcs {
                        message: e.to_string(),
                    }
                }
                Ok(Some(len)) if buf.len() >= len => {
                    buf.truncate(len);
                    return match mcs_connect::parse_connect_answer(&buf) {
                        Ok(McsAnswer::Response(r)) => McsOutcome::Response(r),
                        Ok(McsAnswer::Disconnect { reason }) => McsOutcome::Disconnect { reason },
                        Err(message) => McsOutcome::NotMcs { message },
                    };
                }
                _ => {}
            }
            let mut chunk = [0u8; 4096];
            match tls.read(&mut chunk).await {
                Ok(0) => {
                    return McsOutcome::Closed {
                        after_bytes: buf.len(),
                    }
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return McsOutcome::Closed {
                        after_bytes: buf.len(),
                    }
                }
                Err(e) => return io_outcome(&e),
            }
        }
    };
    match tokio::time::timeout(deadline, run).await {
        Ok(o) => o,
        Err(_) => McsOutcome::Timeout {
            waited_ms: waited(deadline),
        },
    }
}

fn summary(o: &McsOutcome) -> (Status, String) {
    match o {
        McsOutcome::Response(r) => (
            Status::Ok,
            format!(
                "MCS Connect Response: RDP version 0x{:08X}, I/O channel {}",
                r.rdp_version, r.io_channel
            ),
        ),
        other => (Status::Fail, crate::text::mcs(other)),
    }
}

/// The MCS phase, on a TLS connection without CredSSP.
pub(super) async fn phase(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    mut tls: TlsStream,
    mut tap: Tap,
    protocol: Protocol,
) {
    if protocol != Protocol::Tls {
        return;
    }
    let t = Instant::now();
    let outcome = exchange(&mut tls, protocol, ctx.budget.cap(ctx.opts.io_timeout)).await;
    let completed = matches!(
        outcome,
        McsOutcome::Response(_) | McsOutcome::Disconnect { .. } | McsOutcome::NotMcs { .. }
    );
    let timed_out = matches!(outcome, McsOutcome::Timeout { .. });
    report
        .path
        .traffic
        .push(tap.phase(PhaseName::Mcs, completed, timed_out));
    let (status, summary) = summary(&outcome);
    report.phases.push(Phase {
        name: PhaseName::Mcs,
        status,
        duration_ms: ms(t.elapsed()),
        summary,
        evidence: Vec::new(),
    });
    report.mcs = Some(outcome);
}
