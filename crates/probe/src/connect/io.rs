//! The credentialed connection's I/O: plain TCP, then TLS, with a read
//! buffer and a deadline on every read and write.

use std::time::{Duration, Instant};

use ironrdp_core::MonotonicInstant;
use ironrdp_pdu::PduHint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest frame accepted from the server (TPKT's own limit; CredSSP
/// messages are far smaller).
pub(super) const MAX_FRAME: usize = 64 * 1024;
/// Frames of another kind (fast-path output while a slow-path PDU is
/// expected) skipped before the server is declared broken.
pub(super) const MAX_SKIPPED: usize = 256;

pub(super) type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The connection: plain TCP until the security upgrade, TLS after it.
pub(super) enum Wire {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    /// While the TCP stream moves into TLS (and after a failed handshake).
    Gone,
}

/// Why reading or writing stopped.
pub(super) enum IoEnd {
    Closed,
    TimedOut(Duration),
    Error(String),
}

/// The connection with its read buffer and deadlines.
pub(super) struct Io {
    pub(super) wire: Wire,
    pub(super) buf: Vec<u8>,
    pub(super) step_timeout: Duration,
    pub(super) end: Instant,
    pub(super) clock: Instant,
    pub(super) bytes_read: u64,
}

impl Io {
    pub(super) fn deadline(&self) -> Duration {
        self.step_timeout
            .min(self.end.saturating_duration_since(Instant::now()))
    }

    pub(super) fn received_at(&self) -> MonotonicInstant {
        MonotonicInstant::from_millis(
            u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
    }

    pub(super) async fn write(&mut self, data: &[u8]) -> Result<(), IoEnd> {
        if data.is_empty() {
            return Ok(());
        }
        let deadline = self.deadline();
        let write = async {
            match &mut self.wire {
                Wire::Tcp(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Wire::Tls(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Wire::Gone => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        match tokio::time::timeout(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if is_closed(&e) => Err(IoEnd::Closed),
            Ok(Err(e)) => Err(IoEnd::Error(e.to_string())),
            Err(_) => Err(IoEnd::TimedOut(deadline)),
        }
    }

    /// Reads more bytes into the buffer within the deadline.
    pub(super) async fn fill(&mut self) -> Result<(), IoEnd> {
        let deadline = self.deadline();
        if deadline.is_zero() {
            return Err(IoEnd::TimedOut(deadline));
        }
        let mut chunk = [0u8; 8192];
        let read = async {
            match &mut self.wire {
                Wire::Tcp(s) => s.read(&mut chunk).await,
                Wire::Tls(s) => s.read(&mut chunk).await,
                Wire::Gone => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        match tokio::time::timeout(deadline, read).await {
            Ok(Ok(0)) => Err(IoEnd::Closed),
            Ok(Ok(n)) => {
                self.bytes_read += n as u64;
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) if is_closed(&e) => Err(IoEnd::Closed),
            Ok(Err(e)) => Err(IoEnd::Error(e.to_string())),
            Err(_) => Err(IoEnd::TimedOut(deadline)),
        }
    }

    /// Reads the next frame `hint` frames, skipping frames of another kind.
    pub(super) async fn read_frame(&mut self, hint: &dyn PduHint) -> Result<Vec<u8>, IoEnd> {
        let mut skipped = 0;
        loop {
            let found = hint
                .find_size(&self.buf)
                .map_err(|e| IoEnd::Error(format!("cannot frame the server's answer: {e}")))?;
            if let Some((matching, size)) = found {
                if size == 0 || size > MAX_FRAME {
                    return Err(IoEnd::Error(format!(
                        "the server announced a frame of {size} bytes: {}",
                        crate::wire::x224::hex_prefix(&self.buf, 16)
                    )));
                }
                if self.buf.len() >= size {
                    let frame: Vec<u8> = self.buf.drain(..size).collect();
                    if matching {
                        return Ok(frame);
                    }
                    skipped += 1;
                    if skipped > MAX_SKIPPED {
                        return Err(IoEnd::Error(format!(
                            "{skipped} frames of an unexpected kind in a row"
                        )));
                    }
                    continue;
                }
            }
            self.fill().await?;
        }
    }
}

pub(super) fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof
    )
}
