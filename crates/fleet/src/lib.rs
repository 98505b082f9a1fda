//! Watching a fleet of RDP hosts.
//!
//! [`scan`] probes many targets with bounded concurrency and a deadline per
//! target; [`exporter`] serves probes to Prometheus in the blackbox_exporter
//! style. Both are protocol-agnostic: the probe itself is passed in, so the
//! same probe serves `probe`, `scan` and `serve`.

pub mod exporter;
pub mod scan;
