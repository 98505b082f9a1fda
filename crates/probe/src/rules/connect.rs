//! The credentialed phase's findings (AUTH*, CONN*, LIC*).

use rdp_doctor_codes::{causes, CauseId, Namespace};
use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, phase_evidence};
use crate::connect::{outcome_summary, Code, ConnectOutcome, ConnectStep};
use crate::report::*;

/// The first cause the codes catalog gives for `code`, or `fallback`.
fn cause_of(code: &Code, fallback: CauseId) -> CauseId {
    Namespace::from_key(&code.namespace)
        .and_then(|ns| {
            causes::causes_for(ns, code.value, &code.name)
                .first()
                .copied()
        })
        .unwrap_or(fallback)
}

fn code_evidence(code: &Code) -> Evidence {
    Evidence::Code {
        namespace: code.namespace.clone(),
        code: code.value,
        name: code.name.clone(),
        meaning: code.meaning.clone(),
    }
}

/// The findings of the credentialed phase (IDs AUTH*, CONN*, LIC*).
pub(super) fn rule(r: &ProbeReport) -> Option<Finding> {
    let c = r.connection.as_ref()?;
    let mut ev = phase_evidence(r, PhaseName::Connect);
    let step = c
        .steps
        .iter()
        .rev()
        .find(|s| s.status != Status::Ok)
        .map(|s| s.step)
        .unwrap_or(ConnectStep::Tcp);
    let account = &c.account;
    let f = match &c.outcome {
        ConnectOutcome::Connected { .. } => Finding::new(FindingId::ConnectionCompletes, Severity::Info, format!(
                "a full connection as {account} completes through finalization in {:.0} ms",
                c.duration_ms
            )).evidences(ev),
        ConnectOutcome::LogonFailed { code } => {
            ev.insert(0, code_evidence(code));
            let cause = if code.namespace == Namespace::EarlyUserAuthorization.key() {
                CauseId::NoRemoteLogonRight
            } else {
                cause_of(code, CauseId::Credentials)
            };
            let restriction = matches!(
                code.value,
                0xC000_006E | 0xC000_006F | 0xC000_0070 | 0xC000_0071 | 0xC000_0072 | 0xC000_0193 | 0xC000_0224 | 0xC000_0234
            );
            let fixes: &str = if cause == CauseId::NoRemoteLogonRight {
                "Add the account to Remote Desktop Users on the host (Add-LocalGroupMember -Group 'Remote Desktop Users' -Member USER), and check the 'Allow log on through Remote Desktop Services' right"
            } else if restriction {
                "The password is right but the account may not log on now: check it on the host (Get-LocalUser USER | Format-List Enabled,PasswordExpires,AccountExpires; net user USER), unlock, enable or change the password"
            } else {
                "Check the user name and password: DOMAIN\\user for a domain account, .\\user or HOST\\user for a local one; the host's Security log event 4625 shows the same status"
            };
            Finding::new(FindingId::LogonRefused, Severity::Error, format!(
                    "the server refuses the logon of {account}: {} ({})",
                    code.display(),
                    if restriction {
                        "an account restriction"
                    } else if cause == CauseId::NoRemoteLogonRight {
                        "no right to log on remotely"
                    } else {
                        "wrong user name or password"
                    }
                )).evidences(ev).cause(cause).remedy(advice(fixes))
        }
        ConnectOutcome::AuthFailed { message } => Finding::new(FindingId::CredsspFailsWithoutCode, Severity::Error, format!("CredSSP authentication of {account} fails without a status code: {message}")).evidences(ev).remedy(advice("Check the user name and password (DOMAIN\\user, or .\\user for a local account); the host's Security log event 4625 says why")),
        ConnectOutcome::ServerDenied { code } => {
            ev.insert(0, code_evidence(code));
            Finding::new(FindingId::SetErrorInfo, Severity::Error, format!(
                    "the server ends the connection during {}: Set Error Info {}",
                    step.label(),
                    code.display()
                )).evidences(ev).cause(cause_of(code, CauseId::SessionEndedByPolicyOrAdmin)).remedy(advice("rdp-doctor explain --as errinfo CODE reads the code with its likely causes"))
        }
        ConnectOutcome::McsDisconnect { reason } => {
            ev.insert(0, code_evidence(reason));
            if let Some(e) = &c.error_info {
                ev.insert(0, code_evidence(e));
            }
            let cause = if step == ConnectStep::Licensing {
                CauseId::Licensing
            } else {
                cause_of(reason, CauseId::ServiceOrListenerDown)
            };
            Finding::new(FindingId::McsDisconnect, Severity::Error, format!(
                    "the server disconnects during {}: MCS Disconnect Provider Ultimatum {}",
                    step.label(),
                    reason.display()
                )).evidences(ev).cause(cause)
        }
        ConnectOutcome::LicensingFailed {
            code,
            state_transition,
            state_transition_name,
        } => {
            ev.insert(
                0,
                Evidence::probe(
                    PhaseName::Connect,
                    format!(
                        "Licensing Error Message {} (state transition {state_transition} {state_transition_name})",
                        code.display()
                    ),
                ),
            );
            Finding::new(FindingId::LicensingError, Severity::Error, format!("licensing fails: {}", code.display())).evidences(ev).remedy(advice("Check the RD Licensing server and the host's licensing mode (Get-WmiObject -Namespace root/cimv2/terminalservices Win32_TerminalServiceSetting); the grace period may have ended"))
        }
        ConnectOutcome::Closed { during }
        | ConnectOutcome::TimedOut { during, .. }
        | ConnectOutcome::Failed { during, .. } => {
            let cause = match (during, &c.outcome) {
                (_, ConnectOutcome::TimedOut { .. }) => CauseId::NetworkPath,
                (ConnectStep::Tcp, _) => CauseId::FirewallOrPort,
                (ConnectStep::Tls, _) => CauseId::CertificateOrKey,
                (ConnectStep::Credssp, _) => CauseId::CredsspPolicy,
                (ConnectStep::Licensing, _) => CauseId::Licensing,
                (ConnectStep::ClientInfo, _) => CauseId::Credentials,
                (ConnectStep::Capabilities | ConnectStep::Finalization, _) => CauseId::ProtocolOrGraphics,
                _ => CauseId::ServerResources,
            };
            Finding::new(FindingId::ConnectionFailsAtSubPhase, Severity::Error, format!(
                    "the connection as {account} fails during {}: {}",
                    during.label(),
                    outcome_summary(&c.outcome)
                )).evidences(ev).cause(cause)
        }
        ConnectOutcome::Unsupported { during, .. } => Finding::new(FindingId::CannotGoFurther, Severity::Info, format!(
                "the credentialed connection stops at {}: the probe cannot go further with this server",
                during.label()
            )).evidences(ev),
    };
    Some(f)
}
