//! The probe's result: one uniform, serialisable report, phase by phase.
//! Every failure is a typed outcome; the words for people are in [`crate::text`].

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

pub use rdp_doctor_model::PhaseName;

use crate::path::TcpInfo;
use crate::wire::cert::CertInfo;
use crate::wire::ntlm::NtlmInfo;
use crate::wire::x224::Protocol;

/// Version of the JSON document `probe --json` prints.
pub const SCHEMA: &str = "rdp-doctor.probe/v2";

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skipped,
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

/// Which kind of ICMP-or-routing failure a connect met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    /// No route to the network (ENETUNREACH): routing, VPN or gateway.
    Network,
    /// The host does not answer ARP / ICMP host unreachable (EHOSTUNREACH).
    Host,
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
        what: Unreachable,
    },
    /// Another socket error (its OS text, for people only).
    Error {
        message: String,
    },
}

/// What a server sent that is not an X.224 Connection Confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForeignAnswer {
    /// An HTTP status line: a web server or a proxy listens on the port.
    Http { status_line: String },
    /// An HTML page without a status line (an HTTP server answering what it
    /// took for an HTTP/0.9 request), with the error code it shows.
    HttpPage { status: Option<u16> },
    /// An MCS Disconnect Provider Ultimatum instead of a Connection Confirm.
    McsDisconnect { reason: u8 },
    /// The connection closed in the middle of a frame.
    Truncated { bytes: usize, hex: String },
    /// Bytes that frame as nothing RDP knows.
    Unknown { hex: String, reason: String },
    /// The read failed with a socket error other than a reset.
    ReadError { message: String },
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
    NotRdp { answer: ForeignAnswer },
    /// The TCP connection for this request failed.
    ConnectFailed { outcome: TcpOutcome },
}

impl NegotiationOutcome {
    /// The server answered the request (selection, refusal or legacy confirm).
    pub fn answered(&self) -> bool {
        matches!(
            self,
            NegotiationOutcome::Selected { .. }
                | NegotiationOutcome::Legacy
                | NegotiationOutcome::Failure { .. }
        )
    }
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

/// Why a TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsFailure {
    /// Nothing (or not enough) came back before the deadline.
    Timeout { waited_ms: u64 },
    /// The server refused every version or cipher offered (alert protocol_version,
    /// handshake_failure, insufficient_security, or a ServerHello rustls cannot use).
    NoCommonVersionOrCipher,
    /// Another TLS alert from the server (its AlertDescription number).
    Alert { description: u8 },
    /// The server closed the connection without a byte after the ClientHello.
    ClosedAfterClientHello,
    /// The connection was reset.
    Reset,
    /// A plaintext MCS Disconnect Provider Ultimatum instead of a ServerHello
    /// (xrdp and Windows when the listener cannot use its key).
    PlaintextMcsDisconnect { reason: u8 },
    /// The server closed in the middle of its TLS answer.
    ClosedDuringHandshake,
    /// The server's answer is not TLS.
    NotTls,
    /// A TLS error rustls reported on the server's messages.
    Protocol { message: String },
    /// The certificate could not be read.
    BadCertificate { message: String },
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
    pub failure: Option<TlsFailure>,
    /// What the server sent instead of a TLS answer, when it did (for people).
    pub server_sent: Option<String>,
    /// The first byte the server sent in the TLS phase (0x16: a TLS handshake record).
    pub server_first_byte: Option<u8>,
}

impl TlsFacts {
    pub(crate) fn empty() -> Self {
        TlsFacts {
            version: None,
            cipher: None,
            chain: Vec::new(),
            name_matches: None,
            expired: None,
            not_yet_valid: None,
            days_left: None,
            failure: None,
            server_sent: None,
            server_first_byte: None,
        }
    }

    /// The handshake failed by the probe's deadline.
    pub fn timed_out(&self) -> bool {
        matches!(self.failure, Some(TlsFailure::Timeout { .. }))
    }
}

/// Why the CredSSP NTLM exchange gave no information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredsspFailure {
    /// No answer before the deadline.
    Timeout { waited_ms: u64 },
    /// The server closed after `after_bytes` bytes of its answer.
    Closed { after_bytes: usize },
    /// The answer announced a length out of bounds.
    Oversized { length: usize },
    /// The answer is not a TSRequest with an NTLM CHALLENGE.
    Malformed { message: String },
    /// A socket or TLS error.
    Io { message: String },
}

/// How the MCS Connect Initial round trip after TLS ended (TLS without NLA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McsOutcome {
    /// The server sent its Connect Response.
    Response(crate::wire::mcs_connect::McsResponse),
    /// An MCS Disconnect Provider Ultimatum instead.
    Disconnect { reason: u8 },
    /// No answer before the deadline.
    Timeout { waited_ms: u64 },
    /// The server closed after `after_bytes` bytes of its answer.
    Closed { after_bytes: usize },
    /// The connection was reset.
    Reset,
    /// The answer is not a Connect Response.
    NotMcs { message: String },
    /// Another socket or TLS error.
    Io { message: String },
}

/// The server's clock (NTLM CHALLENGE timestamp) and this machine's, read
/// when the CHALLENGE arrived (seconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockReading {
    pub server_unix: i64,
    pub local_unix: i64,
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
    /// Kernel TCP_INFO of the main connection.
    pub tcp_stats: Option<TcpInfo>,
    /// What a client offering TLS, CredSSP and CredSSP-EX (as mstsc does) gets.
    pub negotiated: Option<ProtocolProbe>,
    /// One request per protocol: which ones the server supports.
    pub protocols: Vec<ProtocolProbe>,
    pub tls: Option<TlsFacts>,
    pub ntlm: Option<NtlmInfo>,
    pub credssp_error: Option<CredsspFailure>,
    /// The MCS Connect Initial round trip (TLS without NLA).
    pub mcs: Option<McsOutcome>,
    /// Both clocks when the NTLM CHALLENGE carried a timestamp.
    pub clock: Option<ClockReading>,
    /// The probe's own ClientHellos (TLS 1.0/1.1/1.2, chosen cipher suites), made when TLS found nothing in common.
    pub tls_scan: Option<crate::wire::client_hello::TlsScan>,
    /// Which common clients connect with their defaults, and why not (from the facts above).
    pub clients: Vec<crate::rules::clients::ClientVerdict>,
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
    /// An empty report for `host`:`port`.
    pub fn new(target: &str, host: &str, port: u16) -> Self {
        ProbeReport {
            schema: SCHEMA,
            target: target.to_string(),
            host: host.to_string(),
            port,
            addresses: Vec::new(),
            connected_to: None,
            phases: Vec::new(),
            tcp: None,
            tcp_stats: None,
            negotiated: None,
            protocols: Vec::new(),
            tls: None,
            ntlm: None,
            credssp_error: None,
            mcs: None,
            clock: None,
            tls_scan: None,
            clients: Vec::new(),
            connections_used: 0,
            total_ms: 0.0,
            budget_exhausted: false,
            path: Default::default(),
            connection: None,
        }
    }

    /// `host:port`, IPv6 in brackets.
    pub fn authority(&self) -> String {
        crate::target::authority(&self.host, self.port)
    }

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
