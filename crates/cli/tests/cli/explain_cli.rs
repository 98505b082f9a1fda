//! `rdp-doctor explain` as a user runs it: output, JSON and exit codes.

use crate::support::golden;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rdp-doctor")
}

#[test]
fn explain_pair_human_output() {
    let out = run(&["explain", "0x904", "0x7"]);
    assert_eq!(out.status.code(), Some(0));
    golden(
        "explain_0x904_0x7.txt",
        &String::from_utf8_lossy(&out.stdout),
    );
}

#[test]
fn explain_event_human_output() {
    let out = run(&["explain", "event", "36870"]);
    assert_eq!(out.status.code(), Some(0));
    golden(
        "explain_event_36870.txt",
        &String::from_utf8_lossy(&out.stdout),
    );
}

#[test]
fn explain_json_is_the_documented_schema() {
    let out = run(&["explain", "--json", "ERRINFO_SERVER_DENIED_CONNECTION"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["schema"], "rdp-doctor.explain/v1");
    assert_eq!(v["code"]["hex"], "0x7");
    assert_eq!(
        v["code"]["readings"][0]["name"],
        "ERRINFO_SERVER_DENIED_CONNECTION"
    );
}

#[test]
fn exit_codes() {
    // Known code: 0. Code in no table: 1 (only the composition rule speaks). Bad input: 2.
    assert_eq!(run(&["explain", "0x204"]).status.code(), Some(0));
    let unknown = run(&["explain", "0x7704"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("category 0x04"));
    let bad = run(&["explain", "0xZZ"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("neither a code"));
    assert_eq!(
        run(&["explain", "--as", "nope", "1"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["explain"]).status.code(), Some(2));
    assert_eq!(run(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn rd_gateway_codes() {
    // The decimal the gateway logs, the hex of it with --as, the name, and the HRESULT.
    for args in [
        &["explain", "23003"][..],
        &["explain", "--as", "gateway", "0x59DB"],
        &["explain", "E_PROXY_NAP_ACCESSDENIED"],
        &["explain", "0x800759DB"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        // The HRESULT is shown as given; the row is the one of its logged low 16 bits.
        let shown = if args.contains(&"0x800759DB") {
            "0x800759DB"
        } else {
            "0x59DB"
        };
        assert!(
            text.starts_with(&format!(
                "{shown} = E_PROXY_NAP_ACCESSDENIED (RD Gateway error code"
            )),
            "{args:?}: {text}"
        );
        assert!(text.contains("layer:      gateway"), "{args:?}: {text}");
        assert!(text.contains("ms-tsgu"), "{args:?}: {text}");
    }
    let json = run(&["explain", "--json", "--as", "gateway", "10060"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let r = &v["code"]["readings"][0];
    assert_eq!(
        (&r["namespace"], &r["name"], &r["layer"]),
        (&"gateway".into(), &"WSAETIMEDOUT".into(), &"network".into())
    );
    let help = String::from_utf8_lossy(&run(&["explain", "--help"]).stdout).to_string();
    assert!(help.contains("gateway (RD Gateway"), "{help}");
    // Not a gateway code: exit 1, nothing invented, and no other numbering's rules.
    let unknown = run(&["explain", "--as", "gateway", "0x59DC"]);
    assert_eq!(unknown.status.code(), Some(1));
    let text = String::from_utf8_lossy(&unknown.stdout);
    assert!(
        text.contains("not in any table") && !text.contains("ERRINFO"),
        "{text}"
    );
}

#[test]
fn pasted_codes_read_like_typed_ones() {
    let typed = run(&["explain", "0x904", "0x7"]);
    assert_eq!(typed.status.code(), Some(0));
    let dialog = "Remote Desktop can't connect to the remote computer for one of these reasons: \
        ... Error code: 0x904 Extended error code: 0x7 Timestamp (UTC): 2024-05-06 07:08:09 AM";
    let unquoted: Vec<&str> = "Error code: 0x904, Extended error code: 0x7"
        .split(' ')
        .collect();
    for args in [
        vec!["0x904, 0x7"],
        vec!["Error code: 0x904, Extended error code: 0x7"],
        vec![dialog],
        unquoted,
    ] {
        let out = run(&[&["explain"][..], &args].concat());
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(out.stdout, typed.stdout, "{args:?}");
    }
}

#[test]
fn freerdp_codes_and_causeless_dialog_codes() {
    for code in ["[0x0002000D]", "0x0002000D"] {
        let out = run(&["explain", code]);
        assert_eq!(out.status.code(), Some(0), "{code}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("ERRCONNECT_CONNECT_TRANSPORT_FAILED"),
            "{text}"
        );
        assert!(text.contains("Likely causes"), "{text}");
    }
    // A dialog code no rule names causes for still says where to look and what to run.
    let out = run(&["explain", "Error code: 0x516"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Likely causes") && text.contains("check: rdp-doctor"),
        "{text}"
    );
}

#[test]
fn event_values_rank_first() {
    let out = run(&["explain", "--json", "event", "4625", "0xC000015B"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["causes"][0]["id"], "no_remote_logon_right");
}

#[test]
fn output_names_no_file_an_installed_binary_lacks() {
    for args in [
        &["explain", "0x904", "0x7"][..],
        &["explain", "0x400"],
        &["explain", "--json", "0x7"],
        &["explain", "0x4C9"],
    ] {
        let out = run(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("NOTES.md"), "{args:?}: {text}");
    }
}
