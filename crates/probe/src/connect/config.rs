//! The connector's configuration, the sub-phase of each connector state,
//! and the timing of sub-phases.

use std::time::Instant;

use ironrdp_connector::{ClientConnector, ClientConnectorState};
use ironrdp_pdu::gcc;
use ironrdp_pdu::nego::SecurityProtocol;

use super::report::{ConnectStep, StepTiming};
use super::Credentials;
use crate::phases::ms;
use crate::report::Status;
use crate::wire::x224::Protocol;

/// The one place the connector's configuration is built (it has no `Default`).
pub(super) fn connector_config(
    creds: &Credentials,
    requested: SecurityProtocol,
) -> ironrdp_connector::Config {
    use ironrdp_pdu::rdp::capability_sets::{MajorPlatformType, RailSupportLevel};
    use ironrdp_pdu::rdp::client_info::{PerformanceFlags, TimezoneInfo};
    ironrdp_connector::Config {
        desktop_size: ironrdp_connector::DesktopSize {
            width: 1024,
            height: 768,
        },
        monitor_layout: None,
        desktop_scale_factor: 0,
        desktop_physical_size: None,
        desktop_orientation: None,
        device_scale_factor: None,
        monitor_extended_layout: None,
        relative_mouse_input: false,
        enable_tls: requested.contains(SecurityProtocol::SSL),
        enable_credssp: requested
            .intersects(SecurityProtocol::HYBRID | SecurityProtocol::HYBRID_EX),
        enable_standard_rdp_security: requested.is_standard_rdp_security(),
        credentials: ironrdp_connector::Credentials::UsernamePassword {
            username: creds.user.clone(),
            password: creds.password.as_str().to_owned(),
        },
        domain: creds.domain.clone(),
        client_build: 19041,
        client_name: "rdp-doctor".into(),
        keyboard_type: gcc::KeyboardType::IBM_ENHANCED,
        keyboard_subtype: 0,
        keyboard_functional_keys_count: 12,
        keyboard_layout: 0x0409,
        connection_type: gcc::ConnectionType::Lan,
        ime_file_name: String::new(),
        bitmap: None,
        dig_product_id: String::new(),
        client_dir: "C:\\Windows\\System32\\mstscax.dll".into(),
        alternate_shell: String::new(),
        work_dir: String::new(),
        remote_application_mode: false,
        rail_support_level: RailSupportLevel::empty(),
        platform: MajorPlatformType::UNIX,
        hardware_id: None,
        request_data: None,
        // The logon is what is being tested: the server logs on with the Client Info credentials.
        autologon: true,
        enable_audio_playback: false,
        enable_audio_capture: false,
        performance_flags: PerformanceFlags::default(),
        license_cache: None,
        timezone_info: TimezoneInfo::default(),
        compression_type: None,
        enable_server_pointer: false,
        pointer_software_rendering: true,
        multitransport_flags: None,
        support_dyn_vc_gfx_protocol: false,
    }
}

/// The sub-phase a connector state belongs to.
pub(super) fn step_of(connector: &ClientConnector) -> Option<ConnectStep> {
    Some(match &connector.state {
        ClientConnectorState::ConnectionInitiationSendRequest
        | ClientConnectorState::ConnectionInitiationWaitConfirm { .. } => ConnectStep::X224,
        ClientConnectorState::EnhancedSecurityUpgrade { selected_protocol }
            if selected_protocol.is_standard_rdp_security() =>
        {
            return None
        }
        ClientConnectorState::EnhancedSecurityUpgrade { .. } => ConnectStep::Tls,
        ClientConnectorState::Credssp { .. } => ConnectStep::Credssp,
        ClientConnectorState::BasicSettingsExchangeSendInitial { .. }
        | ClientConnectorState::BasicSettingsExchangeWaitResponse { .. } => ConnectStep::McsConnect,
        ClientConnectorState::ChannelConnection { .. } => ConnectStep::McsChannels,
        ClientConnectorState::SecureSettingsExchange { .. } => ConnectStep::ClientInfo,
        // Without a message channel there is no auto-detection: nothing is read.
        ClientConnectorState::ConnectTimeAutoDetection { .. }
            if connector.message_channel_id.is_none() =>
        {
            return None
        }
        ClientConnectorState::ConnectTimeAutoDetection { .. } => ConnectStep::AutoDetect,
        ClientConnectorState::LicensingExchange { .. } => ConnectStep::Licensing,
        // After licensing the server sends the Demand Active, or first up to two
        // multitransport requests; the wait is the capabilities exchange's.
        ClientConnectorState::MultitransportBootstrapping { .. } => ConnectStep::Capabilities,
        ClientConnectorState::MultitransportPending { .. } => ConnectStep::Multitransport,
        ClientConnectorState::CapabilitiesExchange { .. } => ConnectStep::Capabilities,
        ClientConnectorState::ConnectionFinalization { .. } => ConnectStep::Finalization,
        _ => return None,
    })
}

/// Times the sub-phases as the connection moves through them.
pub(super) struct Steps {
    pub(super) done: Vec<StepTiming>,
    pub(super) current: Option<(ConnectStep, Instant, Option<String>)>,
}

impl Steps {
    pub(super) fn enter(&mut self, step: ConnectStep) {
        if self.current.as_ref().is_some_and(|(s, _, _)| *s == step) {
            return;
        }
        self.close(Status::Ok, None);
        self.current = Some((step, Instant::now(), None));
    }

    pub(super) fn note(&mut self, detail: String) {
        if let Some((_, _, d)) = self.current.as_mut() {
            *d = Some(detail);
        }
    }

    /// Sets the detail of `step`, current or done.
    pub(super) fn note_on(&mut self, step: ConnectStep, detail: String) {
        match self.current.as_mut() {
            Some((s, _, d)) if *s == step => *d = Some(detail),
            _ => {
                if let Some(done) = self.done.iter_mut().rev().find(|t| t.step == step) {
                    done.detail = Some(detail);
                }
            }
        }
    }

    /// Renames the current sub-phase (its time turned out to be another's).
    pub(super) fn relabel(&mut self, step: ConnectStep) {
        if let Some((s, _, _)) = self.current.as_mut() {
            *s = step;
        }
    }

    pub(super) fn close(&mut self, status: Status, detail: Option<String>) {
        if let Some((step, start, note)) = self.current.take() {
            self.done.push(StepTiming {
                step,
                status,
                duration_ms: ms(start.elapsed()),
                detail: detail.or(note),
            });
        }
    }

    pub(super) fn now(&self) -> ConnectStep {
        self.current
            .as_ref()
            .map(|(s, _, _)| *s)
            .or(self.done.last().map(|s| s.step))
            .unwrap_or(ConnectStep::Tcp)
    }
}

/// The protocols to request: what mstsc requests (TLS, CredSSP, CredSSP-EX),
/// or Standard RDP Security when that is all the server takes.
pub(crate) fn protocols_to_request(selected: Protocol) -> Vec<Protocol> {
    match selected {
        Protocol::Rdp => vec![Protocol::Rdp],
        _ => vec![Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx],
    }
}

pub(super) fn security_protocol(protocols: &[Protocol]) -> SecurityProtocol {
    SecurityProtocol::from_bits_retain(protocols.iter().fold(0, |acc, p| acc | p.bits()))
}

/// A connector error as one line, with its source chain.
pub(super) fn connector_message(e: &ironrdp_connector::ConnectorError) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// The raw SubjectPublicKey bits of a certificate: what CredSSP binds to.
pub(super) fn server_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// If `frame` is an MCS Connect Response whose server security data asks
/// for Standard RDP Security encryption: the I/O channel, the channels to
/// join and the security settings.
pub(super) fn encrypted_rdp_security(
    frame: &[u8],
) -> Option<(u16, Vec<u16>, gcc::ServerSecurityData)> {
    use ironrdp_pdu::x224::{X224Data, X224};
    let data = ironrdp_core::decode::<X224<X224Data<'_>>>(frame).ok()?.0;
    let response =
        ironrdp_core::decode::<ironrdp_pdu::mcs::ConnectResponse>(data.data.as_ref()).ok()?;
    let blocks = response.conference_create_response.into_gcc_blocks();
    if blocks.security.encryption_method.is_empty() {
        return None;
    }
    let mut channels = blocks.network.channel_ids.clone();
    if let Some(m) = &blocks.message_channel {
        channels.push(m.mcs_message_channel_id);
    }
    Some((blocks.network.io_channel, channels, blocks.security))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn requests_follow_what_the_server_selected() {
        assert_eq!(protocols_to_request(Protocol::Rdp), vec![Protocol::Rdp]);
        assert_eq!(
            protocols_to_request(Protocol::Tls),
            vec![Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx]
        );
        assert!(security_protocol(&[Protocol::Rdp]).is_standard_rdp_security());
        // The connector's configuration asks for what is requested.
        let c = Credentials::new("u", None, "p");
        let config = connector_config(&c, security_protocol(&[Protocol::Tls]));
        assert!(
            config.enable_tls && !config.enable_credssp && !config.enable_standard_rdp_security
        );
    }
}
