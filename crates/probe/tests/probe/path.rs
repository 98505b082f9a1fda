//! Path quality against real xrdp and FreeRDP servers: through the project's
//! fault proxy (latency, jitter, stall, reset or close after N bytes, per
//! direction) and in network namespaces of the test's own with kernel faults
//! (an MTU black hole, random loss, a connection limit). Each fault must
//! yield the right top cause, within the probe's deadlines. Nothing here
//! sleeps: every wait is the probe's own, bounded by its deadlines.

use crate::probe_and_diagnose;
use rdp_doctor_model::FindingId;
use rdp_doctor_probe::diagnose::phase_of;
use std::time::{Duration, Instant};

use rdp_doctor_codes::CauseId;
use rdp_doctor_probe::diagnose::{Diagnosis, Finding, Severity};
use rdp_doctor_probe::path::{PhaseEnd, PhaseTraffic};
use rdp_doctor_probe::{PhaseName, ProbeOptions, ProbeReport, Status};
use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::netns::{self, Netns};
use rdp_doctor_testing::proxy::{Cut, DirectionFaults, FaultProxy, Faults};
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(8),
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_millis(1500),
        ..ProbeOptions::default()
    }
}

fn top(d: &Diagnosis) -> &Finding {
    d.findings
        .first()
        .unwrap_or_else(|| panic!("no finding: {}", d.verdict))
}

fn traffic(r: &ProbeReport, phase: PhaseName) -> PhaseTraffic {
    *r.path
        .traffic_of(phase)
        .unwrap_or_else(|| panic!("no traffic for {phase:?}: {:#?}", r.path.traffic))
}

fn xrdp() -> Option<Xrdp> {
    if !require_tool("xrdp") {
        return None;
    }
    Some(
        Xrdp::start(
            SecurityLayer::Negotiate,
            CertCase::Valid("path.test".into()),
        )
        .expect("xrdp starts"),
    )
}

fn proxy(upstream: std::net::SocketAddr, faults: Faults) -> FaultProxy {
    FaultProxy::start(upstream, faults).expect("proxy starts")
}

/// The deadline a faulty run must end within: the total budget, plus the
/// small-MSS retry's own connect and two exchanges, plus scheduling slack.
fn deadline(opts: &ProbeOptions) -> Duration {
    opts.total_budget + opts.connect_timeout + 2 * opts.io_timeout + Duration::from_secs(1)
}

/// 100 ms each way (200 ms round trip): everything completes, and the
/// application-level round trip the probe reports is the proxy's delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_200ms_round_trip_completes_and_is_measured() {
    let Some(server) = xrdp() else { return };
    let one_way = Duration::from_millis(100);
    let p = proxy(
        server.addr,
        Faults {
            to_server: DirectionFaults::latency(one_way),
            to_client: DirectionFaults::latency(one_way),
        },
    );
    let opts = ProbeOptions {
        repeat: 5,
        total_budget: Duration::from_secs(15),
        ..options()
    };
    let started = Instant::now();
    let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
    let took = started.elapsed();
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    // No failure, no loss (the jitter of a loaded machine may show as PATH003).
    assert!(
        d.findings
            .iter()
            .all(|f| f.severity == Severity::Info || f.id == FindingId::HighJitter),
        "{:#?}",
        d.findings
    );
    let main = d
        .probe
        .path
        .connections
        .iter()
        .find(|c| c.role == "mstsc request")
        .expect("main connection recorded");
    let answer = main.answer_ms.expect("answered");
    assert!((195.0..450.0).contains(&answer), "X.224 answer {answer} ms");
    let s = d.probe.path.repeat.as_ref().expect("repeat stats");
    assert_eq!((s.attempts, s.succeeded, s.failed), (5, 5, 0), "{s:#?}");
    assert_eq!(s.handshake, "tcp+x224+tls");
    let a = s.answer_ms.expect("answer spread");
    assert!(
        a.min >= 195.0 && a.median < 400.0,
        "X.224 round trips {a:?}"
    );
    // TLS adds at least one more round trip.
    let h = s.handshake_ms.expect("handshake spread");
    assert!(h.min >= 390.0, "handshakes {h:?}");
    // Every connection of the probe has its kernel statistics: main, matrix, repeats.
    assert_eq!(
        d.probe.path.connections.len(),
        1 + d.probe.protocols.len() + 5,
        "{:#?}",
        d.probe.path.connections
    );
    // The userspace proxy delays above TCP: the kernel RTT is loopback's.
    assert!(main.tcp.rtt_ms < 50.0, "{:?}", main.tcp);
    eprintln!(
        "latency 2x100 ms: X.224 answer {answer} ms, repeats {a:?}, handshakes {h:?}, jitter {:?} ms, run {took:?}",
        s.jitter_ms
    );
}

/// Jitter on the way back: consecutive handshakes differ, PATH003 says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_is_reported() {
    let Some(server) = xrdp() else { return };
    let p = proxy(
        server.addr,
        Faults {
            to_client: DirectionFaults {
                latency: Duration::from_millis(80),
                jitter: Duration::from_millis(75),
                cut: None,
            },
            ..Faults::default()
        },
    );
    let opts = ProbeOptions {
        repeat: 10,
        protocol_matrix: false,
        total_budget: Duration::from_secs(20),
        ..options()
    };
    let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
    let s = d.probe.path.repeat.as_ref().expect("repeat stats");
    assert_eq!(s.succeeded, 10, "{s:#?}");
    let j = s.jitter_ms.expect("jitter");
    assert!(j > 30.0, "jitter {j} ms: {s:#?}");
    let f = d
        .findings
        .iter()
        .find(|f| f.id == FindingId::HighJitter)
        .unwrap_or_else(|| panic!("no PATH003: {:#?}", d.findings));
    assert_eq!(
        (f.severity, f.cause),
        (Severity::Warning, Some(CauseId::NetworkPath))
    );
    assert!(d.healthy, "{}", d.verdict);
    eprintln!("jitter: {j} ms over {:?}", s.handshake_ms);
}

/// The request reaches the proxy, nothing reaches the server: a stall at X.224.
#[tokio::test]
async fn stall_at_x224_is_named() {
    let Some(server) = xrdp() else { return };
    let p = proxy(
        server.addr,
        Faults {
            to_server: DirectionFaults::cut(0, Cut::Stall),
            ..Faults::default()
        },
    );
    let opts = options();
    let started = Instant::now();
    let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
    assert!(
        started.elapsed() < deadline(&opts),
        "{:?}",
        started.elapsed()
    );
    let f = top(&d);
    assert_eq!(
        (f.id, phase_of(f), f.cause),
        (
            FindingId::StallAtPhase,
            Some(PhaseName::X224),
            Some(CauseId::NetworkPath)
        ),
        "{:#?}",
        d.findings
    );
    let t = traffic(&d.probe, PhaseName::X224);
    assert_eq!(t.end, PhaseEnd::TimedOut);
    assert!(t.bytes_sent > 0 && t.bytes_acked == t.bytes_sent, "{t:?}");
    assert_eq!(t.bytes_received, 0);
}

/// The X.224 answer (19 bytes) passes, then nothing: a stall at TLS, named as
/// such (not a certificate fault); the small-MSS retry stalls too.
#[tokio::test]
async fn stall_at_tls_is_named_and_not_blamed_on_the_certificate() {
    let Some(server) = xrdp() else { return };
    let p = proxy(
        server.addr,
        Faults {
            to_client: DirectionFaults::cut(19, Cut::Stall),
            ..Faults::default()
        },
    );
    let opts = options();
    let started = Instant::now();
    let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
    let took = started.elapsed();
    assert!(took < deadline(&opts), "{took:?}");
    let f = top(&d);
    assert_eq!(
        (f.id, phase_of(f), f.cause),
        (
            FindingId::StallAtPhase,
            Some(PhaseName::Tls),
            Some(CauseId::NetworkPath)
        ),
        "{:#?}",
        d.findings
    );
    assert!(f.title.contains("nothing came back"), "{}", f.title);
    assert!(
        d.findings
            .iter()
            .all(|f| f.id != FindingId::TlsFailsAfterX224),
        "{:#?}",
        d.findings
    );
    let t = traffic(&d.probe, PhaseName::Tls);
    assert_eq!((t.end, t.bytes_received), (PhaseEnd::TimedOut, 0), "{t:?}");
    assert!(t.bytes_sent > 100, "a ClientHello was sent: {t:?}");
    let retry = d
        .probe
        .path
        .mss_retry
        .as_ref()
        .expect("small-MSS retry made");
    assert!(retry.x224_ok && !retry.tls_completed, "{retry:?}");
    assert!(f
        .evidence
        .iter()
        .any(|e| e.line().contains("not an MTU problem")));
    eprintln!("stall at TLS: {t:?}, run {took:?}");
}

/// A clean run through a counting proxy: where the phase boundaries are in
/// bytes (client to server, server to client).
async fn boundaries(upstream: std::net::SocketAddr, opts: &ProbeOptions) -> Vec<PhaseTraffic> {
    let p = proxy(upstream, Faults::default());
    let d = probe_and_diagnose(&p.addr.to_string(), opts).await;
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    d.probe.path.traffic.clone()
}

/// A reset at every phase boundary ends with a clear finding within the deadline.
#[tokio::test]
async fn reset_at_each_phase_of_xrdp() {
    let Some(server) = xrdp() else { return };
    let opts = ProbeOptions {
        protocol_matrix: false,
        ..options()
    };
    let clean = boundaries(server.addr, &opts).await;
    let x224 = clean[0];
    assert_eq!((x224.phase, x224.bytes_received), (PhaseName::X224, 19));
    let cases = [
        // Right after the TCP handshake: nothing is forwarded.
        (
            "after connect",
            Faults {
                to_server: DirectionFaults::cut(0, Cut::Reset),
                ..Faults::default()
            },
            FindingId::ClosedWithoutAnswer,
            PhaseName::X224,
            CauseId::ConnectionLimit,
        ),
        // Half of the Connection Request.
        (
            "during X.224",
            Faults {
                to_server: DirectionFaults::cut(x224.bytes_sent / 2, Cut::Reset),
                ..Faults::default()
            },
            FindingId::ClosedWithoutAnswer,
            PhaseName::X224,
            CauseId::ConnectionLimit,
        ),
        // The confirm and the first 40 bytes of the server's TLS answer.
        (
            "during TLS",
            Faults {
                to_client: DirectionFaults::cut(19 + 40, Cut::Reset),
                ..Faults::default()
            },
            FindingId::ResetDuringSecurity,
            PhaseName::Tls,
            CauseId::NetworkPath,
        ),
        (
            "close during TLS",
            Faults {
                to_client: DirectionFaults::cut(19 + 40, Cut::Close),
                ..Faults::default()
            },
            FindingId::ResetDuringSecurity,
            PhaseName::Tls,
            CauseId::NetworkPath,
        ),
    ];
    for (what, faults, id, phase, cause) in cases {
        let p = proxy(server.addr, faults);
        let started = Instant::now();
        let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
        let took = started.elapsed();
        let f = top(&d);
        assert_eq!(
            (f.id, f.severity, phase_of(f), f.cause),
            (id, Severity::Error, Some(phase), Some(cause)),
            "{what}: {:#?}\n{:#?}",
            d.findings,
            d.probe.path.traffic
        );
        // A cut is seen at once, not at a deadline.
        assert!(took < opts.io_timeout, "{what}: {took:?}");
        assert!(p.stats().cuts >= 1, "{what}: the proxy made no cut");
        eprintln!("{what}: {} in {took:?}", f.title);
    }
}

/// The FreeRDP shadow server runs CredSSP: a reset and a stall while the
/// probe's TSRequest is on its way are named at CredSSP.
#[tokio::test]
async fn reset_and_stall_during_credssp() {
    if !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let server = ShadowServer::start().expect("shadow server starts");
    let opts = ProbeOptions {
        protocol_matrix: false,
        ..options()
    };
    let clean = boundaries(server.addr, &opts).await;
    let sent_before_credssp: u64 = clean
        .iter()
        .filter(|t| t.phase != PhaseName::Credssp)
        .map(|t| t.bytes_sent)
        .sum();
    assert!(
        clean
            .iter()
            .any(|t| t.phase == PhaseName::Credssp && t.end == PhaseEnd::Completed),
        "{clean:#?}"
    );
    for (cut, id) in [
        (Cut::Reset, FindingId::ResetDuringSecurity),
        (Cut::Stall, FindingId::StallAtPhase),
    ] {
        let p = proxy(
            server.addr,
            Faults {
                to_server: DirectionFaults::cut(sent_before_credssp + 10, cut),
                ..Faults::default()
            },
        );
        let started = Instant::now();
        let d = probe_and_diagnose(&p.addr.to_string(), &opts).await;
        let took = started.elapsed();
        let f = top(&d);
        assert_eq!(
            (f.id, f.severity, phase_of(f), f.cause),
            (
                id,
                Severity::Error,
                Some(PhaseName::Credssp),
                Some(CauseId::NetworkPath)
            ),
            "{cut:?}: {:#?}\n{:#?}",
            d.findings,
            d.probe.path.traffic
        );
        assert_eq!(
            d.probe.phase(PhaseName::Tls).map(|p| p.status),
            Some(Status::Ok)
        );
        assert!(took < deadline(&opts), "{cut:?}: {took:?}");
        eprintln!("{cut:?} during CredSSP: {} in {took:?}", f.title);
    }
}

/// Starts xrdp inside a fresh namespace (slot picks its /30).
fn xrdp_in_netns(slot: u8) -> Option<(Netns, Xrdp)> {
    if !netns::require() || !require_tool("xrdp") {
        return None;
    }
    let ns = Netns::create(slot).expect("namespace");
    let server = Xrdp::start_in_netns(
        &ns,
        SecurityLayer::Negotiate,
        CertCase::Valid("netns.test".into()),
    )
    .expect("xrdp starts in the namespace");
    Some((ns, server))
}

/// Full-size packets from the server are dropped, small ones pass: TLS stalls
/// after the ClientHello and a retry with MSS 536 completes it.
#[tokio::test]
async fn mtu_black_hole_is_confirmed_by_a_small_mss_retry() {
    let Some((ns, server)) = xrdp_in_netns(20) else {
        return;
    };
    let port = server.addr.port().to_string();
    ns.iptables(&[
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "--sport",
        &port,
        "-m",
        "length",
        "--length",
        "600:65535",
        "-j",
        "DROP",
    ])
    .expect("rule");
    let opts = options();
    let started = Instant::now();
    let d = probe_and_diagnose(&server.addr.to_string(), &opts).await;
    let took = started.elapsed();
    let f = top(&d);
    assert_eq!(
        (f.id, f.severity, phase_of(f), f.cause),
        (
            FindingId::MtuBlackHole,
            Severity::Error,
            Some(PhaseName::Tls),
            Some(CauseId::NetworkPath)
        ),
        "{:#?}\n{:#?}\n{}",
        d.findings,
        d.probe.path,
        ns.iptables_counters("OUTPUT").unwrap_or_default()
    );
    assert!(f.title.contains("MTU black hole"), "{}", f.title);
    assert!(f
        .remedies
        .iter()
        .flat_map(|r| &r.actions)
        .any(|a| a.path().contains("netsh interface ipv4 set subinterface")));
    let t = traffic(&d.probe, PhaseName::Tls);
    // The ClientHello went out; nothing came back (the server's acknowledgement
    // rides on its large first flight, so it is lost too: the client retransmits).
    assert_eq!((t.end, t.bytes_received), (PhaseEnd::TimedOut, 0), "{t:?}");
    assert!(t.bytes_sent > 100 && t.retransmits > 0, "{t:?}");
    let retry = d.probe.path.mss_retry.as_ref().expect("retry");
    assert!(
        retry.tls_completed && retry.tls_bytes_received > 600,
        "{retry:?}"
    );
    assert!(retry.effective_mss.is_some_and(|m| m <= 536), "{retry:?}");
    // The kernel did drop the server's full-size packets.
    let counters = ns.iptables_counters("OUTPUT").expect("counters");
    let dropped: u64 = counters
        .lines()
        .find(|l| l.contains("DROP"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(dropped > 0, "{counters}");
    assert!(took < deadline(&opts), "{took:?}");
    eprintln!("MTU black hole: {t:?}; retry {retry:?}; {dropped} packets dropped; run {took:?}");
}

/// 30 % of the client's packets are dropped: 20 repeated handshakes show
/// failures and retransmissions; the top cause is the path.
#[tokio::test]
async fn random_loss_with_repeat_20() {
    let Some((ns, server)) = xrdp_in_netns(21) else {
        return;
    };
    let port = server.addr.port().to_string();
    ns.iptables(&[
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        &port,
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.3",
        "-j",
        "DROP",
    ])
    .expect("rule");
    let opts = ProbeOptions {
        repeat: 20,
        protocol_matrix: false,
        total_budget: Duration::from_secs(40),
        connect_timeout: Duration::from_millis(900),
        io_timeout: Duration::from_millis(900),
        ..ProbeOptions::default()
    };
    let started = Instant::now();
    let d = probe_and_diagnose(&server.addr.to_string(), &opts).await;
    let took = started.elapsed();
    let s = d.probe.path.repeat.as_ref().expect("repeat stats");
    assert_eq!(s.attempts, 20, "{s:#?}");
    assert!(s.failed > 0 && s.succeeded > 0, "{s:#?}");
    let f = top(&d);
    assert_eq!(f.cause, Some(CauseId::NetworkPath), "{:#?}", d.findings);
    let p = d
        .findings
        .iter()
        .find(|f| f.id == FindingId::IntermittentHandshakes)
        .unwrap_or_else(|| panic!("no PATH002: {:#?}", d.findings));
    assert!(p.title.contains("intermittent"), "{}", p.title);
    assert!(d.findings.iter().any(|f| f.id == FindingId::PacketLoss));
    assert!(
        d.findings.iter().all(|f| f.id != FindingId::PortFiltered),
        "{:#?}",
        d.findings
    );
    eprintln!(
        "loss 30%: {}/{} ok, {} timeouts, {} retransmissions, handshakes {:?}, jitter {:?}, run {took:?}",
        s.succeeded, s.attempts, s.timeouts, s.retransmits, s.handshake_ms, s.jitter_ms
    );
}

/// One connection at a time per client address: the probe's concurrent
/// support-matrix connections are refused while the first one is served.
#[tokio::test]
async fn connection_limit_is_named() {
    let Some((ns, server)) = xrdp_in_netns(22) else {
        return;
    };
    let port = server.addr.port().to_string();
    ns.iptables(&[
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--syn",
        "--dport",
        &port,
        "-m",
        "connlimit",
        "--connlimit-above",
        "1",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ])
    .expect("rule");
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    let f = top(&d);
    assert_eq!(
        (f.id, f.cause),
        (
            FindingId::ConcurrentConnectionsRefused,
            Some(CauseId::ConnectionLimit)
        ),
        "{:#?}",
        d.findings
    );
    // mstsc's own single connection still gets TLS.
    assert_eq!(
        d.probe.phase(PhaseName::Tls).map(|p| p.status),
        Some(Status::Ok)
    );
}

/// xrdp on [::1]: the probe connects over IPv6.
#[tokio::test]
async fn ipv6_listener_on_loopback() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start_at(
        "::1",
        SecurityLayer::Negotiate,
        CertCase::Valid("v6.test".into()),
    )
    .expect("xrdp on [::1]");
    let target = format!("[::1]:{}", server.addr.port());
    let d = probe_and_diagnose(&target, &options()).await;
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    assert_eq!(d.probe.connected_to, Some(server.addr));
    assert!(d.probe.connected_to.is_some_and(|a| a.is_ipv6()));
    assert_eq!(
        d.probe.phase(PhaseName::Tls).map(|p| p.status),
        Some(Status::Ok)
    );
    let t = traffic(&d.probe, PhaseName::Tls);
    assert!(
        t.bytes_received > 0 && t.end == PhaseEnd::Completed,
        "{t:?}"
    );
}

/// Repeats against a closed port: every one refused, and the finding stays
/// "refused" (no path finding for a port that never connects).
#[tokio::test]
async fn repeat_against_a_closed_port_stays_refused() {
    let port = rdp_doctor_testing::free_port();
    let opts = ProbeOptions {
        repeat: 3,
        ..options()
    };
    let d = probe_and_diagnose(&format!("127.0.0.1:{port}"), &opts).await;
    assert_eq!(top(&d).id, FindingId::PortRefused, "{:#?}", d.findings);
    assert!(
        d.findings.iter().all(|f| !f.id.code().starts_with("PATH")),
        "{:#?}",
        d.findings
    );
    let s = d.probe.path.repeat.as_ref().expect("repeat stats");
    assert_eq!((s.attempts, s.succeeded, s.timeouts), (3, 0, 0), "{s:#?}");
    assert!(s.runs.iter().all(|a| a.failed_at == Some(PhaseName::Tcp)));
}
