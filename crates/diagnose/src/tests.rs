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
            passed: vec![
                (FindingId::RemoteDesktopOff, reg("HKLM\\SYSTEM\\fDeny", "0")),
                // The listener is enabled: the other form of the cause passing does not rule it out.
                (
                    FindingId::ListenerDisabled,
                    reg("HKLM\\SYSTEM\\fEnableWinStation", "1"),
                ),
            ],
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

#[test]
fn a_code_with_many_causes_says_little_about_each() {
    use crate::support::code_weight;
    assert!(code_weight(0, 1) > code_weight(0, 9));
    let total: f32 = (0..9).map(|r| code_weight(r, 9)).sum();
    assert!((total - 1.2).abs() < 1e-4, "{total}");
    assert!(code_weight(0, 9) > code_weight(1, 9));
}

fn logon_refused(cause: CauseId, status: u32) -> ProbeFacts {
    let code = Evidence::Code {
        namespace: "ntstatus".into(),
        code: status,
        name: String::new(),
        meaning: String::new(),
    };
    ProbeFacts {
        completed: vec![
            PhaseName::Dns,
            PhaseName::Tcp,
            PhaseName::X224,
            PhaseName::Tls,
        ],
        failed: Some(PhaseName::Credssp),
        findings: vec![
            Finding::new(FindingId::LogonRefused, Severity::Error, "refused")
                .evidence(code)
                .cause(cause),
        ],
        with_credentials: true,
        ..Default::default()
    }
}

/// The host's account findings: a deny right left behind, and an account that must change its password.
fn account_findings() -> Vec<Finding> {
    vec![
        host_finding(FindingId::RemoteLogonDenied),
        host_finding(FindingId::AccountLockedOrPasswordChange),
    ]
}

#[test]
fn a_refused_logon_explained_by_a_deny_right_ranks_the_right_first() {
    // STATUS_LOGON_FAILURE alone says "wrong password"; with the must-change
    // finding, credentials would lead, but the deny right explains the refusal.
    let d = diagnose(&Inputs {
        probe: Some(logon_refused(CauseId::Credentials, 0xC000_006D)),
        host: Some(HostFacts {
            findings: account_findings(),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::NoRemoteLogonRight, "{:#?}", d.causes);
    let joined = d.causes[0]
        .evidence_for
        .iter()
        .find(|s| s.finding == Some(FindingId::RemoteLogonDenied) && s.evidence.len() > 1)
        .expect("the refusal and the right, together");
    assert!(joined.evidence.iter().any(|e| matches!(
        e,
        Evidence::Code {
            code: 0xC000_006D,
            ..
        }
    )));
}

#[test]
fn code_c000015b_with_a_missing_grant_ranks_the_right_first() {
    let code = ReportedCode {
        evidence: vec![Evidence::Code {
            namespace: "ntstatus".into(),
            code: 0xC000_015B,
            name: "STATUS_LOGON_TYPE_NOT_GRANTED".into(),
            meaning: String::new(),
        }],
        causes: vec![CauseId::NoRemoteLogonRight],
    };
    let mut findings = account_findings();
    findings[0] = host_finding(FindingId::RemoteLogonNotGranted);
    let d = diagnose(&Inputs {
        codes: vec![code],
        host: Some(HostFacts {
            findings,
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::NoRemoteLogonRight);
    assert!(d.causes[0]
        .evidence_for
        .iter()
        .any(|s| s.source == Source::Host
            && s.evidence.iter().any(|e| matches!(
                e,
                Evidence::Code {
                    code: 0xC000_015B,
                    ..
                }
            ))));
}

#[test]
fn rights_checks_that_passed_count_against_the_right() {
    let passed = |id| {
        (
            id,
            reg("HKLM\\SECURITY\\Policy\\Accounts\\*\\ActSysAc", "ok"),
        )
    };
    let d = diagnose(&Inputs {
        probe: Some(logon_refused(CauseId::NoRemoteLogonRight, 0xC000_015B)),
        host: Some(HostFacts {
            passed: vec![
                passed(FindingId::RemoteLogonDenied),
                passed(FindingId::RemoteLogonNotGranted),
            ],
            ..Default::default()
        }),
        ..Default::default()
    });
    let right = d
        .causes
        .iter()
        .find(|c| c.cause == CauseId::NoRemoteLogonRight);
    // 0.7 for the server's own refusal, 0.3 + 0.2 against: weaker, still listed.
    let right = right.expect("still a candidate");
    assert_eq!(right.against.len(), 2, "{:#?}", right.against);
    assert!((right.score - 0.2).abs() < 0.01, "{}", right.score);
}

#[test]
fn no_common_tls_and_tls12_off_on_the_host_rank_tls_settings_first() {
    let probe = ProbeFacts {
        completed: vec![PhaseName::Dns, PhaseName::Tcp, PhaseName::X224],
        failed: Some(PhaseName::Tls),
        findings: vec![
            Finding::new(FindingId::NoCommonTls, Severity::Error, "no common TLS")
                .evidence(Evidence::probe(PhaseName::Tls, "protocol_version alert")),
        ],
        ..Default::default()
    };
    let d = diagnose(&Inputs {
        probe: Some(probe),
        host: Some(HostFacts {
            findings: vec![host_finding(FindingId::TlsServerProtocols)],
            passed: vec![(
                FindingId::MachineKeyFile,
                reg("HKLM\\SOFTWARE\\x", "present"),
            )],
            live: false,
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::TlsSettings);
    assert_eq!(
        d.causes[0].corroborated_by,
        vec![Source::Probe, Source::Host]
    );
    assert_eq!(d.causes[0].evidence_for.len(), 2);
}

#[test]
fn a_licensing_error_and_an_expired_grace_period_rank_licensing_first() {
    let probe = ProbeFacts {
        with_credentials: true,
        findings: vec![Finding::new(
            FindingId::LicensingError,
            Severity::Error,
            "ERR_NO_LICENSE_SERVER",
        )],
        ..healthy_probe()
    };
    let code = ReportedCode {
        evidence: vec![Evidence::Code {
            namespace: "errinfo".into(),
            code: 0x100,
            name: "ERRINFO_LICENSE_INTERNAL".into(),
            meaning: "licensing".into(),
        }],
        causes: vec![CauseId::Licensing, CauseId::ServerResources],
    };
    let d = diagnose(&Inputs {
        probe: Some(probe),
        codes: vec![code],
        host: Some(HostFacts {
            findings: vec![host_finding(FindingId::LicensingSetup)],
            ..Default::default()
        }),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::Licensing);
    assert!(
        d.causes[0].corroborated_by.contains(&Source::Host),
        "{:?}",
        d.causes[0].corroborated_by
    );
    assert!(d.causes[0].corroborated_by.contains(&Source::Probe));
}

#[test]
fn a_server_accepting_only_credssp_and_a_file_without_it() {
    let probe = ProbeFacts {
        completed: vec![
            PhaseName::Dns,
            PhaseName::Tcp,
            PhaseName::X224,
            PhaseName::Tls,
            PhaseName::Credssp,
        ],
        nla_required: true,
        ..Default::default()
    };
    let file = ClientFacts {
        credssp_disabled: Some(FileSetting {
            line: 2,
            text: "enablecredsspsupport:i:0".into(),
        }),
        ..Default::default()
    };
    let d = diagnose(&Inputs {
        probe: Some(probe.clone()),
        rdp_file: Some(file),
        ..Default::default()
    });
    assert_eq!(top(&d), CauseId::SecurityLayerMismatch);
    // Without the file's line there is nothing to blame.
    let d = diagnose(&Inputs {
        probe: Some(probe),
        ..Default::default()
    });
    assert!(d.causes.is_empty());
}
