//! A Prometheus exporter in the blackbox_exporter style.
//!
//! `GET /probe?target=HOST[:PORT]&module=NAME` runs one probe with the named
//! module's settings and answers with that probe's metrics; `GET /metrics`
//! answers with the exporter's own. The prober is a trait ([`Prober`]), so the
//! HTTP side, the allowlist, the concurrency bound and the configuration
//! reload are the same for every protocol.

pub mod config;
pub mod metrics;
mod server;

pub use config::{AllowList, Config, ConfigError, CredentialRef, Module};
pub use metrics::{render, Kind, Sample};
pub use server::{bind, Exporter, ProbeOutcome, Prober};
