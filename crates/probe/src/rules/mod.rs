//! The rules: small pure functions from a [`ProbeReport`] to model findings,
//! one module per layer. They read typed outcomes only, never message text.

mod connect;
mod negotiation;
mod network;
mod path;
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
    out.extend(connect::rule(r));
    for f in &mut out {
        dedupe(&mut f.evidence);
    }
    out
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
    std::iter::once(first)
        .chain(p.evidence.iter().map(|e| Evidence::probe(name, e.clone())))
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
