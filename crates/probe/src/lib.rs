//! Probing an RDP server phase by phase, from the client side.
//!
//! [`probe`] resolves the target, connects, asks which security protocols
//! the server accepts (one X.224 request per protocol), runs TLS and records
//! the certificate chain, and asks CredSSP for the server's NTLM information,
//! each step with its own deadline inside a total budget ([`phases`]). The
//! result is one uniform, serialisable [`ProbeReport`] of typed outcomes;
//! [`diagnose`] turns it into ranked `rdp_doctor_model::Finding`s with the
//! rules in `rules/`. Protocol parsing lives in [`wire`] and does no I/O;
//! [`path`] measures the path (TCP_INFO, bytes per phase, MTU, repeated
//! handshakes). [`probe_with_credentials`] adds a full connection with a user
//! name and password ([`connect`]): CredSSP, MCS, licensing, capabilities,
//! finalization.

pub mod connect;
pub mod diagnose;
pub mod gateway;
pub mod path;
mod phases;
pub mod report;
pub mod rules;
pub mod target;
pub mod text;
pub mod udp;
pub mod wire;

pub use connect::{probe_with_credentials, Credentials};
pub use path::{tcp_info, TcpInfo};
pub use phases::{probe, ProbeError, ProbeOptions};
pub use report::*;
pub use target::{authority, BadTarget, Target};

#[cfg(test)]
mod readme {
    use rdp_doctor_model::{FindingId, Source};

    const BEGIN: &str = "<!-- findings:begin -->\n";
    const END: &str = "<!-- findings:end -->";

    /// The README's finding table is the registry's (`UPDATE_GOLDEN=1` rewrites it).
    #[test]
    fn readme_table_is_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let text = std::fs::read_to_string(path).expect("README.md");
        let table = FindingId::table(Source::Probe);
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("README.md has no {BEGIN:?} .. {END:?} markers");
        };
        let current = &text[b + BEGIN.len()..e];
        if current != table && std::env::var_os("UPDATE_GOLDEN").is_some() {
            let updated = format!("{}{table}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(path, updated).expect("README.md written");
            return;
        }
        assert_eq!(
            current, table,
            "run with UPDATE_GOLDEN=1 to rewrite the table"
        );
    }
}
