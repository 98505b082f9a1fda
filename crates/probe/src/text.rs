//! The words for people: one line per typed outcome. Rules never read these.

use crate::report::*;

pub fn tcp(o: &TcpOutcome) -> String {
    match o {
        TcpOutcome::Connected => "connected".into(),
        TcpOutcome::Refused => {
            "connection refused (RST): nothing listens, or a firewall rejects".into()
        }
        TcpOutcome::TimedOut => {
            "no answer to SYN: filtered by a firewall, or the host is down".into()
        }
        TcpOutcome::Reset => "connection reset during the handshake".into(),
        TcpOutcome::Unreachable {
            what: Unreachable::Network,
        } => "network unreachable: this machine has no route to the address".into(),
        TcpOutcome::Unreachable {
            what: Unreachable::Host,
        } => "host unreachable: no answer on the last hop (ICMP host unreachable)".into(),
        TcpOutcome::Error { message } => format!("connect error: {message}"),
    }
}

pub fn foreign(a: &ForeignAnswer) -> String {
    match a {
        ForeignAnswer::Http { status_line } => {
            format!("an HTTP server or proxy answered: {status_line}")
        }
        ForeignAnswer::HttpPage { status: Some(code) } => {
            format!("an HTTP server or proxy answered: an HTML page, error {code}")
        }
        ForeignAnswer::HttpPage { status: None } => {
            "an HTTP server or proxy answered: an HTML page".into()
        }
        ForeignAnswer::McsDisconnect { reason } => format!(
            "an MCS Disconnect Provider Ultimatum (reason {reason}) instead of a Connection Confirm"
        ),
        ForeignAnswer::Truncated { bytes, hex } => {
            format!("the connection closed after {bytes} bytes of a frame: {hex}")
        }
        ForeignAnswer::Unknown { hex, reason } => format!("{reason}: {hex}"),
        ForeignAnswer::ReadError { message } => format!("read error: {message}"),
    }
}

pub fn negotiation(o: &NegotiationOutcome) -> String {
    match o {
        NegotiationOutcome::Selected { selected_name, .. } => format!("selected {selected_name}"),
        NegotiationOutcome::Failure { code, name, .. } => {
            format!("RDP_NEG_FAILURE 0x{code:X} ({code}) {name}")
        }
        NegotiationOutcome::Legacy => {
            "legacy Connection Confirm (no negotiation: RDP security only)".into()
        }
        NegotiationOutcome::Closed => "the server closed the connection without answering".into(),
        NegotiationOutcome::TimedOut { bytes_sent } => {
            format!("sent {bytes_sent} bytes, nothing came back (stall)")
        }
        NegotiationOutcome::NotRdp { answer } => format!("not an RDP answer: {}", foreign(answer)),
        NegotiationOutcome::ConnectFailed { outcome } => {
            format!("connect failed: {}", tcp(outcome))
        }
    }
}

pub fn tls(f: &TlsFailure) -> String {
    match f {
        TlsFailure::Timeout { waited_ms } => format!("no TLS answer within {waited_ms} ms"),
        TlsFailure::NoCommonVersionOrCipher => {
            "the server refused every TLS version or cipher offered (TLS 1.2, 1.3)".into()
        }
        TlsFailure::Alert { description } => format!("the server sent TLS alert {description}"),
        TlsFailure::ClosedAfterClientHello => {
            "the server closed the connection after the ClientHello, without a byte".into()
        }
        TlsFailure::Reset => "the connection was reset during the TLS handshake".into(),
        TlsFailure::PlaintextMcsDisconnect { reason } => format!(
            "a plaintext MCS Disconnect Provider Ultimatum (reason {reason}) instead of a ServerHello"
        ),
        TlsFailure::ClosedDuringHandshake => {
            "the server closed the connection during its TLS answer".into()
        }
        TlsFailure::NotTls => "the server's answer is not TLS".into(),
        TlsFailure::Protocol { message } => format!("TLS error: {message}"),
        TlsFailure::BadCertificate { message } => format!("unreadable certificate: {message}"),
    }
}

pub fn credssp(f: &CredsspFailure) -> String {
    match f {
        CredsspFailure::Timeout { waited_ms } => format!("no CredSSP answer within {waited_ms} ms"),
        CredsspFailure::Closed { after_bytes } => {
            format!("server closed CredSSP after {after_bytes} bytes")
        }
        CredsspFailure::Oversized { length } => format!("TSRequest length {length} out of bounds"),
        CredsspFailure::Malformed { message } => format!("not an NTLM CHALLENGE: {message}"),
        CredsspFailure::Io { message } => message.clone(),
    }
}

pub fn mcs(o: &McsOutcome) -> String {
    match o {
        McsOutcome::Response(r) => format!("MCS Connect Response, I/O channel {}", r.io_channel),
        McsOutcome::Disconnect { reason } => {
            format!("the server answered the MCS Connect Initial with a Disconnect Provider Ultimatum (reason {reason})")
        }
        McsOutcome::Timeout { waited_ms } => {
            format!("no answer to the MCS Connect Initial within {waited_ms} ms")
        }
        McsOutcome::Closed { after_bytes } => {
            format!("the server closed after {after_bytes} byte(s) of its MCS answer")
        }
        McsOutcome::Reset => "the connection was reset after the MCS Connect Initial".into(),
        McsOutcome::NotMcs { message } => format!("not an MCS Connect Response: {message}"),
        McsOutcome::Io { message } => message.clone(),
    }
}
