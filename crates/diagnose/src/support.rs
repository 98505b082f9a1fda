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
        TlsFailsAfterX224 => &[(CertificateOrKey, 0.8), (TlsSettings, 0.3)],
        ResetDuringSecurity => &[
            (NetworkPath, 0.6),
            (CertificateOrKey, 0.4),
            (TlsSettings, 0.3),
        ],
        StallAtPhase => &[(NetworkPath, 0.8)],
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
        Source::Probe | Source::RdpFile => 0.7,
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

/// Weights of a reported code's ranked causes: the first counts most.
pub fn code_weight(rank: usize) -> f32 {
    match rank {
        0 => 0.9,
        1 => 0.6,
        2 => 0.45,
        _ => 0.3,
    }
}
