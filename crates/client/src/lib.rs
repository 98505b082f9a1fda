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

#[cfg(test)]
mod readme {
    use rdp_doctor_model::{FindingId, Source};

    const BEGIN: &str = "<!-- findings:begin -->\n";
    const END: &str = "<!-- findings:end -->";

    /// The README's finding table is the registry's; `UPDATE_GOLDEN=1` rewrites it.
    #[test]
    fn finding_table_is_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let text = std::fs::read_to_string(&path).expect("README.md");
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("README.md has no {BEGIN:?} .. {END:?} markers");
        };
        let table = FindingId::table(Source::Client);
        let inside = &text[b + BEGIN.len()..e];
        if inside != table && std::env::var_os("UPDATE_GOLDEN").is_some() {
            let updated = format!("{}{table}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(&path, updated).expect("write README.md");
            return;
        }
        assert_eq!(
            inside, table,
            "README.md's table differs from the registry (UPDATE_GOLDEN=1 rewrites it)"
        );
    }
}
