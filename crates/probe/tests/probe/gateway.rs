//! The RD Gateway check against a scripted HTTPS server.
//!
//! No RD Gateway implementation can be built here from a package registry, so
//! the server is a scripted one: tokio + rustls with an rcgen certificate,
//! answering the bytes [MS-TSGU] describes (3.3.5.1, 4.2.1): a 401 to
//! RDG_OUT_DATA on /remoteDesktopGateway/ listing the schemes in
//! WWW-Authenticate headers (Negotiate and NTLM, as Windows does); a 403
//! whose body names an E_PROXY_* code and its HRESULT; and a web server's 404.
//! The TCP and TLS on the way are real (loopback).

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rdp_doctor_model::{Evidence, FindingId, Severity};
use rdp_doctor_probe::gateway::{gateway_findings, probe_gateway, Exchange, GatewayReport};
use rdp_doctor_probe::wire::rdg_http::AuthScheme;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

#[derive(Clone, Copy)]
enum Script {
    /// Windows' answer before authentication.
    Unauthorized,
    /// A refusal naming E_PROXY_NAP_ACCESSDENIED.
    Forbidden,
    /// Not a gateway: a web server's 404.
    NotFound,
}

fn answer(script: Script) -> &'static [u8] {
    match script {
        Script::Unauthorized => {
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\n\
            Server: Microsoft-HTTPAPI/2.0\r\nWWW-Authenticate: Negotiate\r\n\
            WWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n"
        }
        Script::Forbidden => {
            b"HTTP/1.1 403 Forbidden\r\nServer: Microsoft-HTTPAPI/2.0\r\n\
            Content-Type: text/plain\r\nContent-Length: 38\r\n\r\n\
            E_PROXY_NAP_ACCESSDENIED (0x800759DB)\n"
        }
        Script::NotFound => {
            b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\nContent-Length: 9\r\n\r\nnot found"
        }
    }
}

/// Serves `script` over TLS with a self-signed certificate for `names`; every request head goes to the channel.
async fn serve(script: Script, names: &[&str]) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params")
            .self_signed(&key)
            .expect("cert");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = mpsc::channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let _ = tls.write_all(answer(script)).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, rx)
}

async fn check(script: Script, names: &[&str]) -> (GatewayReport, Vec<String>) {
    let (addr, rx) = serve(script, names).await;
    let report = probe_gateway(&addr.to_string(), Duration::from_secs(3))
        .await
        .expect("target");
    let mut requests = Vec::new();
    while let Ok(r) = rx.try_recv() {
        requests.push(r);
    }
    (report, requests)
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn a_gateway_asking_for_negotiate_and_ntlm() {
    let (r, requests) = check(Script::Unauthorized, &["127.0.0.1"]).await;
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let out = &requests[0];
    assert!(
        out.starts_with("RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n"),
        "{out}"
    );
    let id = header(out, "RDG-Connection-Id").expect("RDG-Connection-Id");
    assert!(
        id.starts_with('{') && id.ends_with('}') && id.len() == 38,
        "{id}"
    );
    assert_eq!(header(out, "Cache-Control"), Some("no-cache"));
    assert_eq!(header(out, "Accept"), Some("*/*"));
    assert!(header(out, "RDG-Correlation-Id").is_some());
    let ws = &requests[1];
    assert!(
        ws.starts_with("GET /remoteDesktopGateway/ HTTP/1.1\r\n"),
        "{ws}"
    );
    assert_eq!(header(ws, "Upgrade"), Some("websocket"));
    assert_eq!(header(ws, "RDG-Connection-Id"), Some(id));
    assert_eq!(header(ws, "Sec-WebSocket-Key").map(str::len), Some(24));

    let Exchange::Answered { answer, .. } = &r.out_data else {
        panic!("{:?}", r.out_data);
    };
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.auth_schemes,
        vec![AuthScheme::Negotiate, AuthScheme::Ntlm]
    );
    let tls = r.tls.as_ref().expect("tls facts");
    assert_eq!(tls.name_matches, Some(true));

    let f = gateway_findings(&r);
    let ids: Vec<_> = f.iter().map(|f| (f.id, f.severity)).collect();
    assert_eq!(
        ids,
        [
            (FindingId::GatewayCertificate, Severity::Warning), // self-signed
            (FindingId::GatewayAuthSchemes, Severity::Info),
            (FindingId::GatewayWebsocket, Severity::Info),
        ],
        "{f:#?}"
    );
    assert!(
        f[1].evidence[0].line().contains("Negotiate, NTLM"),
        "{:?}",
        f[1].evidence
    );
    assert!(f[2]
        .title
        .contains("authentication before the websocket upgrade"));
}

#[tokio::test]
async fn a_refusal_with_an_e_proxy_code_is_decoded() {
    let (r, _) = check(Script::Forbidden, &["127.0.0.1"]).await;
    let f = gateway_findings(&r);
    let refused = f
        .iter()
        .find(|f| f.id == FindingId::GatewayRefusesRequest)
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(refused.severity, Severity::Error);
    let codes: Vec<(u32, &str)> = refused
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Code { code, name, .. } => Some((*code, name.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(codes, [(23003, "E_PROXY_NAP_ACCESSDENIED")]);
    assert!(
        refused.remedies[0].title.contains("RD CAP"),
        "{:?}",
        refused.remedies
    );
}

#[tokio::test]
async fn a_web_server_and_a_misnamed_certificate() {
    let (r, _) = check(Script::NotFound, &["gw.lab.test"]).await;
    let f = gateway_findings(&r);
    let ids: Vec<_> = f.iter().map(|f| (f.id, f.severity)).collect();
    assert_eq!(
        ids[0],
        (FindingId::GatewayCertificate, Severity::Error),
        "{f:#?}"
    );
    assert!(f[0]
        .evidence
        .iter()
        .any(|e| e.line().contains("does not name 127.0.0.1")));
    assert_eq!(ids[1], (FindingId::GatewayNoHttpTransport, Severity::Error));
    assert!(f[1].evidence[0]
        .line()
        .contains("404 Not Found, Server: nginx"));
}

#[tokio::test]
async fn a_closed_port_is_gw002() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let r = probe_gateway(&format!("127.0.0.1:{port}"), Duration::from_secs(3))
        .await
        .expect("target");
    let f = gateway_findings(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].id, FindingId::GatewayNotReachable);
    assert!(f[0].evidence[0].line().contains("TCP refused"));
}
