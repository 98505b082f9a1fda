//! The RDP-UDP check against real bytes and real kernels.
//!
//! No peer installed here speaks RDP-UDP, so the answering side is a scripted
//! responder: a UDP socket in the test that answers each SYN with the SYN+ACK
//! a Windows server sent in a real capture (Zeek's rdpeudp handshake traces,
//! `tests/data/LICENSES.md`), its snSourceAck set to the SYN's initial sequence
//! number as the specification requires. Blocked and rejected UDP come from
//! iptables inside a network namespace of the test's own.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use rdp_doctor_model::{CauseId, FindingId};
use rdp_doctor_probe::udp::{probe_udp, udp_findings, Rejection, UdpOutcome, MAX_TRIES};
use rdp_doctor_probe::wire::rdpeudp::{
    decode_syn, Syn, SynEx, UdpVersion, FLAG_ACK, FLAG_CORRELATION_ID, FLAG_SYN, FLAG_SYNEX,
    SYN_DATAGRAM_LEN,
};
use rdp_doctor_testing::netns::{self, Netns};
use rdp_doctor_testing::rdpeudp::SynAckResponder;

use crate::data;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn real_syn_and_syn_ack_decode() {
    let syn = decode_syn(&data("rdpeudp-syn.bin")).expect("SYN");
    assert_eq!(syn.len, SYN_DATAGRAM_LEN);
    assert_eq!(syn.source_ack, u32::MAX);
    assert_eq!(syn.receive_window, 64);
    assert_eq!(syn.flags, FLAG_SYN | FLAG_CORRELATION_ID | FLAG_SYNEX);
    assert_eq!(syn.initial_sequence, 0x0B12_7F15);
    assert_eq!((syn.upstream_mtu, syn.downstream_mtu), (1232, 1232));
    assert_eq!(syn.correlation_id.map(|id| id[0]), Some(0x78));
    // This client wrote 3, not RDPUDP_PROTOCOL_VERSION_3 (0x0101).
    assert_eq!(syn.version(), UdpVersion::Other(3));

    let ack = decode_syn(&data("rdpeudp-synack.bin")).expect("SYN+ACK");
    assert!(ack.is_syn_ack());
    assert_eq!(ack.flags, FLAG_SYN | FLAG_ACK | FLAG_SYNEX);
    assert_eq!(ack.source_ack, syn.initial_sequence);
    assert_eq!(ack.initial_sequence, 0x0F94_EA0B);
    assert_eq!(ack.version(), UdpVersion::V2);
    assert!(ack.mtus_valid());
    assert_eq!(ack.correlation_id, None);

    let syn2 = decode_syn(&data("rdpeudp2-syn.bin")).expect("SYN v3");
    assert_eq!(syn2.version(), UdpVersion::V3);
    assert_eq!(syn2.synex.and_then(|e| e.cookie_hash), Some([0; 32]));
    let ack2 = decode_syn(&data("rdpeudp2-synack.bin")).expect("SYN+ACK v3");
    assert_eq!(ack2.version(), UdpVersion::V3);
    assert_eq!(ack2.source_ack, syn2.initial_sequence);
}

/// The encoder, given the real SYN's fields, writes the real SYN byte for byte.
#[test]
fn encoder_rewrites_the_real_syns() {
    for name in ["rdpeudp-syn.bin", "rdpeudp2-syn.bin"] {
        let real = data(name);
        let d = decode_syn(&real).expect("SYN");
        let ex = d.synex.clone().expect("SYNEX");
        let mut syn = Syn::like_mstsc(d.initial_sequence, d.correlation_id.expect("id"));
        syn.synex = Some(SynEx {
            flags: ex.flags,
            version: ex.version,
            cookie_hash: ex.cookie_hash,
        });
        assert_eq!(syn.encode(), real, "{name}");
    }
}

/// Answers every SYN with the captured SYN+ACK, acknowledging that SYN. Stops when `stop` is set.
#[test]
fn a_syn_ack_from_the_capture_means_udp_works() {
    let responder = SynAckResponder::start(data("rdpeudp-synack.bin")).expect("responder");
    let outcome = runtime().block_on(probe_udp(
        Ipv4Addr::LOCALHOST.into(),
        responder.addr.port(),
        Duration::from_secs(3),
    ));
    let UdpOutcome::SynAck { answer, tries, .. } = &outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(*tries, 1);
    assert_eq!(answer.version(), UdpVersion::V2);
    let f = udp_findings(&outcome);
    assert_eq!(f[0].id, FindingId::UdpAnswers, "{f:#?}");
}

#[test]
fn a_closed_udp_port_is_icmp_port_unreachable() {
    // Bound then closed: nothing listens on this loopback port.
    let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port();
    let outcome = runtime().block_on(probe_udp(
        Ipv4Addr::LOCALHOST.into(),
        port,
        Duration::from_secs(3),
    ));
    assert!(
        matches!(
            outcome,
            UdpOutcome::IcmpUnreachable {
                what: Rejection::Port,
                ..
            }
        ),
        "{outcome:?}"
    );
    let f = udp_findings(&outcome);
    assert_eq!(f[0].id, FindingId::UdpBlocked);
    assert_eq!(f[0].cause, Some(CauseId::UdpTransport));
}

#[test]
fn something_else_answering_is_not_udp_transport() {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        socket
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        if let Ok((_, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(b"HTTP/1.1 400 Bad Request\r\n\r\n", from);
        }
    });
    let outcome = runtime().block_on(probe_udp(
        Ipv4Addr::LOCALHOST.into(),
        port,
        Duration::from_secs(3),
    ));
    echo.join().expect("echo");
    assert!(
        matches!(&outcome, UdpOutcome::Other { len: 28, bytes } if bytes.starts_with(b"HTTP")),
        "{outcome:?}"
    );
    assert_eq!(udp_findings(&outcome)[0].id, FindingId::UdpNotRdp);
}

/// A namespace with the capture responder listening on UDP `port` inside it.
struct Responder {
    ns: Netns,
    _answering: SynAckResponder,
}

impl Responder {
    fn start(slot: u8, port: u16) -> Self {
        let ns = Netns::create(slot).expect("namespace");
        let path = format!("/var/run/netns/{}", ns.name);
        // A socket belongs to the namespace it was made in: make it in a thread
        // that entered the namespace, then serve it from anywhere.
        let socket = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("namespace file");
            // SAFETY: setns on a namespace descriptor this thread holds; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind in namespace")
        })
        .join()
        .expect("socket in namespace");
        let answering =
            SynAckResponder::serve(socket, data("rdpeudp-synack.bin")).expect("responder");
        Responder {
            ns,
            _answering: answering,
        }
    }

    fn probe(&self, port: u16, deadline: Duration) -> UdpOutcome {
        runtime().block_on(probe_udp(IpAddr::V4(self.ns.ns_addr), port, deadline))
    }
}

/// The same responder answers across the namespace's veth; with iptables
/// dropping UDP the probe sees nothing, retransmits, and says so.
#[test]
fn udp_dropped_by_a_firewall_is_no_answer() {
    if !netns::require() {
        return;
    }
    let r = Responder::start(23, 3389);
    let open = r.probe(3389, Duration::from_secs(2));
    assert!(matches!(open, UdpOutcome::SynAck { .. }), "{open:?}");

    r.ns.iptables(&["-A", "INPUT", "-p", "udp", "--dport", "3389", "-j", "DROP"])
        .expect("iptables");
    let outcome = r.probe(3389, Duration::from_millis(1500));
    assert!(
        matches!(outcome, UdpOutcome::NoAnswer { tries, waited_ms } if tries == MAX_TRIES && waited_ms >= 1400),
        "{outcome:?}"
    );
    let counters = r.ns.iptables_counters("INPUT").expect("counters");
    assert!(
        counters
            .lines()
            .any(|l| l.contains("DROP") && l.split_whitespace().next() == Some("3")),
        "three SYNs dropped: {counters}"
    );
    let f = udp_findings(&outcome);
    assert_eq!(f[0].id, FindingId::UdpBlocked);
    assert_eq!(
        f[0].remedies[0].actions[0].path(),
        "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services\\Client\\fClientDisableUDP"
    );
}

/// A listener is there, but the firewall rejects with ICMP port unreachable.
#[test]
fn udp_rejected_by_a_firewall_is_icmp_unreachable() {
    if !netns::require() {
        return;
    }
    let r = Responder::start(24, 3389);
    r.ns.iptables(&[
        "-A",
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "3389",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-port-unreachable",
    ])
    .expect("iptables");
    let outcome = r.probe(3389, Duration::from_secs(2));
    assert!(
        matches!(
            outcome,
            UdpOutcome::IcmpUnreachable {
                what: Rejection::Port,
                ..
            }
        ),
        "{outcome:?}"
    );
    // Prohibited by policy rather than "port": still typed, as a host rejection.
    r.ns.iptables(&[
        "-I",
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "3390",
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-admin-prohibited",
    ])
    .expect("iptables");
    let prohibited = r.probe(3390, Duration::from_secs(2));
    assert!(
        matches!(
            prohibited,
            UdpOutcome::IcmpUnreachable {
                what: Rejection::Host,
                ..
            }
        ),
        "{prohibited:?}"
    );
    let target = SocketAddr::new(IpAddr::V4(r.ns.ns_addr), 3389);
    assert_eq!(
        udp_findings(&outcome)[0].id,
        FindingId::UdpBlocked,
        "{target}"
    );
}
