//! The RD Gateway check (`probe --gateway`): TCP to the gateway's HTTPS port,
//! its TLS certificate (the probe's recording TLS phase), the HTTP
//! transport's OUT channel request without credentials and the websocket
//! upgrade, each answer typed by [`crate::wire::rdg_http`]; then rules over
//! those facts. Nothing is authenticated: the check stops at the 401.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdp_doctor_codes::{tables, Namespace};
use rdp_doctor_model::Evidence;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::phases::{connect, tls_handshake};
use crate::report::{TcpOutcome, TlsFacts};
use crate::target::{BadTarget, Target};
use crate::wire::rdg_http::{self, HttpAnswer, HttpError, NamedCode};

/// The port of an RD Gateway when the target names none.
pub const DEFAULT_PORT: u16 = 443;

/// What one HTTP request on its own TLS connection came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exchange {
    Answered {
        answer: HttpAnswer,
        elapsed_ms: u64,
    },
    /// The server's bytes are not an HTTP answer (first bytes kept).
    NotHttp {
        bytes: Vec<u8>,
        error: HttpError,
    },
    /// The connection closed before a complete head.
    Closed {
        received: usize,
    },
    TimedOut {
        received: usize,
    },
    /// The connection or TLS failed before the request could be sent.
    NoConnection,
}

/// Everything the gateway check saw.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    pub host: String,
    pub port: u16,
    pub address: Option<SocketAddr>,
    /// `None` when the name does not resolve.
    pub tcp: Option<TcpOutcome>,
    pub tls: Option<TlsFacts>,
    pub out_data: Exchange,
    pub websocket: Exchange,
}

/// Why the check could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    BadTarget(#[from] BadTarget),
}

/// A GUID in braces, as mstsc writes RDG-Connection-Id, from a hash of `seed` and the clock.
fn guid(seed: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{seed} {} {:?}",
        std::process::id(),
        Instant::now()
    ));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.update(d.as_nanos().to_le_bytes());
    }
    let d = h.finalize();
    let hex: String = d[..16].iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Runs the gateway check on `target` (port [`DEFAULT_PORT`] unless named),
/// every connect, handshake and answer with its own `step` deadline.
pub async fn probe_gateway(target: &str, step: Duration) -> Result<GatewayReport, GatewayError> {
    let t = Target::parse(target, DEFAULT_PORT)?;
    let mut report = GatewayReport {
        host: t.host.clone(),
        port: t.port,
        address: None,
        tcp: None,
        tls: None,
        out_data: Exchange::NoConnection,
        websocket: Exchange::NoConnection,
    };
    let lookup = tokio::time::timeout(step, tokio::net::lookup_host((t.host.as_str(), t.port)));
    let Ok(Ok(mut addrs)) = lookup.await else {
        return Ok(report);
    };
    let Some(addr) = addrs.next() else {
        return Ok(report);
    };
    report.address = Some(addr);
    let stream = match connect(addr, step).await {
        Ok(s) => s,
        Err(outcome) => {
            report.tcp = Some(outcome);
            return Ok(report);
        }
    };
    report.tcp = Some(TcpOutcome::Connected);
    let (facts, tls) = tls_handshake(stream, &t.host, step).await;
    report.tls = Some(facts);
    let Some(mut tls) = tls else {
        return Ok(report);
    };
    let connection_id = guid(&t.host);
    let request = rdg_http::out_data_request(&t.host, &connection_id, &guid("correlation"));
    report.out_data = exchange(&mut tls, &request, step).await;
    // The upgrade goes on a connection of its own, as clients open it.
    if let Ok(stream) = connect(addr, step).await {
        if let (_, Some(mut tls)) = tls_handshake(stream, &t.host, step).await {
            let key = websocket_key(&connection_id);
            let request = rdg_http::websocket_request(&t.host, &connection_id, &key);
            report.websocket = exchange(&mut tls, &request, step).await;
        }
    }
    Ok(report)
}

/// Sec-WebSocket-Key: 16 bytes, base64.
fn websocket_key(seed: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let d = Sha256::digest(seed.as_bytes());
    let mut out = String::new();
    for chunk in d[..16].chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// Sends `request` and reads until the answer's head (and what body came with it) is in.
async fn exchange<S>(stream: &mut S, request: &[u8], step: Duration) -> Exchange
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let start = Instant::now();
    let deadline = start + step;
    if tokio::time::timeout(step, stream.write_all(request))
        .await
        .map_or(true, |r| r.is_err())
    {
        return Exchange::Closed { received: 0 };
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(left, stream.read(&mut buf)).await;
        match read {
            Err(_) => {
                return Exchange::TimedOut {
                    received: got.len(),
                }
            }
            Ok(Err(_)) | Ok(Ok(0)) => return settle(got, start, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
        if !rdg_http::looks_like_http(&got) {
            return settle(got, start, false);
        }
        if let Ok(end) = rdg_http::head_len(&got) {
            // The body that fits in what came is enough for codes; wait briefly for more of it.
            let want = content_length(&got[..end]).map_or(end, |l| end + l.min(rdg_http::MAX_BODY));
            if got.len() >= want {
                return settle(got, start, false);
            }
        }
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

fn settle(got: Vec<u8>, start: Instant, closed: bool) -> Exchange {
    match rdg_http::parse_answer(&got) {
        Ok(answer) => Exchange::Answered {
            answer,
            elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
        Err(HttpError::Incomplete { len }) if closed => Exchange::Closed { received: len },
        Err(error) => Exchange::NotHttp {
            bytes: got.into_iter().take(32).collect(),
            error,
        },
    }
}

/// The decoded table rows of the codes an answer names.
pub fn decoded_codes(answer: &HttpAnswer) -> Vec<Evidence> {
    let t = tables();
    let mut out = Vec::new();
    for code in &answer.codes {
        let entry = match code {
            NamedCode::Name(n) => t.lookup_name(n).find(|e| e.namespace == Namespace::Gateway),
            NamedCode::Number(n) => t.lookup(Namespace::Gateway, *n).next(),
        };
        if let Some(e) = entry {
            let ev = Evidence::Code {
                namespace: Namespace::Gateway.key().to_string(),
                code: e.code,
                name: e.name.clone(),
                meaning: e.meaning.clone(),
            };
            if !out.contains(&ev) {
                out.push(ev);
            }
        }
    }
    out
}

mod rules;
pub use rules::gateway_findings;
