//! X.224: what the server answers to mstsc's request, and what it supports.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, on_host, phase_evidence, set_on_host};
use crate::report::*;
use crate::text;
use crate::wire::x224::Protocol;

pub(super) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(neg) = &r.negotiated else { return };
    let supported = r.supported();
    if let Some(f) = answer_rule(&neg.outcome, &supported) {
        out.push(f.evidences(phase_evidence(r, PhaseName::X224)));
    }
    if !supported.is_empty() && !supported.contains(&Protocol::Hybrid) && neg.accepted {
        out.push(nla_not_offered(&supported));
    }
}

fn answer_rule(outcome: &NegotiationOutcome, supported: &[Protocol]) -> Option<Finding> {
    Some(match outcome {
        NegotiationOutcome::Closed => Finding::new(
            FindingId::ClosedWithoutAnswer,
            Severity::Error,
            "the server accepts TCP, then closes without answering the RDP connection request",
        )
        .remedy(advice("If the host logs TermService 1006 or shows many half-open connections: raise MaxOutstandingConnections and block the flood source"))
        .remedy(advice("If it is not a Remote Desktop listener at all (a proxy or another service on this port): point the client at the right port")),
        NegotiationOutcome::TimedOut { bytes_sent } => Finding::new(
            FindingId::StallAtPhase,
            Severity::Error,
            format!("stall: {bytes_sent} bytes sent at X.224, nothing came back"),
        )
        .remedy(advice("A middlebox swallows RDP after the TCP handshake, or the listener hangs"))
        .remedy(on_host("Restart the listener", "Restart-Service TermService -Force")),
        NegotiationOutcome::NotRdp { answer } => Finding::new(
            FindingId::NotRdp,
            Severity::Error,
            "the service on this port does not speak RDP",
        )
        .evidence(Evidence::probe(PhaseName::X224, text::foreign(answer)))
        .remedy(advice("Check the listener's PortNumber (rdp-doctor host check) and the port the client uses")),
        NegotiationOutcome::ConnectFailed { .. } => Finding::new(
            FindingId::TcpUnreachable,
            Severity::Error,
            "the connection dropped while sending the RDP connection request",
        ),
        NegotiationOutcome::Failure { code: 3, name, .. } => Finding::new(
            FindingId::NoCertificateOnServer,
            Severity::Error,
            format!("the server has no usable certificate for TLS ({name})"),
        )
        .remedy(on_host("See which certificate the listener is set to use", "Get-CimInstance -Namespace root/cimv2/TerminalServices Win32_TSGeneralSetting | Select SSLCertificateSHA1Hash")),
        NegotiationOutcome::Failure {
            code,
            name,
            meaning,
        } => {
            let (id, title) = match code {
                5 => (FindingId::NlaRequired, "the server requires NLA (CredSSP); clients without it are refused".to_string()),
                6 => (FindingId::NegotiationRefused, "the server requires TLS with client certificate authentication".to_string()),
                _ => (FindingId::NegotiationRefused, format!("the server refuses what mstsc offers: {name}")),
            };
            let severity = if supported.is_empty() {
                Severity::Error
            } else {
                Severity::Warning
            };
            Finding::new(id, severity, title).evidence(Evidence::probe(
                PhaseName::X224,
                format!("RDP_NEG_FAILURE 0x{code:X} ({code}) {name}: {meaning}"),
            ))
        }
        NegotiationOutcome::Legacy => Finding::new(
            FindingId::LegacyServer,
            Severity::Warning,
            "legacy server: no security negotiation, Standard RDP Security only",
        )
        .remedy(advice("Clients that require NLA or TLS cannot connect; upgrade the server or enable TLS (SecurityLayer=1 or 2)")),
        NegotiationOutcome::Selected { selected: 0, .. } => Finding::new(
            FindingId::StandardSecurityOnly,
            Severity::Warning,
            "the server only offers Standard RDP Security (no TLS, no NLA)",
        )
        .remedy(set_on_host("Negotiate TLS (SecurityLayer=1) and give the listener a certificate", "CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp", "SecurityLayer", 1)),
        NegotiationOutcome::Selected { .. } => return None,
    })
}

fn nla_not_offered(supported: &[Protocol]) -> Finding {
    let names: Vec<&str> = supported.iter().map(|p| p.name()).collect();
    Finding::new(
        FindingId::NlaNotOffered,
        Severity::Info,
        "NLA (CredSSP) is not offered: anyone who reaches the port gets a logon screen",
    )
    .evidence(Evidence::probe(
        PhaseName::X224,
        format!("supported: {}", names.join(", ")),
    ))
    .remedy(set_on_host(
        "Require NLA on the RDP-Tcp listener",
        "CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp",
        "UserAuthentication",
        1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_answer_is_not_rdp_in_words() {
        let o = NegotiationOutcome::NotRdp {
            answer: ForeignAnswer::Http {
                status_line: "HTTP/1.1 400 Bad Request".into(),
            },
        };
        let f = answer_rule(&o, &[]).expect("a finding");
        assert_eq!(f.id, FindingId::NotRdp);
        assert_eq!(
            f.evidence[0].line(),
            "X.224: an HTTP server or proxy answered: HTTP/1.1 400 Bad Request"
        );
    }

    #[test]
    fn a_refusal_is_a_warning_when_something_else_is_accepted() {
        let o = NegotiationOutcome::Failure {
            code: 5,
            name: "HYBRID_REQUIRED_BY_SERVER".into(),
            meaning: String::new(),
        };
        let f = answer_rule(&o, &[Protocol::Hybrid]).expect("a finding");
        assert_eq!(
            (f.id, f.severity),
            (FindingId::NlaRequired, Severity::Warning)
        );
        let f = answer_rule(&o, &[]).expect("a finding");
        assert_eq!(f.severity, Severity::Error);
        let selected = NegotiationOutcome::Selected {
            selected: 2,
            selected_name: "PROTOCOL_HYBRID".into(),
            flags: 0,
        };
        assert!(answer_rule(&selected, &[]).is_none());
    }
}
