//! A scripted RDP-UDP responder. No peer installed here speaks RDP-UDP
//! (MS-RDPEUDP), so the answering side is a UDP socket that answers each SYN
//! with a SYN+ACK a Windows server sent in a real capture, its snSourceAck set
//! to the SYN's initial sequence number as the specification requires.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where snInitialSequenceNumber sits in a SYN (after snSourceAck and the
/// receive window), and where snSourceAck sits in the answer.
const SYN_SEQUENCE: std::ops::Range<usize> = 8..12;
const ANSWER_SOURCE_ACK: std::ops::Range<usize> = 0..4;

/// Answers SYNs on a loopback port until dropped.
pub struct SynAckResponder {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SynAckResponder {
    /// Starts answering every datagram of at least 12 bytes with `syn_ack`
    /// (the bytes of a captured SYN+ACK datagram).
    pub fn start(syn_ack: Vec<u8>) -> io::Result<Self> {
        Self::serve(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?, syn_ack)
    }

    /// The same on a socket bound elsewhere (in a network namespace, say).
    pub fn serve(socket: UdpSocket, syn_ack: Vec<u8>) -> io::Result<Self> {
        let addr = socket.local_addr()?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || answer(&socket, &syn_ack, &flag));
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

fn answer(socket: &UdpSocket, template: &[u8], stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        if n < SYN_SEQUENCE.end || template.len() < ANSWER_SOURCE_ACK.end {
            continue;
        }
        let mut reply = template.to_vec();
        reply[ANSWER_SOURCE_ACK].copy_from_slice(&buf[SYN_SEQUENCE]);
        let _ = socket.send_to(&reply, from);
    }
}

impl Drop for SynAckResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
