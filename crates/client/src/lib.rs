//! The client side of Remote Desktop, read offline from the client's SOFTWARE
//! hive and NTUSER.DAT, or live on Windows, through one [`ClientRegistry`].
//!
//! ```text
//! ClientRegistry -> facts::read -> ClientFacts -> rules -> Finding (CLIENT001..)
//!                                              \-> plan::plan -> apply (offline hive) / live -> undo
//! Default.rdp -> rdpfile lint          RDPClient/Operational .evtx -> disconnects (1026)
//! ```
//!
//! Also the evidence folder `host collect` writes on a Windows host
//! ([`collect`]) and the paths other commands read in it ([`collected`]).

pub mod apply;
pub mod check;
pub mod collect;
pub mod collected;
pub mod disconnects;
pub mod facts;
pub mod live;
pub mod plan;
pub mod rdp;
pub mod registry;
pub mod rules;

pub use check::{check, Report, SCHEMA};
pub use registry::{Branch, ClientRegistry, OfflineClient};

/// Why a command could not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<rdp_doctor_host::Error> for Error {
    fn from(e: rdp_doctor_host::Error) -> Self {
        Error(e.0)
    }
}

/// The registry key of the client policies (under `HKLM\SOFTWARE`).
pub const CLIENT_POLICY_KEY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services\\Client";
/// The client policy that turns UDP off (1).
pub const DISABLE_UDP: &str = "fClientDisableUDP";
/// The host policy key (under `HKLM\SOFTWARE`), where `SelectTransport` lives.
pub const HOST_POLICY_KEY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";
/// The host's transport policy.
pub const SELECT_TRANSPORT: &str = "SelectTransport";
/// The CredSSP policy key (under `HKLM\SOFTWARE`).
pub const CREDSSP_KEY: &str =
    "Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters";
/// The CredSSP encryption oracle remediation policy.
pub const ORACLE: &str = "AllowEncryptionOracle";
/// The Remote Desktop client's per-user key (under `HKCU`).
pub const TSC_KEY: &str = "Software\\Microsoft\\Terminal Server Client";
