//! The connection sequence: IronRDP's connector driven by the probe's own
//! I/O loop, every server frame read for a stop code before the connector sees it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironrdp_connector::{
    ChannelConnectionSequence, ChannelConnectionState, ClientConnector, ClientConnectorState,
    ConnectionOutcome, Sequence,
};
use ironrdp_core::WriteBuf;
use ironrdp_pdu::nego::SecurityProtocol;
use ironrdp_pdu::{gcc, PduHint};
use tokio::io::AsyncWriteExt;

use super::codes::{stop_outcome, Code};
use super::config::*;
use super::io::{Io, IoEnd, Wire};
use super::report::*;
use super::Credentials;
use crate::phases::{connect, ms};
use crate::report::Status;
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
    /// With Standard RDP Security and encryption: MCS attach and channel
    /// join, then stop before the Security Exchange.
    pub(super) async fn rdp_security_channels(
        &mut self,
        io_channel: u16,
        channels: Vec<u16>,
        security: &gcc::ServerSecurityData,
    ) -> ConnectOutcome {
        let settings = format!(
            "encryption method {:?}, level {:?}",
            security.encryption_method, security.encryption_level
        );
        self.rdp_security = Some(settings.clone());
        self.steps
            .note(format!("Standard RDP Security required: {settings}"));
        self.steps.enter(ConnectStep::McsChannels);
        let mut seq = ChannelConnectionSequence::new(io_channel, channels);
        let mut out = WriteBuf::new();
        for _ in 0..MAX_STEPS {
            if let ChannelConnectionState::AllJoined { user_channel_id } = seq.state {
                self.steps.note(format!("user channel {user_channel_id}"));
                self.steps.enter(ConnectStep::SecurityExchange);
                return ConnectOutcome::Unsupported {
                    during: ConnectStep::SecurityExchange,
                    message: format!(
                        "the server requires Standard RDP Security ({settings}); the probe does not implement its RC4 encryption and stops before the Security Exchange (the password is never sent unencrypted)"
                    ),
                };
            }
            let r = match seq.next_pdu_hint() {
                Some(hint) => match self.read(hint).await {
                    Ok(frame) => seq.step(&frame, Some(self.io.received_at()), &mut out),
                    Err(outcome) => return outcome,
                },
                None => seq.step_no_input(&mut out),
            };
            if let Err(e) = r {
                return ConnectOutcome::Failed {
                    during: ConnectStep::McsChannels,
                    message: connector_message(&e),
                };
            }
            if let Err(outcome) = self.write(&mut out).await {
                return outcome;
            }
        }
        ConnectOutcome::Failed {
            during: ConnectStep::McsChannels,
            message: "channel join did not finish".into(),
        }
    }

    /// The whole connection sequence on the connector.
    pub(super) async fn drive(
        &mut self,
        connector: &mut ClientConnector,
        requested: SecurityProtocol,
    ) -> (ConnectOutcome, Option<String>) {
        let mut out = WriteBuf::new();
        let mut selected = None;
        let mut server_key = Vec::new();
        let mut auto_detect_pdus = 0usize;
        if let Err(e) = connector.initiate_with_security_protocol(requested, &mut out) {
            return (
                ConnectOutcome::Failed {
                    during: ConnectStep::X224,
                    message: connector_message(&e),
                },
                selected,
            );
        }
        self.steps.enter(ConnectStep::X224);
        if let Err(o) = self.write(&mut out).await {
            return (o, selected);
        }
        for _ in 0..MAX_STEPS {
            if let Some(step) = step_of(connector) {
                self.steps.enter(step);
            }
            if let ClientConnectorState::EnhancedSecurityUpgrade { selected_protocol } =
                &connector.state
            {
                let protocol = *selected_protocol;
                let name = Protocol::from_selected(protocol.bits())
                    .map(|p| p.name().to_string())
                    .unwrap_or_else(|| format!("0x{:X}", protocol.bits()));
                self.steps
                    .note_on(ConnectStep::X224, format!("selected {name}"));
                selected = Some(name);
                if !protocol.is_standard_rdp_security() {
                    match self.upgrade().await {
                        Ok(key) => server_key = key,
                        Err(o) => return (o, selected),
                    }
                }
                connector.mark_security_upgrade_as_done();
                continue;
            }
            if let ClientConnectorState::Credssp { selected_protocol } = &connector.state {
                let protocol = *selected_protocol;
                if let Err(o) = self
                    .credssp(protocol, std::mem::take(&mut server_key))
                    .await
                {
                    return (o, selected);
                }
                self.steps
                    .note(format!("NTLM as {} accepted", self.creds.account()));
                connector.mark_credssp_as_done();
                continue;
            }
            if connector.should_perform_multitransport() {
                if let Err(e) = connector.skip_multitransport(&mut out) {
                    return (self.connector_failure(&e), selected);
                }
                if let Err(o) = self.write(&mut out).await {
                    return (o, selected);
                }
                continue;
            }
            if ironrdp_connector::State::is_terminal(&connector.state) {
                break;
            }
            let result = match connector.next_pdu_hint() {
                Some(hint) => {
                    let frame = match self.read(hint).await {
                        Ok(f) => f,
                        Err(o) => return (o, selected),
                    };
                    if matches!(
                        connector.state,
                        ClientConnectorState::ConnectTimeAutoDetection { .. }
                    ) {
                        // The first PDU not on the message channel is licensing's: so was the wait for it.
                        let on_message_channel = connector.message_channel_id.is_some_and(|m| {
                            ironrdp_pdu::mcs::decode_send_data_indication(&frame)
                                .is_ok_and(|c| c.channel_id == m)
                        });
                        if on_message_channel {
                            auto_detect_pdus += 1;
                        } else if auto_detect_pdus == 0 {
                            self.steps.relabel(ConnectStep::Licensing);
                        } else {
                            self.steps.enter(ConnectStep::Licensing);
                        }
                    }
                    if matches!(
                        connector.state,
                        ClientConnectorState::BasicSettingsExchangeWaitResponse { .. }
                    ) {
                        if let Some((io_channel, channels, security)) =
                            encrypted_rdp_security(&frame)
                        {
                            let o = self
                                .rdp_security_channels(io_channel, channels, &security)
                                .await;
                            return (o, selected);
                        }
                    }
                    connector.step(&frame, Some(self.io.received_at()), &mut out)
                }
                None => connector.step_no_input(&mut out),
            };
            if let Err(e) = result {
                return (self.connector_failure(&e), selected);
            }
            if let Err(o) = self.write(&mut out).await {
                return (o, selected);
            }
        }
        match connector.state.take_outcome() {
            Some(ConnectionOutcome::Connected(result)) => {
                self.steps.note(format!(
                    "share {:#x}, desktop {}x{}",
                    result.share_id, result.desktop_size.width, result.desktop_size.height
                ));
                (
                    ConnectOutcome::Connected {
                        desktop_width: result.desktop_size.width,
                        desktop_height: result.desktop_size.height,
                    },
                    selected,
                )
            }
            Some(ConnectionOutcome::Redirected(r)) => (
                ConnectOutcome::Unsupported {
                    during: self.steps.now(),
                    message: format!(
                        "the server redirects the client to session {} (a connection broker); the probe does not follow redirections",
                        r.session_id
                    ),
                },
                selected,
            ),
            None => (
                ConnectOutcome::Failed {
                    during: self.steps.now(),
                    message: format!("the connection sequence did not finish in {MAX_STEPS} steps"),
                },
                selected,
            ),
        }
    }

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
    let end = start + budget;
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
    let t = Instant::now();
    let tcp = match connect(addr, connect_timeout.min(budget)).await {
        Ok(s) => s,
        Err(outcome) => {
            report.steps.push(StepTiming {
                step: ConnectStep::Tcp,
                status: Status::Fail,
                duration_ms: ms(t.elapsed()),
                detail: Some(format!("{outcome:?}")),
            });
            report.outcome = ConnectOutcome::Failed {
                during: ConnectStep::Tcp,
                message: format!("TCP connect to {addr} failed: {outcome:?}"),
            };
            report.duration_ms = ms(start.elapsed());
            return report;
        }
    };
    report.steps.push(StepTiming {
        step: ConnectStep::Tcp,
        status: Status::Ok,
        duration_ms: ms(t.elapsed()),
        detail: Some(format!("connected to {addr}")),
    });
    let client_addr = tcp
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut run = Run {
        io: Io {
            wire: Wire::Tcp(tcp),
            buf: Vec::new(),
            step_timeout,
            end,
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
    };
    let protocol = security_protocol(&requested);
    let mut connector = ClientConnector::new(connector_config(creds, protocol), client_addr);
    let (outcome, selected_name) = run.drive(&mut connector, protocol).await;
    drop(connector);
    let status = match &outcome {
        ConnectOutcome::Connected { .. } => Status::Ok,
        ConnectOutcome::Unsupported { .. } => Status::Skipped,
        _ => Status::Fail,
    };
    let detail = match &outcome {
        ConnectOutcome::Connected { .. } => None,
        other => Some(outcome_summary(other)),
    };
    run.steps.close(status, detail);
    if matches!(
        outcome,
        ConnectOutcome::Connected { .. } | ConnectOutcome::Unsupported { .. }
    ) {
        run.disconnect().await;
    }
    report.steps.extend(run.steps.done);
    report.selected = selected_name;
    report.outcome = outcome;
    report.error_info = run.error_info;
    report.rdp_security = run.rdp_security;
    report.bytes_received = run.io.bytes_read;
    report.duration_ms = ms(start.elapsed());
    report
}
