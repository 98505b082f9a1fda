//! The network probe's report as the diagnosis engine's facts, shared by
//! `diagnose` and the tests that build a diagnosis from a real probe.

use rdp_doctor_diagnose::ProbeFacts;
use rdp_doctor_model::PhaseName;

/// The phases the probe got through, the first that failed, its findings and what the support matrix says.
pub fn probe_facts(
    r: &rdp_doctor_probe::ProbeReport,
    findings: Vec<rdp_doctor_model::Finding>,
) -> ProbeFacts {
    use rdp_doctor_probe::Status;
    let completed: Vec<PhaseName> = r
        .phases
        .iter()
        .take_while(|p| matches!(p.status, Status::Ok | Status::Warn))
        .map(|p| p.name)
        .collect();
    let failed = r
        .phases
        .iter()
        .find(|p| p.status == Status::Fail)
        .map(|p| p.name);
    ProbeFacts {
        completed,
        failed,
        findings,
        repeated: r.path.repeat.as_ref().map(|rep| rep.requested as usize),
        with_credentials: r.connection.is_some(),
        nla_required: nla_required(r),
    }
}

/// The support matrix ran and only CredSSP (NLA) was accepted.
fn nla_required(r: &rdp_doctor_probe::ProbeReport) -> bool {
    use rdp_doctor_probe::wire::x224::Protocol;
    let supported = r.supported();
    !r.protocols.is_empty()
        && supported
            .iter()
            .any(|p| matches!(p, Protocol::Hybrid | Protocol::HybridEx))
        && !supported
            .iter()
            .any(|p| matches!(p, Protocol::Rdp | Protocol::Tls))
}
