//! The layer of the connection a code points at.

use serde::Serialize;

/// Where in the connection sequence a failure sits, from the bottom up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Name resolution.
    Dns,
    /// TCP and the path to the host (firewalls, loss, MTU, resets).
    Network,
    /// X.224 security protocol negotiation.
    Negotiation,
    /// The security channel: TLS or Standard RDP Security, certificates, keys.
    Security,
    /// CredSSP / NLA / Kerberos / NTLM logon.
    Authentication,
    /// RD licensing.
    Licensing,
    /// The session after connection: limits, admin actions, server state.
    Session,
    /// Errors inside the RDP protocol stream (protocol errors, graphics).
    Protocol,
    /// RD Gateway (TSG).
    Gateway,
    /// RemoteApp.
    RemoteApp,
    /// The client itself (UI, resources, smart card reader).
    Client,
    /// Not an error.
    None,
}

impl Layer {
    /// One word for human output.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Dns => "dns",
            Layer::Network => "network",
            Layer::Negotiation => "negotiation",
            Layer::Security => "security",
            Layer::Authentication => "authentication",
            Layer::Licensing => "licensing",
            Layer::Session => "session",
            Layer::Protocol => "protocol",
            Layer::Gateway => "gateway",
            Layer::RemoteApp => "remoteapp",
            Layer::Client => "client",
            Layer::None => "none",
        }
    }

    /// The layer named by [`Layer::name`], as the tables' `layer` column writes it.
    pub fn from_name(name: &str) -> Option<Layer> {
        [
            Layer::Dns,
            Layer::Network,
            Layer::Negotiation,
            Layer::Security,
            Layer::Authentication,
            Layer::Licensing,
            Layer::Session,
            Layer::Protocol,
            Layer::Gateway,
            Layer::RemoteApp,
            Layer::Client,
            Layer::None,
        ]
        .into_iter()
        .find(|l| l.name().eq_ignore_ascii_case(name.trim()))
    }

    /// What the layer covers, for human output.
    pub fn description(self) -> &'static str {
        match self {
            Layer::Dns => "name resolution",
            Layer::Network => "TCP and the network path (firewall, loss, MTU, resets)",
            Layer::Negotiation => "X.224 security protocol negotiation",
            Layer::Security => "security channel (TLS / RDP security, certificate, private key)",
            Layer::Authentication => "logon (CredSSP / NLA, Kerberos, NTLM, credentials)",
            Layer::Licensing => "RD licensing",
            Layer::Session => "session (limits, administrative actions, server state)",
            Layer::Protocol => "RDP protocol stream (protocol or graphics errors)",
            Layer::Gateway => "RD Gateway",
            Layer::RemoteApp => "RemoteApp",
            Layer::Client => "the client itself",
            Layer::None => "not an error",
        }
    }
}
