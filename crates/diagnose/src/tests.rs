//! The engine's rules on facts built here.

use rdp_doctor_model::{
    CauseId, Evidence, Finding, FindingId, PhaseName, RegistryOrigin, Severity,
};

use crate::*;

fn refused() -> ProbeFacts {
    ProbeFacts {
        completed: vec![PhaseName::Dns],
        failed: Some(PhaseName::Tcp),
        findings: vec![
            Finding::new(FindingId::PortRefused, Severity::Error, "refused")
                .evidence(Evidence::probe(PhaseName::Tcp, "connection refused")),
        ],
        ..Default::default()
    }
}

fn healthy_probe() -> ProbeFacts {
    ProbeFacts {
        completed: vec![
            PhaseName::Dns,
            PhaseName::Tcp,
            PhaseName::X224,
            PhaseName::Tls,
            PhaseName::Credssp,
        ],
        ..Default::default()
    }
}

fn reg(path: &str, value: &str) -> Evidence {
    Evidence::Registry {
        path: path.into(),
        value: value.into(),
        origin: RegistryOrigin::Hive {
            file: "SYSTEM".into(),
        },
    }
}

fn host_finding(id: FindingId) -> Finding {
    Finding::new(id, Severity::Error, "host").evidence(reg("HKLM\\SYSTEM\\x", "1"))
}

fn top(d: &Diagnosis) -> CauseId {
    d.causes.first().map(|c| c.cause).expect("a cause")
}

#[test]
fn refused_port_alone_is_ambiguous_and_names_the_host_check() {
    let d = diagnose(&Inputs {
        target: Some("h".into()),
        probe: Some(refused()),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::FirewallOrPort);
    assert!(d.causes[0].confidence < 0.5, "{}", d.causes[0].confidence);
    let next = d.next_check.expect("a separating check");
    assert_eq!(next.source, Source::Host);
    assert!(
        next.command.starts_with("rdp-doctor diagnose h --system"),
        "{}",
        next.command
    );
    assert!(!d.healthy);
}

#[test]
fn refused_port_and_remote_desktop_off_in_the_hive() {
    let d = diagnose(&Inputs {
        probe: Some(refused()),
        host: Some(HostFacts {
            findings: vec![host_finding(FindingId::RemoteDesktopOff)],
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::RemoteDesktopDisabled);
    let c = &d.causes[0];
    assert_eq!(c.corroborated_by, vec![Source::Probe, Source::Host]);
    assert!(c.confidence > 0.5, "{}", c.confidence);
    assert!(
        d.verdict.contains("Remote Desktop is turned off"),
        "{}",
        d.verdict
    );
    assert!(d.next_check.is_none());
}

#[test]
fn refused_port_and_termservice_disabled() {
    let d = diagnose(&Inputs {
        probe: Some(refused()),
        host: Some(HostFacts {
            findings: vec![host_finding(FindingId::ServiceDisabled)],
            passed: vec![(FindingId::RemoteDesktopOff, reg("HKLM\\SYSTEM\\fDeny", "0"))],
            live: false,
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::ServiceOrListenerDown);
    assert!(!d
        .causes
        .iter()
        .any(|c| c.cause == CauseId::RemoteDesktopDisabled));
}

#[test]
fn tls_broken_after_x224_and_missing_key_are_one_cause() {
    let probe = ProbeFacts {
        completed: vec![PhaseName::Dns, PhaseName::Tcp, PhaseName::X224],
        failed: Some(PhaseName::Tls),
        findings: vec![
            Finding::new(FindingId::TlsFailsAfterX224, Severity::Error, "tls")
                .evidence(Evidence::probe(PhaseName::Tls, "closed after ClientHello")),
        ],
        ..Default::default()
    };
    let d = diagnose(&Inputs {
        probe: Some(probe),
        host: Some(HostFacts {
            findings: vec![host_finding(FindingId::MachineKeyFile)],
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::CertificateOrKey);
    let c = &d.causes[0];
    assert_eq!(c.evidence_for.len(), 2);
    assert_eq!(c.corroborated_by, vec![Source::Probe, Source::Host]);
}

#[test]
fn nla_required_and_file_without_credssp_blames_the_line() {
    let probe = ProbeFacts {
        completed: vec![
            PhaseName::Dns,
            PhaseName::Tcp,
            PhaseName::X224,
            PhaseName::Tls,
            PhaseName::Credssp,
        ],
        findings: vec![Finding::new(
            FindingId::NlaRequired,
            Severity::Warning,
            "nla",
        )],
        ..Default::default()
    };
    let file = ClientFacts {
        credssp_disabled: Some(FileSetting {
            line: 7,
            text: "enablecredsspsupport:i:0".into(),
        }),
        ..Default::default()
    };
    let d = diagnose(&Inputs {
        probe: Some(probe),
        rdp_file: Some(file),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::SecurityLayerMismatch);
    assert!(
        d.causes[0].remedies[0].remedy.title.contains("line 7"),
        "{:?}",
        d.causes[0].remedies[0]
    );
    assert!(!d.healthy || d.causes[0].score > 1.0);
}

#[test]
fn healthy_probe_code_and_event_1006_is_a_connection_limit() {
    let code = ReportedCode {
        evidence: vec![Evidence::Code {
            namespace: "errinfo".into(),
            code: 7,
            name: "ERRINFO_SERVER_DENIED_CONNECTION".into(),
            meaning: "denied".into(),
        }],
        causes: vec![
            CauseId::RemoteDesktopDisabled,
            CauseId::ConnectionLimit,
            CauseId::FirewallOrPort,
        ],
    };
    let flood = Finding::new(FindingId::ConnectionFlood, Severity::Error, "1006");
    let d = diagnose(&Inputs {
        probe: Some(healthy_probe()),
        codes: vec![code],
        logs: Some(vec![flood]),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::ConnectionLimit);
    assert!(!d.healthy, "a reported code is a problem");
    assert!(!d
        .causes
        .iter()
        .any(|c| c.cause == CauseId::RemoteDesktopDisabled));
}

#[test]
fn only_a_code_ranks_its_causes_with_checks() {
    let code = ReportedCode {
        evidence: vec![Evidence::Code {
            namespace: "x".into(),
            code: 1,
            name: "n".into(),
            meaning: "m".into(),
        }],
        causes: vec![CauseId::NetworkPath, CauseId::FirewallOrPort],
    };
    let d = diagnose(&Inputs {
        codes: vec![code],
        ..Default::default()
    });
    let got: Vec<CauseId> = d.causes.iter().map(|c| c.cause).collect();
    assert_eq!(got, vec![CauseId::NetworkPath, CauseId::FirewallOrPort]);
    assert!(d.causes.iter().all(|c| !c.checks.is_empty()));
}

#[test]
fn healthy_probe_alone_is_healthy() {
    let d = diagnose(&Inputs {
        target: Some("h:3389".into()),
        probe: Some(healthy_probe()),
        ..Default::default()
    });
    assert!(d.healthy);
    assert!(d.causes.is_empty());
    assert_eq!(d.verdict, "RDP to h:3389 works: every phase completed");
}

#[test]
fn confidence_is_bounded_and_grows_with_evidence() {
    assert_eq!(rank::confidence(1.0, 0.0), 0.0);
    assert!(rank::confidence(3.0, 3.0) <= 1.0);
    assert!(rank::confidence(0.5, 1.0) < rank::confidence(1.5, 2.0));
}
