//! The readings users rely on, checked against the reference notes.

use rdp_doctor_codes::{explain_codes, explain_event, CauseId, Layer, Namespace};

#[test]
fn the_0x904_0x7_pair_is_read_together() {
    let e = explain_codes("0x904", Some("0x7"), None).unwrap();
    let code = e.code.as_ref().unwrap();
    assert_eq!(
        code.readings[0].name,
        "disconnectReasonAtClientWinsockFDCLOSE"
    );
    let comp = code.composition.as_ref().unwrap();
    assert_eq!(
        (comp.category.as_str(), comp.subcode.as_str()),
        ("0x04", "0x9")
    );
    let ext = e.extended.as_ref().unwrap();
    assert_eq!(ext.readings[0].name, "exDiscReasonServerDeniedConnection");
    assert!(ext
        .readings
        .iter()
        .any(|r| r.name == "ERRINFO_SERVER_DENIED_CONNECTION"));
    let combined = e.combined.as_deref().unwrap();
    assert!(
        combined.contains("extended 0x7 from the client itself"),
        "{combined}"
    );
    assert!(e
        .verdict
        .contains("dropped the connection while it was being set up"));
    // The reference notes' order: certificate/key, TLS, security layer, limits, drain, network.
    let ids: Vec<CauseId> = e.causes.iter().map(|c| c.cause.id).collect();
    assert_eq!(
        &ids[..4],
        &[
            CauseId::CertificateOrKey,
            CauseId::TlsSettings,
            CauseId::SecurityLayerMismatch,
            CauseId::ConnectionLimit
        ]
    );
    assert!(ids.contains(&CauseId::NetworkPath));
    assert!(e.causes.iter().all(|c| c
        .cause
        .checks
        .iter()
        .any(|c| c.starts_with("rdp-doctor ") || !c.contains("rdp-doctor"))));
}

#[test]
fn the_0x904_alone_and_with_zero_is_a_network_drop() {
    let e = explain_codes("2308", Some("0"), None).unwrap();
    assert!(e.verdict.contains("no reason"), "{}", e.verdict);
    assert_eq!(e.causes[0].cause.id, CauseId::NetworkPath);
}

#[test]
fn hex_decimal_and_names_agree() {
    let a = explain_codes("0x904", None, None).unwrap();
    let b = explain_codes("2308", None, None).unwrap();
    let c = explain_codes("disconnectreasonatclientwinsockfdclose", None, None).unwrap();
    for e in [&a, &b, &c] {
        assert_eq!(e.code.as_ref().unwrap().hex.as_deref(), Some("0x904"));
    }
}

#[test]
fn negative_decimal_sspi_status() {
    let e = explain_codes("-2146893043", None, None).unwrap(); // 0x8009030D
    let r = &e.code.as_ref().unwrap().readings[0];
    assert_eq!(r.name, "SEC_E_UNKNOWN_CREDENTIALS");
    assert_eq!(r.namespace, Namespace::SecurityStatus);
}

#[test]
fn unknown_codes_get_the_composition_rule_and_nothing_invented() {
    // 0x2904: category 0x04 network, subcode 0x29; not documented with a name.
    let e = explain_codes("0x7704", None, None).unwrap();
    assert!(!e.known);
    let code = e.code.as_ref().unwrap();
    assert!(code.readings.is_empty());
    let comp = code.composition.as_ref().unwrap();
    assert_eq!(comp.layer, Layer::Network);
    assert!(e.verdict.contains("in no table"), "{}", e.verdict);

    let e = explain_codes("0xC0000999", None, None).unwrap();
    assert!(!e.known);
    assert!(e.code.unwrap().family.unwrap().starts_with("NTSTATUS"));

    let e = explain_codes("0x6000", None, Some(Namespace::ExtendedReason)).unwrap();
    assert!(e
        .code
        .unwrap()
        .errinfo_range
        .unwrap()
        .contains("protocol range"));
}

#[test]
fn gateway_codes_by_facility() {
    let e = explain_codes("50331656", None, None).unwrap();
    let code = e.code.as_ref().unwrap();
    assert_eq!(code.hex.as_deref(), Some("0x3000008"));
    assert_eq!(code.readings[0].layer, Layer::Gateway);
    assert_eq!(e.causes[0].cause.id, CauseId::Gateway);
}

#[test]
fn neg_failure_by_name() {
    let e = explain_codes("hybrid_required_by_server", None, None).unwrap();
    let r = &e.code.as_ref().unwrap().readings[0];
    assert_eq!(
        (r.namespace, r.hex.as_str()),
        (Namespace::NegFailure, "0x5")
    );
    assert_eq!(e.causes[0].cause.id, CauseId::SecurityLayerMismatch);
}

#[test]
fn events_with_values() {
    let e = explain_event("36870", None).unwrap();
    assert!(e.known);
    assert_eq!(e.causes[0].cause.id, CauseId::CertificateOrKey);

    let e = explain_event("1026", Some("2308")).unwrap();
    let decoded = e
        .events
        .iter()
        .find_map(|ev| ev.decoded_value.as_ref())
        .unwrap();
    assert_eq!(decoded.name, "disconnectReasonAtClientWinsockFDCLOSE");

    let e = explain_event("4625", Some("0xC000006A")).unwrap();
    assert!(e
        .events
        .iter()
        .any(|ev| ev.event.message.contains("bad password")));

    assert!(explain_event("not-a-number", None).is_err());
    assert!(!explain_event("64000", None).unwrap().known);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    for q in [
        "",
        "0x",
        "0xFFFFFFFFF",
        "-",
        "--x",
        "1 2",
        "ÿ",
        "\u{0}",
        "NO_SUCH_NAME_ANYWHERE",
    ] {
        assert!(explain_codes(q, None, None).is_err(), "{q:?}");
    }
}

#[test]
fn json_has_the_schema_and_no_gaps() {
    let e = explain_codes("0x904", Some("0x7"), None).unwrap();
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.explain/v1");
    assert_eq!(v["code"]["readings"][0]["namespace"], "disconnect_reason");
    assert_eq!(v["causes"][0]["id"], "certificate_or_key");
    assert_eq!(v["causes"][0]["rank"], 1);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text, as one or two terms, gives an explanation or an error; never a panic.
        #[test]
        fn any_text_is_explained_or_refused(a in ".{0,40}", b in proptest::option::of(".{0,40}")) {
            let _ = explain_codes(&a, b.as_deref(), None);
            let _ = explain_event(&a, b.as_deref());
        }

        /// Every 32-bit number decodes (possibly as unknown), in every numbering.
        #[test]
        fn every_number_is_explained(n in any::<u32>(), ext in any::<u32>()) {
            let e = explain_codes(&n.to_string(), Some(&format!("0x{ext:x}")), None).unwrap();
            prop_assert_eq!(e.code.unwrap().value, Some(n));
            for ns in Namespace::ALL {
                let text = format!("{n:#x}");
                prop_assert!(explain_codes(&text, None, Some(ns)).is_ok());
            }
        }
    }
}

#[test]
fn gateway_codes_in_every_spelling() {
    // As the gateway logs it (decimal HRESULT_CODE), in hex, as the HRESULT, by name.
    for input in [
        "23003",
        "0x59DB",
        "0x800759DB",
        "-2147001893",
        "e_proxy_nap_accessdenied",
    ] {
        let e = explain_codes(input, None, None).unwrap();
        let r = &e.code.as_ref().unwrap().readings[0];
        assert_eq!(
            (r.namespace, r.name.as_str(), r.layer),
            (
                Namespace::Gateway,
                "E_PROXY_NAP_ACCESSDENIED",
                Layer::Gateway
            ),
            "{input}"
        );
        assert!(
            e.known && e.verdict.starts_with("0x"),
            "{input}: {}",
            e.verdict
        );
        assert_eq!(e.causes[0].cause.id, CauseId::Gateway, "{input}");
    }
    let forced = explain_codes("0x59DB", None, Some(Namespace::Gateway)).unwrap();
    assert_eq!(forced.code.unwrap().readings.len(), 1);
    // A Winsock error from the gateway points at the path to the host, not at the gateway first.
    let timeout = explain_codes("10060", None, Some(Namespace::Gateway)).unwrap();
    assert_eq!(
        timeout.code.as_ref().unwrap().readings[0].name,
        "WSAETIMEDOUT"
    );
    assert_eq!(timeout.code.unwrap().readings[0].layer, Layer::Network);
    assert_eq!(timeout.causes[0].cause.id, CauseId::FirewallOrPort);
    // 1236 is both E_PROXY_CONNECTIONABORTED and the Win32 error of the same value: one row.
    let aborted = explain_codes("ERROR_CONNECTION_ABORTED", None, None).unwrap();
    assert_eq!(
        aborted.code.unwrap().readings[0].name,
        "E_PROXY_CONNECTIONABORTED"
    );
    // A number that already meant something keeps its first reading; the gateway's comes after.
    let five = explain_codes("5", None, None).unwrap();
    let readings = &five.code.unwrap().readings;
    assert_ne!(readings[0].namespace, Namespace::Gateway);
    assert_eq!(
        readings.last().map(|r| r.name.as_str()),
        Some("ERROR_ACCESS_DENIED")
    );
    // An HRESULT_FROM_WIN32 of a Win32 error the gateway table does not hold stays unknown.
    assert!(explain_codes("0x80070002", None, Some(Namespace::Gateway))
        .unwrap()
        .code
        .unwrap()
        .readings
        .is_empty());
}
