//! The root causes a finding or a code can point at.
//!
//! The catalog (titles, checks, fixes, sources) lives in the codes crate; this
//! is only the stable identifier every part of rdp-doctor shares.

use serde::{Deserialize, Serialize};

/// Stable identifiers of root causes (JSON: snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseId {
    NameResolution,
    NetworkPath,
    FirewallOrPort,
    RemoteDesktopDisabled,
    ServiceOrListenerDown,
    CertificateOrKey,
    TlsSettings,
    SecurityLayerMismatch,
    CredsspPolicy,
    ConnectionLimit,
    DrainOrLogonsDisabled,
    Credentials,
    NoRemoteLogonRight,
    Licensing,
    SessionEndedByPolicyOrAdmin,
    ServerResources,
    ProtocolOrGraphics,
    Gateway,
    CorruptRdpFile,
    UdpTransport,
    SmartCard,
    /// No domain controller / KDC reachable, or clocks too far apart for Kerberos.
    DomainController,
    /// The name connected to does not match the server's SPN or certificate.
    TargetName,
    /// An account restriction forbids the logon (blank password, logon hours, workstations).
    AccountRestriction,
}

impl CauseId {
    /// Every cause, in catalog order.
    pub const ALL: [CauseId; 24] = [
        CauseId::NameResolution,
        CauseId::NetworkPath,
        CauseId::FirewallOrPort,
        CauseId::RemoteDesktopDisabled,
        CauseId::ServiceOrListenerDown,
        CauseId::CertificateOrKey,
        CauseId::TlsSettings,
        CauseId::SecurityLayerMismatch,
        CauseId::CredsspPolicy,
        CauseId::ConnectionLimit,
        CauseId::DrainOrLogonsDisabled,
        CauseId::Credentials,
        CauseId::NoRemoteLogonRight,
        CauseId::Licensing,
        CauseId::SessionEndedByPolicyOrAdmin,
        CauseId::ServerResources,
        CauseId::ProtocolOrGraphics,
        CauseId::Gateway,
        CauseId::CorruptRdpFile,
        CauseId::UdpTransport,
        CauseId::SmartCard,
        CauseId::DomainController,
        CauseId::TargetName,
        CauseId::AccountRestriction,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CauseId::NameResolution => "name_resolution",
            CauseId::NetworkPath => "network_path",
            CauseId::FirewallOrPort => "firewall_or_port",
            CauseId::RemoteDesktopDisabled => "remote_desktop_disabled",
            CauseId::ServiceOrListenerDown => "service_or_listener_down",
            CauseId::CertificateOrKey => "certificate_or_key",
            CauseId::TlsSettings => "tls_settings",
            CauseId::SecurityLayerMismatch => "security_layer_mismatch",
            CauseId::CredsspPolicy => "credssp_policy",
            CauseId::ConnectionLimit => "connection_limit",
            CauseId::DrainOrLogonsDisabled => "drain_or_logons_disabled",
            CauseId::Credentials => "credentials",
            CauseId::NoRemoteLogonRight => "no_remote_logon_right",
            CauseId::Licensing => "licensing",
            CauseId::SessionEndedByPolicyOrAdmin => "session_ended_by_policy_or_admin",
            CauseId::ServerResources => "server_resources",
            CauseId::ProtocolOrGraphics => "protocol_or_graphics",
            CauseId::Gateway => "gateway",
            CauseId::CorruptRdpFile => "corrupt_rdp_file",
            CauseId::UdpTransport => "udp_transport",
            CauseId::SmartCard => "smart_card",
            CauseId::DomainController => "domain_controller",
            CauseId::TargetName => "target_name",
            CauseId::AccountRestriction => "account_restriction",
        }
    }

    /// The cause named `name` (snake_case).
    pub fn from_name(name: &str) -> Option<CauseId> {
        CauseId::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for CauseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
