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
