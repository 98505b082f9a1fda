//! Facts that rule causes out: a phase that completed, a check that passed.

use rdp_doctor_model::{CauseId, FindingId, PhaseName};

use crate::rank::AgainstReason;
use CauseId::*;

/// The causes a completed probe phase rules out, and how strongly.
pub fn ruled_out_by_phase(phase: PhaseName) -> &'static [(CauseId, f32)] {
    match phase {
        PhaseName::Dns => &[(NameResolution, 1.0)],
        // Something accepted the connection: the port is open and a listener is there.
        PhaseName::Tcp => &[
            (FirewallOrPort, 0.8),
            (RemoteDesktopDisabled, 1.0),
            (ServiceOrListenerDown, 0.8),
        ],
        PhaseName::X224 => &[(ConnectionLimit, 0.2)],
        // The listener signed a handshake with its key.
        PhaseName::Tls => &[(CertificateOrKey, 0.8), (TlsSettings, 0.8)],
        PhaseName::Credssp => &[(SecurityLayerMismatch, 0.3)],
        PhaseName::Connect => &[
            (Credentials, 1.0),
            (NoRemoteLogonRight, 1.0),
            (Licensing, 0.8),
            (ConnectionLimit, 0.5),
        ],
    }
}

/// The causes a host check that passed rules out.
pub fn ruled_out_by_check(id: FindingId) -> &'static [(CauseId, f32)] {
    match id {
        FindingId::RemoteDesktopOff => &[(RemoteDesktopDisabled, 1.0)],
        FindingId::ListenerDisabled | FindingId::ServiceDisabled => &[(ServiceOrListenerDown, 0.4)],
        FindingId::FirewallBlocks => &[(FirewallOrPort, 0.3)],
        FindingId::DrainMode => &[(DrainOrLogonsDisabled, 0.8)],
        FindingId::MachineKeyFile | FindingId::CertificateKeyFile => &[(CertificateOrKey, 0.4)],
        FindingId::FewOutstandingConnections | FindingId::FewInstances => &[(ConnectionLimit, 0.2)],
        _ => &[],
    }
}

/// The reason recorded for a completed phase.
pub fn phase_reason(phase: PhaseName) -> AgainstReason {
    AgainstReason::PhaseCompleted { phase }
}
