//! The credentialed phase: a full connection, as a client with a user name
//! and password makes it, through CredSSP, MCS, licensing, capabilities and
//! finalization.
//!
//! IronRDP's connector is the state machine; this module is its I/O: every
//! read and write has its own deadline inside the probe's budget, every
//! server frame is read by [`crate::wire::errinfo`] before the connector sees
//! it (a Set Error Info PDU, an MCS Disconnect Provider Ultimatum or a
//! licensing error would otherwise reach the connector only as "cannot
//! decode"), and each sub-phase is timed.
//!
//! The password lives in [`Credentials`] (redacted in `Debug`, never
//! serialised, zeroed on drop) and in the connector's configuration for the
//! length of one connection; it goes on the wire only inside CredSSP or the
//! Client Info PDU, both under TLS. With Standard RDP Security the probe stops
//! before the Client Info PDU: it does not implement RDP's RC4 encryption and
//! never sends a password in the clear.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironrdp_connector::credssp::CredsspSequence;
use ironrdp_connector::sspi::credssp::ClientState;
use ironrdp_connector::{
    ChannelConnectionSequence, ChannelConnectionState, ClientConnector, ClientConnectorState,
    ConnectionOutcome, ConnectorErrorKind, Sequence, ServerName,
};
use ironrdp_core::{MonotonicInstant, WriteBuf};
use ironrdp_pdu::nego::SecurityProtocol;
use ironrdp_pdu::{gcc, PduHint};
use rdp_doctor_codes::{causes, CauseId, Namespace};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use zeroize::Zeroizing;

use crate::diagnose::{finding, phase_evidence, Finding, Severity};
use crate::probe::{connect, ms, tls_config};
use crate::report::{NegotiationOutcome, Phase, PhaseName, ProbeReport, Status};
use crate::wire::errinfo::{self, ServerStop};
use crate::wire::x224::Protocol;
use crate::{ProbeError, ProbeOptions};

/// The largest frame accepted from the server (TPKT's own limit; CredSSP
/// messages are far smaller).
const MAX_FRAME: usize = 64 * 1024;
/// Frames of another kind (fast-path output while a slow-path PDU is
/// expected) skipped before the server is declared broken.
const MAX_SKIPPED: usize = 256;
/// Round trips of CredSSP before the exchange is declared endless (NTLM needs three).
const MAX_CREDSSP_ROUNDS: usize = 8;
/// Connector steps before the sequence is declared endless.
const MAX_STEPS: usize = 512;

/// A user name, optional domain and password for the credentialed phase.
///
/// The password is never printed (`Debug` redacts it), never serialised and
/// zeroed when the value is dropped.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    domain: Option<String>,
    password: Zeroizing<String>,
}

impl Credentials {
    /// `user` may be `DOMAIN\user` or `user@domain` (as Windows accepts them) or
    /// a plain name with `domain` given apart.
    pub fn new(
        user: impl Into<String>,
        domain: Option<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            user: user.into(),
            domain: domain.filter(|d| !d.is_empty()),
            password: Zeroizing::new(password.into()),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The user and domain as sent: `DOMAIN\user`, or the user alone.
    pub fn account(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}\\{}", self.user),
            None => self.user.clone(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The sub-phases of the credentialed connection, in connection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectStep {
    /// TCP connect of the credentialed connection.
    Tcp,
    /// X.224 Connection Request / Confirm.
    X224,
    /// TLS handshake.
    Tls,
    /// CredSSP (NLA) with the credentials.
    Credssp,
    /// MCS Connect Initial / Connect Response (GCC settings exchange).
    McsConnect,
    /// MCS Erect Domain, Attach User and Channel Join.
    McsChannels,
    /// Standard RDP Security: the Security Exchange PDU.
    SecurityExchange,
    /// The Client Info PDU (user, domain, password for the logon).
    ClientInfo,
    /// Optional connect-time auto-detection.
    AutoDetect,
    /// Licensing.
    Licensing,
    /// Optional multitransport bootstrapping (declined by the probe).
    Multitransport,
    /// Demand Active / Confirm Active.
    Capabilities,
    /// Synchronize, Control, Font List / Font Map.
    Finalization,
}

impl ConnectStep {
    pub fn label(self) -> &'static str {
        match self {
            ConnectStep::Tcp => "TCP",
            ConnectStep::X224 => "X.224",
            ConnectStep::Tls => "TLS",
            ConnectStep::Credssp => "CredSSP auth",
            ConnectStep::McsConnect => "MCS connect",
            ConnectStep::McsChannels => "MCS attach/join",
            ConnectStep::SecurityExchange => "security exchange",
            ConnectStep::ClientInfo => "client info",
            ConnectStep::AutoDetect => "auto-detect",
            ConnectStep::Licensing => "licensing",
            ConnectStep::Multitransport => "multitransport",
            ConnectStep::Capabilities => "capabilities",
            ConnectStep::Finalization => "finalization",
        }
    }
}

/// One timed sub-phase.
#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub step: ConnectStep,
    pub status: Status,
    pub duration_ms: f64,
    pub detail: Option<String>,
}

/// A code the server sent, decoded with the codes tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// The numbering it belongs to, as `rdp-doctor explain --as` names it
    /// (`errinfo`, `ntstatus`, `sspi`, `mcs-disconnect`, `early-authz`), or
    /// `license-error`.
    pub namespace: String,
    pub value: u32,
    /// `0x7`, `0xC000006D`.
    pub hex: String,
    /// As Windows prints it (negative for NTSTATUS and HRESULT failures).
    pub dec: i64,
    /// Symbolic name, or `unknown`.
    pub name: String,
    pub meaning: String,
}

impl Code {
    /// "ERRINFO_SERVER_DENIED_CONNECTION 0x7 (7)".
    pub fn display(&self) -> String {
        format!("{} {} ({})", self.name, self.hex, self.dec)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

fn signed(value: u32) -> i64 {
    if value & 0x8000_0000 != 0 {
        i64::from(value as i32)
    } else {
        i64::from(value)
    }
}

/// Decodes `value` in the first of `namespaces` whose table knows it; the
/// symbolic name is taken from the first row that has one (the NTSTATUS rows
/// of the event tables are named by number only).
pub fn decode_code(namespaces: &[Namespace], value: u32) -> Code {
    let readings: Vec<_> = namespaces
        .iter()
        .filter_map(|ns| rdp_doctor_codes::decode(*ns, value))
        .collect();
    let first = readings.first();
    let name = readings
        .iter()
        .map(|r| r.name.as_str())
        .find(|n| !n.starts_with("NTSTATUS 0x"))
        .or(first.map(|r| r.name.as_str()))
        .unwrap_or("unknown")
        .to_string();
    let meaning = readings
        .iter()
        .map(|r| r.meaning.as_str())
        .find(|m| !m.is_empty())
        .unwrap_or_default()
        .to_string();
    Code {
        namespace: first
            .map(|r| r.namespace)
            .or(namespaces.first().copied())
            .map(|ns| ns.key().to_string())
            .unwrap_or_default(),
        value,
        hex: format!("0x{value:X}"),
        dec: signed(value),
        name,
        meaning,
    }
}

/// An NTSTATUS or SSPI status from CredSSP.
pub fn decode_status(value: u32) -> Code {
    decode_code(
        &[
            Namespace::NtStatus,
            Namespace::LogonError,
            Namespace::SecurityStatus,
        ],
        value,
    )
}

fn license_code(code: u32) -> Code {
    Code {
        namespace: "license-error".into(),
        value: code,
        hex: format!("0x{code:X}"),
        dec: signed(code),
        name: errinfo::license_error_name(code)
            .unwrap_or("unknown")
            .to_string(),
        meaning: "Licensing Error Message dwErrorCode ([MS-RDPBCGR] 2.2.1.12.1.3)".into(),
    }
}

/// How the credentialed connection ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectOutcome {
    /// The connection sequence completed: the session is up (the probe then disconnects).
    Connected {
        desktop_width: u16,
        desktop_height: u16,
    },
    /// CredSSP refused the credentials and said why (TSRequest errorCode or
    /// Early User Authorization Result).
    LogonFailed { code: Code },
    /// CredSSP failed on the client side, or the server ended it without a code.
    AuthFailed { message: String },
    /// The server sent a Set Error Info PDU and ended the connection.
    ServerDenied { code: Code },
    /// The server sent an MCS Disconnect Provider Ultimatum.
    McsDisconnect { reason: Code },
    /// The server sent a Licensing Error Message.
    LicensingFailed {
        code: Code,
        state_transition: u32,
        state_transition_name: String,
    },
    /// The server closed the connection (FIN or RST).
    Closed { during: ConnectStep },
    /// Nothing came back before the deadline.
    TimedOut { during: ConnectStep, waited_ms: f64 },
    /// The probe stopped where it cannot go on (Standard RDP Security encryption).
    Unsupported {
        during: ConnectStep,
        message: String,
    },
    /// The TCP connect, a protocol mismatch or an undecodable answer.
    Failed {
        during: ConnectStep,
        message: String,
    },
}

/// The credentialed connection, step by step.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    /// The account used (`DOMAIN\user` or `user`); never the password.
    pub account: String,
    /// The protocols requested, as mstsc requests them from this server.
    pub requested: Vec<Protocol>,
    /// The protocol the server selected.
    pub selected: Option<String>,
    pub steps: Vec<StepTiming>,
    pub outcome: ConnectOutcome,
    /// The last non-zero Set Error Info the server sent, if any.
    pub error_info: Option<Code>,
    /// Server security settings, with Standard RDP Security.
    pub rdp_security: Option<String>,
    /// Bytes received from the server on this connection (TLS records included).
    pub bytes_received: u64,
    pub duration_ms: f64,
    /// How a first attempt ended when the server closed it during X.224 and
    /// the connection was made again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_attempt: Option<String>,
}

impl ConnectionReport {
    /// The sub-phase `step`, if it ran.
    pub fn step(&self, step: ConnectStep) -> Option<&StepTiming> {
        self.steps.iter().find(|s| s.step == step)
    }

    /// Whether the connection sequence completed.
    pub fn connected(&self) -> bool {
        matches!(self.outcome, ConnectOutcome::Connected { .. })
    }
}

/// The one place the connector's configuration is built (it has no `Default`).
fn connector_config(creds: &Credentials, requested: SecurityProtocol) -> ironrdp_connector::Config {
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
fn step_of(connector: &ClientConnector) -> Option<ConnectStep> {
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
struct Steps {
    done: Vec<StepTiming>,
    current: Option<(ConnectStep, Instant, Option<String>)>,
}

impl Steps {
    fn enter(&mut self, step: ConnectStep) {
        if self.current.as_ref().is_some_and(|(s, _, _)| *s == step) {
            return;
        }
        self.close(Status::Ok, None);
        self.current = Some((step, Instant::now(), None));
    }

    fn note(&mut self, detail: String) {
        if let Some((_, _, d)) = self.current.as_mut() {
            *d = Some(detail);
        }
    }

    /// Sets the detail of `step`, current or done.
    fn note_on(&mut self, step: ConnectStep, detail: String) {
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
    fn relabel(&mut self, step: ConnectStep) {
        if let Some((s, _, _)) = self.current.as_mut() {
            *s = step;
        }
    }

    fn close(&mut self, status: Status, detail: Option<String>) {
        if let Some((step, start, note)) = self.current.take() {
            self.done.push(StepTiming {
                step,
                status,
                duration_ms: ms(start.elapsed()),
                detail: detail.or(note),
            });
        }
    }

    fn now(&self) -> ConnectStep {
        self.current
            .as_ref()
            .map(|(s, _, _)| *s)
            .or(self.done.last().map(|s| s.step))
            .unwrap_or(ConnectStep::Tcp)
    }
}

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The connection: plain TCP until the security upgrade, TLS after it.
enum Wire {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    /// While the TCP stream moves into TLS (and after a failed handshake).
    Gone,
}

/// Why reading or writing stopped.
enum IoEnd {
    Closed,
    TimedOut(Duration),
    Error(String),
}

/// The connection with its read buffer and deadlines.
struct Io {
    wire: Wire,
    buf: Vec<u8>,
    step_timeout: Duration,
    end: Instant,
    clock: Instant,
    bytes_read: u64,
}

impl Io {
    fn deadline(&self) -> Duration {
        self.step_timeout
            .min(self.end.saturating_duration_since(Instant::now()))
    }

    fn received_at(&self) -> MonotonicInstant {
        MonotonicInstant::from_millis(
            u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), IoEnd> {
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
    async fn fill(&mut self) -> Result<(), IoEnd> {
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
    async fn read_frame(&mut self, hint: &dyn PduHint) -> Result<Vec<u8>, IoEnd> {
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

fn is_closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof
    )
}

/// The protocols to request: what mstsc requests (TLS, CredSSP, CredSSP-EX),
/// or Standard RDP Security when that is all the server takes.
pub(crate) fn protocols_to_request(selected: Protocol) -> Vec<Protocol> {
    match selected {
        Protocol::Rdp => vec![Protocol::Rdp],
        _ => vec![Protocol::Tls, Protocol::Hybrid, Protocol::HybridEx],
    }
}

fn security_protocol(protocols: &[Protocol]) -> SecurityProtocol {
    SecurityProtocol::from_bits_retain(protocols.iter().fold(0, |acc, p| acc | p.bits()))
}

/// A frame told why the server stops: the outcome it means.
fn stop_outcome(stop: ServerStop) -> Option<ConnectOutcome> {
    Some(match stop {
        ServerStop::SetErrorInfo(0) => return None,
        ServerStop::SetErrorInfo(code) => ConnectOutcome::ServerDenied {
            code: decode_code(&[Namespace::ErrInfo, Namespace::ExtendedReason], code),
        },
        ServerStop::McsDisconnect(reason) => ConnectOutcome::McsDisconnect {
            reason: decode_code(&[Namespace::McsDisconnectReason], u32::from(reason)),
        },
        ServerStop::LicenseError {
            code,
            state_transition,
        } => ConnectOutcome::LicensingFailed {
            code: license_code(code),
            state_transition,
            state_transition_name: errinfo::license_state_name(state_transition)
                .unwrap_or("unknown")
                .to_string(),
        },
    })
}

/// The run's state shared by its parts.
struct Run<'a> {
    io: Io,
    steps: Steps,
    creds: &'a Credentials,
    host: &'a str,
    error_info: Option<Code>,
    rdp_security: Option<String>,
}

impl Run<'_> {
    fn io_end(&mut self, end: IoEnd) -> ConnectOutcome {
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
    async fn read(&mut self, hint: &dyn PduHint) -> Result<Vec<u8>, ConnectOutcome> {
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

    async fn write(&mut self, out: &mut WriteBuf) -> Result<(), ConnectOutcome> {
        let r = self.io.write(out.filled()).await;
        out.clear();
        r.map_err(|end| self.io_end(end))
    }

    /// TLS on the connection, as the security upgrade.
    async fn upgrade(&mut self) -> Result<Vec<u8>, ConnectOutcome> {
        let during = ConnectStep::Tls;
        let config = tls_config().map_err(|message| ConnectOutcome::Failed { during, message })?;
        let name = rustls::pki_types::ServerName::try_from(self.host.to_string())
            .or_else(|_| rustls::pki_types::ServerName::try_from("rdp-server"))
            .map_err(|e| ConnectOutcome::Failed {
                during,
                message: e.to_string(),
            })?;
        let tcp = match std::mem::replace(&mut self.io.wire, Wire::Gone) {
            Wire::Tcp(s) => s,
            other => {
                self.io.wire = other;
                return Err(ConnectOutcome::Failed {
                    during,
                    message: "TLS requested on a connection that is not plain TCP".into(),
                });
            }
        };
        let deadline = self.io.deadline();
        let connector =
            tokio_rustls::TlsConnector::from(Arc::<rustls::ClientConfig>::clone(&config));
        let tls = match tokio::time::timeout(deadline, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) if is_closed(&e) => return Err(ConnectOutcome::Closed { during }),
            Ok(Err(e)) => {
                return Err(ConnectOutcome::Failed {
                    during,
                    message: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ConnectOutcome::TimedOut {
                    during,
                    waited_ms: ms(deadline),
                })
            }
        };
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace('_', "."))
            .unwrap_or_default();
        let key = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| server_public_key(der.as_ref()));
        self.steps.note(version);
        self.io.wire = Wire::Tls(Box::new(tls));
        key.ok_or(ConnectOutcome::Failed {
            during,
            message: "the server's certificate has no readable public key".into(),
        })
    }

    /// CredSSP with the credentials, reading every server message for an
    /// error code before the SSPI client sees it.
    async fn credssp(
        &mut self,
        protocol: SecurityProtocol,
        server_key: Vec<u8>,
    ) -> Result<(), ConnectOutcome> {
        let during = ConnectStep::Credssp;
        let failed = |message: String| ConnectOutcome::AuthFailed { message };
        let (mut seq, mut request) = CredsspSequence::init(
            ironrdp_connector::Credentials::UsernamePassword {
                username: self.creds.user.clone(),
                password: self.creds.password.as_str().to_owned(),
            },
            self.creds.domain.as_deref(),
            protocol,
            ServerName::new(self.host),
            server_key,
            None,
        )
        .map_err(|e| failed(connector_message(&e)))?;
        let mut out = WriteBuf::new();
        for round in 0..MAX_CREDSSP_ROUNDS {
            let result = seq.process_ts_request(request).resolve_to_result();
            let result = result.map_err(|e| failed(format!("the CredSSP client stopped: {e}")))?;
            let final_message = matches!(result, ClientState::FinalMessage(_));
            seq.handle_process_result(result, &mut out)
                .map_err(|e| failed(connector_message(&e)))?;
            self.write(&mut out).await?;
            let Some(hint) = seq.next_pdu_hint() else {
                return Ok(());
            };
            let frame = match self.io.read_frame(hint).await {
                Ok(f) => f,
                Err(IoEnd::Closed) if final_message => {
                    return Err(failed(
                        "the server closed the connection after the client's credentials (CredSSP authInfo), without an error code"
                            .into(),
                    ))
                }
                // NEGOTIATE, then AUTHENTICATE (the proof of the password) with pubKeyAuth.
                Err(IoEnd::Closed) if round >= 1 => {
                    return Err(failed(
                        "the server closed the connection right after the NTLM AUTHENTICATE message (the proof of the password), without an error code: the usual reading is a wrong user name or password"
                            .into(),
                    ))
                }
                Err(IoEnd::Closed) => {
                    return Err(failed(
                        "the server closed the connection after the NTLM NEGOTIATE message, without an error code".into(),
                    ))
                }
                Err(end) => return Err(self.io_end(end)),
            };
            let early_result = final_message && protocol.contains(SecurityProtocol::HYBRID_EX);
            if early_result {
                if let Some(code) = errinfo::early_user_auth_result(&frame).filter(|c| *c != 0) {
                    return Err(ConnectOutcome::LogonFailed {
                        code: decode_code(&[Namespace::EarlyUserAuthorization], code),
                    });
                }
            } else if let Ok(Some(code)) = errinfo::ts_request_error_code(&frame) {
                return Err(ConnectOutcome::LogonFailed {
                    code: decode_status(code),
                });
            }
            match seq.decode_server_message(&frame) {
                Ok(Some(next)) => request = next,
                Ok(None) => return Ok(()),
                Err(e) if matches!(e.kind(), ConnectorErrorKind::AccessDenied) => {
                    return Err(ConnectOutcome::LogonFailed {
                        code: decode_code(&[Namespace::EarlyUserAuthorization], 5),
                    })
                }
                Err(e) => {
                    return Err(ConnectOutcome::Failed {
                        during,
                        message: connector_message(&e),
                    })
                }
            }
        }
        Err(ConnectOutcome::Failed {
            during,
            message: format!("CredSSP did not finish in {MAX_CREDSSP_ROUNDS} round trips"),
        })
    }

    /// With Standard RDP Security and encryption: MCS attach and channel
    /// join, then stop before the Security Exchange.
    async fn rdp_security_channels(
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
    async fn drive(
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

    fn connector_failure(&self, e: &ironrdp_connector::ConnectorError) -> ConnectOutcome {
        ConnectOutcome::Failed {
            during: self.steps.now(),
            message: connector_message(e),
        }
    }

    /// Ends the session politely: MCS Disconnect Provider Ultimatum (user requested), then close.
    async fn disconnect(&mut self) {
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

/// A connector error as one line, with its source chain.
fn connector_message(e: &ironrdp_connector::ConnectorError) -> String {
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
fn server_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

/// If `frame` is an MCS Connect Response whose server security data asks
/// for Standard RDP Security encryption: the I/O channel, the channels to
/// join and the security settings.
fn encrypted_rdp_security(frame: &[u8]) -> Option<(u16, Vec<u16>, gcc::ServerSecurityData)> {
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

/// One line for an outcome.
pub fn outcome_summary(o: &ConnectOutcome) -> String {
    match o {
        ConnectOutcome::Connected {
            desktop_width,
            desktop_height,
        } => format!("connected: the session is up ({desktop_width}x{desktop_height})"),
        ConnectOutcome::LogonFailed { code } => {
            format!("the server refused the logon: {}", code.display())
        }
        ConnectOutcome::AuthFailed { message } => format!("CredSSP failed: {message}"),
        ConnectOutcome::ServerDenied { code } => {
            format!(
                "the server ended the connection with Set Error Info {}",
                code.display()
            )
        }
        ConnectOutcome::McsDisconnect { reason } => format!(
            "the server sent an MCS Disconnect Provider Ultimatum, reason {}",
            reason.display()
        ),
        ConnectOutcome::LicensingFailed {
            code,
            state_transition,
            state_transition_name,
        } => format!(
            "licensing failed: {} (state transition {state_transition} {state_transition_name})",
            code.display()
        ),
        ConnectOutcome::Closed { during } => {
            format!("the server closed the connection during {}", during.label())
        }
        ConnectOutcome::TimedOut { during, waited_ms } => format!(
            "nothing came back during {} within {waited_ms:.0} ms",
            during.label()
        ),
        ConnectOutcome::Unsupported { message, .. } => message.clone(),
        ConnectOutcome::Failed { during, message } => {
            format!("failed during {}: {message}", during.label())
        }
    }
}

/// Probes `target` as [`crate::probe`] does, then makes a full connection
/// with `creds` on a connection of its own (phase `connect`), inside what is
/// left of the total budget.
pub async fn probe_with_credentials(
    target: &str,
    opts: &ProbeOptions,
    creds: &Credentials,
) -> Result<ProbeReport, ProbeError> {
    let start = Instant::now();
    let mut report = crate::probe(target, opts).await?;
    let left = opts.total_budget.saturating_sub(start.elapsed());
    phase(&mut report, opts, creds, left).await;
    report.total_ms = ms(start.elapsed());
    Ok(report)
}

/// The protocol to connect with: what mstsc's request got, or else one the
/// server accepts on its own.
fn protocol_for(report: &ProbeReport) -> Option<Protocol> {
    match report.negotiated.as_ref().map(|n| &n.outcome) {
        Some(NegotiationOutcome::Selected { selected, .. }) => Protocol::from_selected(*selected),
        Some(NegotiationOutcome::Legacy) => Some(Protocol::Rdp),
        _ => {
            let supported = report.supported();
            supported
                .iter()
                .copied()
                .find(|p| p.uses_tls() && *p != Protocol::Rdstls)
                .or(supported.contains(&Protocol::Rdp).then_some(Protocol::Rdp))
        }
    }
}

async fn phase(
    report: &mut ProbeReport,
    opts: &ProbeOptions,
    creds: &Credentials,
    budget: Duration,
) {
    let skipped = |report: &mut ProbeReport, summary: String| {
        report.phases.push(Phase {
            name: PhaseName::Connect,
            status: Status::Skipped,
            duration_ms: 0.0,
            summary,
            evidence: Vec::new(),
        })
    };
    let Some(addr) = report.connected_to else {
        return skipped(
            report,
            "no credentialed connection: the server cannot be reached".into(),
        );
    };
    let Some(protocol) = protocol_for(report) else {
        return skipped(
            report,
            "no credentialed connection: the server accepts no security protocol".into(),
        );
    };
    if budget.is_zero() {
        report.budget_exhausted = true;
        return skipped(
            report,
            "no credentialed connection: the time budget ran out (raise --timeout)".into(),
        );
    }
    report.connections_used += 1;
    let started = Instant::now();
    let mut c = run(
        addr,
        &report.host,
        protocol,
        creds,
        opts.connect_timeout,
        opts.io_timeout,
        budget,
    )
    .await;
    // The server answered the probe's own X.224 request moments ago, so a close
    // at X.224 now is more likely a listener still tearing down the probe's
    // connections (FreeRDP's server does this) than a refusal: one retry, said so.
    if matches!(
        c.outcome,
        ConnectOutcome::Closed {
            during: ConnectStep::X224
        }
    ) {
        let left = budget.saturating_sub(started.elapsed());
        if !left.is_zero() {
            report.connections_used += 1;
            let first = outcome_summary(&c.outcome);
            c = run(
                addr,
                &report.host,
                protocol,
                creds,
                opts.connect_timeout,
                opts.io_timeout,
                left,
            )
            .await;
            c.first_attempt = Some(format!("{first}; retried once"));
        }
    }
    if matches!(c.outcome, ConnectOutcome::TimedOut { .. }) && c.duration_ms >= ms(budget) {
        report.budget_exhausted = true;
    }
    let status = match &c.outcome {
        ConnectOutcome::Connected { .. } => Status::Ok,
        ConnectOutcome::Unsupported { .. } => Status::Skipped,
        _ => Status::Fail,
    };
    let summary = match &c.outcome {
        ConnectOutcome::Connected { .. } => format!(
            "connected as {} over {}: {} steps through finalization",
            c.account,
            c.selected.as_deref().unwrap_or("?"),
            c.steps.len()
        ),
        other => format!("as {}: {}", c.account, outcome_summary(other)),
    };
    let evidence = c
        .first_attempt
        .iter()
        .map(|f| format!("first attempt: {f}"))
        .chain(c.steps.iter().map(|s| {
            format!(
                "{} {} {:.1} ms{}",
                match s.status {
                    Status::Ok => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "FAIL",
                    Status::Skipped => "stop",
                },
                s.step.label(),
                s.duration_ms,
                s.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            )
        }))
        .collect();
    report.phases.push(Phase {
        name: PhaseName::Connect,
        status,
        duration_ms: c.duration_ms,
        summary,
        evidence,
    });
    report.connection = Some(c);
}

/// The first cause the codes catalog gives for `code`, or `fallback`.
fn cause_of(code: &Code, fallback: CauseId) -> CauseId {
    Namespace::from_key(&code.namespace)
        .and_then(|ns| {
            causes::causes_for(ns, code.value, &code.name)
                .first()
                .copied()
        })
        .unwrap_or(fallback)
}

fn code_evidence(code: &Code) -> String {
    format!(
        "{} {} = {} {}: {}",
        code.namespace, code.hex, code.dec, code.name, code.meaning
    )
}

/// The findings of the credentialed phase (IDs AUTH*, CONN*, LIC*).
pub(crate) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(c) = &r.connection else { return };
    let mut ev = phase_evidence(r, PhaseName::Connect);
    let step = c
        .steps
        .iter()
        .rev()
        .find(|s| s.status != Status::Ok)
        .map(|s| s.step)
        .unwrap_or(ConnectStep::Tcp);
    let account = &c.account;
    let f = match &c.outcome {
        ConnectOutcome::Connected { .. } => finding(
            "CONN000",
            Severity::Info,
            format!(
                "a full connection as {account} completes through finalization in {:.0} ms",
                c.duration_ms
            ),
            PhaseName::Connect,
            ev,
            CauseId::Credentials,
            &[],
        ),
        ConnectOutcome::LogonFailed { code } => {
            ev.insert(0, code_evidence(code));
            let cause = if code.namespace == Namespace::EarlyUserAuthorization.key() {
                CauseId::NoRemoteLogonRight
            } else {
                cause_of(code, CauseId::Credentials)
            };
            let restriction = matches!(
                code.value,
                0xC000_006E | 0xC000_006F | 0xC000_0070 | 0xC000_0071 | 0xC000_0072 | 0xC000_0193 | 0xC000_0224 | 0xC000_0234
            );
            let fixes: &[&str] = if cause == CauseId::NoRemoteLogonRight {
                &["Add the account to Remote Desktop Users on the host (Add-LocalGroupMember -Group 'Remote Desktop Users' -Member USER), and check the 'Allow log on through Remote Desktop Services' right"]
            } else if restriction {
                &["The password is right but the account may not log on now: check it on the host (Get-LocalUser USER | Format-List Enabled,PasswordExpires,AccountExpires; net user USER), unlock, enable or change the password"]
            } else {
                &["Check the user name and password: DOMAIN\\user for a domain account, .\\user or HOST\\user for a local one; the host's Security log event 4625 shows the same status"]
            };
            finding(
                "AUTH001",
                Severity::Error,
                format!(
                    "the server refuses the logon of {account}: {} ({})",
                    code.display(),
                    if restriction {
                        "an account restriction"
                    } else if cause == CauseId::NoRemoteLogonRight {
                        "no right to log on remotely"
                    } else {
                        "wrong user name or password"
                    }
                ),
                PhaseName::Connect,
                ev,
                cause,
                fixes,
            )
        }
        ConnectOutcome::AuthFailed { message } => finding(
            "AUTH002",
            Severity::Error,
            format!("CredSSP authentication of {account} fails without a status code: {message}"),
            PhaseName::Connect,
            ev,
            CauseId::Credentials,
            &["Check the user name and password (DOMAIN\\user, or .\\user for a local account); the host's Security log event 4625 says why"],
        ),
        ConnectOutcome::ServerDenied { code } => {
            ev.insert(0, code_evidence(code));
            finding(
                "CONN001",
                Severity::Error,
                format!(
                    "the server ends the connection during {}: Set Error Info {}",
                    step.label(),
                    code.display()
                ),
                PhaseName::Connect,
                ev,
                cause_of(code, CauseId::SessionEndedByPolicyOrAdmin),
                &["rdp-doctor explain --as errinfo CODE reads the code with its likely causes"],
            )
        }
        ConnectOutcome::McsDisconnect { reason } => {
            ev.insert(0, code_evidence(reason));
            if let Some(e) = &c.error_info {
                ev.insert(0, code_evidence(e));
            }
            let cause = if step == ConnectStep::Licensing {
                CauseId::Licensing
            } else {
                cause_of(reason, CauseId::ServiceOrListenerDown)
            };
            finding(
                "CONN002",
                Severity::Error,
                format!(
                    "the server disconnects during {}: MCS Disconnect Provider Ultimatum {}",
                    step.label(),
                    reason.display()
                ),
                PhaseName::Connect,
                ev,
                cause,
                &[],
            )
        }
        ConnectOutcome::LicensingFailed {
            code,
            state_transition,
            state_transition_name,
        } => {
            ev.insert(
                0,
                format!(
                    "Licensing Error Message {} (state transition {state_transition} {state_transition_name})",
                    code.display()
                ),
            );
            finding(
                "LIC001",
                Severity::Error,
                format!("licensing fails: {}", code.display()),
                PhaseName::Connect,
                ev,
                CauseId::Licensing,
                &["Check the RD Licensing server and the host's licensing mode (Get-WmiObject -Namespace root/cimv2/terminalservices Win32_TerminalServiceSetting); the grace period may have ended"],
            )
        }
        ConnectOutcome::Closed { during }
        | ConnectOutcome::TimedOut { during, .. }
        | ConnectOutcome::Failed { during, .. } => {
            let cause = match (during, &c.outcome) {
                (_, ConnectOutcome::TimedOut { .. }) => CauseId::NetworkPath,
                (ConnectStep::Tcp, _) => CauseId::FirewallOrPort,
                (ConnectStep::Tls, _) => CauseId::CertificateOrKey,
                (ConnectStep::Credssp, _) => CauseId::CredsspPolicy,
                (ConnectStep::Licensing, _) => CauseId::Licensing,
                (ConnectStep::ClientInfo, _) => CauseId::Credentials,
                (ConnectStep::Capabilities | ConnectStep::Finalization, _) => CauseId::ProtocolOrGraphics,
                _ => CauseId::ServerResources,
            };
            finding(
                "CONN003",
                Severity::Error,
                format!(
                    "the connection as {account} fails during {}: {}",
                    during.label(),
                    outcome_summary(&c.outcome)
                ),
                PhaseName::Connect,
                ev,
                cause,
                &[],
            )
        }
        ConnectOutcome::Unsupported { during, .. } => finding(
            "CONN004",
            Severity::Info,
            format!(
                "the credentialed connection stops at {}: the probe cannot go further with this server",
                during.label()
            ),
            PhaseName::Connect,
            ev,
            CauseId::SecurityLayerMismatch,
            &[],
        ),
    };
    out.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_the_password() {
        let c = Credentials::new("tester", Some("LAB".into()), "pa55-W0rd!");
        let debug = format!("{c:?}");
        assert!(!debug.contains("pa55-W0rd!"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert_eq!(c.account(), "LAB\\tester");
        assert_eq!(
            Credentials::new("u", Some(String::new()), "p").account(),
            "u"
        );
    }

    #[test]
    fn codes_are_decoded_with_the_tables() {
        let c = decode_code(&[Namespace::ErrInfo], 7);
        assert_eq!(c.name, "ERRINFO_SERVER_DENIED_CONNECTION");
        assert_eq!((c.hex.as_str(), c.dec), ("0x7", 7));
        let s = decode_status(0xC000_006D);
        assert_eq!(s.name, "STATUS_LOGON_FAILURE");
        assert_eq!((s.hex.as_str(), s.dec), ("0xC000006D", -1_073_741_715));
        assert_eq!(s.namespace, "ntstatus");
        assert!(!s.meaning.is_empty());
        let s = decode_status(0x8009_030C);
        assert_eq!(s.name, "SEC_E_LOGON_DENIED");
        let m = decode_code(&[Namespace::McsDisconnectReason], 1);
        assert_eq!(m.name, "rn-provider-initiated");
        let unknown = decode_code(&[Namespace::ErrInfo], 0x7777_7777);
        assert_eq!(unknown.name, "unknown");
    }

    #[test]
    fn stops_become_outcomes() {
        assert_eq!(stop_outcome(ServerStop::SetErrorInfo(0)), None);
        match stop_outcome(ServerStop::SetErrorInfo(7)) {
            Some(ConnectOutcome::ServerDenied { code }) => assert_eq!(code.value, 7),
            other => panic!("{other:?}"),
        }
        match stop_outcome(ServerStop::LicenseError {
            code: 2,
            state_transition: 1,
        }) {
            Some(ConnectOutcome::LicensingFailed {
                code,
                state_transition_name,
                ..
            }) => {
                assert_eq!(code.name, "ERR_NO_LICENSE");
                assert_eq!(state_transition_name, "ST_TOTAL_ABORT");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_follow_what_the_server_selected() {
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
