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
        // A whole handshake went through: the path carries RDP, at least now.
        PhaseName::Credssp => &[(SecurityLayerMismatch, 0.3), (NetworkPath, 0.2)],
        // The server answered the basic settings exchange after TLS.
        PhaseName::Mcs => &[(SecurityLayerMismatch, 0.3), (ServiceOrListenerDown, 0.5)],
        PhaseName::Connect => &[
            (Credentials, 1.0),
            (NoRemoteLogonRight, 1.0),
            (Licensing, 0.8),
            (ConnectionLimit, 0.5),
        ],
        // A SYN+ACK: UDP reaches the listener.
        PhaseName::Udp => &[(UdpTransport, 1.0)],
        PhaseName::Gateway => &[],
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
        // No deny right on the logon's groups, a grant through one of them. Weak: without
        // --user they are the default groups', and a domain policy may differ.
        FindingId::RemoteLogonDenied => &[(NoRemoteLogonRight, 0.3)],
        FindingId::RemoteLogonNotGranted => &[(NoRemoteLogonRight, 0.2)],
        FindingId::AccountDisabled => &[(AccountRestriction, 0.5)],
        // Not locked out: a wrong password is still possible.
        FindingId::AccountLockedOrPasswordChange => &[(Credentials, 0.2)],
        _ => &[],
    }
}

/// The reason recorded for a completed phase.
pub fn phase_reason(phase: PhaseName) -> AgainstReason {
    AgainstReason::PhaseCompleted { phase }
}
