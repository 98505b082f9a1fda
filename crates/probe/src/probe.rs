//! Running the probe: the I/O around the sans-IO protocol code. Every wait
//! has its own deadline and the whole probe a total budget.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::report::*;
use crate::wire::x224::{Confirm, Protocol};
use crate::wire::{cert, mcs, ntlm, x224};

/// Requests of the support matrix in flight at once.
const MATRIX_CONCURRENCY: usize = 2;

/// How to probe.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Port when the target names none.
    pub default_port: u16,
    /// Total budget for the whole probe.
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
    /// loss, RTT, jitter), each with the step deadlines, all within another
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
    #[error("'{0}' is not HOST, HOST:PORT or [IPv6]:PORT")]
    BadTarget(String),
}

/// Splits a target into host and port.
pub fn parse_target(target: &str, default_port: u16) -> Result<(String, u16), ProbeError> {
    let bad = || ProbeError::BadTarget(target.to_string());
    let t = target.trim();
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(bad());
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    if t.matches(':').count() > 1 {
        return Ok((t.to_string(), default_port));
    }
    match t.split_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Err(bad()),
        None => Ok((t.to_string(), default_port)),
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// Tracks the total budget.
struct Budget {
    start: Instant,
    total: Duration,
}

impl Budget {
    fn left(&self) -> Duration {
        self.total.saturating_sub(self.start.elapsed())
    }
    fn cap(&self, d: Duration) -> Duration {
        d.min(self.left())
    }
}

pub(crate) fn classify_connect_error(e: &io::Error) -> TcpOutcome {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpOutcome::Refused,
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TcpOutcome::Reset,
        io::ErrorKind::TimedOut => TcpOutcome::TimedOut,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            TcpOutcome::Unreachable {
                message: e.to_string(),
            }
        }
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

/// Reads one TPKT frame (bounded by its own 16-bit length) within `deadline`.
async fn read_tpkt(
    stream: &mut TcpStream,
    deadline: Duration,
) -> Result<Vec<u8>, NegotiationOutcome> {
    let mut buf = Vec::with_capacity(64);
    let read = async {
        loop {
            match x224::tpkt_frame_len(&buf) {
                Err(e) => {
                    return Err(NegotiationOutcome::Garbage {
                        message: e.to_string(),
                    })
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
                Ok(0) => {
                    return Err(NegotiationOutcome::Garbage {
                        message: format!(
                            "connection closed after {} bytes of a frame: {}",
                            buf.len(),
                            x224::hex_prefix(&buf, 16)
                        ),
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(NegotiationOutcome::Closed)
                }
                Err(e) => {
                    return Err(NegotiationOutcome::Garbage {
                        message: e.to_string(),
                    })
                }
            }
        }
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(r) => r,
        Err(_) => Err(NegotiationOutcome::TimedOut { bytes_sent: 0 }),
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
            outcome: classify_connect_error(&e),
        };
    }
    let frame = match read_tpkt(stream, deadline).await {
        Ok(f) => f,
        Err(NegotiationOutcome::TimedOut { .. }) => {
            return NegotiationOutcome::TimedOut { bytes_sent: sent }
        }
        Err(other) => return other,
    };
    match x224::parse_confirm(&frame) {
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
                name: decoded.as_ref().map(|r| r.name.clone()).unwrap_or_else(|| "unknown".into()),
                meaning: decoded.map(|r| r.meaning).unwrap_or_default(),
            }
        }
        Ok(Confirm::Legacy) => NegotiationOutcome::Legacy,
        Err(e) => match mcs::disconnect_ultimatum_reason(&frame) {
            Some(reason) => NegotiationOutcome::Garbage {
                message: format!("MCS Disconnect Provider Ultimatum (reason {reason}) instead of a Connection Confirm"),
            },
            None => NegotiationOutcome::Garbage { message: e.to_string() },
        },
    }
}

fn accepted(requested: &[Protocol], outcome: &NegotiationOutcome) -> bool {
    match outcome {
        NegotiationOutcome::Selected { selected, .. } => {
            requested.iter().any(|p| p.bits() == *selected)
                || (*selected == 0 && requested.contains(&Protocol::Rdp))
        }
        NegotiationOutcome::Legacy => requested.contains(&Protocol::Rdp),
        _ => false,
    }
}

/// A stream that keeps the first bytes the server sent, so a failed TLS
/// handshake can say what came instead of a ServerHello.
pub(crate) struct Recorder<S> {
    inner: S,
    seen: Vec<u8>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.seen.len() < 64 {
            let new = buf.filled()[before..].to_vec();
            let room = 64 - self.seen.len();
            self.seen.extend(new.into_iter().take(room));
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts any certificate: the probe records the chain and judges it
/// itself, as an RDP client that shows a warning would.
#[derive(Debug)]
struct RecordEverything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for RecordEverything {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordEverything(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

type TlsStream = tokio_rustls::client::TlsStream<Recorder<TcpStream>>;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs the TLS handshake and records what it shows.
pub(crate) async fn tls_handshake(
    stream: TcpStream,
    host: &str,
    deadline: Duration,
) -> (TlsFacts, Option<TlsStream>) {
    let mut facts = TlsFacts {
        version: None,
        cipher: None,
        chain: Vec::new(),
        name_matches: None,
        expired: None,
        not_yet_valid: None,
        days_left: None,
        error: None,
        server_sent: None,
    };
    let config = match tls_config() {
        Ok(c) => c,
        Err(e) => {
            facts.error = Some(e);
            return (facts, None);
        }
    };
    // RDP servers ignore SNI; an IP address cannot be sent as SNI at all.
    let server_name =
        rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
            rustls::pki_types::ServerName::try_from("rdp-server").expect("static name")
        });
    let connector = tokio_rustls::TlsConnector::from(config);
    let recorder = Recorder {
        inner: stream,
        seen: Vec::new(),
    };
    // into_fallible gives the stream back on failure, with the bytes the server sent.
    let result = tokio::time::timeout(
        deadline,
        connector.connect(server_name, recorder).into_fallible(),
    )
    .await;
    match result {
        Ok(Ok(tls)) => {
            let (_, conn) = tls.get_ref();
            facts.version = conn
                .protocol_version()
                .map(|v| format!("{v:?}").replace('_', "."));
            facts.cipher = conn
                .negotiated_cipher_suite()
                .map(|c| format!("{:?}", c.suite()));
            if let Some(certs) = conn.peer_certificates() {
                for der in certs {
                    match cert::parse_cert(der.as_ref()) {
                        Ok(info) => facts.chain.push(info),
                        Err(e) => facts.error = Some(e),
                    }
                }
            }
            if let Some(leaf) = facts.chain.first() {
                let now = unix_now();
                facts.name_matches = Some(cert::name_matches(leaf, host));
                facts.expired = Some(leaf.not_after_unix < now);
                facts.not_yet_valid = Some(leaf.not_before_unix > now);
                facts.days_left = Some((leaf.not_after_unix - now).div_euclid(86_400));
            }
            (facts, Some(tls))
        }
        Ok(Err((e, recorder))) => {
            facts.error = Some(e.to_string());
            facts.server_sent = describe_non_tls(&recorder.seen);
            (facts, None)
        }
        Err(_) => {
            facts.error = Some(format!("no TLS answer within {} ms", deadline.as_millis()));
            (facts, None)
        }
    }
}

/// Fills `server_sent` from what the recorder saw, after a failed handshake.
fn describe_non_tls(seen: &[u8]) -> Option<String> {
    if seen.is_empty() {
        return None;
    }
    if let Some(reason) = mcs::disconnect_ultimatum_reason(seen) {
        return Some(format!(
            "a plaintext MCS Disconnect Provider Ultimatum (reason {reason}) instead of a TLS ServerHello: {}",
            x224::hex_prefix(seen, 16)
        ));
    }
    if seen[0] == 0x15 {
        return Some(format!("a TLS alert: {}", x224::hex_prefix(seen, 16)));
    }
    Some(x224::hex_prefix(seen, 16))
}

/// Sends a CredSSP TSRequest with NTLM NEGOTIATE and parses the CHALLENGE.
async fn credssp_ntlm(tls: &mut TlsStream, deadline: Duration) -> Result<ntlm::NtlmInfo, String> {
    let exchange = async {
        tls.write_all(&ntlm::ts_request_negotiate())
            .await
            .map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        loop {
            if let Some(len) = ntlm::der_frame_len(&buf) {
                if len == 0 || len > 64 * 1024 {
                    return Err(format!("TSRequest length {len} out of bounds"));
                }
                if buf.len() >= len {
                    buf.truncate(len);
                    return ntlm::parse_ts_request(&buf);
                }
            }
            let mut chunk = [0u8; 4096];
            match tls.read(&mut chunk).await {
                Ok(0) => return Err(format!("server closed CredSSP after {} bytes", buf.len())),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    match tokio::time::timeout(deadline, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no CredSSP answer within {} ms",
            deadline.as_millis()
        )),
    }
}

/// Linux TCP_INFO of a connected socket.
#[cfg(target_os = "linux")]
pub fn tcp_stats(stream: &TcpStream) -> Option<TcpStats> {
    use std::os::fd::AsRawFd;
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the buffer is a tcp_info of the size passed; the fd is a live TCP socket.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| TcpStats {
        rtt_ms: f64::from(info.tcpi_rtt) / 1000.0,
        rtt_var_ms: f64::from(info.tcpi_rttvar) / 1000.0,
        retransmits_total: info.tcpi_total_retrans,
        mss: info.tcpi_snd_mss,
    })
}

/// TCP_INFO is Linux-only; elsewhere there are no kernel statistics.
#[cfg(not(target_os = "linux"))]
pub fn tcp_stats(_stream: &TcpStream) -> Option<TcpStats> {
    None
}

fn negotiation_summary(o: &NegotiationOutcome) -> String {
    match o {
        NegotiationOutcome::Selected { selected_name, .. } => format!("selected {selected_name}"),
        NegotiationOutcome::Failure { code, name, .. } => {
            format!("RDP_NEG_FAILURE 0x{code:X} ({code}) {name}")
        }
        NegotiationOutcome::Legacy => {
            "legacy Connection Confirm (no negotiation: RDP security only)".into()
        }
        NegotiationOutcome::Closed => "the server closed the connection without answering".into(),
        NegotiationOutcome::TimedOut { bytes_sent } => {
            format!("sent {bytes_sent} bytes, nothing came back (stall)")
        }
        NegotiationOutcome::Garbage { message } => format!("not an RDP answer: {message}"),
        NegotiationOutcome::ConnectFailed { outcome } => format!("connect failed: {outcome:?}"),
    }
}

fn tcp_summary(o: &TcpOutcome) -> String {
    match o {
        TcpOutcome::Connected => "connected".into(),
        TcpOutcome::Refused => {
            "connection refused (RST): nothing listens, or a firewall rejects".into()
        }
        TcpOutcome::TimedOut => {
            "no answer to SYN: filtered by a firewall, or the host is down".into()
        }
        TcpOutcome::Reset => "connection reset during the handshake".into(),
        TcpOutcome::Unreachable { message } => format!("unreachable: {message}"),
        TcpOutcome::Error { message } => format!("connect error: {message}"),
    }
}

/// Probes `target` phase by phase, then runs the path tests (a small-MSS
/// retry when TLS stalled, `repeat` handshakes). Never fails on what the
/// server does: a fault is a finding in the report. Fails only for an
/// unusable target.
pub async fn probe(target: &str, opts: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    let start = Instant::now();
    let mut report = probe_phases(target, opts).await?;
    crate::path::after_probe(&mut report, opts).await;
    report.total_ms = ms(start.elapsed());
    Ok(report)
}

/// The phases, each with its deadline, inside the total budget.
async fn probe_phases(target: &str, opts: &ProbeOptions) -> Result<ProbeReport, ProbeError> {
    let (host, port) = parse_target(target, opts.default_port)?;
    let budget = Budget {
        start: Instant::now(),
        total: opts.total_budget,
    };
    let mut report = ProbeReport {
        schema: SCHEMA,
        target: target.to_string(),
        host: host.clone(),
        port,
        addresses: Vec::new(),
        connected_to: None,
        phases: Vec::new(),
        tcp: None,
        tcp_stats: None,
        negotiated: None,
        protocols: Vec::new(),
        tls: None,
        ntlm: None,
        credssp_error: None,
        connections_used: 0,
        total_ms: 0.0,
        budget_exhausted: false,
        path: Default::default(),
        connection: None,
    };
    let finish = |mut report: ProbeReport| {
        report.total_ms = ms(budget.start.elapsed());
        report.budget_exhausted = budget.left().is_zero();
        Ok(report)
    };

    // 1. DNS
    let t = Instant::now();
    let lookup = tokio::time::timeout(
        budget.cap(opts.io_timeout),
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await;
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => {
            report.phases.push(Phase {
                name: PhaseName::Dns,
                status: Status::Fail,
                duration_ms: ms(t.elapsed()),
                summary: format!("{host} does not resolve: {e}"),
                evidence: vec![e.to_string()],
            });
            return finish(report);
        }
        Err(_) => {
            report.phases.push(Phase {
                name: PhaseName::Dns,
                status: Status::Fail,
                duration_ms: ms(t.elapsed()),
                summary: format!("no DNS answer for {host} within the deadline"),
                evidence: Vec::new(),
            });
            return finish(report);
        }
    };
    report.addresses = addrs.iter().map(|a| a.ip()).collect();
    report.addresses.dedup();
    report.phases.push(Phase {
        name: PhaseName::Dns,
        status: if addrs.is_empty() {
            Status::Fail
        } else {
            Status::Ok
        },
        duration_ms: ms(t.elapsed()),
        summary: format!(
            "{} address(es): {}",
            report.addresses.len(),
            report
                .addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        evidence: Vec::new(),
    });

    // 2. TCP: the first address that connects.
    let t = Instant::now();
    let mut stream = None;
    let mut tried = Vec::new();
    for addr in &addrs {
        report.connections_used += 1;
        match connect(*addr, budget.cap(opts.connect_timeout)).await {
            Ok(s) => {
                report.connected_to = Some(*addr);
                stream = Some(s);
                break;
            }
            Err(outcome) => tried.push((*addr, outcome)),
        }
    }
    let Some(mut stream) = stream else {
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
            summary: tcp_summary(&outcome),
            evidence: tried
                .iter()
                .map(|(a, o)| format!("{a}: {}", tcp_summary(o)))
                .collect(),
        });
        report.tcp = Some(outcome);
        return finish(report);
    };
    report.tcp = Some(TcpOutcome::Connected);
    report.tcp_stats = tcp_stats(&stream);
    let mut x224_tap = crate::path::Tap::new(&stream);
    let mut evidence: Vec<String> = tried
        .iter()
        .map(|(a, o)| format!("{a}: {}", tcp_summary(o)))
        .collect();
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

    // 3. X.224 as mstsc asks (TLS | CredSSP | CredSSP-EX) on this connection and, at
    // the same time, the support matrix: one connection per protocol.
    let t = Instant::now();
    let offered = [Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx];
    let addr = report.connected_to.unwrap_or(addrs[0]);
    let matrix_connections = std::sync::Mutex::new(Vec::new());
    let matrix_connections = &matrix_connections;
    let one_protocol = |p: Protocol| {
        let connect_deadline = budget.cap(opts.connect_timeout);
        let io_deadline = budget.cap(opts.io_timeout);
        async move {
            let t = Instant::now();
            let outcome = match connect(addr, connect_deadline).await {
                Ok(mut s) => {
                    let o = negotiate(&mut s, &[p], io_deadline).await;
                    if let Some(tcp) = crate::path::tcp_info(&s) {
                        let info = crate::path::ConnectionInfo {
                            role: format!("matrix {}", p.name()),
                            answer_ms: Some(ms(t.elapsed())),
                            tcp,
                        };
                        matrix_connections
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
    };
    let matrix = async {
        if opts.protocol_matrix {
            // Two at a time: faster than one by one against slow listeners, without
            // bursting past small listen backlogs (xrdp's is 2), which would cost a SYN retry.
            use futures_util::stream::StreamExt;
            let mut results: Vec<ProtocolProbe> =
                futures_util::stream::iter(Protocol::ALL.map(one_protocol))
                    .buffer_unordered(MATRIX_CONCURRENCY)
                    .collect()
                    .await;
            results.sort_by_key(|p| {
                p.requested
                    .first()
                    .map(|f| Protocol::ALL.iter().position(|x| x == f))
            });
            results
        } else {
            Vec::new()
        }
    };
    let (outcome, matrix) = tokio::join!(
        async {
            let sent = Instant::now();
            let o = negotiate(&mut stream, &offered, budget.cap(opts.io_timeout)).await;
            (o, ms(sent.elapsed()))
        },
        matrix
    );
    let (outcome, answer_ms) = outcome;
    let answered = matches!(
        outcome,
        NegotiationOutcome::Selected { .. }
            | NegotiationOutcome::Legacy
            | NegotiationOutcome::Failure { .. }
    );
    let timed_out = matches!(outcome, NegotiationOutcome::TimedOut { .. });
    report
        .path
        .traffic
        .push(x224_tap.phase(PhaseName::X224, answered, timed_out));
    report
        .path
        .connections
        .extend(x224_tap.connection("mstsc request", answered.then_some(answer_ms)));
    // Closes the tap's duplicate descriptor (Linux) before the next phase opens its own.
    #[allow(clippy::drop_non_drop)]
    drop(x224_tap);
    report.path.connections.extend(std::mem::take(
        &mut *matrix_connections.lock().unwrap_or_else(|e| e.into_inner()),
    ));
    report.connections_used += matrix.len() as u32;
    report.protocols = matrix;
    let negotiated = ProtocolProbe {
        requested: offered.to_vec(),
        accepted: accepted(&offered, &outcome),
        outcome,
        duration_ms: ms(t.elapsed()),
    };
    if let Some(s) = tcp_stats(&stream) {
        report.tcp_stats = Some(s);
    }
    let supported: Vec<&str> = report.supported().iter().map(|p| p.name()).collect();
    let x224_status = match &negotiated.outcome {
        NegotiationOutcome::Selected { .. } | NegotiationOutcome::Legacy => Status::Ok,
        NegotiationOutcome::Failure { .. } if !supported.is_empty() => Status::Warn,
        _ => Status::Fail,
    };
    let mut evidence = vec![format!(
        "mstsc-style request (TLS|CredSSP|CredSSP-EX): {}",
        negotiation_summary(&negotiated.outcome)
    )];
    for p in &report.protocols {
        evidence.push(format!(
            "{}: {}",
            p.requested.first().map(|p| p.name()).unwrap_or_default(),
            negotiation_summary(&p.outcome)
        ));
    }
    report.phases.push(Phase {
        name: PhaseName::X224,
        status: x224_status,
        duration_ms: ms(t.elapsed()),
        summary: match x224_status {
            Status::Fail => negotiation_summary(&negotiated.outcome),
            _ if opts.protocol_matrix => format!(
                "{}; supported: {}",
                negotiation_summary(&negotiated.outcome),
                if supported.is_empty() {
                    "none".to_string()
                } else {
                    supported.join(", ")
                }
            ),
            _ => negotiation_summary(&negotiated.outcome),
        },
        evidence,
    });
    let selected = match &negotiated.outcome {
        NegotiationOutcome::Selected { selected, .. } => Protocol::from_selected(*selected),
        _ => None,
    };
    report.negotiated = Some(negotiated);

    // 4. TLS: on the negotiated connection, or on a fresh one asking for a TLS-based protocol the server accepts.
    let tls_stream = match selected {
        Some(p) if p.uses_tls() => Some((stream, p)),
        _ => {
            drop(stream);
            let fallback = report
                .protocols
                .iter()
                .filter(|p| p.accepted)
                .flat_map(|p| p.requested.iter().copied())
                .find(|p| p.uses_tls() && *p != Protocol::Rdstls);
            match (fallback, report.connected_to) {
                (Some(p), Some(addr)) if !budget.left().is_zero() => {
                    report.connections_used += 1;
                    match connect(addr, budget.cap(opts.connect_timeout)).await {
                        Ok(mut s) => {
                            match negotiate(&mut s, &[p], budget.cap(opts.io_timeout)).await {
                                NegotiationOutcome::Selected { .. } => Some((s, p)),
                                _ => None,
                            }
                        }
                        Err(_) => None,
                    }
                }
                _ => None,
            }
        }
    };
    let Some((stream, protocol)) = tls_stream else {
        report.phases.push(Phase {
            name: PhaseName::Tls,
            status: Status::Skipped,
            duration_ms: 0.0,
            summary: "the server accepts no TLS-based protocol".into(),
            evidence: Vec::new(),
        });
        return finish(report);
    };
    let t = Instant::now();
    let tls_name = opts.tls_name.clone().unwrap_or_else(|| host.clone());
    let mut tls_tap = crate::path::Tap::new(&stream);
    let (facts, tls) = tls_handshake(stream, &tls_name, budget.cap(opts.io_timeout)).await;
    let tls_timed_out = facts.error.as_deref().is_some_and(crate::path::is_timeout);
    report
        .path
        .traffic
        .push(tls_tap.phase(PhaseName::Tls, tls.is_some(), tls_timed_out));
    let mut tls = tls;
    let status;
    let summary;
    let mut evidence = Vec::new();
    match (&tls, &facts.error) {
        (Some(_), _) => {
            let leaf = facts.chain.first();
            summary = format!(
                "{} {}; certificate {} (SHA1 {})",
                facts.version.clone().unwrap_or_default(),
                facts.cipher.clone().unwrap_or_default(),
                leaf.map(|c| c.subject.as_str()).unwrap_or("none"),
                leaf.map(|c| c.sha1_thumbprint.as_str()).unwrap_or("-")
            );
            let mut warn = false;
            if let Some(c) = leaf {
                evidence.push(format!(
                    "valid {} .. {} ({} days left)",
                    c.not_before,
                    c.not_after,
                    facts.days_left.unwrap_or(0)
                ));
                evidence.push(format!(
                    "issuer {}{}",
                    c.issuer,
                    if c.self_signed { " (self-signed)" } else { "" }
                ));
                evidence.push(format!(
                    "key {} {} bits",
                    c.key_type,
                    c.key_bits.unwrap_or(0)
                ));
            }
            if facts.expired == Some(true) {
                warn = true;
                evidence.push("the certificate has EXPIRED".into());
            }
            if facts.not_yet_valid == Some(true) {
                warn = true;
                evidence.push("the certificate is not valid yet (clock skew?)".into());
            }
            if facts.name_matches == Some(false) {
                // Clients warn but connect: a fact for the findings, not a failed phase.
                evidence.push(format!("the certificate does not name {tls_name}: clients show a name-mismatch warning"));
            }
            status = if warn { Status::Warn } else { Status::Ok };
        }
        (None, err) => {
            status = Status::Fail;
            summary = format!(
                "TLS failed right after X.224 agreed on {}: {}",
                protocol.name(),
                err.clone().unwrap_or_default()
            );
            if let Some(sent) = &facts.server_sent {
                evidence.push(format!("the server sent {sent}"));
            }
            if !tls_timed_out {
                evidence.push("a TLS failure right after a successful X.224 negotiation is the signature of an unusable listener certificate or private key".into());
            }
        }
    }
    report.phases.push(Phase {
        name: PhaseName::Tls,
        status,
        duration_ms: ms(t.elapsed()),
        summary,
        evidence,
    });
    report.tls = Some(facts);

    // 5. CredSSP / NTLM, when the server runs CredSSP on this connection.
    if opts.ntlm_info && matches!(protocol, Protocol::Hybrid | Protocol::HybridEx) {
        if let Some(tls) = tls.as_mut() {
            let t = Instant::now();
            let result = credssp_ntlm(tls, budget.cap(opts.io_timeout)).await;
            let timed_out = result
                .as_ref()
                .err()
                .is_some_and(|e| crate::path::is_timeout(e));
            report
                .path
                .traffic
                .push(tls_tap.phase(PhaseName::Credssp, result.is_ok(), timed_out));
            match result {
                Ok(info) => {
                    let summary = format!(
                        "NTLM: computer {} domain {} OS {}",
                        info.netbios_computer.as_deref().unwrap_or("?"),
                        info.netbios_domain.as_deref().unwrap_or("?"),
                        info.os_version.as_deref().unwrap_or("?")
                    );
                    report.phases.push(Phase {
                        name: PhaseName::Credssp,
                        status: Status::Ok,
                        duration_ms: ms(t.elapsed()),
                        summary,
                        evidence: vec![format!(
                            "DNS computer {}, DNS domain {}, CredSSP version {}",
                            info.dns_computer.as_deref().unwrap_or("?"),
                            info.dns_domain.as_deref().unwrap_or("?"),
                            info.credssp_version.unwrap_or(0)
                        )],
                    });
                    report.ntlm = Some(info);
                }
                Err(e) => {
                    report.phases.push(Phase {
                        name: PhaseName::Credssp,
                        status: Status::Warn,
                        duration_ms: ms(t.elapsed()),
                        summary: format!("no NTLM information: {e}"),
                        evidence: Vec::new(),
                    });
                    report.credssp_error = Some(e);
                }
            }
        }
    }
    finish(report)
}
