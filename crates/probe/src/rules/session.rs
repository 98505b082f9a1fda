//! After TLS: the MCS Connect Response (TLS without NLA) and the server's
//! clock from its NTLM CHALLENGE.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, on_host, phase_evidence};
use crate::report::*;

/// Kerberos refuses tickets beyond this skew by default (MaxClockSkew, 5 minutes).
pub(crate) const KERBEROS_MAX_SKEW_SECS: i64 = 300;
/// Below this, a skew is not worth a line.
const NOTEWORTHY_SKEW_SECS: i64 = 60;

pub(super) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    out.extend(mcs_refused(r));
    out.extend(r.clock.and_then(clock_skew));
}

/// The server answered the Connect Initial with something else than a Connect
/// Response, or the phase ended in a way the path rules do not name.
fn mcs_refused(r: &ProbeReport) -> Option<Finding> {
    let outcome = r.mcs.as_ref()?;
    let named_by_path = super::path::explains_phase_end(r, PhaseName::Mcs);
    let title = match outcome {
        McsOutcome::Response(_) => return None,
        McsOutcome::Disconnect { reason } => format!(
            "the server refuses the MCS Connect Initial after TLS (Disconnect Provider Ultimatum, reason {reason})"
        ),
        McsOutcome::NotMcs { .. } => {
            "the server's answer to the MCS Connect Initial is not a Connect Response".to_string()
        }
        McsOutcome::Timeout { .. } | McsOutcome::Reset | McsOutcome::Closed { .. }
            if named_by_path =>
        {
            return None
        }
        other => format!("the MCS exchange after TLS failed: {}", crate::text::mcs(other)),
    };
    Some(
        Finding::new(FindingId::McsRefused, Severity::Error, title)
            .evidences(phase_evidence(r, PhaseName::Mcs))
            .remedy(advice("The listener accepts TLS but not the RDP session that follows: check its security layer and encryption level (xrdp: security_layer, crypt_level; Windows: SecurityLayer, MinEncryptionLevel)")),
    )
}

/// The skew between the server's clock and this machine's, in seconds (server minus local).
pub(crate) fn skew_secs(c: ClockReading) -> i64 {
    c.server_unix.saturating_sub(c.local_unix)
}

fn clock_skew(c: ClockReading) -> Option<Finding> {
    let skew = skew_secs(c);
    let size = skew.unsigned_abs();
    if size <= NOTEWORTHY_SKEW_SECS.unsigned_abs() {
        return None;
    }
    let ahead = if skew > 0 { "ahead of" } else { "behind" };
    let (severity, title) = if size > KERBEROS_MAX_SKEW_SECS.unsigned_abs() {
        (
            Severity::Warning,
            format!("the server's clock is {size} s {ahead} this machine's: more than Kerberos's 5 minutes, so Kerberos logons fail (NLA falls back to NTLM or fails)"),
        )
    } else {
        (
            Severity::Info,
            format!(
                "the server's clock is {size} s {ahead} this machine's (Kerberos allows 5 minutes)"
            ),
        )
    };
    Some(
        Finding::new(FindingId::ClockSkew, severity, title)
            .evidence(Evidence::probe(
                PhaseName::Credssp,
                format!(
                    "NTLM CHALLENGE timestamp {} (Unix), this machine's clock {} when it arrived",
                    c.server_unix, c.local_unix
                ),
            ))
            .remedy(on_host(
                "Resynchronise the server's clock with the domain hierarchy",
                "w32tm /resync /rediscover",
            ))
            .remedy(advice(
                "Check this machine's clock too: both must follow the domain's time source",
            )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(skew: i64) -> ClockReading {
        ClockReading {
            server_unix: 1_700_000_000 + skew,
            local_unix: 1_700_000_000,
        }
    }

    #[test]
    fn skew_beyond_five_minutes_is_a_warning_pointing_at_the_domain_controller() {
        let f = clock_skew(reading(-301)).expect("a finding");
        assert_eq!(
            (f.id, f.severity),
            (FindingId::ClockSkew, Severity::Warning)
        );
        assert_eq!(f.cause, Some(rdp_doctor_model::CauseId::DomainController));
        assert!(f.title.contains("301 s behind"), "{}", f.title);
        assert_eq!(
            clock_skew(reading(300)).map(|f| f.severity),
            Some(Severity::Info)
        );
        assert!(clock_skew(reading(60)).is_none());
        assert!(clock_skew(reading(-2)).is_none());
        assert_eq!(skew_secs(reading(7200)), 7200);
        let far = ClockReading {
            server_unix: i64::MIN,
            local_unix: i64::MAX,
        };
        assert!(clock_skew(far).is_some());
    }

    #[test]
    fn mcs_answers_other_than_a_response_are_refusals() {
        let mut r = crate::rules::test_reports::report();
        r.mcs = Some(McsOutcome::Disconnect { reason: 2 });
        assert_eq!(mcs_refused(&r).map(|f| f.id), Some(FindingId::McsRefused));
        r.mcs = Some(McsOutcome::Io {
            message: "tls".into(),
        });
        assert_eq!(mcs_refused(&r).map(|f| f.id), Some(FindingId::McsRefused));
        r.mcs = Some(McsOutcome::Timeout { waited_ms: 5 });
        // Without traffic the path rules cannot name it: still a finding, never silence.
        assert!(mcs_refused(&r).is_some());
    }
}
