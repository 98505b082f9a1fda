//! The connection sequence: IronRDP's connector driven by the probe's own
//! I/O loop, every server frame read for a stop code before the connector sees it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironrdp_connector::ClientConnector;
use ironrdp_core::WriteBuf;
use ironrdp_pdu::PduHint;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::codes::{stop_outcome, Code};
use super::config::*;
use super::io::{Io, IoEnd, Wire};
use super::report::*;
use super::Credentials;
use crate::phases::{connect, ms};
use crate::report::Status;
use crate::text;
use crate::wire::errinfo;
use crate::wire::x224::Protocol;

/// Connector steps before the sequence is declared endless.
pub(super) const MAX_STEPS: usize = 512;

/// The run's state shared by its parts.
pub(super) struct Run<'a> {
    pub(super) io: Io,
    pub(super) steps: Steps,
    pub(super) creds: &'a Credentials,
    pub(super) host: &'a str,
    pub(super) error_info: Option<Code>,
    pub(super) rdp_security: Option<String>,
    /// The protocol the server selected, by name.
    pub(super) selected: Option<String>,
    /// The server's public key, from TLS, for CredSSP.
    pub(super) server_key: Vec<u8>,
    /// Auto-detect PDUs seen (to time licensing apart from auto-detection).
    pub(super) auto_detect_pdus: usize,
}

impl Run<'_> {
    pub(super) fn io_end(&mut self, end: IoEnd) -> ConnectOutcome {
        let during = self.steps.now();
        match end {
            IoEnd::Closed => ConnectOutcome::Closed { during },
            IoEnd::TimedOut(waited) => ConnectOutcome::TimedOut {
                during,
                waited_ms: ms(waited),
            },
            IoEnd::Error(message) => ConnectOutcome::Failed { during, message },
        }
    }

    /// Reads one frame for `hint`; a frame that tells why the server stops
    /// ends the run, a Set Error Info of ERRINFO_NONE is skipped.
    pub(super) async fn read(&mut self, hint: &dyn PduHint) -> Result<Vec<u8>, ConnectOutcome> {
        loop {
            let frame = match self.io.read_frame(hint).await {
                Ok(f) => f,
                Err(end) => return Err(self.io_end(end)),
            };
            match errinfo::server_stop(&frame) {
                None => return Ok(frame),
                Some(stop) => match stop_outcome(stop) {
                    None => continue,
                    Some(ConnectOutcome::ServerDenied { code }) => {
                        self.error_info = Some(code.clone());
                        return Err(ConnectOutcome::ServerDenied { code });
                    }
                    Some(outcome) => return Err(outcome),
                },
            }
        }
    }

    pub(super) async fn write(&mut self, out: &mut WriteBuf) -> Result<(), ConnectOutcome> {
        let r = self.io.write(out.filled()).await;
        out.clear();
        r.map_err(|end| self.io_end(end))
    }
}

impl Run<'_> {
    pub(super) fn connector_failure(
        &self,
        e: &ironrdp_connector::ConnectorError,
    ) -> ConnectOutcome {
        ConnectOutcome::Failed {
            during: self.steps.now(),
            message: connector_message(e),
        }
    }

    /// Ends the session politely: MCS Disconnect Provider Ultimatum (user requested), then close.
    pub(super) async fn disconnect(&mut self) {
        const ULTIMATUM: [u8; 9] = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
        let _ = self.io.write(&ULTIMATUM).await;
        let deadline = self.io.deadline().min(Duration::from_millis(200));
        let _ = tokio::time::timeout(deadline, async {
            match &mut self.io.wire {
                Wire::Tcp(s) => s.shutdown().await,
                Wire::Tls(s) => s.shutdown().await,
                Wire::Gone => Ok(()),
            }
        })
        .await;
    }
}

/// The TCP connect of the credentialed connection, as its first step.
async fn tcp_step(
    addr: SocketAddr,
    deadline: Duration,
    report: &mut ConnectionReport,
) -> Option<TcpStream> {
    let t = Instant::now();
    let result = connect(addr, deadline).await;
    let (status, detail) = match &result {
        Ok(_) => (Status::Ok, format!("connected to {addr}")),
        Err(o) => (Status::Fail, text::tcp(o)),
    };
    report.steps.push(StepTiming {
        step: ConnectStep::Tcp,
        status,
        duration_ms: ms(t.elapsed()),
        detail: Some(detail.clone()),
    });
    if result.is_err() {
        report.outcome = ConnectOutcome::Failed {
            during: ConnectStep::Tcp,
            message: format!("TCP connect to {addr} failed: {detail}"),
        };
    }
    result.ok()
}

/// Runs the credentialed connection to `addr` with the budget that is left.
pub(crate) async fn run(
    addr: SocketAddr,
    host: &str,
    selected: Protocol,
    creds: &Credentials,
    connect_timeout: Duration,
    step_timeout: Duration,
    budget: Duration,
) -> ConnectionReport {
    let start = Instant::now();
    let requested = protocols_to_request(selected);
    let mut report = ConnectionReport {
        account: creds.account(),
        requested: requested.clone(),
        selected: None,
        steps: Vec::new(),
        outcome: ConnectOutcome::Failed {
            during: ConnectStep::Tcp,
            message: String::new(),
        },
        error_info: None,
        rdp_security: None,
        bytes_received: 0,
        duration_ms: 0.0,
        first_attempt: None,
    };
    let Some(tcp) = tcp_step(addr, connect_timeout.min(budget), &mut report).await else {
        report.duration_ms = ms(start.elapsed());
        return report;
    };
    let client_addr = tcp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut run = Run {
        io: Io {
            wire: Wire::Tcp(tcp),
            buf: Vec::new(),
            step_timeout,
            end: start + budget,
            clock: start,
            bytes_read: 0,
        },
        steps: Steps {
            done: Vec::new(),
            current: None,
        },
        creds,
        host,
        error_info: None,
        rdp_security: None,
        selected: None,
        server_key: Vec::new(),
        auto_detect_pdus: 0,
    };
    let protocol = security_protocol(&requested);
    let mut connector = ClientConnector::new(connector_config(creds, protocol), client_addr);
    let outcome = run.drive(&mut connector, protocol).await;
    drop(connector);
    run.end(outcome, &mut report).await;
    report.duration_ms = ms(start.elapsed());
    report
}

impl Run<'_> {
    /// Closes the last sub-phase, ends the session politely when it is up, and fills the report.
    async fn end(mut self, outcome: ConnectOutcome, report: &mut ConnectionReport) {
        let (status, detail) = match &outcome {
            ConnectOutcome::Connected { .. } => (Status::Ok, None),
            ConnectOutcome::Unsupported { .. } => {
                (Status::Skipped, Some(outcome_summary(&outcome)))
            }
            other => (Status::Fail, Some(outcome_summary(other))),
        };
        self.steps.close(status, detail);
        if status != Status::Fail {
            self.disconnect().await;
        }
        report.steps.extend(self.steps.done);
        report.selected = self.selected;
        report.outcome = outcome;
        report.error_info = self.error_info;
        report.rdp_security = self.rdp_security;
        report.bytes_received = self.io.bytes_read;
    }
}
