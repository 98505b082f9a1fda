//! The probe and diagnosis against real xrdp servers with real faults.
//! Needs root and xrdp (installed by scripts/test.sh).

use crate::probe_and_diagnose;
use rdp_doctor_model::FindingId;
use std::time::Duration;

use rdp_doctor_codes::CauseId;
use rdp_doctor_probe::diagnose::{Diagnosis, Severity};
use rdp_doctor_probe::wire::x224::Protocol;
use rdp_doctor_probe::{NegotiationOutcome, PhaseName, ProbeOptions, Status, TlsFailure};
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(2),
        ..ProbeOptions::default()
    }
}

fn top(d: &Diagnosis) -> (FindingId, Severity, Option<CauseId>) {
    let f = d
        .findings
        .first()
        .unwrap_or_else(|| panic!("no finding: {}", d.verdict));
    (f.id, f.severity, f.cause)
}

fn sha1_hex(der: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[tokio::test]
async fn negotiate_with_a_valid_certificate_is_healthy() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("rdp1.test".into()),
    )
    .unwrap();
    let opts = ProbeOptions {
        tls_name: Some("rdp1.test".into()),
        ..options()
    };
    let d = probe_and_diagnose(&server.addr.to_string(), &opts).await;
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    let r = &d.probe;
    assert_eq!(r.supported(), vec![Protocol::Rdp, Protocol::Tls]);
    let tls = r.tls.as_ref().unwrap();
    let leaf = &tls.chain[0];
    assert_eq!(
        leaf.sha1_thumbprint,
        sha1_hex(server.cert_der.as_ref().unwrap())
    );
    assert_eq!(tls.name_matches, Some(true));
    assert_eq!(tls.expired, Some(false));
    assert!(leaf.self_signed);
    // The harness's certificate has an ECDSA P-256 key.
    assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("EC", Some(256)));
    // xrdp never offers NLA: that is reported, as information.
    assert!(d
        .findings
        .iter()
        .any(|f| f.id == FindingId::NlaNotOffered && f.severity == Severity::Info));
    assert!(r.total_ms < 5000.0);
    assert_eq!(r.connections_used, 6);
}

#[tokio::test]
async fn tls_only_listener_refuses_rdp_security() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Tls, CertCase::Valid("rdp2.test".into())).unwrap();
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    assert!(d.healthy, "{}", d.verdict);
    let rdp = d
        .probe
        .protocols
        .iter()
        .find(|p| p.requested == [Protocol::Rdp])
        .unwrap();
    match &rdp.outcome {
        NegotiationOutcome::Failure { code, name, .. } => {
            assert_eq!((*code, name.as_str()), (1, "SSL_REQUIRED_BY_SERVER"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.probe.supported(), vec![Protocol::Tls]);
}

#[tokio::test]
async fn rdp_only_listener_is_flagged() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Rdp, CertCase::Valid("rdp3.test".into())).unwrap();
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    // mstsc's request (TLS|CredSSP) is refused; plain RDP security still works.
    assert_eq!(d.probe.supported(), vec![Protocol::Rdp]);
    assert_eq!(
        d.probe.phase(PhaseName::Tls).unwrap().status,
        Status::Skipped
    );
    // xrdp answers mstsc's request by selecting Standard RDP Security.
    let (id, sev, cause) = top(&d);
    assert_eq!(
        (id, sev, cause),
        (
            FindingId::StandardSecurityOnly,
            Severity::Warning,
            Some(CauseId::SecurityLayerMismatch)
        ),
        "{:#?}",
        d.findings
    );
    // Asked for TLS alone, it selects RDP security too (no RDP_NEG_FAILURE): not accepted.
    let tls = d
        .probe
        .protocols
        .iter()
        .find(|p| p.requested == [Protocol::Tls])
        .unwrap();
    assert!(!tls.accepted);
    assert!(
        matches!(
            tls.outcome,
            NegotiationOutcome::Selected { selected: 0, .. }
        ),
        "{:?}",
        tls.outcome
    );
}

#[tokio::test]
async fn missing_key_is_ssl_cert_not_on_server() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Tls, CertCase::MissingKey).unwrap();
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    assert!(!d.healthy);
    assert_eq!(
        top(&d),
        (
            FindingId::NoCertificateOnServer,
            Severity::Error,
            Some(CauseId::CertificateOrKey)
        ),
        "{:#?}",
        d.findings
    );
    assert!(d.verdict.contains("X.224"), "{}", d.verdict);
}

#[tokio::test]
async fn broken_and_mismatched_keys_fail_tls_right_after_x224() {
    if !require_tool("xrdp") {
        return;
    }
    for case in [CertCase::BrokenKey, CertCase::MismatchedKey] {
        let server = Xrdp::start(SecurityLayer::Tls, case.clone()).unwrap();
        let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
        assert_eq!(
            top(&d),
            (
                FindingId::TlsFailsAfterX224,
                Severity::Error,
                Some(CauseId::CertificateOrKey)
            ),
            "{case:?}: {:#?}",
            d.findings
        );
        assert_eq!(d.probe.phase(PhaseName::X224).unwrap().status, Status::Ok);
        let tls = d.probe.tls.as_ref().unwrap();
        // xrdp sends a plaintext MCS Disconnect Provider Ultimatum and resets; when
        // the reset wins the race the bytes are gone and only the abrupt end remains.
        assert!(
            matches!(
                tls.failure,
                Some(
                    TlsFailure::PlaintextMcsDisconnect { .. }
                        | TlsFailure::ClosedAfterClientHello
                        | TlsFailure::Reset
                )
            ),
            "{case:?}: {tls:?}"
        );
    }
}

#[tokio::test]
async fn expired_certificate_is_a_warning() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Tls, CertCase::Expired).unwrap();
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    assert!(d.healthy, "{}", d.verdict);
    assert_eq!(
        top(&d),
        (
            FindingId::CertificateExpired,
            Severity::Warning,
            Some(CauseId::CertificateOrKey)
        )
    );
    assert!(d.probe.tls.as_ref().unwrap().days_left.unwrap() < -29);
}

/// The FreeRDP shadow server requires NLA: the probe sees HYBRID and reads
/// the server's NTLM identity without credentials.
#[tokio::test]
async fn freerdp_shadow_nla_gives_ntlm_information() {
    if !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let server = rdp_doctor_testing::freerdp::ShadowServer::start().unwrap();
    let d = probe_and_diagnose(&server.addr.to_string(), &options()).await;
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    let r = &d.probe;
    assert!(
        r.supported().contains(&Protocol::Hybrid),
        "{:?}",
        r.protocols
    );
    let ntlm = r
        .ntlm
        .as_ref()
        .unwrap_or_else(|| panic!("no NTLM info: {:?}", r.credssp_error));
    assert!(
        ntlm.netbios_computer
            .as_deref()
            .is_some_and(|n| !n.is_empty()),
        "{ntlm:?}"
    );
    assert!(d.findings.iter().any(|f| f.id == FindingId::ServerIdentity));
    assert_eq!(r.phase(PhaseName::Credssp).unwrap().status, Status::Ok);

    // nmap's rdp-ntlm-info, an independent reader, sees the same identity.
    if require_tool("nmap") {
        let out = std::process::Command::new("nmap")
            .args([
                "-Pn",
                "-n",
                "-p",
                &server.addr.port().to_string(),
                "--script",
                "+rdp-ntlm-info",
                "127.0.0.1",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| {
                    l.split_once(&format!("{name}: "))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_else(|| panic!("nmap printed no {name}: {text}"))
        };
        assert_eq!(
            ntlm.netbios_computer.as_deref(),
            Some(field("NetBIOS_Computer_Name").as_str())
        );
        assert_eq!(
            ntlm.netbios_domain.as_deref(),
            Some(field("NetBIOS_Domain_Name").as_str())
        );
        assert_eq!(
            ntlm.dns_computer.as_deref(),
            Some(field("DNS_Computer_Name").as_str())
        );
        assert_eq!(
            ntlm.os_version.as_deref(),
            Some(field("Product_Version").as_str())
        );
    }
}
