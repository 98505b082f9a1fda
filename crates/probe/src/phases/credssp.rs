//! Phase 5: a CredSSP TSRequest with an NTLM NEGOTIATE; the server's
//! CHALLENGE names it (NetBIOS and DNS names, domain, OS version).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tls::TlsStream;
use super::{ms, Ctx};
use crate::path::Tap;
use crate::report::*;
use crate::text;
use crate::wire::ntlm;
use crate::wire::x224::Protocol;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Largest TSRequest accepted from the server.
const MAX_TS_REQUEST: usize = 64 * 1024;

/// Sends a CredSSP TSRequest with NTLM NEGOTIATE and parses the CHALLENGE.
async fn credssp_ntlm(
    tls: &mut TlsStream,
    deadline: Duration,
) -> Result<ntlm::NtlmInfo, CredsspFailure> {
    let io = |e: std::io::Error| CredsspFailure::Io {
        message: e.to_string(),
    };
    let exchange = async {
        tls.write_all(&ntlm::ts_request_negotiate())
            .await
            .map_err(io)?;
        tls.flush().await.map_err(io)?;
        let mut buf = Vec::new();
        loop {
            if let Some(len) = ntlm::der_frame_len(&buf) {
                if len == 0 || len > MAX_TS_REQUEST {
                    return Err(CredsspFailure::Oversized { length: len });
                }
                if buf.len() >= len {
                    buf.truncate(len);
                    return ntlm::parse_ts_request(&buf)
                        .map_err(|message| CredsspFailure::Malformed { message });
                }
            }
            let mut chunk = [0u8; 4096];
            match tls.read(&mut chunk).await {
                Ok(0) => {
                    return Err(CredsspFailure::Closed {
                        after_bytes: buf.len(),
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(io(e)),
            }
        }
    };
    match tokio::time::timeout(deadline, exchange).await {
        Ok(r) => r,
        Err(_) => Err(CredsspFailure::Timeout {
            waited_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

/// The CredSSP phase, when the server runs CredSSP on this connection.
pub(super) async fn phase(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    mut tls: TlsStream,
    mut tap: Tap,
    protocol: Protocol,
) {
    if !ctx.opts.ntlm_info || !matches!(protocol, Protocol::Hybrid | Protocol::HybridEx) {
        return;
    }
    let t = Instant::now();
    let result = credssp_ntlm(&mut tls, ctx.budget.cap(ctx.opts.io_timeout)).await;
    // This machine's clock, read when the CHALLENGE (and its timestamp) arrived.
    let local_unix = unix_now();
    let timed_out = matches!(result, Err(CredsspFailure::Timeout { .. }));
    report
        .path
        .traffic
        .push(tap.phase(PhaseName::Credssp, result.is_ok(), timed_out));
    let (status, summary, evidence) = match &result {
        Ok(info) => (
            Status::Ok,
            format!(
                "NTLM: computer {} domain {} OS {}",
                info.netbios_computer.as_deref().unwrap_or("?"),
                info.netbios_domain.as_deref().unwrap_or("?"),
                info.os_version.as_deref().unwrap_or("?")
            ),
            vec![format!(
                "DNS computer {}, DNS domain {}, CredSSP version {}",
                info.dns_computer.as_deref().unwrap_or("?"),
                info.dns_domain.as_deref().unwrap_or("?"),
                info.credssp_version.unwrap_or(0)
            )],
        ),
        Err(e) => (
            Status::Warn,
            format!("no NTLM information: {}", text::credssp(e)),
            Vec::new(),
        ),
    };
    report.phases.push(Phase {
        name: PhaseName::Credssp,
        status,
        duration_ms: ms(t.elapsed()),
        summary,
        evidence,
    });
    match result {
        Ok(info) => {
            report.clock = info.server_time_unix.map(|server_unix| ClockReading {
                server_unix,
                local_unix,
            });
            report.ntlm = Some(info);
        }
        Err(e) => report.credssp_error = Some(e),
    }
}
