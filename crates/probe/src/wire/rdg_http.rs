//! The RD Gateway's HTTP transport ([MS-TSGU] 2.2.3, 3.3.5.1), up to
//! authentication: the requests mstsc opens its channels with, and the
//! server's HTTP answer read into typed facts (status, authentication
//! schemes, websocket upgrade, E_PROXY_* codes in headers or body). No I/O.

use serde::Serialize;

/// The resource every RD Gateway serves its HTTP transport on.
pub const RESOURCE: &str = "/remoteDesktopGateway/";
/// mstsc's User-Agent for the gateway's HTTP transport.
pub const USER_AGENT: &str = "MS-RDGateway/1.0";
/// Longest answer head read; a gateway's 401 is a few hundred bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Body bytes kept for decoding codes.
pub const MAX_BODY: usize = 4 * 1024;

/// The OUT channel request (RDG_OUT_DATA, section 2.2.3.1.2) without credentials,
/// with the headers mstsc sends: caching disallowed, accept `*/*`, the channel's GUID.
pub fn out_data_request(host: &str, connection_id: &str, correlation_id: &str) -> Vec<u8> {
    format!(
        "RDG_OUT_DATA {RESOURCE} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Accept: */*\r\n\
         Cache-Control: no-cache\r\n\
         Pragma: no-cache\r\n\
         Connection: Keep-Alive\r\n\
         Content-Length: 0\r\n\
         User-Agent: {USER_AGENT}\r\n\
         RDG-Connection-Id: {connection_id}\r\n\
         RDG-Correlation-Id: {correlation_id}\r\n\
         \r\n"
    )
    .into_bytes()
}

/// The websocket variant of the HTTP transport: a GET on the same resource asking to upgrade.
pub fn websocket_request(host: &str, connection_id: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {RESOURCE} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Accept: */*\r\n\
         Cache-Control: no-cache\r\n\
         Pragma: no-cache\r\n\
         Connection: Upgrade\r\n\
         Upgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {key}\r\n\
         User-Agent: {USER_AGENT}\r\n\
         RDG-Connection-Id: {connection_id}\r\n\
         \r\n"
    )
    .into_bytes()
}

/// An authentication scheme a WWW-Authenticate header offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scheme", content = "name", rename_all = "snake_case")]
pub enum AuthScheme {
    Negotiate,
    Ntlm,
    Basic,
    Digest,
    /// Any other (a custom scheme of a pluggable authentication, …).
    Other(String),
}

impl AuthScheme {
    fn from_token(token: &str) -> Self {
        match token.to_ascii_lowercase().as_str() {
            "negotiate" => AuthScheme::Negotiate,
            "ntlm" => AuthScheme::Ntlm,
            "basic" => AuthScheme::Basic,
            "digest" => AuthScheme::Digest,
            _ => AuthScheme::Other(token.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            AuthScheme::Negotiate => "Negotiate",
            AuthScheme::Ntlm => "NTLM",
            AuthScheme::Basic => "Basic",
            AuthScheme::Digest => "Digest",
            AuthScheme::Other(s) => s,
        }
    }
}

/// A code the answer names: an `E_PROXY_*` name, or a number (HRESULT or Win32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum NamedCode {
    Name(String),
    Number(u32),
}

/// A server's HTTP answer, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpAnswer {
    /// "HTTP/1.1".
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    /// The body bytes that came with the head (at most [`MAX_BODY`]).
    pub body: Vec<u8>,
    pub auth_schemes: Vec<AuthScheme>,
    /// `E_PROXY_*` names and 0x8007xxxx numbers found in headers and body.
    pub codes: Vec<NamedCode>,
}

impl HttpAnswer {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// 101 Switching Protocols to websocket.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.status == 101
            && self
                .header("upgrade")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
    }
}

/// Why bytes are not an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HttpError {
    #[error("the answer's head is not complete ({len} bytes, no blank line)")]
    Incomplete { len: usize },
    #[error("the head is longer than {MAX_HEAD} bytes")]
    TooLong,
    #[error("not an HTTP status line")]
    NotHttp,
    #[error("header line {line} has no colon")]
    BadHeader { line: usize },
}

/// Where the head ends (the index after the blank line), once it has.
pub fn head_len(bytes: &[u8]) -> Result<usize, HttpError> {
    let window = &bytes[..bytes.len().min(MAX_HEAD)];
    match window.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => Ok(i + 4),
        None if bytes.len() >= MAX_HEAD => Err(HttpError::TooLong),
        None => Err(HttpError::Incomplete { len: bytes.len() }),
    }
}

/// Whether the first bytes can begin an HTTP answer (to stop reading early otherwise).
pub fn looks_like_http(bytes: &[u8]) -> bool {
    let n = bytes.len().min(5);
    bytes[..n] == b"HTTP/"[..n]
}

/// Parses a complete head and the body bytes that follow it.
pub fn parse_answer(bytes: &[u8]) -> Result<HttpAnswer, HttpError> {
    if !looks_like_http(bytes) {
        return Err(HttpError::NotHttp);
    }
    let end = head_len(bytes)?;
    let head = String::from_utf8_lossy(&bytes[..end - 4]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(HttpError::NotHttp)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(HttpError::NotHttp)?;
    let reason = parts.next().unwrap_or_default().trim().to_string();
    let mut headers = Vec::new();
    for (i, line) in lines.enumerate() {
        let (name, value) = line
            .split_once(':')
            .ok_or(HttpError::BadHeader { line: i + 2 })?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let body: Vec<u8> = bytes[end..].iter().copied().take(MAX_BODY).collect();
    let auth_schemes = auth_schemes(&headers);
    let mut codes = Vec::new();
    for (_, v) in &headers {
        find_codes(v, &mut codes);
    }
    find_codes(&String::from_utf8_lossy(&body), &mut codes);
    Ok(HttpAnswer {
        version,
        status,
        reason,
        headers,
        body,
        auth_schemes,
        codes,
    })
}

/// Every WWW-Authenticate header, and every scheme of a comma-separated one.
fn auth_schemes(headers: &[(String, String)]) -> Vec<AuthScheme> {
    let mut out = Vec::new();
    for (_, value) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
    {
        for part in value.split(',') {
            // A scheme is a token followed by a space or nothing; `realm="x"` parameters contain '='.
            let token = part.split_whitespace().next().unwrap_or_default();
            if token.is_empty() || token.contains('=') {
                continue;
            }
            let scheme = AuthScheme::from_token(token);
            if !out.contains(&scheme) {
                out.push(scheme);
            }
        }
    }
    out
}

/// `E_PROXY_*` names and `0x8007XXXX` HRESULTs in free text.
fn find_codes(text: &str, out: &mut Vec<NamedCode>) {
    let is_name_char = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_';
    let mut rest = text;
    while let Some(i) = rest.find("E_PROXY_") {
        let tail = &rest[i..];
        let len = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        push_unique(out, NamedCode::Name(tail[..len].to_string()));
        rest = &tail[len..];
    }
    let lower = text.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("0x8007") {
        let tail = &rest[i + 2..];
        let len = tail
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(tail.len());
        if len == 8 {
            if let Ok(n) = u32::from_str_radix(&tail[..8], 16) {
                push_unique(out, NamedCode::Number(n));
            }
        }
        rest = &tail[len..];
    }
}

fn push_unique(out: &mut Vec<NamedCode>, code: NamedCode) {
    if !out.contains(&code) {
        out.push(code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_lists_every_scheme_once() {
        let bytes = b"HTTP/1.1 401 Unauthorized\r\nServer: Microsoft-HTTPAPI/2.0\r\n\
            WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n\
            WWW-Authenticate: Basic realm=\"gw\", NTLM\r\nContent-Length: 0\r\n\r\n";
        let a = parse_answer(bytes).expect("parses");
        assert_eq!(a.status, 401);
        assert_eq!(
            a.auth_schemes,
            vec![AuthScheme::Negotiate, AuthScheme::Ntlm, AuthScheme::Basic]
        );
        assert_eq!(a.header("server"), Some("Microsoft-HTTPAPI/2.0"));
    }

    #[test]
    fn codes_are_found_by_name_and_by_hresult() {
        let bytes = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 60\r\n\r\n\
            E_PROXY_NAP_ACCESSDENIED (0x800759DB); again 0x800759db E_PROXY_NAP_ACCESSDENIED";
        let a = parse_answer(bytes).expect("parses");
        assert_eq!(
            a.codes,
            vec![
                NamedCode::Name("E_PROXY_NAP_ACCESSDENIED".into()),
                NamedCode::Number(0x8007_59DB)
            ]
        );
    }

    #[test]
    fn broken_answers_are_errors() {
        assert_eq!(parse_answer(b"SSH-2.0-x\r\n\r\n"), Err(HttpError::NotHttp));
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\n"),
            Err(HttpError::Incomplete { len: 17 })
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(HttpError::NotHttp)
        );
        assert_eq!(
            parse_answer(b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n"),
            Err(HttpError::BadHeader { line: 2 })
        );
        let long = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse_answer(&long), Err(HttpError::TooLong));
        assert!(looks_like_http(b"HTT"));
        assert!(!looks_like_http(b"\x16\x03"));
    }

    #[test]
    fn requests_carry_mstsc_headers() {
        let r = String::from_utf8(out_data_request("gw.example", "{A}", "{B}")).expect("text");
        assert!(r.starts_with("RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n"));
        for h in [
            "RDG-Connection-Id: {A}",
            "RDG-Correlation-Id: {B}",
            "Cache-Control: no-cache",
            "Accept: */*",
        ] {
            assert!(r.contains(h), "{h}");
        }
        assert!(r.ends_with("\r\n\r\n"));
        let w = String::from_utf8(websocket_request("gw", "{A}", "k==")).expect("text");
        assert!(w.contains("Upgrade: websocket\r\n") && w.contains("Sec-WebSocket-Key: k==\r\n"));
    }

    #[test]
    fn an_upgrade_is_seen() {
        let a = parse_answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            .expect("parses");
        assert!(a.is_websocket_upgrade());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data: Vec<u8>, text in "HTTP/1\\.1 [0-9]{3} [ -~]{0,20}\r\n([A-Za-z-]{1,12}: [ -~]{0,40}\r\n){0,4}\r\n[ -~]{0,60}") {
            let _ = head_len(&data);
            let _ = parse_answer(&data);
            let a = parse_answer(text.as_bytes());
            proptest::prop_assert!(a.is_ok(), "{:?} {:?}", text, a);
        }
    }
}
