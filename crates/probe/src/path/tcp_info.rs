//! Kernel TCP statistics (Linux TCP_INFO): the one type for them, and the
//! tap that counts what each phase moved on its connection.
//!
//! The byte counts come from the kernel (TCP_INFO `bytes_sent`,
//! `bytes_acked`, `bytes_received`), read on a duplicate of the connection's
//! descriptor, so they are exact whatever protocol runs on top and are still
//! readable after a phase's future was dropped at its deadline.

use serde::Serialize;
use tokio::net::TcpStream;

use super::{ConnectionInfo, PhaseEnd, PhaseTraffic};
use crate::report::PhaseName;

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
}
