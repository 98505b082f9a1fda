//! The credentialed connection's report: sub-phases, outcome, timings.

use serde::Serialize;

use super::codes::Code;
use crate::report::Status;
use crate::wire::x224::Protocol;

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
