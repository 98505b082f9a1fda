//! The probe against real peers (xrdp, the FreeRDP shadow server, xfreerdp),
//! kernel faults in network namespaces, captured bytes and scripted servers
//! where no real peer shows the behaviour (each module says which). One test
//! binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod beyond_handshake;
mod clients;
mod credentials;
mod faults;
mod gateway;
mod old_tls;
mod path;
mod udp;
mod xrdp;

use rdp_doctor_probe::diagnose::{diagnose, Diagnosis};
use rdp_doctor_probe::ProbeOptions;

/// A file of `tests/data`.
pub fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Probes `target` and diagnoses the report.
pub async fn probe_and_diagnose(target: &str, opts: &ProbeOptions) -> Diagnosis {
    diagnose(
        rdp_doctor_probe::probe(target, opts)
            .await
            .expect("probe runs"),
    )
}
