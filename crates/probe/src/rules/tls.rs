//! TLS and the certificate; the server's NTLM identity; the time budget.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, on_host, phase_evidence, set_on_host};
use crate::report::*;

pub(super) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(tls) = &r.tls else { return };
    let ev = phase_evidence(r, PhaseName::Tls);
    if let Some(failure) = &tls.failure {
        // A stall or a cut on the path (path rules), not the certificate.
        if tls.chain.is_empty() && !super::path::explains_tls_failure(r) {
            let scan = r.tls_scan.as_ref();
            let found = scan
                .and_then(super::old_tls::finding)
                .unwrap_or_else(|| handshake_failure(failure));
            let scan_ev = scan.map(super::old_tls::evidence).unwrap_or_default();
            out.push(found.evidences(ev.clone()).evidences(scan_ev));
        }
        if tls.chain.is_empty() {
            return;
        }
    }
    out.extend(
        certificate_rules(tls, &r.host)
            .into_iter()
            .map(|f| f.evidences(ev.clone())),
    );
}

fn handshake_failure(failure: &TlsFailure) -> Finding {
    match failure {
        TlsFailure::NoCommonVersionOrCipher => Finding::new(
            FindingId::NoCommonTls,
            Severity::Error,
            "no common TLS version or cipher with the server",
        )
        .remedy(advice("This probe speaks TLS 1.2 and 1.3 only: a server limited to TLS 1.0/1.1 is refused by current clients too"))
        .remedy(set_on_host("Enable TLS 1.2 for the server", "CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server", "Enabled", 1)),
        _ => Finding::new(
            FindingId::TlsFailsAfterX224,
            Severity::Error,
            "TLS fails right after the server agreed to it: the listener cannot use its certificate or private key",
        )
        .remedy(on_host("Check the certificate the listener uses and its private key", "Get-CimInstance -Namespace root/cimv2/TerminalServices Win32_TSGeneralSetting | Select SSLCertificateSHA1Hash"))
        .remedy(advice("Look for TermService 1057/1058 and Schannel 36870 events: the key file under MachineKeys is missing or unreadable (rdp-doctor host check)")),
    }
}

fn certificate_rules(tls: &TlsFacts, host: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if tls.expired == Some(true) {
        out.push(
            Finding::new(FindingId::CertificateExpired, Severity::Warning, "the listener's certificate has expired")
                .remedy(advice("Windows renews its self-signed certificate itself unless it cannot (TermService 1057/1058): check those events")),
        );
    }
    if tls.not_yet_valid == Some(true) {
        out.push(
            Finding::new(
                FindingId::CertificateNotYetValid,
                Severity::Warning,
                "the listener's certificate is not valid yet: the host's or this machine's clock is off",
            )
            .remedy(on_host("Fix the host's clock", "w32tm /resync")),
        );
    }
    if tls.name_matches == Some(false) {
        out.push(
            Finding::new(
                FindingId::CertificateNameMismatch,
                Severity::Info,
                format!("the certificate does not name {host}: clients show an identity warning"),
            )
            .remedy(advice("Connect by the name in the certificate, or install a certificate for this name (SSLCertificateSHA1Hash)")),
        );
    }
    out
}

/// The server's NTLM identity, and a budget that ran out.
pub(super) fn identity_and_budget_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    if let Some(info) = &r.ntlm {
        out.push(
            Finding::new(
                FindingId::ServerIdentity,
                Severity::Info,
                format!(
                    "the server identifies as {}\\{} (Windows {})",
                    info.netbios_domain.as_deref().unwrap_or("?"),
                    info.netbios_computer.as_deref().unwrap_or("?"),
                    info.os_version.as_deref().unwrap_or("?")
                ),
            )
            .evidences(phase_evidence(r, PhaseName::Credssp))
            .remedy(advice(
                "Use DOMAIN\\user with this domain, or .\\user for a local account",
            )),
        );
    }
    if r.budget_exhausted {
        let mut f = Finding::new(
            FindingId::BudgetExhausted,
            Severity::Warning,
            "the probe's time budget ran out before every phase was done",
        )
        .evidence(Evidence::probe(
            PhaseName::Tcp,
            format!("total {:.0} ms", r.total_ms),
        ))
        .remedy(advice(
            "Run again with a larger --timeout to see the later phases",
        ));
        if let Some(s) = r.path.repeat.as_ref().filter(|s| s.not_run > 0) {
            f = f.evidence(Evidence::probe(
                PhaseName::Tcp,
                format!(
                    "{} of {} repeated handshakes not run: the budget ran out",
                    s.not_run, s.requested
                ),
            ));
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_reports::*;

    fn failed(failure: TlsFailure) -> ProbeReport {
        let mut r = report();
        let mut facts = TlsFacts::empty();
        facts.failure = Some(failure);
        r.tls = Some(facts);
        r.phases
            .push(phase(PhaseName::Tls, Status::Fail, "TLS failed"));
        r
    }

    fn ids(r: &ProbeReport) -> Vec<FindingId> {
        let mut out = Vec::new();
        rules(r, &mut out);
        out.iter().map(|f| f.id).collect()
    }

    #[test]
    fn no_common_version_is_tls001_and_other_failures_cert001() {
        assert_eq!(
            ids(&failed(TlsFailure::NoCommonVersionOrCipher)),
            [FindingId::NoCommonTls]
        );
        assert_eq!(
            ids(&failed(TlsFailure::PlaintextMcsDisconnect { reason: 3 })),
            [FindingId::TlsFailsAfterX224]
        );
        assert_eq!(
            ids(&failed(TlsFailure::Alert { description: 80 })),
            [FindingId::TlsFailsAfterX224]
        );
    }

    #[test]
    fn certificate_facts_become_findings() {
        let mut r = report();
        let mut facts = TlsFacts::empty();
        facts.expired = Some(true);
        facts.name_matches = Some(false);
        r.tls = Some(facts);
        assert_eq!(
            ids(&r),
            [
                FindingId::CertificateExpired,
                FindingId::CertificateNameMismatch
            ]
        );
    }
}
