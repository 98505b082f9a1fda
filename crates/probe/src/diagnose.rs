//! From a probe report to the verdict and the findings, most important first.

pub use rdp_doctor_model::Finding;
use rdp_doctor_model::{Evidence, PhaseName};
use serde::Serialize;

use crate::report::*;

/// Version of the JSON document `diagnose --json` prints.
pub const SCHEMA: &str = "rdp-doctor.diagnose/v1";

pub use rdp_doctor_model::Severity;

/// The verdict and the findings, most important first.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub schema: &'static str,
    pub target: String,
    pub verdict: String,
    /// No finding of severity error.
    pub healthy: bool,
    pub findings: Vec<Finding>,
    pub probe: ProbeReport,
}

/// The phase a finding's first probe evidence names.
pub fn phase_of(f: &Finding) -> Option<PhaseName> {
    f.evidence.iter().find_map(|e| match e {
        Evidence::Probe { phase, .. } => Some(*phase),
        _ => None,
    })
}

fn verdict(report: &ProbeReport, findings: &[Finding]) -> String {
    let target = report.authority();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    match findings.first() {
        Some(f) if f.severity == Severity::Error => format!(
            "RDP to {target} fails at {}: {}",
            phase_of(f).map(|p| p.label()).unwrap_or("the probe"),
            f.title
        ),
        _ if warnings > 0 => format!("RDP to {target} connects, with {warnings} warning(s)"),
        _ => {
            let via = match report.negotiated.as_ref().map(|n| &n.outcome) {
                Some(NegotiationOutcome::Selected { selected_name, .. }) => selected_name.clone(),
                Some(_) => "RDP".into(),
                None => String::new(),
            };
            format!("RDP to {target} connects ({via}); no problem found")
        }
    }
}

/// Turns a probe report into a verdict and ranked findings.
pub fn diagnose(report: ProbeReport) -> Diagnosis {
    let mut findings = crate::rules::all(&report);
    // Errors first, then by phase order (the earliest failure is the cause of the later ones).
    findings.sort_by_key(|f| (f.severity, phase_of(f).map(|p| p as u8).unwrap_or(u8::MAX)));
    let healthy = !findings.iter().any(|f| f.severity == Severity::Error);
    Diagnosis {
        schema: SCHEMA,
        target: report.authority(),
        verdict: verdict(&report, &findings),
        healthy,
        findings,
        probe: report,
    }
}
