//! Codes as users paste them, explained, and handed on as findings and weighted causes.

use proptest::prelude::*;
use rdp_doctor_codes::{
    explain_pasted, findings, parse_reported, ranked_causes, CauseId, CodeKind, Namespace,
};
use rdp_doctor_model::{Action, Evidence, FindingId, Machine, Severity};

#[test]
fn freerdp_packed_code_is_read_in_the_errconnect_table() {
    for text in ["[0x0002000D]", "0x0002000D"] {
        let e = explain_pasted(text, None).expect("explain");
        let code = e.code.as_ref().expect("code");
        assert_eq!(code.input, "0x0002000D");
        let r = &code.readings[0];
        assert_eq!(r.namespace, Namespace::ErrConnect);
        assert_eq!(r.name, "ERRCONNECT_CONNECT_TRANSPORT_FAILED");
        assert!(!e.causes.is_empty());
    }
    let e = explain_pasted("[0x00010009]", None).expect("explain");
    assert_eq!(
        e.code.as_ref().expect("code").readings[0].name,
        "ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES"
    );
    assert_eq!(e.causes[0].cause.id, CauseId::NoRemoteLogonRight);
}

#[test]
fn the_mstsc_dialog_pasted_whole_is_the_pair() {
    let dialog = "Remote Desktop can't connect to the remote computer for one of these reasons: \
        1) Remote access to the server is not enabled 2) The remote computer is turned off \
        3) The remote computer is not available on the network Error code: 0x904 \
        Extended error code: 0x7 Timestamp (UTC): 2024-05-06 07:08:09 AM";
    let pasted = explain_pasted(dialog, None).expect("explain");
    let typed = rdp_doctor_codes::explain_codes("0x904", Some("0x7"), None).expect("explain");
    assert_eq!(pasted.verdict, typed.verdict);
    assert_eq!(pasted.query, vec!["0x904", "0x7"]);
    let short = explain_pasted("0x904, 0x7", None).expect("explain");
    assert_eq!(short.verdict, typed.verdict);
}

#[test]
fn a_dialog_code_without_causes_of_its_own_gets_its_layers() {
    let e = explain_pasted("Error code: 0x516", None).expect("explain");
    assert!(!e.causes.is_empty(), "{}", e.verdict);
    assert!(e.causes.iter().all(|c| !c.cause.checks.is_empty()));
    let alone = explain_pasted("0x516", None).expect("explain");
    assert!(!alone.causes.is_empty());
}

#[test]
fn findings_carry_code_evidence_the_top_cause_and_its_fixes() {
    let e = explain_pasted("0x904 0x7", None).expect("explain");
    let fs = findings(&e);
    assert_eq!(fs.len(), 2);
    for f in &fs {
        assert_eq!(f.id, FindingId::ReportedCode);
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.cause, Some(e.causes[0].cause.id));
        assert!(!f.remedies.is_empty());
    }
    match &fs[1].evidence[0] {
        Evidence::Code {
            namespace,
            code,
            name,
            meaning,
        } => {
            assert_eq!(namespace, "extended");
            assert_eq!(*code, 7);
            assert_eq!(name, "exDiscReasonServerDeniedConnection");
            assert!(!meaning.is_empty());
        }
        other => panic!("{other:?}"),
    }

    let drain = explain_pasted("ERRINFO_SERVER_DENIED_CONNECTION", None).expect("explain");
    let f = &findings(&drain)[0];
    let cause = f.cause.expect("cause");
    assert_eq!(
        f.remedies.len(),
        rdp_doctor_codes::causes::cause(cause).fixes.len()
    );

    assert!(explain_pasted("ERRINFO_NO_SUCH_NAME", None).is_err());
}

#[test]
fn host_commands_of_a_fix_are_run_on_the_host() {
    // A Connection Broker refusal points at drain mode, whose fix is a command on the host.
    let r = parse_reported("ERRINFO_CB_DESTINATION_NOT_FOUND").expect("code");
    let e = rdp_doctor_codes::explain_reported(&r).expect("explain");
    assert_eq!(e.causes[0].cause.id, CauseId::DrainOrLogonsDisabled);
    let f = findings(&e);
    let runs: Vec<&Action> = f
        .iter()
        .flat_map(|f| &f.remedies)
        .flat_map(|r| &r.actions)
        .collect();
    assert!(!runs.is_empty());
    assert!(runs
        .iter()
        .all(|a| matches!(a, Action::Run { on: Machine::Host, command } if command.contains("logon /enable"))));
}

#[test]
fn not_an_error_gives_an_info_finding_without_cause() {
    let e = explain_pasted("0x1", None).expect("explain");
    let f = findings(&e);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].cause, None);
}

#[test]
fn ranked_causes_weigh_by_rank() {
    let r = parse_reported("Error code: 0x904 Extended error code: 0x7").expect("codes");
    assert_eq!(r.main.kind, CodeKind::Dialog);
    let ranked = ranked_causes(&r);
    assert_eq!(ranked[0], (CauseId::CertificateOrKey, 1.0));
    assert!(ranked.windows(2).all(|w| w[0].1 > w[1].1));
    let sspi = ranked_causes(&parse_reported("0x80090302").expect("code"));
    assert_eq!(sspi[0], (CauseId::CredsspPolicy, 1.0));
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused(text in ".{0,200}") {
        if let Ok(r) = parse_reported(&text) {
            let _ = rdp_doctor_codes::explain_reported(&r);
            let _ = ranked_causes(&r);
        }
    }

    #[test]
    fn every_dialog_error_code_names_causes(v in 0u32..0x0400_0000) {
        let category = v & 0xFF;
        prop_assume!(category > 2);
        let e = explain_pasted(&format!("Error code: 0x{v:X}"), None).expect("explain");
        prop_assert!(!e.causes.is_empty(), "0x{:X}: {}", v, e.verdict);
    }
}
