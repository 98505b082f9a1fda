//! Which causes a finding points at, and how strongly.
//!
//! A finding from the host's configuration or the event logs names its cause
//! directly. A probe symptom is consistent with several causes (a refused port
//! is a firewall's REJECT, Remote Desktop turned off, or TermService stopped),
//! so it spreads its weight over them and lets the other sources decide.

use rdp_doctor_model::{CauseId, Finding, FindingId, Severity, Source};

use CauseId::*;
use FindingId::*;

/// The causes a probe symptom is consistent with, with the share of evidence each gets.
pub fn symptom_causes(id: FindingId) -> &'static [(CauseId, f32)] {
    match id {
        PortRefused => &[
            (FirewallOrPort, 0.6),
            (RemoteDesktopDisabled, 0.5),
            (ServiceOrListenerDown, 0.5),
        ],
        PortFiltered => &[(FirewallOrPort, 0.8), (NetworkPath, 0.3)],
        TcpUnreachable => &[(NetworkPath, 0.8), (FirewallOrPort, 0.3)],
        ClosedWithoutAnswer => &[
            (ConnectionLimit, 0.5),
            (ServiceOrListenerDown, 0.3),
            (FirewallOrPort, 0.2),
        ],
        // A middlebox that resets right after the ClientHello looks the same.
        TlsFailsAfterX224 => &[
            (CertificateOrKey, 0.8),
            (TlsSettings, 0.3),
            (NetworkPath, 0.2),
        ],
        ResetDuringSecurity => &[
            (NetworkPath, 0.6),
            (CertificateOrKey, 0.4),
            (TlsSettings, 0.3),
        ],
        StallAtPhase => &[(NetworkPath, 0.8)],
        // Reached the server and never authenticated: a lossy path, a TLS problem, or scanners filling the queue.
        NeverAuthenticated => &[
            (NetworkPath, 0.5),
            (ConnectionLimit, 0.3),
            (TlsSettings, 0.2),
        ],
        NoCommonTls => &[(TlsSettings, 0.8)],
        NlaRequired | NegotiationRefused => &[(SecurityLayerMismatch, 0.6), (CredsspPolicy, 0.2)],
        _ => &[],
    }
}

/// How much one finding of this severity counts.
pub fn severity_weight(s: Severity) -> f32 {
    match s {
        Severity::Error => 1.0,
        Severity::Warning => 0.5,
        Severity::Info => 0.15,
    }
}

/// How directly a source's findings name their cause.
pub fn source_weight(s: Source) -> f32 {
    match s {
        // The configuration that causes the failure, read where it is.
        Source::Host => 1.0,
        // What the host recorded when it failed.
        Source::Events => 0.8,
        // The server's own answer (a code in a PDU) or the client's settings.
        Source::Probe | Source::RdpFile | Source::Client => 0.7,
        Source::Code => 0.9,
    }
}

/// The (cause, weight) pairs one finding supports.
pub fn supports(f: &Finding) -> Vec<(CauseId, f32)> {
    let sev = severity_weight(f.severity);
    let symptom = symptom_causes(f.id);
    if !symptom.is_empty() {
        return symptom.iter().map(|&(c, w)| (c, w * sev)).collect();
    }
    match f.cause {
        Some(c) => vec![(c, source_weight(f.source()) * sev)],
        None => Vec::new(),
    }
}

/// The evidence one reported code carries in all, spread over its causes.
const CODE_MASS: f32 = 1.2;

/// Weight of the cause at `rank` among a code's `count` ranked causes: the
/// first counts most, and a code that lists many causes says little about each.
pub fn code_weight(rank: usize, count: usize) -> f32 {
    let harmonic: f32 = (1..=count.max(1)).map(|k| 1.0 / k as f32).sum();
    CODE_MASS / (rank as f32 + 1.0) / harmonic
}

/// The host's findings that show a missing or denied logon right.
const RIGHT_FINDINGS: [FindingId; 3] =
    [RemoteLogonDenied, RemoteLogonNotGranted, NetworkLogonDenied];

/// STATUS_LOGON_TYPE_NOT_GRANTED: the account lacks the right to this logon type.
const LOGON_TYPE_NOT_GRANTED: u32 = 0xC000_015B;

/// A refused logon (the probe's AUTH001, or a reported 0xC000015B) that the
/// host's rights explain: the two together point at the missing right, above
/// a wrong password the refusal alone would suggest.
pub fn refusal_explained_by_rights(inputs: &crate::Inputs) -> Option<crate::rank::Support> {
    let right = inputs
        .host
        .as_ref()?
        .findings
        .iter()
        .find(|f| RIGHT_FINDINGS.contains(&f.id) && f.severity.is_problem())?;
    let refused = inputs
        .probe
        .iter()
        .flat_map(|p| &p.findings)
        .find(|f| f.id == LogonRefused)
        .map(|f| f.evidence.clone())
        .or_else(|| {
            inputs
                .codes
                .iter()
                .find(|c| {
                    c.evidence.iter().any(|e| {
                        matches!(e, rdp_doctor_model::Evidence::Code { code, .. } if *code == LOGON_TYPE_NOT_GRANTED)
                    })
                })
                .map(|c| c.evidence.clone())
        })?;
    let mut evidence = refused;
    evidence.extend(right.evidence.iter().cloned());
    Some(crate::rank::Support {
        cause: NoRemoteLogonRight,
        source: Source::Host,
        finding: Some(right.id),
        weight: 1.0,
        evidence,
    })
}
