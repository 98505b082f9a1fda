//! Probing an RDP server phase by phase, from the client side.
//!
//! [`probe`] resolves the target, connects, asks which security protocols
//! the server accepts (one X.224 request per protocol), runs TLS and records
//! the certificate chain, and asks CredSSP for the server's NTLM information,
//! each step with its own deadline inside a total budget. The result is one
//! uniform, serialisable [`ProbeReport`]; [`diagnose`] turns it into ranked
//! findings. Protocol parsing lives in [`wire`] and does no I/O; [`path`]
//! measures the path (TCP_INFO, bytes per phase, MTU, repeated handshakes).
//! [`probe_with_credentials`] adds a full connection with a user name and
//! password ([`connect`]): CredSSP, MCS, licensing, capabilities, finalization.

pub mod connect;
pub mod diagnose;
pub mod path;
mod probe;
pub mod report;
pub mod wire;

pub use connect::{probe_with_credentials, Credentials};
pub use probe::{parse_target, probe, tcp_stats, ProbeError, ProbeOptions};
pub use report::*;
