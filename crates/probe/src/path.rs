//! Path quality: kernel TCP_INFO of every connection, the bytes each phase
//! moved (stall detection), a small-MSS retry that confirms an MTU black
//! hole, and repeated handshakes (success rate, loss, RTT, jitter); then the
//! rules that turn these into findings.
//!
//! The byte counts come from the kernel (TCP_INFO `bytes_sent`,
//! `bytes_acked`, `bytes_received`), read on a duplicate of the connection's
//! descriptor, so they are exact whatever protocol runs on top and are still
//! readable after a phase's future was dropped at its deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdp_doctor_codes::CauseId;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::diagnose::{finding, phase_evidence, Finding, Severity};
use crate::probe::{classify_connect_error, ms, negotiate, tls_handshake, ProbeOptions};
use crate::report::*;
use crate::wire::x224::Protocol;

/// The MSS the MTU retry asks for: the IPv4 minimum every path carries (RFC 879).
pub const SMALL_MSS: u32 = 536;

/// Most repeated handshakes one probe makes (bounded memory and time).
pub const MAX_REPEAT: u32 = 1000;

/// Kernel statistics of one TCP connection (Linux TCP_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct TcpInfo {
    /// Smoothed RTT as the kernel measured it.
    pub rtt_ms: f64,
    pub rtt_var_ms: f64,
    /// The smallest RTT seen on the connection.
    pub min_rtt_ms: f64,
    /// Retransmitted segments over the connection's life.
    pub retransmits_total: u32,
    /// Segments the kernel currently counts as lost.
    pub lost: u32,
    /// Sender MSS.
    pub mss: u32,
    /// Path MTU the kernel uses.
    pub pmtu: u32,
    /// Data bytes sent, retransmissions included.
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    /// Data bytes the peer acknowledged.
    pub bytes_acked: u64,
    /// Data bytes received in order.
    pub bytes_received: u64,
    /// TCP state (1 established, 7 closed by a reset, 8 the peer sent FIN).
    #[serde(skip)]
    pub state: u8,
}

const TCP_CLOSE: u8 = 7;
const TCP_CLOSE_WAIT: u8 = 8;

/// TCP_INFO of a socket, parsed from the kernel's stable, append-only layout.
#[cfg(target_os = "linux")]
fn kernel_info(fd: std::os::fd::BorrowedFd<'_>) -> Option<TcpInfo> {
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 256];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the buffer is writable for `len` bytes; the fd is a live socket.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    Some(parse_tcp_info(&buf[..(len as usize).min(buf.len())]))
}

/// Reads `struct tcp_info` (linux/tcp.h); fields the kernel did not fill stay 0.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_tcp_info(b: &[u8]) -> TcpInfo {
    let u32_at = |off: usize| {
        b.get(off..off + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_ne_bytes)
            .unwrap_or(0)
    };
    let u64_at = |off: usize| {
        b.get(off..off + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_ne_bytes)
            .unwrap_or(0)
    };
    let us = |v: u32| f64::from(v) / 1000.0;
    TcpInfo {
        state: b.first().copied().unwrap_or(0),
        mss: u32_at(16),
        lost: u32_at(32),
        pmtu: u32_at(60),
        rtt_ms: us(u32_at(68)),
        rtt_var_ms: us(u32_at(72)),
        retransmits_total: u32_at(100),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        min_rtt_ms: us(u32_at(148)),
        bytes_sent: u64_at(200),
        bytes_retrans: u64_at(208),
    }
}

/// TCP_INFO of a connected tokio stream (Linux; `None` elsewhere).
pub fn tcp_info(stream: &TcpStream) -> Option<TcpInfo> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsFd;
        kernel_info(stream.as_fd())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        None
    }
}

/// How a phase ended on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseEnd {
    /// The exchange completed (an answer, even a refusal, came).
    Completed,
    /// The connection stayed open and the answer did not come before the deadline.
    TimedOut,
    /// The connection was reset (RST).
    Reset,
    /// The peer closed the connection (FIN).
    Closed,
    /// Another failure on a live connection (an answer that is not what the phase expects).
    Failed,
}

/// What one phase moved on its connection, from the kernel's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PhaseTraffic {
    pub phase: PhaseName,
    /// New data bytes put on the wire (retransmissions not counted again).
    pub bytes_sent: u64,
    /// Of the bytes sent, those the server's TCP acknowledged.
    pub bytes_acked: u64,
    /// Bytes that came back in order.
    pub bytes_received: u64,
    pub retransmits: u32,
    pub end: PhaseEnd,
    /// The counts come from the kernel (false where TCP_INFO does not exist: they are then 0).
    pub counted: bool,
}

impl PhaseTraffic {
    /// One line of evidence.
    pub fn describe(&self) -> String {
        let end = match self.end {
            PhaseEnd::Completed => "completed",
            PhaseEnd::TimedOut => "then nothing until the deadline",
            PhaseEnd::Reset => "then a reset",
            PhaseEnd::Closed => "then the server closed",
            PhaseEnd::Failed => "failed",
        };
        if !self.counted {
            return format!(
                "{}: {end} (no kernel byte counts on this system)",
                self.phase.label()
            );
        }
        format!(
            "{}: {} byte(s) sent ({} acknowledged by the server's TCP), {} received, {} retransmission(s), {end}",
            self.phase.label(),
            self.bytes_sent,
            self.bytes_acked,
            self.bytes_received,
            self.retransmits,
        )
    }
}

/// Kernel statistics of one connection the probe made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionInfo {
    /// What the connection was for (`mstsc request`, `matrix PROTOCOL_SSL`, `repeat 3`, `small-MSS retry`).
    pub role: String,
    /// Time from the X.224 request to its answer (an application-level round trip).
    pub answer_ms: Option<f64>,
    #[serde(flatten)]
    pub tcp: TcpInfo,
}

/// The retry with a small MSS after TLS stalled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MssRetry {
    /// The MSS asked for in the SYN (TCP_MAXSEG before connect).
    pub mss: u32,
    /// The MSS the connection ended up with.
    pub effective_mss: Option<u32>,
    pub connected: bool,
    pub x224_ok: bool,
    /// The TLS handshake completed on the small-MSS connection.
    pub tls_completed: bool,
    /// Bytes the server sent during the retry's TLS handshake.
    pub tls_bytes_received: u64,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// One repeated handshake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub ok: bool,
    /// Where it failed.
    pub failed_at: Option<PhaseName>,
    pub error: Option<String>,
    /// It failed by a deadline (the signature of loss), not by an answer.
    pub timed_out: bool,
    pub connect_ms: Option<f64>,
    /// X.224 request to answer.
    pub answer_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    /// Connect to the end of the last step.
    pub handshake_ms: f64,
    pub rtt_ms: Option<f64>,
    pub retransmits: u32,
}

/// Minimum, median and maximum of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for an empty series.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Self {
            min: v[0],
            median: round2(median),
            max: v[n - 1],
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Mean absolute difference of consecutive values (RFC 3550's idea, unsmoothed).
pub fn jitter(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let sum: f64 = values.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
    Some(round2(sum / (values.len() - 1) as f64))
}

/// N handshakes one after another, and what they show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatStats {
    pub requested: u32,
    pub attempts: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// Failures by deadline: lost SYNs or answers.
    pub timeouts: u32,
    /// succeeded / attempts, 0..1.
    pub success_rate: f64,
    /// What one handshake is: `tcp+x224` or `tcp+x224+tls`.
    pub handshake: String,
    /// Over the successful handshakes.
    pub handshake_ms: Option<Spread>,
    /// Mean absolute difference of consecutive successful handshake times.
    pub jitter_ms: Option<f64>,
    /// X.224 request-to-answer times: the application-level RTT.
    pub answer_ms: Option<Spread>,
    /// Kernel smoothed RTT per connection.
    pub kernel_rtt_ms: Option<Spread>,
    pub retransmits: u32,
    /// The series' own budget ran out before every attempt was made.
    pub budget_exhausted: bool,
    pub runs: Vec<Attempt>,
}

impl RepeatStats {
    /// Builds the statistics from the attempts made.
    pub fn from_attempts(
        requested: u32,
        handshake: &str,
        runs: Vec<Attempt>,
        out_of_time: bool,
    ) -> Self {
        let ok: Vec<&Attempt> = runs.iter().filter(|a| a.ok).collect();
        let times: Vec<f64> = ok.iter().map(|a| a.handshake_ms).collect();
        let answers: Vec<f64> = ok.iter().filter_map(|a| a.answer_ms).collect();
        let rtts: Vec<f64> = runs.iter().filter_map(|a| a.rtt_ms).collect();
        let attempts = runs.len() as u32;
        let succeeded = ok.len() as u32;
        Self {
            requested,
            attempts,
            succeeded,
            failed: attempts - succeeded,
            timeouts: runs.iter().filter(|a| !a.ok && a.timed_out).count() as u32,
            success_rate: if attempts == 0 {
                0.0
            } else {
                round2(f64::from(succeeded) / f64::from(attempts))
            },
            handshake: handshake.to_string(),
            handshake_ms: Spread::of(&times),
            jitter_ms: jitter(&times),
            answer_ms: Spread::of(&answers),
            kernel_rtt_ms: Spread::of(&rtts),
            retransmits: runs.iter().map(|a| a.retransmits).sum(),
            budget_exhausted: out_of_time,
            runs,
        }
    }
}

/// Everything the path tests learned.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PathFacts {
    /// Kernel TCP_INFO of the connections the probe made (main connection, support matrix, retries, repeats).
    pub connections: Vec<ConnectionInfo>,
    /// The bytes each phase moved on its connection.
    pub traffic: Vec<PhaseTraffic>,
    /// The small-MSS retry, made when TLS stalled.
    pub mss_retry: Option<MssRetry>,
    /// The repeated handshakes (`--repeat N`).
    pub repeat: Option<RepeatStats>,
}

impl PathFacts {
    /// The traffic of `phase`, when it ran.
    pub fn traffic_of(&self, phase: PhaseName) -> Option<&PhaseTraffic> {
        self.traffic.iter().find(|t| t.phase == phase)
    }
}

/// A duplicate of a connection's descriptor with the counters at the start of
/// the current phase. The duplicate keeps the socket readable after the stream
/// itself was dropped (a phase's future cancelled at its deadline).
pub(crate) struct Tap {
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
    last: TcpInfo,
}

impl Tap {
    #[cfg(target_os = "linux")]
    pub(crate) fn new(stream: &TcpStream) -> Self {
        use std::os::fd::AsFd;
        let fd = stream.as_fd().try_clone_to_owned().ok();
        let last = fd
            .as_ref()
            .and_then(|f| kernel_info(f.as_fd()))
            .unwrap_or_default();
        Self { fd, last }
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new(_stream: &TcpStream) -> Self {
        Self {
            last: TcpInfo::default(),
        }
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn info(&self) -> Option<TcpInfo> {
        use std::os::fd::AsFd;
        self.fd.as_ref().and_then(|f| kernel_info(f.as_fd()))
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn info(&self) -> Option<TcpInfo> {
        None
    }

    /// What the phase that just ended moved; the next phase counts from here.
    pub(crate) fn phase(
        &mut self,
        phase: PhaseName,
        completed: bool,
        timed_out: bool,
    ) -> PhaseTraffic {
        let current = self.info();
        let counted = current.is_some();
        let now = current.unwrap_or(self.last);
        let last = std::mem::replace(&mut self.last, now);
        let fresh = |n: &TcpInfo| n.bytes_sent.saturating_sub(n.bytes_retrans);
        let end = if completed {
            PhaseEnd::Completed
        } else if now.state == TCP_CLOSE {
            PhaseEnd::Reset
        } else if now.state == TCP_CLOSE_WAIT {
            PhaseEnd::Closed
        } else if timed_out {
            PhaseEnd::TimedOut
        } else {
            PhaseEnd::Failed
        };
        // A FIN takes one sequence number, which the kernel counts as received.
        let fin = u64::from(now.state == TCP_CLOSE_WAIT && last.state != TCP_CLOSE_WAIT);
        PhaseTraffic {
            phase,
            bytes_sent: fresh(&now).saturating_sub(fresh(&last)),
            bytes_acked: now.bytes_acked.saturating_sub(last.bytes_acked),
            bytes_received: now
                .bytes_received
                .saturating_sub(last.bytes_received)
                .saturating_sub(fin),
            retransmits: now.retransmits_total.saturating_sub(last.retransmits_total),
            end,
            counted,
        }
    }

    /// The connection's statistics now, under `role`.
    pub(crate) fn connection(&self, role: &str, answer_ms: Option<f64>) -> Option<ConnectionInfo> {
        self.info().map(|tcp| ConnectionInfo {
            role: role.to_string(),
            answer_ms,
            tcp,
        })
    }
}

/// Whether a TLS or CredSSP error is the probe's own deadline.
pub(crate) fn is_timeout(error: &str) -> bool {
    error.starts_with("no TLS answer within") || error.starts_with("no CredSSP answer within")
}

/// The X.224 request a repeated handshake sends: what mstsc offers.
const OFFERED: [Protocol; 3] = [Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx];

/// Connects with TCP_MAXSEG set before the SYN, so the server sends segments of at most `mss` bytes.
async fn connect_small_mss(
    addr: SocketAddr,
    mss: u32,
    deadline: Duration,
) -> Result<TcpStream, TcpOutcome> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| classify_connect_error(&e))?;
    set_maxseg(&socket, mss).map_err(|e| TcpOutcome::Error {
        message: format!("TCP_MAXSEG {mss}: {e}"),
    })?;
    match tokio::time::timeout(deadline, socket.connect(addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(classify_connect_error(&e)),
        Err(_) => Err(TcpOutcome::TimedOut),
    }
}

#[cfg(target_os = "linux")]
fn set_maxseg(socket: &tokio::net::TcpSocket, mss: u32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = i32::try_from(mss).map_err(std::io::Error::other)?;
    // SAFETY: setsockopt with an int of the size passed, on a live socket.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_maxseg(_socket: &tokio::net::TcpSocket, _mss: u32) -> std::io::Result<()> {
    Err(std::io::Error::other("TCP_MAXSEG is only set on Linux"))
}

/// Retries the connection with a small MSS: X.224 as mstsc asks, then TLS.
async fn mss_retry(addr: SocketAddr, tls_name: &str, opts: &ProbeOptions) -> MssRetry {
    let t = Instant::now();
    let mut retry = MssRetry {
        mss: SMALL_MSS,
        effective_mss: None,
        connected: false,
        x224_ok: false,
        tls_completed: false,
        tls_bytes_received: 0,
        duration_ms: 0.0,
        error: None,
    };
    let mut stream = match connect_small_mss(addr, SMALL_MSS, opts.connect_timeout).await {
        Ok(s) => s,
        Err(o) => {
            retry.error = Some(format!("connect: {o:?}"));
            retry.duration_ms = ms(t.elapsed());
            return retry;
        }
    };
    retry.connected = true;
    let mut tap = Tap::new(&stream);
    retry.effective_mss = tap.info().map(|i| i.mss);
    let selected = match negotiate(&mut stream, &OFFERED, opts.io_timeout).await {
        NegotiationOutcome::Selected { selected, .. } => Protocol::from_selected(selected),
        other => {
            retry.error = Some(format!("X.224: {other:?}"));
            None
        }
    };
    if let Some(p) = selected.filter(|p| p.uses_tls()) {
        retry.x224_ok = true;
        tap.phase(PhaseName::X224, true, false);
        let (facts, tls) = tls_handshake(stream, tls_name, opts.io_timeout).await;
        retry.tls_completed = tls.is_some();
        let traffic = tap.phase(PhaseName::Tls, retry.tls_completed, false);
        retry.tls_bytes_received = traffic.bytes_received;
        if let Some(e) = facts.error.filter(|_| tls.is_none()) {
            retry.error = Some(format!("TLS ({}): {e}", p.name()));
        }
    } else if retry.error.is_none() {
        retry.error = Some("the server selected no TLS-based protocol".into());
    }
    retry.duration_ms = ms(t.elapsed());
    retry
}

/// One handshake of the series: TCP, X.224 as mstsc asks, and TLS when `with_tls`.
async fn attempt(
    addr: SocketAddr,
    tls_name: &str,
    with_tls: bool,
    connect_deadline: Duration,
    io_deadline: Duration,
) -> (Attempt, Option<TcpInfo>) {
    let t = Instant::now();
    let mut a = Attempt {
        ok: false,
        failed_at: None,
        error: None,
        timed_out: false,
        connect_ms: None,
        answer_ms: None,
        tls_ms: None,
        handshake_ms: 0.0,
        rtt_ms: None,
        retransmits: 0,
    };
    let fail = |mut a: Attempt, phase, error: String, timed_out| {
        a.failed_at = Some(phase);
        a.error = Some(error);
        a.timed_out = timed_out;
        a.handshake_ms = ms(t.elapsed());
        a
    };
    let mut stream = match crate::probe::connect(addr, connect_deadline).await {
        Ok(s) => s,
        Err(o) => {
            let timed_out = o == TcpOutcome::TimedOut;
            return (fail(a, PhaseName::Tcp, format!("{o:?}"), timed_out), None);
        }
    };
    a.connect_ms = Some(ms(t.elapsed()));
    let tap = Tap::new(&stream);
    let sent = Instant::now();
    let outcome = negotiate(&mut stream, &OFFERED, io_deadline).await;
    let answered = Instant::now();
    let selected = match &outcome {
        NegotiationOutcome::Selected { selected, .. } => Some(Protocol::from_selected(*selected)),
        NegotiationOutcome::Legacy | NegotiationOutcome::Failure { .. } => Some(None),
        _ => None,
    };
    let Some(selected) = selected else {
        let info = tap.info();
        let timed_out = matches!(outcome, NegotiationOutcome::TimedOut { .. });
        let mut a = fail(a, PhaseName::X224, format!("{outcome:?}"), timed_out);
        a.rtt_ms = info.map(|i| i.rtt_ms);
        a.retransmits = info.map(|i| i.retransmits_total).unwrap_or(0);
        return (a, info);
    };
    a.answer_ms = Some(ms(answered - sent));
    if with_tls {
        if let Some(p) = selected.filter(|p| p.uses_tls()) {
            let tls_start = Instant::now();
            let (facts, tls) = tls_handshake(stream, tls_name, io_deadline).await;
            let info = tap.info();
            a.rtt_ms = info.map(|i| i.rtt_ms);
            a.retransmits = info.map(|i| i.retransmits_total).unwrap_or(0);
            if tls.is_none() {
                let e = facts.error.unwrap_or_default();
                let timed_out = is_timeout(&e);
                return (
                    fail(
                        a,
                        PhaseName::Tls,
                        format!("TLS ({}): {e}", p.name()),
                        timed_out,
                    ),
                    info,
                );
            }
            a.tls_ms = Some(ms(tls_start.elapsed()));
            a.ok = true;
            a.handshake_ms = ms(t.elapsed());
            return (a, info);
        }
    }
    let info = tap.info();
    a.rtt_ms = info.map(|i| i.rtt_ms);
    a.retransmits = info.map(|i| i.retransmits_total).unwrap_or(0);
    a.ok = true;
    a.handshake_ms = ms(t.elapsed());
    (a, info)
}

/// The repeated handshakes, one after another, inside their own budget.
async fn repeat(report: &mut ProbeReport, addr: SocketAddr, tls_name: &str, opts: &ProbeOptions) {
    let n = opts.repeat.min(MAX_REPEAT);
    let with_tls = report
        .phase(PhaseName::Tls)
        .is_some_and(|p| p.status != Status::Skipped);
    let start = Instant::now();
    let mut runs = Vec::with_capacity(n as usize);
    let mut out_of_time = false;
    for i in 0..n {
        let left = opts.total_budget.saturating_sub(start.elapsed());
        if left.is_zero() {
            out_of_time = true;
            break;
        }
        let (a, info) = attempt(
            addr,
            tls_name,
            with_tls,
            opts.connect_timeout.min(left),
            opts.io_timeout.min(left),
        )
        .await;
        if let Some(tcp) = info {
            report.path.connections.push(ConnectionInfo {
                role: format!("repeat {}", i + 1),
                answer_ms: a.answer_ms,
                tcp,
            });
        }
        runs.push(a);
    }
    let handshake = if with_tls { "tcp+x224+tls" } else { "tcp+x224" };
    report.path.repeat = Some(RepeatStats::from_attempts(n, handshake, runs, out_of_time));
}

/// The path tests that follow the phases: the small-MSS retry when TLS
/// stalled, then the repeated handshakes.
pub(crate) async fn after_probe(report: &mut ProbeReport, opts: &ProbeOptions) {
    let tls_name = opts.tls_name.clone().unwrap_or_else(|| report.host.clone());
    let tls_stalled = report
        .path
        .traffic_of(PhaseName::Tls)
        .is_some_and(|t| t.end == PhaseEnd::TimedOut);
    // TCP_MAXSEG before connect is Linux's; elsewhere the stall is reported without the retry.
    if let (true, true, Some(addr)) = (tls_stalled, cfg!(target_os = "linux"), report.connected_to)
    {
        let retry = mss_retry(addr, &tls_name, opts).await;
        report.connections_used += u32::from(retry.connected);
        report.path.mss_retry = Some(retry);
    }
    if opts.repeat > 0 {
        // The address the probe connected to, or the first one it tried.
        let addr = report.connected_to.or_else(|| {
            report
                .addresses
                .first()
                .map(|ip| SocketAddr::new(*ip, report.port))
        });
        if let Some(addr) = addr {
            repeat(report, addr, &tls_name, opts).await;
            report.connections_used += report.path.repeat.as_ref().map_or(0, |r| r.attempts);
        }
    }
}

/// Some repeated handshakes succeeded: a failure of the main attempt is intermittent.
pub(crate) fn connects_sometimes(r: &ProbeReport) -> bool {
    r.path.repeat.as_ref().is_some_and(|s| s.succeeded > 0)
}

/// The TLS failure is explained by the path (a stall, or a cut after the
/// server began its answer), not by the certificate or the TLS settings.
pub(crate) fn explains_tls_failure(r: &ProbeReport) -> bool {
    r.path
        .traffic_of(PhaseName::Tls)
        .is_some_and(|t| match t.end {
            PhaseEnd::TimedOut => true,
            PhaseEnd::Reset | PhaseEnd::Closed => server_began_tls(r),
            _ => false,
        })
}

/// The server's first bytes in the TLS phase were a TLS handshake record.
fn server_began_tls(r: &ProbeReport) -> bool {
    r.tls
        .as_ref()
        .and_then(|t| t.server_sent.as_deref())
        .is_some_and(|s| s.starts_with("16 03"))
}

const MTU_FIXES: &[&str] = &[
    "Clamp the TCP MSS on the VPN gateway or firewall to the tunnel's MTU (e.g. iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu)",
    "Or lower the MTU of the tunnel interface on the client: netsh interface ipv4 set subinterface \"VPN-ADAPTER\" mtu=1350 store=persistent (netsh interface ipv4 show subinterfaces lists the names)",
    "Let ICMP 'fragmentation needed' (type 3 code 4; ICMPv6 packet too big) through the firewalls, so path MTU discovery works",
];

/// The path rules: stalls and cuts per phase, the MTU black hole, repeated
/// handshakes, and a limit of one connection at a time.
pub(crate) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    stall_rules(r, out);
    repeat_rules(r, out);
    connection_limit_rule(r, out);
}

fn stall_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    for phase in [PhaseName::Tls, PhaseName::Credssp] {
        let Some(t) = r.path.traffic_of(phase) else {
            continue;
        };
        let mut ev: Vec<String> = vec![t.describe()];
        ev.extend(phase_evidence(r, phase));
        match t.end {
            PhaseEnd::TimedOut => {
                let retry = r
                    .path
                    .mss_retry
                    .as_ref()
                    .filter(|_| phase == PhaseName::Tls);
                if let Some(retry) = retry.filter(|m| m.tls_completed) {
                    ev.push(format!(
                        "a retry with MSS {} (segments of at most {} bytes) completed TLS: {} byte(s) came back",
                        retry.mss, retry.mss, retry.tls_bytes_received
                    ));
                    out.push(finding(
                        "PATH005",
                        Severity::Error,
                        "MTU black hole on the path (confirmed by a small-MSS retry): small packets pass, the server's full-size TLS packets never arrive",
                        phase,
                        ev,
                        CauseId::NetworkPath,
                        MTU_FIXES,
                    ));
                    continue;
                }
                if let Some(retry) = retry {
                    ev.push(format!(
                        "a retry with MSS {} did not complete TLS either ({}): not an MTU problem",
                        retry.mss,
                        retry.error.as_deref().unwrap_or("no answer")
                    ));
                }
                let title = if !t.counted {
                    format!("stall at {}: no answer before the deadline", phase.label())
                } else if t.bytes_received == 0 {
                    format!(
                        "stall at {}: {} byte(s) sent ({} acknowledged), nothing came back",
                        phase.label(),
                        t.bytes_sent,
                        t.bytes_acked
                    )
                } else {
                    format!(
                        "stall at {}: {} byte(s) sent, {} byte(s) came back, then nothing",
                        phase.label(),
                        t.bytes_sent,
                        t.bytes_received
                    )
                };
                out.push(finding(
                    "NET005",
                    Severity::Error,
                    title,
                    phase,
                    ev,
                    CauseId::NetworkPath,
                    &["A middlebox (VPN, IPS, proxy) swallows the connection after the TCP handshake, or the listener hangs (restart TermService)"],
                ));
            }
            PhaseEnd::Reset | PhaseEnd::Closed
                if phase == PhaseName::Credssp || server_began_tls(r) =>
            {
                let how = if t.end == PhaseEnd::Reset {
                    "reset"
                } else {
                    "closed"
                };
                let after = if t.bytes_received == 0 {
                    "before the server answered".to_string()
                } else {
                    format!("after {} byte(s) came back", t.bytes_received)
                };
                out.push(finding(
                    "NET006",
                    Severity::Error,
                    format!("the connection was {how} during {} {after}", phase.label()),
                    phase,
                    ev,
                    CauseId::NetworkPath,
                    &["Something on the path (IPS, proxy, load balancer idle or size limit) cuts the connection mid-handshake; compare with a client on the server's own network"],
                ));
            }
            _ => {}
        }
    }
}

fn repeat_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(s) = &r.path.repeat else { return };
    // Nothing ever connected: the phases' own finding (refused, filtered, …) says it all.
    if s.attempts == 0 || (s.succeeded == 0 && r.tcp != Some(TcpOutcome::Connected)) {
        return;
    }
    let mut summary = format!(
        "{} of {} {} handshakes succeeded ({:.0}%), {} timed out",
        s.succeeded,
        s.attempts,
        s.handshake,
        s.success_rate * 100.0,
        s.timeouts
    );
    if let Some(h) = s.handshake_ms {
        summary.push_str(&format!(
            "; handshake min/median/max {:.1}/{:.1}/{:.1} ms",
            h.min, h.median, h.max
        ));
    }
    if let Some(j) = s.jitter_ms {
        summary.push_str(&format!(", jitter {j:.1} ms"));
    }
    let mut ev = vec![summary];
    for a in s.runs.iter().filter(|a| !a.ok).take(5) {
        ev.push(format!(
            "failed at {}: {}",
            a.failed_at.map(|p| p.label()).unwrap_or("?"),
            a.error.as_deref().unwrap_or("?")
        ));
    }
    if s.failed > 0 {
        let severity = if s.success_rate < 0.9 {
            Severity::Error
        } else {
            Severity::Warning
        };
        let title = if s.succeeded == 0 {
            format!("every one of {} repeated handshakes failed", s.attempts)
        } else {
            format!(
                "intermittent failures: {} of {} repeated handshakes failed ({} by timeout: packet loss)",
                s.failed, s.attempts, s.timeouts
            )
        };
        out.push(finding(
            "PATH002",
            severity,
            title,
            PhaseName::Tcp,
            ev.clone(),
            CauseId::NetworkPath,
            &["Look for loss on the path: a saturated or flaky link, Wi-Fi, or a VPN; run again from a client closer to the server to find the segment"],
        ));
    }
    if s.retransmits > 0 || s.timeouts > 0 {
        out.push(finding(
            "PATH004",
            Severity::Warning,
            format!(
                "packet loss: {} retransmission(s) and {} timeout(s) in {} handshakes",
                s.retransmits, s.timeouts, s.attempts
            ),
            PhaseName::Tcp,
            ev.clone(),
            CauseId::NetworkPath,
            &["RDP over a lossy path freezes and drops; fix the link, or use RDP over UDP where the loss is in bursts"],
        ));
    }
    if let (Some(j), Some(h)) = (s.jitter_ms, s.handshake_ms) {
        if s.succeeded >= 3 && j > 30.0 && j > h.median * 0.1 {
            out.push(finding(
                "PATH003",
                Severity::Warning,
                format!(
                    "high jitter: consecutive handshakes differ by {j:.1} ms on average (median {:.1} ms)",
                    h.median
                ),
                PhaseName::Tcp,
                ev,
                CauseId::NetworkPath,
                &["Queues on the path (bufferbloat, a saturated uplink or VPN) delay packets unevenly; apply QoS or find the congested hop"],
            ));
        }
    }
}

/// The main connection got an answer while the concurrent ones were refused or cut.
fn connection_limit_rule(r: &ProbeReport, out: &mut Vec<Finding>) {
    let main_answered = r.negotiated.as_ref().is_some_and(|n| {
        matches!(
            n.outcome,
            NegotiationOutcome::Selected { .. }
                | NegotiationOutcome::Legacy
                | NegotiationOutcome::Failure { .. }
        )
    });
    if !main_answered || r.protocols.is_empty() {
        return;
    }
    let turned_away: Vec<&ProtocolProbe> = r
        .protocols
        .iter()
        .filter(|p| {
            matches!(
                p.outcome,
                NegotiationOutcome::Closed
                    | NegotiationOutcome::ConnectFailed {
                        outcome: TcpOutcome::Refused | TcpOutcome::Reset
                    }
            )
        })
        .collect();
    if turned_away.is_empty() {
        return;
    }
    let ev = turned_away
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p.requested.first().map(|p| p.name()).unwrap_or_default(),
                match &p.outcome {
                    NegotiationOutcome::Closed =>
                        "accepted, then closed without an answer".to_string(),
                    NegotiationOutcome::ConnectFailed { outcome } =>
                        format!("connect: {outcome:?}"),
                    other => format!("{other:?}"),
                }
            )
        })
        .collect();
    out.push(finding(
        "RDP003",
        Severity::Warning,
        format!(
            "connection limit: the server answered one connection while {} of {} concurrent ones were turned away",
            turned_away.len(),
            r.protocols.len()
        ),
        PhaseName::X224,
        ev,
        CauseId::ConnectionLimit,
        &["A second user (or a reconnect while the old session's connection lingers) is refused: check MaxOutstandingConnections, a per-source connection limit on the firewall (connlimit, Azure/AWS security appliances), and TermService event 1006"],
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn tcp_info_offsets_match_libc() {
        assert_eq!(std::mem::offset_of!(libc::tcp_info, tcpi_snd_mss), 16);
        assert_eq!(std::mem::offset_of!(libc::tcp_info, tcpi_lost), 32);
        assert_eq!(std::mem::offset_of!(libc::tcp_info, tcpi_pmtu), 60);
        assert_eq!(std::mem::offset_of!(libc::tcp_info, tcpi_rtt), 68);
        assert_eq!(std::mem::offset_of!(libc::tcp_info, tcpi_rttvar), 72);
        assert_eq!(
            std::mem::offset_of!(libc::tcp_info, tcpi_total_retrans),
            100
        );
    }

    #[test]
    fn parse_reads_fields_and_tolerates_short_buffers() {
        let mut b = vec![0u8; 224];
        b[0] = 1;
        b[16..20].copy_from_slice(&1460u32.to_ne_bytes());
        b[68..72].copy_from_slice(&1500u32.to_ne_bytes());
        b[120..128].copy_from_slice(&47u64.to_ne_bytes());
        b[128..136].copy_from_slice(&19u64.to_ne_bytes());
        b[200..208].copy_from_slice(&50u64.to_ne_bytes());
        b[208..216].copy_from_slice(&3u64.to_ne_bytes());
        let i = parse_tcp_info(&b);
        assert_eq!((i.state, i.mss, i.rtt_ms), (1, 1460, 1.5));
        assert_eq!(
            (
                i.bytes_acked,
                i.bytes_received,
                i.bytes_sent,
                i.bytes_retrans
            ),
            (47, 19, 50, 3)
        );
        // An old kernel fills less: the rest reads as 0, no panic.
        let old = parse_tcp_info(&b[..104]);
        assert_eq!((old.mss, old.bytes_acked, old.bytes_sent), (1460, 0, 0));
        assert_eq!(parse_tcp_info(&[]), TcpInfo::default());
    }

    #[test]
    fn spread_and_jitter() {
        assert_eq!(Spread::of(&[]), None);
        let s = Spread::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 10.0));
        assert_eq!(jitter(&[10.0]), None);
        // |20-10| + |10-20| + |40-10| = 50 over 3 differences.
        assert_eq!(jitter(&[10.0, 20.0, 10.0, 40.0]), Some(16.67));
        assert_eq!(jitter(&[5.0, 5.0, 5.0]), Some(0.0));
    }

    fn run(ok: bool, ms: f64, timed_out: bool) -> Attempt {
        Attempt {
            ok,
            failed_at: (!ok).then_some(PhaseName::Tcp),
            error: (!ok).then(|| "TimedOut".to_string()),
            timed_out,
            connect_ms: ok.then_some(0.1),
            answer_ms: ok.then_some(ms / 2.0),
            tls_ms: None,
            handshake_ms: ms,
            rtt_ms: Some(0.05),
            retransmits: 0,
        }
    }

    #[test]
    fn repeat_stats_count_failures_and_timeouts() {
        let runs = vec![
            run(true, 2.0, false),
            run(false, 800.0, true),
            run(true, 4.0, false),
            run(false, 1.0, false),
        ];
        let s = RepeatStats::from_attempts(4, "tcp+x224", runs, false);
        assert_eq!(
            (s.attempts, s.succeeded, s.failed, s.timeouts),
            (4, 2, 2, 1)
        );
        assert_eq!(s.success_rate, 0.5);
        // Only successful handshakes count for the times.
        let h = s.handshake_ms.unwrap();
        assert_eq!((h.min, h.max), (2.0, 4.0));
        assert_eq!(s.jitter_ms, Some(2.0));
    }
}
