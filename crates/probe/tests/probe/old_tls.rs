//! A server limited to old TLS versions, told apart from a cipher mismatch by
//! the probe's own ClientHellos: real xrdp with its own ssl_protocols and an
//! OpenSSL security level low enough for TLS 1.0/1.1 (its own openssl.cnf).

use std::time::Duration;

use rdp_doctor_model::FindingId;
use rdp_doctor_probe::diagnose::diagnose;
use rdp_doctor_probe::wire::client_hello::TlsVersion;
use rdp_doctor_probe::ProbeOptions;
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, TlsSettings, Xrdp};

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_secs(1),
        ..ProbeOptions::default()
    }
}

fn old_xrdp(protocols: &str, ciphers: Option<&str>) -> Xrdp {
    Xrdp::start_with_tls(
        SecurityLayer::Tls,
        CertCase::Valid("old.test".into()),
        TlsSettings {
            ssl_protocols: protocols.into(),
            tls_ciphers: ciphers.map(str::to_string),
            openssl_seclevel: Some(0),
        },
    )
    .expect("xrdp starts")
}

#[tokio::test]
async fn tls_1_0_only_is_named_with_the_versions_and_suites() {
    if !require_tool("xrdp") {
        return;
    }
    for (protocols, version) in [("TLSv1", TlsVersion::Tls10), ("TLSv1.1", TlsVersion::Tls11)] {
        let server = old_xrdp(protocols, None);
        let d = diagnose(
            rdp_doctor_probe::probe(&server.addr.to_string(), &options())
                .await
                .expect("probe runs"),
        );
        let scan = d.probe.tls_scan.as_ref().expect("a scan");
        assert_eq!(scan.versions, [version], "{scan:#?}");
        assert!(!scan.suites_for(version).is_empty(), "{scan:#?}");
        let f = &d.findings[0];
        assert_eq!(f.id, FindingId::OldTlsOnly, "{:#?}", d.findings);
        assert!(f.title.contains(version.name()), "{}", f.title);
        let lines: Vec<String> = f.evidence.iter().map(|e| e.line()).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("the server accepts") && l.contains("TLS_")),
            "{lines:#?}"
        );
        eprintln!("{protocols}: {}; {lines:#?}", f.title);
    }
}

#[tokio::test]
async fn tls_1_2_with_only_old_suites_is_a_cipher_mismatch() {
    if !require_tool("xrdp") {
        return;
    }
    let server = old_xrdp(
        "TLSv1.2",
        Some("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"),
    );
    let d = diagnose(
        rdp_doctor_probe::probe(&server.addr.to_string(), &options())
            .await
            .expect("probe runs"),
    );
    let scan = d.probe.tls_scan.as_ref().expect("a scan");
    assert_eq!(scan.versions, [TlsVersion::Tls12], "{scan:#?}");
    let f = &d.findings[0];
    assert_eq!(f.id, FindingId::TlsCipherMismatch, "{:#?}", d.findings);
    assert!(
        f.title.contains("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
        "{}",
        f.title
    );
}
