//! Phase 4: TLS, with a verifier that records the chain instead of judging
//! it, and the failure typed from rustls's own errors.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::AlertDescription;

use super::{connect, ms, negotiate, Ctx};
use crate::path::Tap;
use crate::report::*;
use crate::text;
use crate::wire::x224::Protocol;
use crate::wire::{cert, mcs, x224};

/// A stream that keeps the first bytes the server sent, so a failed TLS
/// handshake can say what came instead of a ServerHello.
pub(crate) struct Recorder<S> {
    inner: S,
    seen: Vec<u8>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.seen.len() < 64 {
            let new = buf.filled()[before..].to_vec();
            let room = 64 - self.seen.len();
            self.seen.extend(new.into_iter().take(room));
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts any certificate: the probe records the chain and judges it
/// itself, as an RDP client that shows a warning would.
#[derive(Debug)]
struct RecordEverything(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for RecordEverything {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // A key ring cannot verify (RSA below 2048 bits) is a fact about the
        // certificate for the rules to judge, not a reason to stop; the chain is
        // not trusted anyway, and CredSSP binds the key itself.
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
        .or_else(|_| Ok(rustls::client::danger::HandshakeSignatureValid::assertion()))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
        .or_else(|_| Ok(rustls::client::danger::HandshakeSignatureValid::assertion()))
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordEverything(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub(crate) type TlsStream = tokio_rustls::client::TlsStream<Recorder<TcpStream>>;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The typed failure of a handshake, from rustls's error and the bytes the server sent.
pub(crate) fn classify_failure(e: &io::Error, seen: &[u8]) -> TlsFailure {
    if let Some(reason) = mcs::disconnect_ultimatum_reason(seen) {
        return TlsFailure::PlaintextMcsDisconnect { reason };
    }
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::AlertReceived(
                AlertDescription::ProtocolVersion
                | AlertDescription::HandshakeFailure
                | AlertDescription::InsufficientSecurity,
            )
            | rustls::Error::PeerIncompatible(_) => TlsFailure::NoCommonVersionOrCipher,
            rustls::Error::AlertReceived(a) => TlsFailure::Alert {
                description: u8::from(*a),
            },
            _ if seen.first().is_some_and(|b| !matches!(b, 0x14..=0x17)) => TlsFailure::NotTls,
            other => TlsFailure::Protocol {
                message: other.to_string(),
            },
        };
    }
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TlsFailure::Reset,
        io::ErrorKind::UnexpectedEof if seen.is_empty() => TlsFailure::ClosedAfterClientHello,
        io::ErrorKind::UnexpectedEof => TlsFailure::ClosedDuringHandshake,
        _ => TlsFailure::Protocol {
            message: e.to_string(),
        },
    }
}

/// What the server sent instead of a ServerHello, for people.
fn describe_non_tls(seen: &[u8]) -> Option<String> {
    match seen.first()? {
        0x15 => Some(format!("a TLS alert: {}", x224::hex_prefix(seen, 16))),
        _ => Some(x224::hex_prefix(seen, 16)),
    }
}

fn record_success(facts: &mut TlsFacts, tls: &TlsStream, host: &str) {
    let (_, conn) = tls.get_ref();
    facts.version = conn
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."));
    facts.cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()));
    for der in conn.peer_certificates().unwrap_or_default() {
        match cert::parse_cert(der.as_ref()) {
            Ok(info) => facts.chain.push(info),
            Err(message) => facts.failure = Some(TlsFailure::BadCertificate { message }),
        }
    }
    if let Some(leaf) = facts.chain.first() {
        let now = unix_now();
        facts.name_matches = Some(cert::name_matches(leaf, host));
        facts.expired = Some(leaf.not_after_unix < now);
        facts.not_yet_valid = Some(leaf.not_before_unix > now);
        facts.days_left = Some((leaf.not_after_unix - now).div_euclid(86_400));
    }
}

/// Runs the TLS handshake and records what it shows.
pub(crate) async fn tls_handshake(
    stream: TcpStream,
    host: &str,
    deadline: Duration,
) -> (TlsFacts, Option<TlsStream>) {
    let mut facts = TlsFacts::empty();
    let config = match tls_config() {
        Ok(c) => c,
        Err(message) => {
            facts.failure = Some(TlsFailure::Protocol { message });
            return (facts, None);
        }
    };
    // RDP servers ignore SNI; an IP address cannot be sent as SNI at all.
    let server_name = rustls::pki_types::ServerName::try_from(host.to_string())
        .or_else(|_| rustls::pki_types::ServerName::try_from("rdp-server"));
    let Ok(server_name) = server_name else {
        facts.failure = Some(TlsFailure::Protocol {
            message: "no usable server name".into(),
        });
        return (facts, None);
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let recorder = Recorder {
        inner: stream,
        seen: Vec::new(),
    };
    // into_fallible gives the stream back on failure, with the bytes the server sent.
    let result = tokio::time::timeout(
        deadline,
        connector.connect(server_name, recorder).into_fallible(),
    )
    .await;
    match result {
        Ok(Ok(tls)) => {
            record_success(&mut facts, &tls, host);
            (facts, Some(tls))
        }
        Ok(Err((e, recorder))) => {
            facts.failure = Some(classify_failure(&e, &recorder.seen));
            facts.server_sent = describe_non_tls(&recorder.seen);
            facts.server_first_byte = recorder.seen.first().copied();
            (facts, None)
        }
        Err(_) => {
            facts.failure = Some(TlsFailure::Timeout {
                waited_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            });
            (facts, None)
        }
    }
}

/// The connection TLS runs on: the negotiated one, or a fresh one asking for a
/// TLS-based protocol the server accepts.
pub(super) async fn connection_for_tls(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    stream: TcpStream,
    selected: Option<Protocol>,
) -> Option<(TcpStream, Protocol)> {
    if let Some(p) = selected.filter(|p| p.uses_tls()) {
        return Some((stream, p));
    }
    drop(stream);
    let fallback = report
        .supported()
        .into_iter()
        .find(|p| p.uses_tls() && *p != Protocol::Rdstls)?;
    let addr = report.connected_to?;
    if ctx.budget.left().is_zero() {
        return None;
    }
    report.connections_used += 1;
    let mut s = connect(addr, ctx.budget.cap(ctx.opts.connect_timeout))
        .await
        .ok()?;
    match negotiate(&mut s, &[fallback], ctx.budget.cap(ctx.opts.io_timeout)).await {
        NegotiationOutcome::Selected { .. } => Some((s, fallback)),
        _ => None,
    }
}

fn success_evidence(facts: &TlsFacts, tls_name: &str) -> (Status, String, Vec<String>) {
    let leaf = facts.chain.first();
    let summary = format!(
        "{} {}; certificate {} (SHA1 {})",
        facts.version.clone().unwrap_or_default(),
        facts.cipher.clone().unwrap_or_default(),
        leaf.map(|c| c.subject.as_str()).unwrap_or("none"),
        leaf.map(|c| c.sha1_thumbprint.as_str()).unwrap_or("-")
    );
    let mut evidence = Vec::new();
    if let Some(c) = leaf {
        evidence.push(format!(
            "valid {} .. {} ({} days left)",
            c.not_before,
            c.not_after,
            facts.days_left.unwrap_or(0)
        ));
        let self_signed = if c.self_signed { " (self-signed)" } else { "" };
        evidence.push(format!("issuer {}{self_signed}", c.issuer));
        evidence.push(format!(
            "key {} {} bits",
            c.key_type,
            c.key_bits.unwrap_or(0)
        ));
    }
    let mut warn = false;
    if facts.expired == Some(true) {
        warn = true;
        evidence.push("the certificate has EXPIRED".into());
    }
    if facts.not_yet_valid == Some(true) {
        warn = true;
        evidence.push("the certificate is not valid yet (clock skew?)".into());
    }
    if facts.name_matches == Some(false) {
        // Clients warn but connect: a fact for the findings, not a failed phase.
        evidence.push(format!(
            "the certificate does not name {tls_name}: clients show a name-mismatch warning"
        ));
    }
    let status = if warn { Status::Warn } else { Status::Ok };
    (status, summary, evidence)
}

fn failure_evidence(facts: &TlsFacts, protocol: Protocol) -> (Status, String, Vec<String>) {
    let why = facts.failure.as_ref().map(text::tls).unwrap_or_default();
    let summary = format!(
        "TLS failed right after X.224 agreed on {}: {why}",
        protocol.name()
    );
    let mut evidence = Vec::new();
    if let Some(sent) = &facts.server_sent {
        evidence.push(format!("the server sent {sent}"));
    }
    if !facts.timed_out() {
        evidence.push("a TLS failure right after a successful X.224 negotiation is the signature of an unusable listener certificate or private key".into());
    }
    (Status::Fail, summary, evidence)
}

/// The TLS phase; gives the TLS stream (when the handshake completed) and the
/// connection's byte counter on to CredSSP.
pub(super) async fn phase(
    report: &mut ProbeReport,
    ctx: &Ctx<'_>,
    stream: TcpStream,
    protocol: Protocol,
) -> (Option<TlsStream>, Option<Tap>) {
    let t = Instant::now();
    let tls_name = ctx
        .opts
        .tls_name
        .clone()
        .unwrap_or_else(|| report.host.clone());
    let mut tap = Tap::new(&stream);
    let (facts, tls) = tls_handshake(stream, &tls_name, ctx.budget.cap(ctx.opts.io_timeout)).await;
    report
        .path
        .traffic
        .push(tap.phase(PhaseName::Tls, tls.is_some(), facts.timed_out()));
    let (status, summary, evidence) = match &tls {
        Some(_) => success_evidence(&facts, &tls_name),
        None => failure_evidence(&facts, protocol),
    };
    report.phases.push(Phase {
        name: PhaseName::Tls,
        status,
        duration_ms: ms(t.elapsed()),
        summary,
        evidence,
    });
    report.tls = Some(facts);
    (tls, Some(tap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn rustls_errors_become_typed_failures() {
        let alert = |a| classify_failure(&io(rustls::Error::AlertReceived(a)), &[0x15, 3, 3]);
        assert_eq!(
            alert(AlertDescription::ProtocolVersion),
            TlsFailure::NoCommonVersionOrCipher
        );
        assert_eq!(
            alert(AlertDescription::HandshakeFailure),
            TlsFailure::NoCommonVersionOrCipher
        );
        assert_eq!(
            alert(AlertDescription::InternalError),
            TlsFailure::Alert { description: 80 }
        );
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "eof");
        assert_eq!(
            classify_failure(&eof, &[]),
            TlsFailure::ClosedAfterClientHello
        );
        assert_eq!(
            classify_failure(&eof, &[0x16, 3]),
            TlsFailure::ClosedDuringHandshake
        );
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(classify_failure(&reset, &[]), TlsFailure::Reset);
        let ultimatum = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
        assert_eq!(
            classify_failure(&eof, &ultimatum),
            TlsFailure::PlaintextMcsDisconnect { reason: 3 }
        );
    }
}
