//! What the probe's own ClientHellos found after TLS had nothing in common:
//! a server limited to TLS 1.0/1.1, or one with only old cipher suites.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Severity};

use super::{advice, on_host};
use crate::wire::client_hello::{suite_name, HelloAnswer, TlsScan, TlsVersion};

/// FreeRDP links OpenSSL 3, which refuses TLS 1.0/1.1 above security level 0.
pub(crate) const OPENSSL3_OLD_TLS: &str = "https://docs.openssl.org/3.0/man7/migration_guide/";
/// Windows 11 disables TLS 1.0/1.1 in Schannel by default.
pub(crate) const WINDOWS_OLD_TLS: &str = "https://techcommunity.microsoft.com/blog/windows-itpro-blog/tls-1-0-and-tls-1-1-soon-to-be-disabled-in-windows/3887947";

fn versions(scan: &TlsScan) -> String {
    let v: Vec<&str> = scan.versions.iter().map(|v| v.name()).collect();
    v.join(", ")
}

/// The scan's facts, one line per version, then what each hello got.
pub(crate) fn evidence(scan: &TlsScan) -> Vec<Evidence> {
    let mut ev: Vec<Evidence> = scan
        .suites
        .iter()
        .map(|(v, suites)| {
            let names: Vec<String> = suites.iter().map(|s| suite_name(*s)).collect();
            Evidence::probe(
                PhaseName::Tls,
                format!("the server accepts {} with {}", v.name(), names.join(", ")),
            )
        })
        .collect();
    for a in scan.attempts.iter().filter(|a| a.answer.is_err()).take(3) {
        let why = a.answer.as_ref().err().cloned().unwrap_or_default();
        ev.push(Evidence::probe(
            PhaseName::Tls,
            format!(
                "a {} ClientHello got no ServerHello: {why}",
                a.offered.name()
            ),
        ));
    }
    for a in scan.attempts.iter().take(6) {
        if let Ok(HelloAnswer::Alert { description, .. }) = a.answer {
            ev.push(Evidence::probe(
                PhaseName::Tls,
                format!(
                    "a {} ClientHello with {} suite(s) got TLS alert {description}",
                    a.offered.name(),
                    a.suites_offered
                ),
            ));
        }
    }
    ev
}

/// The finding the scan supports, if it tells the case apart.
pub(crate) fn finding(scan: &TlsScan) -> Option<Finding> {
    let enable_tls12 = on_host(
        "Enable TLS 1.2 for the server (Schannel), then restart TermService",
        "New-Item 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server' -Force | New-ItemProperty -Name Enabled -Value 1 -PropertyType DWord -Force",
    );
    if scan.old_versions_only() {
        return Some(
            Finding::new(
                FindingId::OldTlsOnly,
                Severity::Error,
                format!(
                    "the server accepts only {}: FreeRDP with OpenSSL 3 and mstsc on Windows 11 refuse these versions",
                    versions(scan)
                ),
            )
            .evidence(Evidence::probe(PhaseName::Tls, format!("FreeRDP/OpenSSL 3: {OPENSSL3_OLD_TLS}")))
            .evidence(Evidence::probe(PhaseName::Tls, format!("Windows 11: {WINDOWS_OLD_TLS}")))
            .remedy(enable_tls12)
            .remedy(advice("On xrdp: ssl_protocols=TLSv1.2, TLSv1.3 in xrdp.ini")),
        );
    }
    if scan.legacy_suites_only() {
        let names: Vec<String> = scan
            .suites_for(TlsVersion::Tls12)
            .iter()
            .map(|s| suite_name(*s))
            .collect();
        return Some(
            Finding::new(
                FindingId::TlsCipherMismatch,
                Severity::Error,
                format!(
                    "the server speaks TLS 1.2 only with old cipher suites ({}): no ECDHE with AES-GCM or ChaCha20",
                    names.join(", ")
                ),
            )
            .remedy(on_host("Enable the ECDHE-GCM suites in the cipher suite order", "Enable-TlsCipherSuite -Name TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
            .remedy(advice("On xrdp: tls_ciphers=HIGH in xrdp.ini")),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::client_hello::HelloAttempt;

    #[test]
    fn old_versions_and_old_suites_are_told_apart() {
        let mut scan = TlsScan {
            versions: vec![TlsVersion::Tls10],
            suites: vec![(TlsVersion::Tls10, vec![0x0035])],
            attempts: vec![HelloAttempt {
                offered: TlsVersion::Tls12,
                suites_offered: 22,
                answer: Ok(HelloAnswer::Alert {
                    level: 2,
                    description: 70,
                }),
            }],
        };
        let f = finding(&scan).expect("a finding");
        assert_eq!(f.id, FindingId::OldTlsOnly);
        assert!(f.title.contains("TLS 1.0"), "{}", f.title);
        assert!(evidence(&scan)
            .iter()
            .any(|e| e.line().contains("alert 70")));
        scan.versions = vec![TlsVersion::Tls12];
        scan.suites = vec![(TlsVersion::Tls12, vec![0x002F])];
        assert_eq!(
            finding(&scan).map(|f| f.id),
            Some(FindingId::TlsCipherMismatch)
        );
        scan.suites = vec![(TlsVersion::Tls12, vec![0xC02F])];
        assert!(finding(&scan).is_none());
        assert!(finding(&TlsScan::default()).is_none());
    }
}
