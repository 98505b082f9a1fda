//! The probe's result: one uniform, serialisable report, phase by phase.

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::wire::cert::CertInfo;
use crate::wire::ntlm::NtlmInfo;
use crate::wire::x224::Protocol;

/// Version of the JSON document `probe --json` prints.
pub const SCHEMA: &str = "rdp-doctor.probe/v1";

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
}

/// The phases, in connection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    Dns,
    Tcp,
    X224,
    Tls,
    Credssp,
    /// The credentialed connection (only with credentials).
    Connect,
}

impl PhaseName {
    pub fn label(self) -> &'static str {
        match self {
            PhaseName::Dns => "DNS",
            PhaseName::Tcp => "TCP",
            PhaseName::X224 => "X.224",
            PhaseName::Tls => "TLS",
            PhaseName::Credssp => "CredSSP",
            PhaseName::Connect => "Connect",
        }
    }
}

/// One phase: outcome, time, and the evidence behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: PhaseName,
    pub status: Status,
    pub duration_ms: f64,
    pub summary: String,
    pub evidence: Vec<String>,
}

/// How a TCP connect ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TcpOutcome {
    Connected,
    /// RST in answer to SYN: nothing listens, or a firewall REJECTs.
    Refused,
    /// No answer within the deadline: a firewall DROPs, or the host is down.
    TimedOut,
    /// Reset during the handshake.
    Reset,
    /// ICMP unreachable or no route.
    Unreachable {
        message: String,
    },
    Error {
        message: String,
    },
}

/// Kernel TCP statistics of a connection (Linux TCP_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TcpStats {
    pub rtt_ms: f64,
    pub rtt_var_ms: f64,
    pub retransmits_total: u32,
    pub mss: u32,
}

/// The server's answer to a request for one protocol set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NegotiationOutcome {
    /// RDP_NEG_RSP: the server selected this protocol.
    Selected {
        selected: u32,
        selected_name: String,
        flags: u8,
    },
    /// RDP_NEG_FAILURE.
    Failure {
        code: u32,
        name: String,
        meaning: String,
    },
    /// Connection Confirm without negotiation data (legacy server, RDP security only).
    Legacy,
    /// The server closed the connection without answering.
    Closed,
    /// Nothing came back before the deadline.
    TimedOut { bytes_sent: usize },
    /// The answer is not an X.224 Connection Confirm.
    Garbage { message: String },
    /// The TCP connection for this request failed.
    ConnectFailed { outcome: TcpOutcome },
}

/// One request of the support matrix.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolProbe {
    /// The protocols requested together.
    pub requested: Vec<Protocol>,
    pub outcome: NegotiationOutcome,
    /// Whether the server accepts this request (selected one of the requested protocols).
    pub accepted: bool,
    pub duration_ms: f64,
}

/// Facts from the TLS handshake.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFacts {
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub chain: Vec<CertInfo>,
    /// The host name asked for matches the leaf certificate.
    pub name_matches: Option<bool>,
    pub expired: Option<bool>,
    pub not_yet_valid: Option<bool>,
    pub days_left: Option<i64>,
    /// Why the handshake failed, when it did.
    pub error: Option<String>,
    /// What the server sent instead of a TLS answer, when it did.
    pub server_sent: Option<String>,
}

/// Everything the probe learned.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub schema: &'static str,
    pub target: String,
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    pub connected_to: Option<SocketAddr>,
    pub phases: Vec<Phase>,
    pub tcp: Option<TcpOutcome>,
    pub tcp_stats: Option<TcpStats>,
    /// What a client offering TLS, CredSSP and CredSSP-EX (as mstsc does) gets.
    pub negotiated: Option<ProtocolProbe>,
    /// One request per protocol: which ones the server supports.
    pub protocols: Vec<ProtocolProbe>,
    pub tls: Option<TlsFacts>,
    pub ntlm: Option<NtlmInfo>,
    pub credssp_error: Option<String>,
    pub connections_used: u32,
    pub total_ms: f64,
    /// The total budget ran out before every phase was done.
    pub budget_exhausted: bool,
    /// Path quality: TCP_INFO per connection, bytes per phase, the small-MSS retry, repeated handshakes.
    pub path: crate::path::PathFacts,
    /// The full connection with credentials, step by step (null without credentials).
    pub connection: Option<crate::connect::ConnectionReport>,
}

impl ProbeReport {
    /// The phase named `name`, if it ran.
    pub fn phase(&self, name: PhaseName) -> Option<&Phase> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Protocols the server accepts on their own.
    pub fn supported(&self) -> Vec<Protocol> {
        self.protocols
            .iter()
            .filter(|p| p.accepted)
            .flat_map(|p| p.requested.iter().copied())
            .collect()
    }

    /// The first phase that failed.
    pub fn first_failure(&self) -> Option<&Phase> {
        self.phases.iter().find(|p| p.status == Status::Fail)
    }
}
