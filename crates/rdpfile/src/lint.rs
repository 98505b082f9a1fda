//! Lint rules over a parsed file: each finding has a stable id, a severity
//! and the line it points at.

use std::collections::HashMap;

use base64::Engine;
use serde::Serialize;

use crate::catalog::{self, Allowed};
use crate::file::{Line, RdpFile};

/// Version of the JSON document `rdpfile lint --json` prints.
pub const SCHEMA: &str = "rdp-doctor.rdpfile-lint/v1";

pub use rdp_doctor_codes::Severity;

/// One lint finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    /// 1-based line, when the finding is about one line.
    pub line: Option<usize>,
    pub message: String,
}

/// The lint report of one file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub encoding: crate::file::Encoding,
    pub line_endings: crate::file::LineEndings,
    pub properties: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count()
    }
}

fn push(
    out: &mut Vec<Finding>,
    id: &'static str,
    severity: Severity,
    line: Option<usize>,
    message: String,
) {
    out.push(Finding {
        id,
        severity,
        line,
        message,
    });
}

/// Whether `addr` is a plausible `full address`: host, IPv4, [IPv6] or bare IPv6, with an optional port.
pub fn valid_address(addr: &str) -> Result<(), String> {
    let a = addr.trim();
    if a.is_empty() {
        return Err("empty".into());
    }
    if a != addr {
        return Err("surrounding spaces".into());
    }
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("'[' without ']'")?;
        h.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("'{h}' is not an IPv6 address"))?;
        (h, after.strip_prefix(':'))
    } else if a.matches(':').count() > 1 {
        a.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "several ':' but not an IPv6 address".to_string())?;
        (a, None)
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("port '{p}' is not 1-65535")),
            Ok(_) => {}
        }
    }
    let host_ok = host.parse::<std::net::IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }));
    if host_ok {
        Ok(())
    } else {
        Err(format!("'{host}' is not a host name or address"))
    }
}

/// Lints a parsed file.
pub fn lint(file: &RdpFile) -> Report {
    let mut out = Vec::new();

    // Encoding and garbage.
    for issue in &file.decode_issues {
        push(
            &mut out,
            "RDPF002",
            Severity::Error,
            None,
            format!(
                "broken encoding at byte {}: {}",
                issue.offset, issue.message
            ),
        );
    }
    let mut seen: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    for (n, line) in &file.lines {
        match line {
            Line::Malformed { text } => {
                let garbage = text
                    .chars()
                    .any(|c| c == '\0' || (c.is_control() && c != '\t'));
                if garbage {
                    push(
                        &mut out,
                        "RDPF001",
                        Severity::Error,
                        Some(*n),
                        "binary garbage (control characters) instead of a property".into(),
                    );
                } else {
                    let shown: String = text.chars().take(60).collect();
                    push(
                        &mut out,
                        "RDPF003",
                        Severity::Error,
                        Some(*n),
                        format!("not name:type:value (truncated or corrupted line): {shown:?}"),
                    );
                }
            }
            Line::Property { name, kind, value } => {
                let key = name.trim().to_ascii_lowercase();
                if value
                    .chars()
                    .any(|c| c == '\0' || (c.is_control() && c != '\t'))
                    || name.chars().any(|c| c.is_control())
                {
                    push(
                        &mut out,
                        "RDPF001",
                        Severity::Error,
                        Some(*n),
                        format!("binary garbage in '{key}'"),
                    );
                }
                if !matches!(kind.as_str(), "s" | "i" | "b") {
                    push(
                        &mut out,
                        "RDPF004",
                        Severity::Error,
                        Some(*n),
                        format!("'{key}': type '{kind}' is not s, i or b"),
                    );
                }
                match catalog::lookup(&key) {
                    None => push(
                        &mut out,
                        "RDPF010",
                        Severity::Warning,
                        Some(*n),
                        format!("unknown property '{key}' (kept; clients ignore it)"),
                    ),
                    Some(spec) => {
                        if !spec.kind.is_empty()
                            && spec.kind != *kind
                            && matches!(kind.as_str(), "s" | "i" | "b")
                        {
                            push(
                                &mut out,
                                "RDPF005",
                                Severity::Error,
                                Some(*n),
                                format!(
                                    "'{key}' is documented as type '{}', the file says '{kind}'",
                                    spec.kind
                                ),
                            );
                        } else if kind == "i" {
                            match value.trim().parse::<i64>() {
                                Err(_) => push(
                                    &mut out,
                                    "RDPF006",
                                    Severity::Error,
                                    Some(*n),
                                    format!("'{key}': '{value}' is not an integer"),
                                ),
                                Ok(v) if v < i64::from(i32::MIN) || v > i64::from(u32::MAX) => {
                                    push(
                                        &mut out,
                                        "RDPF006",
                                        Severity::Error,
                                        Some(*n),
                                        format!("'{key}': {v} does not fit in 32 bits"),
                                    )
                                }
                                Ok(v) => {
                                    let bad = match &spec.allowed {
                                        Allowed::Range(a, b) => !(a..=b).contains(&&v),
                                        Allowed::OneOf(list) => !list.contains(&v),
                                        Allowed::Unchecked => false,
                                    };
                                    if bad {
                                        push(
                                            &mut out,
                                            "RDPF007",
                                            Severity::Error,
                                            Some(*n),
                                            format!(
                                                "'{key}': {v} is not an allowed value ({})",
                                                spec.allowed_text
                                                    .chars()
                                                    .take(120)
                                                    .collect::<String>()
                                            ),
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
                if kind == "s" && [":s:", ":i:", ":b:"].iter().any(|m| value.contains(m)) {
                    push(&mut out, "RDPF003", Severity::Error, Some(*n), format!("'{key}' looks like two lines run together (a line break is missing): {:?}", value.chars().take(60).collect::<String>()));
                }
                if kind == "s" && value.ends_with([' ', '\t']) {
                    push(
                        &mut out,
                        "RDPF019",
                        Severity::Warning,
                        Some(*n),
                        format!("'{key}' has trailing spaces: they become part of the value"),
                    );
                }
                seen.entry(key).or_default().push((*n, value.clone()));
            }
            Line::Blank => {}
        }
    }
    let mut dups: Vec<(&String, &Vec<(usize, String)>)> =
        seen.iter().filter(|(_, v)| v.len() > 1).collect();
    dups.sort_by_key(|(_, v)| v[0].0);
    for (key, occ) in dups {
        let lines: Vec<String> = occ.iter().map(|(n, _)| n.to_string()).collect();
        let differ = occ.iter().any(|(_, v)| v != &occ[0].1);
        if differ {
            push(&mut out, "RDPF008", Severity::Warning, Some(occ[1].0), format!("'{key}' is set {} times with different values (lines {}); FreeRDP uses the last", occ.len(), lines.join(", ")));
        } else {
            push(
                &mut out,
                "RDPF009",
                Severity::Info,
                Some(occ[1].0),
                format!("'{key}' is repeated (lines {})", lines.join(", ")),
            );
        }
    }

    // Address and port.
    match file.get("full address") {
        None => push(
            &mut out,
            "RDPF011",
            Severity::Error,
            None,
            "no 'full address': the only mandatory property".into(),
        ),
        Some(p) if p.value.trim().is_empty() => push(
            &mut out,
            "RDPF011",
            Severity::Error,
            Some(p.line),
            "'full address' is empty".into(),
        ),
        Some(p) => {
            if let Err(why) = valid_address(p.value) {
                push(
                    &mut out,
                    "RDPF012",
                    Severity::Error,
                    Some(p.line),
                    format!("'full address' {:?} is malformed: {why}", p.value),
                );
            } else if let (Some(port), Some(sp)) = (embedded_port(p.value), file.get("server port"))
            {
                if sp.value.trim() != port.to_string() {
                    push(&mut out, "RDPF018", Severity::Warning, Some(sp.line), format!("'server port' {} differs from the port in 'full address' ({port}), which wins", sp.value.trim()));
                }
            }
        }
    }

    // Gateway.
    let gw_host = file
        .get("gatewayhostname")
        .map(|p| p.value.trim().to_string())
        .unwrap_or_default();
    let gw_usage = file.get_int("gatewayusagemethod");
    if matches!(gw_usage, Some(1) | Some(2)) && gw_host.is_empty() {
        let line = file.get("gatewayusagemethod").map(|p| p.line);
        push(
            &mut out,
            "RDPF013",
            Severity::Error,
            line,
            "a gateway is to be used (gatewayusagemethod) but 'gatewayhostname' is empty".into(),
        );
    } else if !gw_host.is_empty() {
        if let Err(why) = valid_address(&gw_host) {
            let line = file.get("gatewayhostname").map(|p| p.line);
            push(
                &mut out,
                "RDPF013",
                Severity::Error,
                line,
                format!("'gatewayhostname' is malformed: {why}"),
            );
        }
    }

    // Secrets.
    for p in file
        .properties()
        .filter(|p| p.name.trim().eq_ignore_ascii_case("password 51"))
    {
        push(&mut out, "RDPF014", Severity::Warning, Some(p.line), "a saved password ('password 51:b:') is in the file: it only decrypts for the user and machine that saved it; remove it before sharing the file".into());
    }

    // Security settings.
    let credssp = file.get("enablecredsspsupport");
    let negotiate = file.get("negotiate security layer");
    if let (Some(c), Some(n)) = (credssp, negotiate) {
        if c.value.trim() == "1" && n.value.trim() == "0" {
            push(&mut out, "RDPF015", Severity::Warning, Some(n.line), "'enablecredsspsupport:i:1' with 'negotiate security layer:i:0': CredSSP needs the security layer to be negotiated".into());
        }
    }
    if let Some(c) = credssp.filter(|c| c.value.trim() == "0") {
        push(&mut out, "RDPF015", Severity::Warning, Some(c.line), "'enablecredsspsupport:i:0' turns NLA off: hosts that require NLA refuse the connection (HYBRID_REQUIRED_BY_SERVER)".into());
    }
    if let Some(a) = file
        .get("authentication level")
        .filter(|a| a.value.trim() == "0")
    {
        push(&mut out, "RDPF015", Severity::Warning, Some(a.line), "'authentication level:i:0' connects without warning when the server cannot be authenticated".into());
    }

    signature_rules(file, &mut out);

    if file.encoding != crate::file::Encoding::Utf16LeBom
        || file.line_endings != crate::file::LineEndings::Crlf
    {
        push(&mut out, "RDPF017", Severity::Info, None, format!("encoding {:?} with {:?} line endings; mstsc writes UTF-16LE with a BOM and CRLF (both are read)", file.encoding, file.line_endings));
    }
    out.sort_by_key(|f| (f.line.unwrap_or(0), f.severity));
    Report {
        schema: SCHEMA,
        encoding: file.encoding,
        line_endings: file.line_endings,
        properties: file.properties().count(),
        findings: out,
    }
}

fn embedded_port(addr: &str) -> Option<u16> {
    let a = addr.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split_once("]:").and_then(|(_, p)| p.parse().ok());
    }
    if a.matches(':').count() == 1 {
        return a.split_once(':').and_then(|(_, p)| p.parse().ok());
    }
    None
}

/// Signed files: the signature itself cannot be verified without the
/// publisher's certificate chain; what can be checked is checked.
fn signature_rules(file: &RdpFile, out: &mut Vec<Finding>) {
    let scope = file.get("signscope");
    let sig = file.get("signature");
    match (scope, sig) {
        (None, None) => {}
        (Some(s), None) => push(
            out,
            "RDPF016",
            Severity::Error,
            Some(s.line),
            "'signscope' without 'signature': the signature was removed".into(),
        ),
        (None, Some(s)) => push(
            out,
            "RDPF016",
            Severity::Error,
            Some(s.line),
            "'signature' without 'signscope'".into(),
        ),
        (Some(scope), Some(sig)) => {
            for name in scope
                .value
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                let Some(spec) = catalog::by_signscope_name(name) else {
                    push(
                        out,
                        "RDPF016",
                        Severity::Warning,
                        Some(scope.line),
                        format!("signscope names '{name}', which is not a signable property"),
                    );
                    continue;
                };
                let count = file
                    .properties()
                    .filter(|p| p.name.trim().eq_ignore_ascii_case(&spec.name))
                    .count();
                if count == 0 {
                    push(
                        out,
                        "RDPF016",
                        Severity::Error,
                        Some(scope.line),
                        format!(
                            "signed property '{}' is missing: the file was edited after signing",
                            spec.name
                        ),
                    );
                } else if count > 1 {
                    push(out, "RDPF016", Severity::Error, Some(scope.line), format!("signed property '{}' appears {count} times: the file was edited after signing", spec.name));
                }
            }
            let blob: String = sig.value.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(blob.as_bytes()) {
                Err(e) => push(
                    out,
                    "RDPF016",
                    Severity::Error,
                    Some(sig.line),
                    format!("'signature' is not base64: {e}"),
                ),
                Ok(bytes) => {
                    let header_ok = bytes.len() >= 12 && bytes[..8] == [1, 0, 1, 0, 1, 0, 0, 0];
                    let len_ok = header_ok
                        && u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
                            == bytes.len() - 12;
                    if !header_ok || !len_ok {
                        push(out, "RDPF016", Severity::Error, Some(sig.line), "'signature' does not have the rdpsign layout (header 01 00 01 00 01 00 00 00 and length): it was truncated or edited".into());
                    } else {
                        push(out, "RDPF016", Severity::Info, Some(sig.line), "signed file: signed properties present once each and the signature blob is well formed; the cryptographic signature itself is not verified here".into());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "host",
            "host.corp.example",
            "10.0.0.5:3390",
            "[::1]:3389",
            "fe80::1",
            "h_x-1",
        ] {
            assert!(valid_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " host",
            "host:",
            "host:0",
            "host:99999",
            "[::1",
            "a..b",
            "ho st",
            "http://x",
        ] {
            assert!(valid_address(bad).is_err(), "{bad}");
        }
    }
}
