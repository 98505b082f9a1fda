//! The credentialed phase's findings (AUTH*, CONN*, LIC*).

use rdp_doctor_codes::{causes, CauseId, Namespace};
use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, on_host, phase_evidence};
use crate::connect::{outcome_summary, Code, ConnectOutcome, ConnectStep, ConnectionReport};
use crate::report::*;

/// NTSTATUS values of a right password on an account that may not log on now.
const ACCOUNT_RESTRICTIONS: [u32; 8] = [
    0xC000_006E,
    0xC000_006F,
    0xC000_0070,
    0xC000_0071,
    0xC000_0072,
    0xC000_0193,
    0xC000_0224,
    0xC000_0234,
];

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

/// The sub-phase the connection stopped in.
fn stopped_at(c: &ConnectionReport) -> ConnectStep {
    c.steps
        .iter()
        .rev()
        .find(|s| s.status != Status::Ok)
        .map(|s| s.step)
        .unwrap_or(ConnectStep::Tcp)
}

/// The finding of the credentialed phase, when it ran.
pub(super) fn rule(r: &ProbeReport) -> Option<Finding> {
    let c = r.connection.as_ref()?;
    let account = &c.account;
    let f = match &c.outcome {
        ConnectOutcome::Connected { .. } => Finding::new(
            FindingId::ConnectionCompletes,
            Severity::Info,
            format!(
                "a full connection as {account} completes through finalization in {:.0} ms",
                c.duration_ms
            ),
        ),
        ConnectOutcome::LogonFailed { code } => logon_refused(account, code),
        ConnectOutcome::AuthFailed { message } => Finding::new(
            FindingId::CredsspFailsWithoutCode,
            Severity::Error,
            format!("CredSSP authentication of {account} fails without a status code: {message}"),
        )
        .remedy(advice("Check the user name and password (DOMAIN\\user, or .\\user for a local account); the host's Security log event 4625 says why")),
        ConnectOutcome::ServerDenied { code } => Finding::new(
            FindingId::SetErrorInfo,
            Severity::Error,
            format!(
                "the server ends the connection during {}: Set Error Info {}",
                stopped_at(c).label(),
                code.display()
            ),
        )
        .evidence(code_evidence(code))
        .cause(cause_of(code, CauseId::SessionEndedByPolicyOrAdmin))
        .remedy(advice("rdp-doctor explain --as errinfo CODE reads the code with its likely causes")),
        ConnectOutcome::McsDisconnect { reason } => mcs_disconnect(c, reason),
        ConnectOutcome::LicensingFailed { .. } => licensing(&c.outcome)?,
        ConnectOutcome::Closed { during }
        | ConnectOutcome::TimedOut { during, .. }
        | ConnectOutcome::Failed { during, .. } => Finding::new(
            FindingId::ConnectionFailsAtSubPhase,
            Severity::Error,
            format!(
                "the connection as {account} fails during {}: {}",
                during.label(),
                outcome_summary(&c.outcome)
            ),
        )
        .cause(sub_phase_cause(*during, &c.outcome)),
        ConnectOutcome::Unsupported { during, .. } => Finding::new(
            FindingId::CannotGoFurther,
            Severity::Info,
            format!(
                "the credentialed connection stops at {}: the probe cannot go further with this server",
                during.label()
            ),
        ),
    };
    Some(f.evidences(phase_evidence(r, PhaseName::Connect)))
}

fn logon_refused(account: &str, code: &Code) -> Finding {
    let no_right = code.namespace == Namespace::EarlyUserAuthorization.key();
    let cause = if no_right {
        CauseId::NoRemoteLogonRight
    } else {
        cause_of(code, CauseId::Credentials)
    };
    let restriction = ACCOUNT_RESTRICTIONS.contains(&code.value);
    let why = if restriction {
        "an account restriction"
    } else if cause == CauseId::NoRemoteLogonRight {
        "no right to log on remotely"
    } else {
        "wrong user name or password"
    };
    let remedy = if cause == CauseId::NoRemoteLogonRight {
        on_host(
            "Add the account to Remote Desktop Users (and check the 'Allow log on through Remote Desktop Services' right)",
            "Add-LocalGroupMember -Group 'Remote Desktop Users' -Member USER",
        )
    } else if restriction {
        on_host(
            "The password is right but the account may not log on now: check it, then unlock, enable it or change the password",
            "Get-LocalUser USER | Format-List Enabled,PasswordExpires,AccountExpires",
        )
    } else {
        advice("Check the user name and password: DOMAIN\\user for a domain account, .\\user or HOST\\user for a local one; the host's Security log event 4625 shows the same status")
    };
    Finding::new(
        FindingId::LogonRefused,
        Severity::Error,
        format!(
            "the server refuses the logon of {account}: {} ({why})",
            code.display()
        ),
    )
    .evidence(code_evidence(code))
    .cause(cause)
    .remedy(remedy)
}

fn mcs_disconnect(c: &ConnectionReport, reason: &Code) -> Finding {
    let step = stopped_at(c);
    let cause = if step == ConnectStep::Licensing {
        CauseId::Licensing
    } else {
        cause_of(reason, CauseId::ServiceOrListenerDown)
    };
    Finding::new(
        FindingId::McsDisconnect,
        Severity::Error,
        format!(
            "the server disconnects during {}: MCS Disconnect Provider Ultimatum {}",
            step.label(),
            reason.display()
        ),
    )
    .evidences(c.error_info.as_ref().map(code_evidence))
    .evidence(code_evidence(reason))
    .cause(cause)
}

fn licensing(outcome: &ConnectOutcome) -> Option<Finding> {
    let ConnectOutcome::LicensingFailed {
        code,
        state_transition,
        state_transition_name,
    } = outcome
    else {
        return None;
    };
    Some(
        Finding::new(
            FindingId::LicensingError,
            Severity::Error,
            format!("licensing fails: {}", code.display()),
        )
        .evidence(Evidence::probe(
            PhaseName::Connect,
            format!(
                "Licensing Error Message {} (state transition {state_transition} {state_transition_name})",
                code.display()
            ),
        ))
        .remedy(on_host(
            "Check the RD Licensing server and the host's licensing mode (the grace period may have ended)",
            "Get-CimInstance -Namespace root/cimv2/terminalservices Win32_TerminalServiceSetting",
        )),
    )
}

/// The cause a failure at `during` points at.
fn sub_phase_cause(during: ConnectStep, outcome: &ConnectOutcome) -> CauseId {
    if matches!(outcome, ConnectOutcome::TimedOut { .. }) {
        return CauseId::NetworkPath;
    }
    match during {
        ConnectStep::Tcp => CauseId::FirewallOrPort,
        ConnectStep::Tls => CauseId::CertificateOrKey,
        ConnectStep::Credssp => CauseId::CredsspPolicy,
        ConnectStep::Licensing => CauseId::Licensing,
        ConnectStep::ClientInfo => CauseId::Credentials,
        ConnectStep::Capabilities | ConnectStep::Finalization => CauseId::ProtocolOrGraphics,
        _ => CauseId::ServerResources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{decode_code, decode_status};
    use crate::rules::test_reports::report;

    fn with_outcome(outcome: ConnectOutcome) -> ProbeReport {
        let mut r = report();
        r.connection = Some(ConnectionReport {
            account: "LAB\\tester".into(),
            requested: Vec::new(),
            selected: None,
            steps: Vec::new(),
            outcome,
            error_info: None,
            rdp_security: None,
            bytes_received: 0,
            duration_ms: 1.0,
            first_attempt: None,
        });
        r
    }

    #[test]
    fn a_wrong_password_is_auth001_with_the_status() {
        let r = with_outcome(ConnectOutcome::LogonFailed {
            code: decode_status(0xC000_006D),
        });
        let f = rule(&r).expect("a finding");
        assert_eq!(
            (f.id, f.severity),
            (FindingId::LogonRefused, Severity::Error)
        );
        assert_eq!(f.cause, Some(CauseId::Credentials));
        assert!(f.title.contains("STATUS_LOGON_FAILURE"), "{}", f.title);
        assert!(matches!(
            f.evidence[0],
            Evidence::Code {
                code: 0xC000_006D,
                ..
            }
        ));
    }

    #[test]
    fn early_authorization_denied_is_no_remote_logon_right() {
        let r = with_outcome(ConnectOutcome::LogonFailed {
            code: decode_code(&[Namespace::EarlyUserAuthorization], 5),
        });
        let f = rule(&r).expect("a finding");
        assert_eq!(f.cause, Some(CauseId::NoRemoteLogonRight));
    }

    #[test]
    fn a_timeout_points_at_the_path_whatever_the_sub_phase() {
        let r = with_outcome(ConnectOutcome::TimedOut {
            during: ConnectStep::Licensing,
            waited_ms: 1.0,
        });
        let f = rule(&r).expect("a finding");
        assert_eq!(f.id, FindingId::ConnectionFailsAtSubPhase);
        assert_eq!(f.cause, Some(CauseId::NetworkPath));
        assert!(rule(&report()).is_none());
    }
}
