//! When two causes stay close: the one check that tells them apart.

use rdp_doctor_model::{CauseId, Source};
use serde::Serialize;

use crate::rank::RankedCause;

/// A check to run next, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextCheck {
    /// The command to run.
    pub command: String,
    /// The two causes it separates.
    pub between: [CauseId; 2],
    /// The evidence source it adds.
    pub source: Source,
}

/// The source (and the flag that adds it) that confirms or rules out a cause.
pub fn deciding_source(cause: CauseId) -> (Source, &'static str) {
    use CauseId::*;
    match cause {
        RemoteDesktopDisabled
        | ServiceOrListenerDown
        | DrainOrLogonsDisabled
        | SecurityLayerMismatch
        | CertificateOrKey
        | FirewallOrPort => (
            Source::Host,
            "--system SYSTEM --software SOFTWARE (the host's hives; --live on the host)",
        ),
        ConnectionLimit | TlsSettings => (
            Source::Events,
            "--evtx LOGS (the host's exported event logs)",
        ),
        Credentials
        | NoRemoteLogonRight
        | AccountRestriction
        | Licensing
        | SessionEndedByPolicyOrAdmin => (
            Source::Probe,
            "--user USER (a full connection with credentials)",
        ),
        NetworkPath | UdpTransport => (
            Source::Probe,
            "--repeat 20 (repeated handshakes: loss, jitter)",
        ),
        CorruptRdpFile => (
            Source::RdpFile,
            "--rdp-file FILE (the .rdp file the client uses)",
        ),
        NameResolution | DomainController | TargetName | CredsspPolicy | ServerResources
        | ProtocolOrGraphics | Gateway | SmartCard => {
            (Source::Code, "--code CODE (the code in the error dialog)")
        }
    }
}

/// Whether two scores are too close to call.
pub fn close(first: f32, second: f32) -> bool {
    second > 0.0 && (first - second < 0.3 || second >= 0.75 * first)
}

/// The check that separates the first two causes, when they are close and it adds something new.
pub fn separating_check(
    causes: &[RankedCause],
    given: &[Source],
    target: Option<&str>,
) -> Option<NextCheck> {
    close_pair(causes, given, target).or_else(|| probe_first(causes, given, target))
}

/// Without a network probe, the probe is the next check: it says which phase fails.
fn probe_first(
    causes: &[RankedCause],
    given: &[Source],
    target: Option<&str>,
) -> Option<NextCheck> {
    if given.contains(&Source::Probe) {
        return None;
    }
    let a = causes.first()?;
    let b = causes.get(1).unwrap_or(a);
    Some(NextCheck {
        command: format!(
            "rdp-doctor diagnose {} (the network probe: which phase fails)",
            target.unwrap_or("HOST")
        ),
        between: [a.cause, b.cause],
        source: Source::Probe,
    })
}

fn close_pair(causes: &[RankedCause], given: &[Source], target: Option<&str>) -> Option<NextCheck> {
    let [a, b, ..] = causes else { return None };
    if !close(a.score, b.score) {
        return None;
    }
    let candidates = [deciding_source(a.cause), deciding_source(b.cause)];
    let (source, flag) = candidates.into_iter().find(|(s, flag)| {
        let already =
            given.contains(s) && !flag.starts_with("--user") && !flag.starts_with("--repeat");
        !already
    })?;
    let target = target.unwrap_or("HOST");
    Some(NextCheck {
        command: format!("rdp-doctor diagnose {target} {flag}"),
        between: [a.cause, b.cause],
        source,
    })
}
