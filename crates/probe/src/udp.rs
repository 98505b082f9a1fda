//! The RDP-UDP check: one SYN ([`crate::wire::rdpeudp`]) to the UDP port,
//! retransmitted as the handshake's retransmit timer does, and the answer
//! typed. A connected socket, so an ICMP port unreachable surfaces as
//! ECONNREFUSED instead of looking like silence.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use rdp_doctor_model::{Action, Data, Evidence, Finding, FindingId, PhaseName, Remedy, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::net::UdpSocket;

use crate::wire::rdpeudp::{self, Syn, SynDatagram, UdpVersion};

/// SYNs sent at most (the first and two retransmissions), spread over the deadline.
pub const MAX_TRIES: u32 = 3;

/// Bytes kept of an answer that is not a SYN+ACK.
const KEPT: usize = 64;

/// What the ICMP error (or the kernel's routing) said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// ICMP port unreachable: nothing listens on the UDP port, or a firewall rejects.
    Port,
    /// ICMP host unreachable or administratively prohibited.
    Host,
    /// No route to the network.
    Network,
}

/// How the server answered the SYN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UdpOutcome {
    /// A SYN+ACK acknowledging the probe's SYN: UDP transport works.
    SynAck {
        answer: SynDatagram,
        tries: u32,
        elapsed_ms: u64,
    },
    /// Nothing came back: dropped on the way, or UDP transport is off.
    NoAnswer { tries: u32, waited_ms: u64 },
    /// The SYN was rejected with an ICMP error.
    IcmpUnreachable { what: Rejection, tries: u32 },
    /// Something answered, but not with a SYN+ACK to this SYN (first bytes kept).
    Other { bytes: Vec<u8>, len: usize },
    /// The probe could not send at all (no socket, no local address).
    LocalError { message: String },
}

/// A SYN with a fresh initial sequence number and correlation id.
fn fresh_syn(addr: SocketAddr) -> Syn {
    let mut h = Sha256::new();
    h.update(format!(
        "{addr} {} {:?}",
        std::process::id(),
        Instant::now()
    ));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.update(d.as_nanos().to_le_bytes());
    }
    let digest = h.finalize();
    let isn = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[4..20]);
    // The specification asks for no 0x0D byte and a first byte other than 0x00 and 0xF4.
    for b in id.iter_mut().filter(|b| **b == 0x0D) {
        *b = 0x0E;
    }
    if id[0] == 0x00 || id[0] == 0xF4 {
        id[0] = 0x01;
    }
    Syn::like_mstsc(isn, id)
}

fn rejection(e: &io::Error) -> Option<Rejection> {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Some(Rejection::Port),
        Some(libc::EHOSTUNREACH) => Some(Rejection::Host),
        Some(libc::ENETUNREACH) => Some(Rejection::Network),
        _ => None,
    }
}

/// Sends the SYN to `addr:port` up to [`MAX_TRIES`] times within `deadline` and types the answer.
pub async fn probe_udp(addr: IpAddr, port: u16, deadline: Duration) -> UdpOutcome {
    let target = SocketAddr::new(addr, port);
    let local: IpAddr = match addr {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = match UdpSocket::bind((local, 0)).await {
        Ok(s) => s,
        Err(e) => return local_error(&e),
    };
    if let Err(e) = socket.connect(target).await {
        return rejection(&e).map_or_else(
            || local_error(&e),
            |what| UdpOutcome::IcmpUnreachable { what, tries: 0 },
        );
    }
    let syn = fresh_syn(target);
    exchange(&socket, &syn, deadline).await
}

fn local_error(e: &io::Error) -> UdpOutcome {
    UdpOutcome::LocalError {
        message: e.to_string(),
    }
}

/// The retransmission loop: each try waits its share of the deadline.
async fn exchange(socket: &UdpSocket, syn: &Syn, deadline: Duration) -> UdpOutcome {
    let datagram = syn.encode();
    let start = Instant::now();
    let per_try = deadline / MAX_TRIES;
    let mut buf = vec![0u8; 2048];
    for tries in 1..=MAX_TRIES {
        if let Err(e) = socket.send(&datagram).await {
            return match rejection(&e) {
                Some(what) => UdpOutcome::IcmpUnreachable { what, tries },
                None => local_error(&e),
            };
        }
        let try_end = start + per_try * tries;
        let left = try_end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, socket.recv(&mut buf)).await {
            // This try's share of the deadline is over: retransmit.
            Err(_) => continue,
            Ok(Err(e)) => {
                return match rejection(&e) {
                    Some(what) => UdpOutcome::IcmpUnreachable { what, tries },
                    None => local_error(&e),
                }
            }
            Ok(Ok(n)) => {
                return classify_answer(&buf[..n], syn.initial_sequence, tries, start.elapsed())
            }
        }
    }
    UdpOutcome::NoAnswer {
        tries: MAX_TRIES,
        waited_ms: millis(start.elapsed()),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A SYN+ACK must acknowledge the SYN's initial sequence number.
pub fn classify_answer(bytes: &[u8], isn: u32, tries: u32, elapsed: Duration) -> UdpOutcome {
    match rdpeudp::decode_syn(bytes) {
        Ok(answer) if answer.is_syn_ack() && answer.source_ack == isn => UdpOutcome::SynAck {
            answer,
            tries,
            elapsed_ms: millis(elapsed),
        },
        _ => UdpOutcome::Other {
            bytes: bytes.iter().copied().take(KEPT).collect(),
            len: bytes.len(),
        },
    }
}

fn version_name(v: UdpVersion) -> String {
    match v {
        UdpVersion::V1 => "1".into(),
        UdpVersion::V2 => "2".into(),
        UdpVersion::V3 => "3 (RDP-UDP2)".into(),
        UdpVersion::Other(x) => format!("0x{x:04X}"),
    }
}

fn evidence(observed: String, elapsed_ms: Option<u64>, sent: u64, received: u64) -> Evidence {
    Evidence::Probe {
        phase: PhaseName::Udp,
        elapsed_ms: elapsed_ms.map(|m| m as f64),
        bytes_sent: Some(sent),
        bytes_received: Some(received),
        observed,
    }
}

/// Forcing TCP on the client: the workaround when UDP is blocked and clients stall.
pub fn force_tcp_remedy() -> Remedy {
    Remedy::new(
        "Force TCP on the clients",
        "Clients try UDP after the TCP connection and fall back to TCP; when they stall or drop \
         instead, turn UDP off on the client (Group Policy: Computer Configuration > Administrative \
         Templates > Windows Components > Remote Desktop Services > Remote Desktop Connection Client > \
         Turn Off UDP On Client).",
    )
    .action(Action::ClientPolicy {
        key: "Policies\\Microsoft\\Windows NT\\Terminal Services\\Client".into(),
        name: "fClientDisableUDP".into(),
        data: Data::Dword(1),
    })
}

fn open_udp_remedy() -> Remedy {
    Remedy::advice(
        "Or let UDP through: allow inbound UDP to the RDP port on the host's firewall and every \
         firewall on the way, and check the host's policy SelectTransport (0 or 1 allow UDP)",
    )
}

/// The findings of one UDP check.
pub fn udp_findings(outcome: &UdpOutcome) -> Vec<Finding> {
    let sent = |tries: u32| u64::from(tries) * rdpeudp::SYN_DATAGRAM_LEN as u64;
    let blocked = |observed: String, tries: u32, ms: Option<u64>| {
        Finding::new(
            FindingId::UdpBlocked,
            Severity::Warning,
            "UDP transport blocked or off: clients fall back to TCP",
        )
        .evidence(evidence(observed, ms, sent(tries), 0))
        .remedy(force_tcp_remedy())
        .remedy(open_udp_remedy())
    };
    match outcome {
        UdpOutcome::SynAck {
            answer,
            tries,
            elapsed_ms,
        } => vec![Finding::new(
            FindingId::UdpAnswers,
            Severity::Info,
            "UDP transport answers",
        )
        .evidence(evidence(
            format!(
                "SYN+ACK after {tries} SYN(s): RDP-UDP version {}, MTU up {} / down {}, window {}",
                version_name(answer.version()),
                answer.upstream_mtu,
                answer.downstream_mtu,
                answer.receive_window
            ),
            Some(*elapsed_ms),
            sent(*tries),
            answer.len as u64,
        ))],
        UdpOutcome::NoAnswer { tries, waited_ms } => vec![blocked(
            format!("no answer to {tries} SYN datagrams in {waited_ms} ms"),
            *tries,
            Some(*waited_ms),
        )],
        UdpOutcome::IcmpUnreachable { what, tries } => {
            let said = match what {
                Rejection::Port => {
                    "ICMP port unreachable: nothing listens on the UDP port, or a firewall rejects"
                }
                Rejection::Host => "ICMP host unreachable or administratively prohibited",
                Rejection::Network => "no route to the network",
            };
            vec![blocked(
                format!("the SYN was rejected: {said}"),
                *tries,
                None,
            )]
        }
        UdpOutcome::Other { bytes, len } => vec![Finding::new(
            FindingId::UdpNotRdp,
            Severity::Warning,
            "something answers on the UDP port, but not RDP-UDP",
        )
        .evidence(evidence(
            format!(
                "{len} bytes that are not a SYN+ACK to the SYN: {}",
                hex(bytes)
            ),
            None,
            sent(1),
            *len as u64,
        ))
        .remedy(force_tcp_remedy())],
        UdpOutcome::LocalError { .. } => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn_ack(isn: u32) -> Vec<u8> {
        let mut b = Syn::like_mstsc(0x55, [3; 16]).encode();
        b[..4].copy_from_slice(&isn.to_be_bytes());
        b[7] = 0x05; // SYN | ACK, no correlation id
        b[6] = 0x10; // SYNEX
        b
    }

    #[test]
    fn a_syn_ack_to_another_syn_is_not_an_answer() {
        let b = syn_ack(9);
        assert!(matches!(
            classify_answer(&b, 9, 1, Duration::ZERO),
            UdpOutcome::SynAck { .. }
        ));
        assert!(matches!(
            classify_answer(&b, 10, 1, Duration::ZERO),
            UdpOutcome::Other { len: 1232, .. }
        ));
    }

    #[test]
    fn blocked_and_rejected_udp_point_at_fclientdisableudp() {
        for o in [
            UdpOutcome::NoAnswer {
                tries: 3,
                waited_ms: 3000,
            },
            UdpOutcome::IcmpUnreachable {
                what: Rejection::Port,
                tries: 1,
            },
        ] {
            let f = udp_findings(&o);
            assert_eq!(f.len(), 1);
            assert_eq!(f[0].id, FindingId::UdpBlocked);
            assert_eq!(f[0].cause, Some(rdp_doctor_model::CauseId::UdpTransport));
            assert_eq!(f[0].remedies[0].actions[0].name(), "fClientDisableUDP");
        }
    }

    #[test]
    fn an_answer_is_info_and_local_errors_say_nothing() {
        let answer = rdpeudp::decode_syn(&syn_ack(1)).expect("decodes");
        let f = udp_findings(&UdpOutcome::SynAck {
            answer,
            tries: 2,
            elapsed_ms: 5,
        });
        assert_eq!(f[0].id, FindingId::UdpAnswers);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(udp_findings(&UdpOutcome::LocalError {
            message: "x".into()
        })
        .is_empty());
    }

    #[test]
    fn the_correlation_id_follows_the_specification() {
        for port in 0..200u16 {
            let syn = fresh_syn(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
            let id = syn.correlation_id.expect("id");
            assert!(id[0] != 0 && id[0] != 0xF4 && !id.contains(&0x0D));
        }
    }
}
