//! The connection sequence on IronRDP's connector: one connector step at a
//! time, with the security upgrade and CredSSP done by the probe itself and
//! every frame looked at before the connector sees it.

use ironrdp_connector::{
    ChannelConnectionSequence, ChannelConnectionState, ClientConnector, ClientConnectorState,
    ConnectionOutcome, Sequence,
};
use ironrdp_core::WriteBuf;
use ironrdp_pdu::gcc;
use ironrdp_pdu::nego::SecurityProtocol;

use super::config::*;
use super::driver::{Run, MAX_STEPS};
use super::report::*;
use crate::wire::x224::Protocol;

/// The security steps the probe does itself instead of the connector.
enum Security {
    Upgrade(SecurityProtocol),
    Credssp(SecurityProtocol),
}

impl Run<'_> {
    /// The whole connection sequence on the connector.
    pub(super) async fn drive(
        &mut self,
        connector: &mut ClientConnector,
        requested: SecurityProtocol,
    ) -> ConnectOutcome {
        match self.sequence(connector, requested).await {
            Ok(()) => self.finished(connector),
            Err(outcome) => outcome,
        }
    }

    async fn sequence(
        &mut self,
        connector: &mut ClientConnector,
        requested: SecurityProtocol,
    ) -> Result<(), ConnectOutcome> {
        let mut out = WriteBuf::new();
        connector
            .initiate_with_security_protocol(requested, &mut out)
            .map_err(|e| ConnectOutcome::Failed {
                during: ConnectStep::X224,
                message: connector_message(&e),
            })?;
        self.steps.enter(ConnectStep::X224);
        self.write(&mut out).await?;
        for _ in 0..MAX_STEPS {
            if let Some(step) = step_of(connector) {
                self.steps.enter(step);
            }
            if self.one_step(connector, &mut out).await? {
                break;
            }
        }
        Ok(())
    }

    /// One step of the sequence; `true` when the connector is done.
    async fn one_step(
        &mut self,
        connector: &mut ClientConnector,
        out: &mut WriteBuf,
    ) -> Result<bool, ConnectOutcome> {
        // Copied out first: no borrow of the connector lives across an await.
        let security = match &connector.state {
            ClientConnectorState::EnhancedSecurityUpgrade { selected_protocol } => {
                Some(Security::Upgrade(*selected_protocol))
            }
            ClientConnectorState::Credssp { selected_protocol } => {
                Some(Security::Credssp(*selected_protocol))
            }
            _ => None,
        };
        match security {
            Some(Security::Upgrade(protocol)) => {
                self.security_upgrade(protocol).await?;
                connector.mark_security_upgrade_as_done();
                return Ok(false);
            }
            Some(Security::Credssp(protocol)) => {
                let key = std::mem::take(&mut self.server_key);
                self.credssp(protocol, key).await?;
                self.steps
                    .note(format!("NTLM as {} accepted", self.creds.account()));
                connector.mark_credssp_as_done();
                return Ok(false);
            }
            None => {}
        }
        if connector.should_perform_multitransport() {
            connector
                .skip_multitransport(out)
                .map_err(|e| self.connector_failure(&e))?;
            self.write(out).await?;
            return Ok(false);
        }
        if ironrdp_connector::State::is_terminal(&connector.state) {
            return Ok(true);
        }
        let result = match connector.next_pdu_hint() {
            Some(hint) => {
                let frame = self.read(hint).await?;
                self.before_step(connector, &frame).await?;
                connector.step(&frame, Some(self.io.received_at()), out)
            }
            None => connector.step_no_input(out),
        };
        result.map_err(|e| self.connector_failure(&e))?;
        self.write(out).await?;
        Ok(false)
    }

    /// The security protocol the server selected; TLS on the connection unless
    /// it is Standard RDP Security.
    async fn security_upgrade(&mut self, protocol: SecurityProtocol) -> Result<(), ConnectOutcome> {
        let name = Protocol::from_selected(protocol.bits())
            .map(|p| p.name().to_string())
            .unwrap_or_else(|| format!("0x{:X}", protocol.bits()));
        self.steps
            .note_on(ConnectStep::X224, format!("selected {name}"));
        self.selected = Some(name);
        if !protocol.is_standard_rdp_security() {
            self.server_key = self.upgrade().await?;
        }
        Ok(())
    }

    /// What a frame means before the connector sees it: which sub-phase the
    /// wait belonged to, and whether the server requires Standard RDP Security.
    async fn before_step(
        &mut self,
        connector: &mut ClientConnector,
        frame: &[u8],
    ) -> Result<(), ConnectOutcome> {
        if matches!(
            connector.state,
            ClientConnectorState::ConnectTimeAutoDetection { .. }
        ) {
            self.track_auto_detect(connector, frame);
        }
        let settings = matches!(
            connector.state,
            ClientConnectorState::BasicSettingsExchangeWaitResponse { .. }
        );
        match encrypted_rdp_security(frame).filter(|_| settings) {
            Some((io_channel, channels, security)) => Err(self
                .rdp_security_channels(io_channel, channels, &security)
                .await),
            None => Ok(()),
        }
    }

    /// The first PDU not on the message channel is licensing's: so was the wait for it.
    fn track_auto_detect(&mut self, connector: &ClientConnector, frame: &[u8]) {
        let on_message_channel = connector.message_channel_id.is_some_and(|m| {
            ironrdp_pdu::mcs::decode_send_data_indication(frame).is_ok_and(|c| c.channel_id == m)
        });
        if on_message_channel {
            self.auto_detect_pdus += 1;
        } else if self.auto_detect_pdus == 0 {
            self.steps.relabel(ConnectStep::Licensing);
        } else {
            self.steps.enter(ConnectStep::Licensing);
        }
    }

    /// How the connector ended.
    fn finished(&mut self, connector: &mut ClientConnector) -> ConnectOutcome {
        match connector.state.take_outcome() {
            Some(ConnectionOutcome::Connected(result)) => {
                let size = result.desktop_size;
                self.steps.note(format!(
                    "share {:#x}, desktop {}x{}",
                    result.share_id, size.width, size.height
                ));
                ConnectOutcome::Connected {
                    desktop_width: size.width,
                    desktop_height: size.height,
                }
            }
            Some(ConnectionOutcome::Redirected(r)) => ConnectOutcome::Unsupported {
                during: self.steps.now(),
                message: format!(
                    "the server redirects the client to session {} (a connection broker); the probe does not follow redirections",
                    r.session_id
                ),
            },
            None => ConnectOutcome::Failed {
                during: self.steps.now(),
                message: format!("the connection sequence did not finish in {MAX_STEPS} steps"),
            },
        }
    }

    /// With Standard RDP Security and encryption: MCS attach and channel
    /// join, then stop before the Security Exchange.
    pub(super) async fn rdp_security_channels(
        &mut self,
        io_channel: u16,
        channels: Vec<u16>,
        security: &gcc::ServerSecurityData,
    ) -> ConnectOutcome {
        let methods: Vec<&str> = security
            .encryption_method
            .iter_names()
            .map(|(name, _)| name)
            .collect();
        let settings = format!(
            "encryption method {}, level {:?}",
            methods.join("|"),
            security.encryption_level
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
}
