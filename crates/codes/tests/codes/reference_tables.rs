//! Every row of the reference tables marked certain (`confidence` starting
//! with "high") is decoded by `explain`, by its number and by its name.

use std::collections::HashMap;
use std::path::PathBuf;

use rdp_doctor_codes::{explain_codes, explain_event, query::parse_number, Namespace};

fn reference(name: &str) -> Vec<HashMap<String, String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference")
        .join(name);
    let mut reader = csv::Reader::from_path(&path).expect("reference table");
    let headers = reader.headers().expect("headers").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

fn certain(row: &HashMap<String, String>) -> bool {
    row["confidence"].starts_with("high")
}

fn value(row: &HashMap<String, String>) -> u32 {
    let dec = &row["code_dec"];
    match dec.parse::<i64>() {
        Ok(v) => v as u32,
        Err(_) => parse_number(&row["code_hex"]).expect("numeric code"),
    }
}

/// Checks that `code` read in `ns` yields a reading named `name`, and that the
/// name alone finds the same value.
fn assert_decodes(ns: Namespace, code: u32, name: &str, what: &str) {
    let e = explain_codes(&format!("0x{code:X}"), None, Some(ns))
        .unwrap_or_else(|err| panic!("{what}: 0x{code:X} not parsed: {err}"));
    let reading = e.code.as_ref().expect("code reading");
    assert!(
        reading
            .readings
            .iter()
            .any(|r| r.name == name || name.is_empty()),
        "{what}: 0x{code:X} in {ns:?} gave {:?}, expected {name}",
        reading.readings.iter().map(|r| &r.name).collect::<Vec<_>>()
    );
    assert!(e.known, "{what}: 0x{code:X} not known");
    let name_ok = !name.is_empty() && !name.contains(' ') && !name.contains('(');
    if name_ok {
        let by_name = explain_codes(name, None, Some(ns))
            .unwrap_or_else(|err| panic!("{what}: name {name} not found: {err}"));
        let r = by_name.code.expect("code reading");
        assert!(
            r.readings.iter().any(|x| x.hex == format!("0x{code:X}")),
            "{what}: name {name} gave {:?}",
            r.readings.iter().map(|x| &x.hex).collect::<Vec<_>>()
        );
    }
}

#[test]
fn disconnect_reasons_and_logon_errors() {
    let mut n = 0;
    for row in reference("disconnect_reasons.csv")
        .iter()
        .filter(|r| certain(r))
    {
        let ns = if row["namespace"].starts_with("lError") {
            Namespace::LogonError
        } else {
            Namespace::DisconnectReason
        };
        assert_decodes(
            ns,
            value(row),
            &row["symbolic_name"],
            "disconnect_reasons.csv",
        );
        n += 1;
    }
    assert!(n >= 60, "only {n} certain rows");
}

#[test]
fn extended_reasons() {
    let mut n = 0;
    for row in reference("extended_reasons.csv")
        .iter()
        .filter(|r| certain(r))
    {
        assert_decodes(
            Namespace::ExtendedReason,
            value(row),
            &row["exdisc_name"],
            "extended_reasons.csv",
        );
        n += 1;
    }
    assert!(n >= 100, "only {n} certain rows");
}

#[test]
fn errinfo_errconnect_and_sspi() {
    let mut n = 0;
    for row in reference("errinfo.csv").iter().filter(|r| certain(r)) {
        let ns = match row["namespace"].as_str() {
            s if s.starts_with("FreeRDP ERRCONNECT") => Namespace::ErrConnect,
            s if s.starts_with("SSPI") => Namespace::SecurityStatus,
            _ => Namespace::ErrInfo,
        };
        assert_decodes(ns, value(row), &row["name"], "errinfo.csv");
        // FreeRDP spellings are accepted as names too.
        let freerdp = &row["freerdp_name"];
        if !freerdp.is_empty() && !freerdp.contains(' ') && freerdp != &row["name"] {
            let e = explain_codes(freerdp, None, Some(ns)).expect("FreeRDP name");
            assert!(e.known, "FreeRDP name {freerdp}");
        }
        n += 1;
    }
    assert!(n >= 230, "only {n} certain rows");
}

#[test]
fn negotiation_tables() {
    let mut n = 0;
    for row in reference("neg_failure.csv").iter().filter(|r| certain(r)) {
        let ns_text = row["namespace"].as_str();
        let ns = match ns_text {
            s if s.starts_with("RDP_NEG_FAILURE") => Namespace::NegFailure,
            s if s.starts_with("RDP negotiation structure") => Namespace::NegStructureType,
            s if s.starts_with("RDP_NEG_REQ") => Namespace::NegProtocol,
            s if s.starts_with("RDP_NEG_RSP.flags") => Namespace::NegResponseFlag,
            s if s.starts_with("Early User") => Namespace::EarlyUserAuthorization,
            s if s.starts_with("MCS") => Namespace::McsDisconnectReason,
            s if s.starts_with("Server Status") => Namespace::StatusInfo,
            s if s.contains("ErrorNotificationType") => Namespace::LogonNotificationType,
            _ => Namespace::LogonNotificationData,
        };
        assert_decodes(ns, value(row), row["name"].trim(), "neg_failure.csv");
        n += 1;
    }
    assert!(n >= 40, "only {n} certain rows");
}

/// Every gateway row decodes by its logged number, by its name and aliases, and by
/// the HRESULT form where the source defines one (0x800759DB for 23003).
#[test]
fn gateway_codes() {
    let mut n = 0;
    for row in reference("gateway.csv") {
        let code = value(&row);
        let name = row["name"].as_str();
        if certain(&row) {
            assert_decodes(Namespace::Gateway, code, name, "gateway.csv");
        }
        // The decimal form the gateway writes in its events, read in every default numbering.
        let e = explain_codes(&code.to_string(), None, None).expect("decimal");
        let gateway: Vec<&str> = e
            .code
            .as_ref()
            .expect("code")
            .readings
            .iter()
            .filter(|r| r.namespace == Namespace::Gateway)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(gateway, [name], "gateway.csv: {code} read as {gateway:?}");
        for alias in row["aliases"]
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let e = explain_codes(alias, None, Some(Namespace::Gateway)).expect("alias");
            let r = &e.code.expect("code").readings[0];
            assert_eq!(
                (r.name.as_str(), r.hex.clone()),
                (name, format!("0x{code:X}")),
                "alias {alias}"
            );
        }
        if let Some(hresult) = parse_number(&row["hresult"]) {
            let e = explain_codes(&format!("0x{hresult:08X}"), None, None).expect("HRESULT");
            let c = e.code.expect("code");
            assert_eq!(c.value, Some(hresult));
            assert_eq!(c.readings[0].name, name, "HRESULT 0x{hresult:08X}");
            assert_eq!(c.readings[0].hex, format!("0x{code:X}"));
        }
        n += 1;
    }
    assert!(n >= 40, "only {n} rows");
}

/// Rows of any confidence are in the tables too (decoded, never dropped),
/// even if their names are descriptive rather than symbolic.
#[test]
fn every_row_of_any_confidence_is_known() {
    let mut n = 0;
    for (file, namespace_of) in [
        ("disconnect_reasons.csv", None),
        ("extended_reasons.csv", Some(Namespace::ExtendedReason)),
        ("errinfo.csv", None),
    ] {
        for row in reference(file) {
            let ns = namespace_of.unwrap_or_else(|| match row["namespace"].as_str() {
                s if s.starts_with("lError") => Namespace::LogonError,
                s if s.starts_with("discReason") => Namespace::DisconnectReason,
                s if s.starts_with("FreeRDP ERRCONNECT") => Namespace::ErrConnect,
                s if s.starts_with("SSPI") => Namespace::SecurityStatus,
                _ => Namespace::ErrInfo,
            });
            let code = value(&row);
            let e = explain_codes(&format!("0x{code:X}"), None, Some(ns)).expect("parse");
            assert!(e.known, "{file}: 0x{code:X} ({ns:?}) unknown");
            n += 1;
        }
    }
    assert!(n >= 500, "only {n} rows");
}

#[test]
fn event_ids() {
    let mut n = 0;
    for row in reference("event_ids.csv").iter().filter(|r| certain(r)) {
        let id = &row["event_id"];
        let sub = row["sub_code"].as_str();
        let numeric_sub = parse_number(sub).is_some();
        let e = if numeric_sub {
            explain_event(id, Some(sub))
        } else {
            explain_event(id, None)
        }
        .unwrap_or_else(|err| panic!("event {id}: {err}"));
        assert!(e.known, "event {id} sub {sub:?} unknown");
        let message = &row["message_or_name"];
        assert!(
            e.events.iter().any(|ev| &ev.event.message == message),
            "event {id} sub {sub:?}: message {message:?} not among {:?}",
            e.events
                .iter()
                .map(|ev| &ev.event.message)
                .collect::<Vec<_>>()
        );
        n += 1;
    }
    assert!(n >= 200, "only {n} certain rows");
}
