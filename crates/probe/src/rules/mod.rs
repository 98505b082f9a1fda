//! The rules: small pure functions from a [`ProbeReport`] to model findings,
//! one module per layer. They read typed outcomes only, never message text.

pub mod clients;
mod connect;
mod negotiation;
mod network;
mod old_tls;
mod path;
mod session;
mod tls;

use rdp_doctor_model::{Evidence, Finding, Machine, PhaseName, Remedy};

use crate::report::ProbeReport;

/// Every rule over `r`, in phase order.
pub(crate) fn all(r: &ProbeReport) -> Vec<Finding> {
    let mut out = Vec::new();
    network::rules(r, &mut out);
    negotiation::rules(r, &mut out);
    tls::rules(r, &mut out);
    tls::identity_and_budget_rules(r, &mut out);
    path::rules(r, &mut out);
    session::rules(r, &mut out);
    out.extend(clients_refused(r));
    out.extend(connect::rule(r));
    for f in &mut out {
        dedupe(&mut f.evidence);
    }
    out
}

/// Some common clients cannot connect with their defaults.
fn clients_refused(r: &ProbeReport) -> Option<Finding> {
    let refused: Vec<&clients::ClientVerdict> = r
        .clients
        .iter()
        .filter(|c| c.connects == Some(false))
        .collect();
    if refused.is_empty() {
        return None;
    }
    let names: Vec<&str> = refused.iter().map(|c| c.client).collect();
    let evidence = refused.iter().map(|c| {
        Evidence::probe(
            PhaseName::Tls,
            format!(
                "{}: {} ({})",
                c.client,
                c.reasons.join("; "),
                c.sources.join(", ")
            ),
        )
    });
    Some(
        Finding::new(
            rdp_doctor_model::FindingId::ClientsCannotConnect,
            rdp_doctor_model::Severity::Warning,
            format!("{} of {} common clients cannot connect with their defaults: {}", refused.len(), r.clients.len(), names.join(", ")),
        )
        .evidences(evidence)
        .remedy(advice("Serve TLS 1.2 with an RSA key of 2048 bits or more signed with SHA-256, and offer TLS (not only Standard RDP Security)")),
    )
}

/// The phase's own evidence: its summary with time and kernel byte counts,
/// then its evidence lines.
pub(crate) fn phase_evidence(r: &ProbeReport, name: PhaseName) -> Vec<Evidence> {
    let Some(p) = r.phase(name) else {
        return Vec::new();
    };
    let traffic = r.path.traffic_of(name).filter(|t| t.counted);
    let first = Evidence::Probe {
        phase: name,
        elapsed_ms: Some(p.duration_ms),
        bytes_sent: traffic.map(|t| t.bytes_sent),
        bytes_received: traffic.map(|t| t.bytes_received),
        observed: p.summary.clone(),
    };
    // A line that only repeats the summary for the one address tried says nothing more.
    let repeats = |e: &String| *e == p.summary || e.ends_with(&format!(": {}", p.summary));
    std::iter::once(first)
        .chain(
            p.evidence
                .iter()
                .filter(|e| !repeats(e))
                .map(|e| Evidence::probe(name, e.clone())),
        )
        .collect()
}

/// Removes repeated evidence, keeping the first of each.
pub(crate) fn dedupe(evidence: &mut Vec<Evidence>) {
    let mut seen = Vec::new();
    evidence.retain(|e| {
        let line = e.line();
        let observed = match e {
            Evidence::Probe { observed, .. } => observed.clone(),
            _ => line.clone(),
        };
        if seen.contains(&observed) {
            return false;
        }
        seen.push(observed);
        true
    });
}

/// A command run on the host.
pub(crate) fn on_host(title: &str, command: &str) -> Remedy {
    Remedy::run(title, Machine::Host, command)
}

/// A host registry change (rendered for the live host or a rescued disk's hives).
pub(crate) fn set_on_host(title: &str, key: &str, name: &str, value: u32) -> Remedy {
    Remedy::new(title, "").action(rdp_doctor_model::Action::SetValue {
        root: rdp_doctor_model::Root::System,
        key: key.into(),
        name: name.into(),
        data: rdp_doctor_model::Data::Dword(value),
    })
}

/// A command run on the client.
pub(crate) fn on_client(title: &str, command: &str) -> Remedy {
    Remedy::run(title, Machine::Client, command)
}

/// A remedy in words.
pub(crate) fn advice(title: &str) -> Remedy {
    Remedy::advice(title)
}

#[cfg(test)]
pub(crate) mod test_reports {
    //! Reports built in the test, for the rules' unit tests.
    use crate::report::*;

    pub(crate) fn phase(name: PhaseName, status: Status, summary: &str) -> Phase {
        Phase {
            name,
            status,
            duration_ms: 1.0,
            summary: summary.into(),
            evidence: Vec::new(),
        }
    }

    pub(crate) fn report() -> ProbeReport {
        ProbeReport::new("host.test", "host.test", 3389)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_evidence_is_kept_once() {
        let mut e = vec![
            Evidence::probe(PhaseName::X224, "same"),
            Evidence::probe(PhaseName::X224, "same"),
            Evidence::probe(PhaseName::Tls, "other"),
        ];
        dedupe(&mut e);
        assert_eq!(e.len(), 2);
    }
}
