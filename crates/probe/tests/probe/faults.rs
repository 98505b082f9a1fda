//! Transport faults with a clear signature, on loopback: a closed port, and
//! listeners that misbehave in ways real RDP ports do (a port that accepts and
//! closes at once, as a host over its connection limit does; a service that is
//! not RDP; a listener that never answers). These listeners are a few lines of
//! std networking each: no RDP bytes are scripted.

use rdp_doctor_model::FindingId;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use rdp_doctor_codes::CauseId;
use rdp_doctor_probe::diagnose::{diagnose, Severity};
use rdp_doctor_probe::ProbeOptions;

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_millis(800),
        ..ProbeOptions::default()
    }
}

/// Serves `handler` on a loopback port until the test ends.
fn serve(handler: fn(std::net::TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || handler(s));
        }
    });
    port
}

async fn top(target: String) -> (FindingId, Severity, Option<CauseId>, f64) {
    let d = diagnose(rdp_doctor_probe::probe(&target, &options()).await.unwrap());
    let f = &d.findings[0];
    (f.id, f.severity, f.cause, d.probe.total_ms)
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (id, sev, cause, _) = top(format!("127.0.0.1:{port}")).await;
    assert_eq!(
        (id, sev, cause),
        (
            FindingId::PortRefused,
            Severity::Error,
            Some(CauseId::FirewallOrPort)
        )
    );
}

#[tokio::test]
async fn accept_then_close() {
    let port = serve(drop);
    let (id, _, cause, _) = top(format!("127.0.0.1:{port}")).await;
    assert_eq!(
        (id, cause),
        (
            FindingId::ClosedWithoutAnswer,
            Some(CauseId::ConnectionLimit)
        )
    );
}

#[tokio::test]
async fn not_rdp_on_this_port() {
    let port = serve(|mut s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        let mut b = [0u8; 64];
        let _ = s.read(&mut b);
    });
    let (id, _, cause, _) = top(format!("127.0.0.1:{port}")).await;
    assert_eq!(
        (id, cause),
        (FindingId::NotRdp, Some(CauseId::FirewallOrPort))
    );
}

#[tokio::test]
async fn silent_listener_is_a_stall_within_the_deadline() {
    let port = serve(|mut s| {
        let mut b = [0u8; 4096];
        while let Ok(n) = s.read(&mut b) {
            if n == 0 {
                break;
            }
        }
    });
    let started = Instant::now();
    let (id, _, cause, _) = top(format!("127.0.0.1:{port}")).await;
    assert_eq!(
        (id, cause),
        (FindingId::StallAtPhase, Some(CauseId::NetworkPath))
    );
    // Five requests, each bounded by the 0.8 s step deadline, inside the 5 s budget.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_targets_are_refused_before_any_traffic() {
    for t in ["", "a b", "host:notaport", "[::1", "http://x"] {
        assert!(
            rdp_doctor_probe::probe(t, &options()).await.is_err(),
            "{t:?}"
        );
    }
}

#[tokio::test]
async fn unresolvable_name() {
    let (id, _, cause, _) = top("no-such-host.invalid:3389".into()).await;
    assert_eq!(
        (id, cause),
        (FindingId::NameDoesNotResolve, Some(CauseId::NameResolution))
    );
}

/// Faults made by the kernel in a namespace of the test's own: DROP (filtered)
/// and REJECT (refused) on the path to the address inside it.
#[tokio::test]
async fn firewall_drop_and_reject_in_a_namespace() {
    use rdp_doctor_testing::netns::{self, Netns};
    if !netns::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with ip and iptables"
        );
        eprintln!("skipped: needs root, ip and iptables");
        return;
    }
    let ns = Netns::create(1).unwrap();
    ns.iptables(&["-A", "INPUT", "-p", "tcp", "--dport", "3389", "-j", "DROP"])
        .unwrap();
    ns.iptables(&[
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        "3390",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
    ])
    .unwrap();
    let started = Instant::now();
    let (id, _, cause, _) = top(format!("{}:3389", ns.ns_addr)).await;
    assert_eq!(
        (id, cause),
        (FindingId::PortFiltered, Some(CauseId::FirewallOrPort))
    );
    // Filtered costs the connect deadline (1 s here), no more.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (id, _, _, _) = top(format!("{}:3390", ns.ns_addr)).await;
    assert_eq!(id, FindingId::PortRefused);
}

/// Hostile servers: each ends with a clear finding within its deadline.
/// (Scripted listeners: no real RDP server misbehaves this way on purpose;
/// the bytes are TPKT headers from [MS-RDPBCGR] with hostile lengths.)
#[tokio::test]
async fn hostile_servers_end_within_the_deadline() {
    // Endless data that starts like TPKT with the largest length, then never stops.
    let endless = serve(|mut s| {
        let mut b = [0u8; 64];
        let _ = s.read(&mut b);
        let _ = s.write_all(&[3, 0, 0xFF, 0xFF]);
        let chunk = [0x41u8; 16 * 1024];
        while s.write_all(&chunk).is_ok() {}
    });
    // One byte per 300 ms: a slow drip never completes a frame inside the deadline.
    let drip = serve(|mut s| {
        let mut b = [0u8; 64];
        let _ = s.read(&mut b);
        for byte in [
            3u8, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
        ] {
            if s.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    // A TPKT length shorter than any X.224 PDU.
    let short = serve(|mut s| {
        let mut b = [0u8; 64];
        let _ = s.read(&mut b);
        let _ = s.write_all(&[3, 0, 0, 4]);
        let _ = s.read(&mut b);
    });
    // A valid-looking confirm selecting TLS, then a TLS alert instead of a ServerHello.
    let alert = serve(|mut s| {
        let mut b = [0u8; 512];
        let _ = s.read(&mut b);
        let _ = s.write_all(&[
            3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
        ]);
        let _ = s.read(&mut b);
        let _ = s.write_all(&[0x15, 3, 3, 0, 2, 2, 40]); // fatal handshake_failure
        let _ = s.read(&mut b);
    });
    for (port, want) in [
        (endless, FindingId::NotRdp),
        (drip, FindingId::StallAtPhase),
        (short, FindingId::NotRdp),
    ] {
        let started = Instant::now();
        let (id, sev, _, _) = top(format!("127.0.0.1:{port}")).await;
        assert_eq!((id, sev), (want, Severity::Error), "port {port}");
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
    }
    let d = diagnose(
        rdp_doctor_probe::probe(&format!("127.0.0.1:{alert}"), &options())
            .await
            .unwrap(),
    );
    let f = &d.findings[0];
    assert_eq!(f.id, FindingId::NoCommonTls, "{:#?}", d.findings);
    assert_eq!(
        d.probe.tls.as_ref().and_then(|t| t.failure.clone()),
        Some(rdp_doctor_probe::TlsFailure::NoCommonVersionOrCipher),
        "{:?}",
        d.probe.tls
    );
}

/// No route to the address (a namespace of the test's own with no default
/// route): routing, VPN and gateway remedies, not MTU or UDP ones.
#[test]
fn no_route_is_answered_with_routing_vpn_and_gateway_remedies() {
    use rdp_doctor_testing::netns::{self, Netns};
    use std::os::fd::AsRawFd;
    if !netns::require() {
        return;
    }
    let ns = Netns::create(9).expect("namespace");
    let path = format!("/var/run/netns/{}", ns.name);
    // Only this thread enters the namespace; 192.0.2.1 (TEST-NET-1) has no route there.
    let d = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace file");
        // SAFETY: setns on a namespace descriptor this thread holds; it changes only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(rdp_doctor_probe::probe("192.0.2.1:3389", &options()))
            .map(diagnose)
            .expect("probe")
    })
    .join()
    .expect("probe thread");
    assert_eq!(
        d.probe.tcp,
        Some(rdp_doctor_probe::TcpOutcome::Unreachable {
            what: rdp_doctor_probe::Unreachable::Network
        }),
        "{:#?}",
        d.probe.phases
    );
    let f = &d.findings[0];
    assert_eq!(f.id, FindingId::TcpUnreachable, "{:#?}", d.findings);
    let words: String = f
        .remedies
        .iter()
        .map(|r| {
            let actions: Vec<String> = r.actions.iter().map(|a| a.path()).collect();
            format!("{} {}\n", r.title, actions.join(" "))
        })
        .collect();
    for needed in ["route", "VPN", "RD Gateway"] {
        assert!(words.contains(needed), "{needed}: {words}");
    }
    for wrong in ["MTU", "MSS", "fClientDisableUDP", "UDP"] {
        assert!(!words.contains(wrong), "{wrong}: {words}");
    }
}
