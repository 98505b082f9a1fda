//! The one finding model every evidence source of rdp-doctor produces and
//! every renderer and the diagnosis engine consume.
//!
//! ```text
//! evidence -> facts -> rules -> Finding { id, severity, cause, evidence, remedies } -> diagnosis -> plan
//! ```
//!
//! - [`FindingId`]: one enum and one registry ([`id::REGISTRY`]) of every finding.
//! - [`Evidence`]: typed by source, with provenance (probe phase, registry path, event records, .rdp line, code).
//! - [`Remedy`] and [`Action`]: what to change; the same actions are rendered as commands and applied.
//! - [`CertInfo`]: what a certificate says about itself, read from DER by [`cert::parse_cert`].
//!
//! Pure: no I/O, no clock.

#![forbid(unsafe_code)]

pub mod action;
pub mod cause;
pub mod cert;
pub mod command;
pub mod credssp;
pub mod evidence;
pub mod finding;
pub mod id;
pub mod severity;

pub use action::{Action, Machine, Remedy, Root};
pub use cause::CauseId;
pub use cert::CertInfo;
pub use evidence::{Evidence, PhaseName, RegistryOrigin};
pub use finding::Finding;
pub use id::{FindingId, FindingInfo, Source, REGISTRY};
pub use rdp_doctor_regf::Data;
pub use severity::Severity;
