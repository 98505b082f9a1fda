//! The client compatibility table against the real xfreerdp on this machine
//! (FreeRDP 2 with Debian's OpenSSL 3): for servers configured each way, the
//! FreeRDP 2 row's prediction is what xfreerdp does.

use std::process::Command;
use std::time::Duration;

use rdp_doctor_probe::rules::clients::ClientVerdict;
use rdp_doctor_probe::ProbeOptions;
use rdp_doctor_testing::freerdp::{ShadowServer, Xvfb};
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, TlsSettings, Xrdp};

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_secs(2),
        ..ProbeOptions::default()
    }
}

async fn freerdp2_row(target: &str) -> ClientVerdict {
    let r = rdp_doctor_probe::probe(target, &options())
        .await
        .expect("probe runs");
    r.clients
        .iter()
        .find(|c| c.client.starts_with("FreeRDP 2"))
        .cloned()
        .unwrap_or_else(|| panic!("no FreeRDP 2 row: {:#?}", r.clients))
}

/// What xfreerdp does: connected (past the security layer: it stays, exits
/// cleanly with +auth-only, or the server logs the session off), or refused.
fn xfreerdp_connects(display: &str, home: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["-s", "KILL", "6", "xfreerdp"])
        .args(args)
        .args(["/cert:ignore", "/log-level:INFO"])
        .env("DISPLAY", display)
        .env("HOME", home)
        .output()
        .expect("xfreerdp runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A connection error (TLS, NLA, transport) is an ERRCONNECT code; a server
    // that logs the session off afterwards (ERRINFO_*) was connected to.
    let authenticated = log.contains("Authentication only, exit status 0");
    let logged_off = log.contains("ERRINFO_");
    // +auth-only cancels the connection after a successful logon.
    let refused = (log.contains("ERRCONNECT") && !authenticated)
        || out
            .status
            .code()
            .is_some_and(|c| c != 0 && c != 137 && !logged_off && !authenticated);
    (!refused, log)
}

fn rsa_xrdp(bits: u32, protocols: &str) -> Xrdp {
    Xrdp::start_with_tls(
        SecurityLayer::Tls,
        CertCase::Rsa {
            bits,
            digest: "sha256".into(),
        },
        TlsSettings {
            ssl_protocols: protocols.into(),
            tls_ciphers: None,
            openssl_seclevel: Some(0),
        },
    )
    .expect("xrdp starts")
}

#[tokio::test]
async fn freerdp2_predictions_match_xfreerdp() {
    for tool in ["xrdp", "xfreerdp", "Xvfb", "freerdp-shadow-cli", "openssl"] {
        if !require_tool(tool) {
            return;
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let xvfb = Xvfb::start(dir.path()).expect("Xvfb");
    let rdp_only = Xrdp::start(SecurityLayer::Rdp, CertCase::Valid("rdp.test".into()))
        .expect("xrdp (RDP security)");
    let key_1024 = rsa_xrdp(1024, "TLSv1.2, TLSv1.3");
    let key_768 = rsa_xrdp(768, "TLSv1.2, TLSv1.3");
    let tls10 = rsa_xrdp(2048, "TLSv1");
    let cases: Vec<(&str, String, Option<bool>)> = vec![
        ("RDP security only", rdp_only.addr.to_string(), Some(true)),
        ("TLS, 1024-bit RSA", key_1024.addr.to_string(), Some(true)),
        // FreeRDP verifies the certificate itself: OpenSSL's key-size limit does not apply.
        ("TLS, 768-bit RSA", key_768.addr.to_string(), Some(true)),
        ("TLS 1.0 only", tls10.addr.to_string(), Some(false)),
    ];
    for (name, target, expected) in cases {
        let row = freerdp2_row(&target).await;
        let (connects, log) = xfreerdp_connects(
            &xvfb.display,
            dir.path(),
            &[&format!("/v:{target}"), "/u:nobody", "/p:nothing"],
        );
        eprintln!("{name}: predicted {row:?}, xfreerdp connects: {connects}");
        assert_eq!(row.connects, expected, "{name}: {row:#?}");
        assert_eq!(
            Some(connects),
            row.connects,
            "{name}: prediction {row:#?}\nxfreerdp:\n{log}"
        );
        if expected == Some(false) {
            assert!(
                !row.reasons.is_empty() && row.sources.iter().all(|s| s.starts_with("https://"))
            );
        }
    }
    // NLA: the shadow server, credentials checked with +auth-only.
    let shadow = ShadowServer::start().expect("shadow server");
    let target = shadow.addr.to_string();
    let row = freerdp2_row(&target).await;
    let (connects, log) = xfreerdp_connects(
        &xvfb.display,
        dir.path(),
        &[
            &format!("/v:{target}"),
            &format!("/u:{}", shadow.user),
            &format!("/p:{}", shadow.password),
            "+auth-only",
        ],
    );
    assert_eq!(row.connects, Some(true), "NLA: {row:#?}");
    assert!(connects, "NLA: xfreerdp:\n{log}");
}
