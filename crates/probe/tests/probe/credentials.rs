//! The credentialed phase against real servers: the FreeRDP shadow server
//! (NLA with a SAM file) and xrdp (TLS, and Standard RDP Security).
//! Needs freerdp-shadow-cli, winpr-hash, Xvfb and xrdp (scripts/test.sh installs them).

use rdp_doctor_model::FindingId;
use std::time::Duration;

use rdp_doctor_codes::CauseId;
use rdp_doctor_probe::connect::{ConnectOutcome, ConnectStep, ConnectionReport};
use rdp_doctor_probe::diagnose::{diagnose, Diagnosis, Severity};
use rdp_doctor_probe::{Credentials, PhaseName, ProbeOptions, Status};
use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

/// One X.224 request before the connection, not the six of the support matrix
/// (tested elsewhere): the shadow server sometimes drops a connection that
/// follows a burst, and these tests are about the credentialed phase.
fn options() -> ProbeOptions {
    ProbeOptions {
        protocol_matrix: false,
        total_budget: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(3),
        io_timeout: Duration::from_secs(3),
        ..ProbeOptions::default()
    }
}

async fn run(target: &str, creds: &Credentials) -> Diagnosis {
    let report = rdp_doctor_probe::probe_with_credentials(target, &options(), creds)
        .await
        .expect("probe runs");
    diagnose(report)
}

fn connection(d: &Diagnosis) -> &ConnectionReport {
    d.probe
        .connection
        .as_ref()
        .unwrap_or_else(|| panic!("no credentialed phase: {:#?}", d.probe.phases))
}

fn steps(c: &ConnectionReport) -> Vec<(ConnectStep, Status)> {
    c.steps.iter().map(|s| (s.step, s.status)).collect()
}

fn print(d: &Diagnosis) {
    if let Some(c) = &d.probe.connection {
        for s in &c.steps {
            eprintln!(
                "  {:<18} {:?} {:>8.2} ms {}",
                s.step.label(),
                s.status,
                s.duration_ms,
                s.detail.as_deref().unwrap_or("")
            );
        }
        eprintln!("  outcome: {:?}", c.outcome);
    }
    eprintln!("  verdict: {}", d.verdict);
}

fn have_shadow() -> bool {
    require_tool("freerdp-shadow-cli") && require_tool("winpr-hash") && require_tool("Xvfb")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_nla_right_password_completes_the_connection() {
    if !have_shadow() {
        return;
    }
    let server = ShadowServer::start().expect("shadow server");
    let creds = Credentials::new(server.user.clone(), None, server.password.clone());
    let d = run(&server.addr.to_string(), &creds).await;
    print(&d);
    let c = connection(&d);
    assert!(
        matches!(c.outcome, ConnectOutcome::Connected { .. }),
        "{:?}",
        c.outcome
    );
    // FreeRDP 2.11's shadow server answers mstsc's request with CredSSP, not CredSSP-EX.
    assert_eq!(c.selected.as_deref(), Some("PROTOCOL_HYBRID"));
    let ran: Vec<ConnectStep> = c.steps.iter().map(|s| s.step).collect();
    for step in [
        ConnectStep::Tcp,
        ConnectStep::X224,
        ConnectStep::Tls,
        ConnectStep::Credssp,
        ConnectStep::McsConnect,
        ConnectStep::McsChannels,
        ConnectStep::ClientInfo,
        ConnectStep::Licensing,
        ConnectStep::Capabilities,
        ConnectStep::Finalization,
    ] {
        assert!(ran.contains(&step), "{step:?} missing from {ran:?}");
    }
    assert!(
        c.steps.iter().all(|s| s.status == Status::Ok),
        "{:?}",
        steps(c)
    );
    assert!(c.steps.iter().all(|s| s.duration_ms >= 0.0));
    assert_eq!(
        d.probe.phase(PhaseName::Connect).map(|p| p.status),
        Some(Status::Ok)
    );
    assert!(d.healthy, "{}", d.verdict);
    let ok = d
        .findings
        .iter()
        .find(|f| f.id == FindingId::ConnectionCompletes)
        .expect("ConnectionCompletes");
    assert_eq!(ok.severity, Severity::Info);
    // The unauthenticated phases ran as before, and the connect phase added one connection.
    assert!(d.probe.ntlm.is_some());
    assert!(c.duration_ms < 10_000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_nla_wrong_password_is_a_logon_failure() {
    if !have_shadow() {
        return;
    }
    let server = ShadowServer::start().expect("shadow server");
    let creds = Credentials::new(server.user.clone(), None, "not-the-password");
    let d = run(&server.addr.to_string(), &creds).await;
    print(&d);
    let c = connection(&d);
    // FreeRDP 2.11 sends no TSRequest errorCode: it closes the connection right
    // after the NTLM AUTHENTICATE message (Windows sends STATUS_LOGON_FAILURE: see
    // the scripted server test below).
    let ConnectOutcome::AuthFailed { message } = &c.outcome else {
        panic!("expected a CredSSP failure, got {:?}", c.outcome);
    };
    assert!(message.contains("after the NTLM AUTHENTICATE"), "{message}");
    assert_eq!(
        c.steps.last().map(|s| (s.step, s.status)),
        Some((ConnectStep::Credssp, Status::Fail))
    );
    assert!(c.step(ConnectStep::McsConnect).is_none());
    assert!(!d.healthy);
    let f = &d.findings[0];
    assert_eq!(
        (f.id, f.severity, f.cause),
        (
            FindingId::CredsspFailsWithoutCode,
            Severity::Error,
            Some(CauseId::Credentials)
        )
    );
    assert!(d.verdict.contains("fails at Connect"), "{}", d.verdict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrdp_tls_with_credentials_goes_through_licensing_and_capabilities() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Tls, CertCase::Valid("creds.test".into())).unwrap();
    let creds = Credentials::new("nobody", None, "whatever-password");
    let d = run(&server.addr.to_string(), &creds).await;
    print(&d);
    let c = connection(&d);
    assert_eq!(c.selected.as_deref(), Some("PROTOCOL_SSL"));
    // xrdp never runs CredSSP; the logon itself happens later, on its own login screen.
    assert!(c.step(ConnectStep::Credssp).is_none());
    assert!(
        matches!(c.outcome, ConnectOutcome::Connected { .. }),
        "{:?}",
        c.outcome
    );
    for step in [
        ConnectStep::McsConnect,
        ConnectStep::McsChannels,
        ConnectStep::ClientInfo,
        ConnectStep::Licensing,
        ConnectStep::Capabilities,
        ConnectStep::Finalization,
    ] {
        assert_eq!(
            c.step(step).map(|s| s.status),
            Some(Status::Ok),
            "{step:?}: {:?}",
            steps(c)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrdp_rdp_security_goes_through_mcs_and_stops_before_the_security_exchange() {
    if !require_tool("xrdp") {
        return;
    }
    let server = Xrdp::start(SecurityLayer::Rdp, CertCase::Valid("creds2.test".into())).unwrap();
    let creds = Credentials::new("nobody", None, "whatever-password");
    let d = run(&server.addr.to_string(), &creds).await;
    print(&d);
    let c = connection(&d);
    assert_eq!(
        c.requested,
        vec![rdp_doctor_probe::wire::x224::Protocol::Rdp]
    );
    let ConnectOutcome::Unsupported { during, .. } = &c.outcome else {
        panic!("{:?}", c.outcome);
    };
    assert_eq!(*during, ConnectStep::SecurityExchange);
    assert_eq!(
        c.step(ConnectStep::McsConnect).map(|s| s.status),
        Some(Status::Ok)
    );
    assert_eq!(
        c.step(ConnectStep::McsChannels).map(|s| s.status),
        Some(Status::Ok)
    );
    assert!(
        c.step(ConnectStep::ClientInfo).is_none(),
        "the password is never sent unencrypted"
    );
    assert!(c
        .rdp_security
        .as_deref()
        .is_some_and(|s| s.contains("level")));
    let f = d
        .findings
        .iter()
        .find(|f| f.id == FindingId::CannotGoFurther)
        .expect("CannotGoFurther");
    assert_eq!(f.severity, Severity::Info);
}

/// A scripted CredSSP server that answers as Windows does to a wrong
/// password: X.224 selects PROTOCOL_HYBRID, TLS, an NTLM CHALLENGE, then a
/// TSRequest whose errorCode is STATUS_LOGON_FAILURE ([MS-CSSP] 2.2.1).
mod scripted {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::rustls;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else if content.len() < 0x100 {
            out.extend([0x81, content.len() as u8]);
        } else {
            out.push(0x82);
            out.extend((content.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// An NTLM CHALLENGE_MESSAGE for domain LAB, computer RDP1.
    fn challenge() -> Vec<u8> {
        let name = utf16("LAB");
        let mut av = Vec::new();
        for (id, v) in [
            (2u16, utf16("LAB")),
            (1, utf16("RDP1")),
            (4, utf16("lab.test")),
            (3, utf16("rdp1.lab.test")),
        ] {
            av.extend(id.to_le_bytes());
            av.extend((v.len() as u16).to_le_bytes());
            av.extend(v);
        }
        av.extend([7, 0, 8, 0]);
        av.extend(133_000_000_000_000_000u64.to_le_bytes());
        av.extend([0, 0, 0, 0]);
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend(2u32.to_le_bytes());
        m.extend((name.len() as u16).to_le_bytes());
        m.extend((name.len() as u16).to_le_bytes());
        m.extend(56u32.to_le_bytes());
        m.extend(0xE28A_8235u32.to_le_bytes());
        m.extend([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
        m.extend([0; 8]);
        m.extend((av.len() as u16).to_le_bytes());
        m.extend((av.len() as u16).to_le_bytes());
        m.extend((56 + name.len() as u32).to_le_bytes());
        m.extend([10, 0, 0x7C, 0x4F, 0, 0, 0, 15]);
        m.extend(&name);
        m.extend(&av);
        m
    }

    fn ts_request_with_token(token: &[u8]) -> Vec<u8> {
        let mut body = der(0xA0, &der(0x02, &[6]));
        body.extend(der(
            0xA1,
            &der(0x30, &der(0x30, &der(0xA0, &der(0x04, token)))),
        ));
        der(0x30, &body)
    }

    fn ts_request_with_error(code: u32) -> Vec<u8> {
        let mut body = der(0xA0, &der(0x02, &[6]));
        body.extend(der(0xA4, &der(0x02, &code.to_be_bytes())));
        der(0x30, &body)
    }

    async fn read_der<S: AsyncReadExt + Unpin>(s: &mut S) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            if let Some(len) = rdp_doctor_probe::wire::ntlm::der_frame_len(&buf) {
                if len > 0 && buf.len() >= len {
                    return Ok(buf);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// What the scripted server does after TLS.
    #[derive(Clone)]
    pub enum Script {
        /// CredSSP: CHALLENGE, then a TSRequest with this errorCode.
        CredsspError(u32),
        /// TLS only: read the MCS Connect Initial, answer with these frames, close.
        AfterConnectInitial(Vec<Vec<u8>>),
        /// TLS only: read the MCS Connect Initial, then say nothing until the client leaves.
        StallAfterConnectInitial,
    }

    async fn read_tpkt<S: AsyncReadExt + Unpin>(s: &mut S) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            if buf.len() >= 4 {
                let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                if buf.len() >= len {
                    return Ok(buf);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub async fn logon_failure_server(status: u32) -> std::net::SocketAddr {
        serve(Script::CredsspError(status)).await
    }

    /// Serves connections on a free loopback port; returns the address.
    pub async fn serve(script: Script) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["rdp1.lab.test".into()])
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
        tokio::spawn(async move {
            // The probe's unauthenticated phases come first (several connections);
            // each is served the same way until the credentialed one ends.
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let mut cr = [0u8; 512];
                    let Ok(n) = tcp.read(&mut cr).await else {
                        return;
                    };
                    if n < 11 {
                        return;
                    }
                    // RDP_NEG_RSP selecting PROTOCOL_HYBRID (2) or PROTOCOL_SSL (1).
                    let selected = match script {
                        Script::CredsspError(_) => 2,
                        Script::AfterConnectInitial(_) | Script::StallAfterConnectInitial => 1,
                    };
                    let confirm = [
                        0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02,
                        0x00, 0x08, 0x00, selected, 0x00, 0x00, 0x00,
                    ];
                    if tcp.write_all(&confirm).await.is_err() {
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let status = match script {
                        Script::CredsspError(status) => status,
                        Script::AfterConnectInitial(frames) => {
                            if read_tpkt(&mut tls).await.is_err() {
                                return; // the probe's own TLS phase closes here
                            }
                            for f in frames {
                                let _ = tls.write_all(&f).await;
                            }
                            let _ = tls.shutdown().await;
                            return;
                        }
                        Script::StallAfterConnectInitial => {
                            if read_tpkt(&mut tls).await.is_ok() {
                                let mut rest = [0u8; 64];
                                let _ = tls.read(&mut rest).await; // returns when the client closes
                            }
                            return;
                        }
                    };
                    if read_der(&mut tls).await.is_err() {
                        return; // NEGOTIATE
                    }
                    let _ = tls.write_all(&ts_request_with_token(&challenge())).await;
                    if read_der(&mut tls).await.is_err() {
                        return; // AUTHENTICATE with pubKeyAuth
                    }
                    let _ = tls.write_all(&ts_request_with_error(status)).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        addr
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credssp_error_code_is_a_logon_failure_naming_the_status() {
    let addr = scripted::logon_failure_server(0xC000_006D).await;
    let opts = options();
    let creds = Credentials::new("alice", Some("LAB".into()), "Wr0ng!");
    let report = rdp_doctor_probe::probe_with_credentials(&addr.to_string(), &opts, &creds)
        .await
        .expect("probe runs");
    let d = diagnose(report);
    print(&d);
    let c = connection(&d);
    let ConnectOutcome::LogonFailed { code } = &c.outcome else {
        panic!("expected a logon failure, got {:?}", c.outcome);
    };
    assert_eq!(code.name, "STATUS_LOGON_FAILURE");
    assert_eq!(
        (code.hex.as_str(), code.dec),
        ("0xC000006D", -1_073_741_715)
    );
    assert_eq!(code.namespace, "ntstatus");
    assert_eq!(c.account, "LAB\\alice");
    let f = &d.findings[0];
    assert_eq!(
        (f.id, f.severity, f.cause),
        (
            FindingId::LogonRefused,
            Severity::Error,
            Some(CauseId::Credentials)
        )
    );
    assert!(
        f.title
            .contains("STATUS_LOGON_FAILURE 0xC000006D (-1073741715)")
            && f.title.contains("wrong user name or password"),
        "{}",
        f.title
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_restriction_is_named_as_such() {
    let addr = scripted::logon_failure_server(0xC000_006E).await;
    let opts = options();
    let creds = Credentials::new("bob", None, "Right-but-restricted");
    let report = rdp_doctor_probe::probe_with_credentials(&addr.to_string(), &opts, &creds)
        .await
        .expect("probe runs");
    let d = diagnose(report);
    let f = &d.findings[0];
    assert_eq!(f.id, FindingId::LogonRefused, "{:#?}", d.findings);
    assert!(
        f.title.contains("STATUS_ACCOUNT_RESTRICTION 0xC000006E"),
        "{}",
        f.title
    );
    assert!(f.title.contains("an account restriction"), "{}", f.title);
}

/// A Set Error Info PDU (TPKT, X.224, MCS Send Data Indication, Share Control
/// and Share Data headers) with `code`, as a server sends it over TLS.
fn set_error_info(code: u32) -> Vec<u8> {
    let mut user = Vec::new();
    user.extend(22u16.to_le_bytes());
    user.extend(0x0017u16.to_le_bytes());
    user.extend(1002u16.to_le_bytes());
    user.extend(0x0001_03EAu32.to_le_bytes());
    user.extend([0, 1]);
    user.extend(8u16.to_le_bytes());
    user.extend([0x2F, 0]);
    user.extend(0u16.to_le_bytes());
    user.extend(code.to_le_bytes());
    let mut mcs = vec![0x68, 0x00, 0x06, 0x03, 0xEB, 0x70, user.len() as u8];
    mcs.extend(user);
    let mut frame = vec![3, 0];
    frame.extend(((7 + mcs.len()) as u16).to_be_bytes());
    frame.extend([2, 0xF0, 0x80]);
    frame.extend(mcs);
    frame
}

/// MCS Disconnect Provider Ultimatum with `reason` (0..=4).
fn ultimatum(reason: u8) -> Vec<u8> {
    vec![
        0x03,
        0x00,
        0x00,
        0x09,
        0x02,
        0xf0,
        0x80,
        0x20 | (reason >> 1),
        (reason & 1) << 7,
    ]
}

async fn scripted_run(frames: Vec<Vec<u8>>) -> Diagnosis {
    let addr = scripted::serve(scripted::Script::AfterConnectInitial(frames)).await;
    let opts = options();
    let creds = Credentials::new("carol", None, "any");
    let report = rdp_doctor_probe::probe_with_credentials(&addr.to_string(), &opts, &creds)
        .await
        .expect("probe runs");
    let d = diagnose(report);
    print(&d);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_error_info_then_disconnect_is_server_denied_with_its_errinfo() {
    // ERRINFO_NONE first (skipped), then ERRINFO_SERVER_DENIED_CONNECTION, then the ultimatum.
    let d = scripted_run(vec![set_error_info(0), set_error_info(7), ultimatum(1)]).await;
    let c = connection(&d);
    let ConnectOutcome::ServerDenied { code } = &c.outcome else {
        panic!("{:?}", c.outcome);
    };
    assert_eq!(code.name, "ERRINFO_SERVER_DENIED_CONNECTION");
    assert_eq!((code.hex.as_str(), code.dec), ("0x7", 7));
    assert_eq!(c.error_info.as_ref().map(|e| e.value), Some(7));
    assert_eq!(
        c.steps.last().map(|s| (s.step, s.status)),
        Some((ConnectStep::McsConnect, Status::Fail))
    );
    let f = &d.findings[0];
    assert_eq!(
        (f.id, f.severity),
        (FindingId::SetErrorInfo, Severity::Error)
    );
    assert!(
        f.title.contains("ERRINFO_SERVER_DENIED_CONNECTION 0x7 (7)"),
        "{}",
        f.title
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcs_disconnect_names_its_reason() {
    let d = scripted_run(vec![ultimatum(1)]).await;
    let c = connection(&d);
    let ConnectOutcome::McsDisconnect { reason } = &c.outcome else {
        panic!("{:?}", c.outcome);
    };
    assert_eq!(
        (reason.value, reason.name.as_str()),
        (1, "rn-provider-initiated")
    );
    let f = &d.findings[0];
    assert_eq!(f.id, FindingId::McsDisconnect);
    assert!(f.title.contains("during MCS connect"), "{}", f.title);
    assert!(
        f.title.contains("rn-provider-initiated 0x1 (1)"),
        "{}",
        f.title
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_closes_after_the_connect_initial_is_named() {
    let d = scripted_run(Vec::new()).await;
    let c = connection(&d);
    assert_eq!(
        c.outcome,
        ConnectOutcome::Closed {
            during: ConnectStep::McsConnect
        }
    );
    assert_eq!(d.findings[0].id, FindingId::ConnectionFailsAtSubPhase);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stalls_after_the_connect_initial_meets_the_step_deadline() {
    let addr = scripted::serve(scripted::Script::StallAfterConnectInitial).await;
    let opts = ProbeOptions {
        protocol_matrix: false,
        io_timeout: Duration::from_millis(400),
        ..options()
    };
    let creds = Credentials::new("dave", None, "any");
    let started = std::time::Instant::now();
    let report = rdp_doctor_probe::probe_with_credentials(&addr.to_string(), &opts, &creds)
        .await
        .expect("probe runs");
    let took = started.elapsed();
    let d = diagnose(report);
    print(&d);
    let c = connection(&d);
    let ConnectOutcome::TimedOut { during, waited_ms } = &c.outcome else {
        panic!("{:?}", c.outcome);
    };
    assert_eq!(*during, ConnectStep::McsConnect);
    assert!((390.0..=450.0).contains(waited_ms), "{waited_ms}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let f = &d.findings[0];
    assert_eq!(
        (f.id, f.cause),
        (
            FindingId::ConnectionFailsAtSubPhase,
            Some(CauseId::NetworkPath)
        )
    );
}
