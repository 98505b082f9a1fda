//! The path measurements that follow the phases: the small-MSS retry when
//! TLS stalled, then the repeated handshakes, inside what is left of the budget.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::*;
use crate::phases::x224::OFFERED;
use crate::phases::{classify_connect_error, ms, negotiate, tls_handshake, Budget, ProbeOptions};
use crate::report::*;
use crate::text;
use crate::wire::x224::Protocol;

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
async fn mss_retry(
    addr: SocketAddr,
    tls_name: &str,
    opts: &ProbeOptions,
    budget: &Budget,
) -> MssRetry {
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
    let mut stream =
        match connect_small_mss(addr, SMALL_MSS, budget.cap(opts.connect_timeout)).await {
            Ok(s) => s,
            Err(o) => {
                retry.error = Some(format!("connect: {}", text::tcp(&o)));
                retry.duration_ms = ms(t.elapsed());
                return retry;
            }
        };
    retry.connected = true;
    let mut tap = Tap::new(&stream);
    retry.effective_mss = tap.info().map(|i| i.mss);
    let selected = match negotiate(&mut stream, &OFFERED, budget.cap(opts.io_timeout)).await {
        NegotiationOutcome::Selected { selected, .. } => Protocol::from_selected(selected),
        other => {
            retry.error = Some(format!("X.224: {}", text::negotiation(&other)));
            None
        }
    };
    if let Some(p) = selected.filter(|p| p.uses_tls()) {
        retry.x224_ok = true;
        tap.phase(PhaseName::X224, true, false);
        let (facts, tls) = tls_handshake(stream, tls_name, budget.cap(opts.io_timeout)).await;
        retry.tls_completed = tls.is_some();
        let traffic = tap.phase(PhaseName::Tls, retry.tls_completed, false);
        retry.tls_bytes_received = traffic.bytes_received;
        if let Some(e) = facts.failure.filter(|_| tls.is_none()) {
            retry.error = Some(format!("TLS ({}): {}", p.name(), text::tls(&e)));
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
    let mut a = Attempt::default();
    let mut stream = match crate::phases::connect(addr, connect_deadline).await {
        Ok(s) => s,
        Err(o) => {
            a.fail(PhaseName::Tcp, text::tcp(&o), o == TcpOutcome::TimedOut);
            a.handshake_ms = ms(t.elapsed());
            return (a, None);
        }
    };
    a.connect_ms = Some(ms(t.elapsed()));
    let tap = Tap::new(&stream);
    let sent = Instant::now();
    let outcome = negotiate(&mut stream, &OFFERED, io_deadline).await;
    if outcome.answered() {
        a.answer_ms = Some(ms(sent.elapsed()));
        let selected = match &outcome {
            NegotiationOutcome::Selected { selected, .. } => Protocol::from_selected(*selected),
            _ => None,
        };
        match selected.filter(|p| with_tls && p.uses_tls()) {
            Some(p) => tls_step(&mut a, stream, p, tls_name, io_deadline).await,
            None => a.ok = true,
        }
    } else {
        let timed_out = matches!(outcome, NegotiationOutcome::TimedOut { .. });
        a.fail(PhaseName::X224, text::negotiation(&outcome), timed_out);
    }
    let info = tap.info();
    a.rtt_ms = info.map(|i| i.rtt_ms);
    a.retransmits = info.map(|i| i.retransmits_total).unwrap_or(0);
    a.handshake_ms = ms(t.elapsed());
    (a, info)
}

/// The TLS handshake of one attempt.
async fn tls_step(
    a: &mut Attempt,
    stream: TcpStream,
    p: Protocol,
    tls_name: &str,
    deadline: Duration,
) {
    let start = Instant::now();
    let (facts, tls) = tls_handshake(stream, tls_name, deadline).await;
    if tls.is_some() {
        a.tls_ms = Some(ms(start.elapsed()));
        a.ok = true;
        return;
    }
    let e = facts.failure.as_ref().map(text::tls).unwrap_or_default();
    a.fail(
        PhaseName::Tls,
        format!("TLS ({}): {e}", p.name()),
        facts.timed_out(),
    );
}

/// The repeated handshakes, one after another, inside what is left of the
/// total budget; the handshakes the budget leaves no time for are counted as not run.
async fn repeat(
    report: &mut ProbeReport,
    addr: SocketAddr,
    tls_name: &str,
    opts: &ProbeOptions,
    budget: &Budget,
) {
    let n = opts.repeat.min(MAX_REPEAT);
    let with_tls = report
        .phase(PhaseName::Tls)
        .is_some_and(|p| p.status != Status::Skipped);
    let mut runs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let left = budget.left();
        if left.is_zero() {
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
    report.path.repeat = Some(RepeatStats::from_attempts(n, handshake, runs));
}

/// The path tests that follow the phases: the small-MSS retry when TLS
/// stalled, then the repeated handshakes, all inside the total budget.
pub(crate) async fn after_probe(report: &mut ProbeReport, opts: &ProbeOptions, budget: &Budget) {
    let tls_name = opts.tls_name.clone().unwrap_or_else(|| report.host.clone());
    let tls_stalled = report
        .path
        .traffic_of(PhaseName::Tls)
        .is_some_and(|t| t.end == PhaseEnd::TimedOut);
    // TCP_MAXSEG before connect is Linux's; elsewhere the stall is reported without the retry.
    if let (true, true, Some(addr)) = (tls_stalled, cfg!(target_os = "linux"), report.connected_to)
    {
        if !budget.left().is_zero() {
            let retry = mss_retry(addr, &tls_name, opts, budget).await;
            report.connections_used += u32::from(retry.connected);
            report.path.mss_retry = Some(retry);
        }
    }
    if opts.repeat > 0 {
        // The address the probe connected to, or the first one it tried.
        let addr = report.connected_to.or_else(|| {
            report
                .addresses
                .first()
                .map(|ip| SocketAddr::new(*ip, report.port))
        });
        match addr {
            Some(addr) => repeat(report, addr, &tls_name, opts, budget).await,
            None => {
                let none =
                    RepeatStats::from_attempts(opts.repeat.min(MAX_REPEAT), "tcp+x224", Vec::new());
                report.path.repeat = Some(RepeatStats {
                    not_run_reason: Some(NotRun::NoAddress),
                    ..none
                });
            }
        }
        report.connections_used += report.path.repeat.as_ref().map_or(0, |r| r.attempts);
        if report.path.repeat.as_ref().is_some_and(|r| r.not_run > 0) {
            report.budget_exhausted = true;
        }
    }
}
