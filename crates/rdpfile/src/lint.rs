//! Lint rules over a parsed file and its typed settings. Each rule is a small
//! pure function returning findings that point at the line they are about.

use std::collections::HashMap;

use rdp_doctor_model::{Action, Finding, FindingId, Severity};
use serde::Serialize;

use crate::address::{embedded_port, valid_address, valid_port};
use crate::catalog::{self, Allowed};
use crate::evidence::{at_line, finding, line_of, whole_file};
use crate::file::{Encoding, Line, LineEndings, RdpFile};
use crate::settings::{settings, AuthenticationLevel, ClientSettings};

/// Version of the JSON document `rdpfile lint --json` prints.
pub const SCHEMA: &str = "rdp-doctor.rdpfile-lint/v2";

/// The lint report of one file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub encoding: Encoding,
    pub line_endings: LineEndings,
    pub properties: usize,
    /// The connection-relevant settings, with their lines.
    pub settings: ClientSettings,
    /// In line order (file-wide findings first).
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Lints a parsed file.
pub fn lint(file: &RdpFile) -> Report {
    lint_named(file, None)
}

/// Lints a parsed file read from `path`: the clean-copy remedies name it.
pub fn lint_named(file: &RdpFile, path: Option<&str>) -> Report {
    let s = settings(file);
    let mut out = decode_issues(file);
    for (n, line) in &file.lines {
        out.extend(line_rules(file, *n, line));
    }
    out.extend(duplicates(file));
    out.extend(address_rules(file, &s));
    out.extend(gateway_rule(file, &s));
    out.extend(saved_password(file, &s));
    out.extend(security_rules(file, &s));
    out.extend(crate::signature::rules(file));
    out.extend(encoding_rule(file));
    out.sort_by_key(|f| (line_of(f).unwrap_or(0), f.severity));
    if let Some(p) = path {
        name_the_file(&mut out, p);
    }
    Report {
        schema: SCHEMA,
        encoding: file.encoding,
        line_endings: file.line_endings,
        properties: file.properties().count(),
        settings: s,
        findings: out,
    }
}

fn name_the_file(findings: &mut [Finding], path: &str) {
    for action in findings
        .iter_mut()
        .flat_map(|f| f.remedies.iter_mut())
        .flat_map(|r| r.actions.iter_mut())
    {
        if let Action::WriteCleanRdpFile { file } = action {
            *file = Some(path.to_string());
        }
    }
}

fn decode_issues(file: &RdpFile) -> Vec<Finding> {
    file.decode_issues
        .iter()
        .map(|issue| {
            finding(
                FindingId::BrokenEncoding,
                Severity::Error,
                format!(
                    "broken encoding at byte {}: {}",
                    issue.offset, issue.message
                ),
                whole_file(format!("byte {}", issue.offset)),
            )
        })
        .collect()
}

fn has_garbage(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\t')
}

/// The rules about one line on its own.
fn line_rules(file: &RdpFile, n: usize, line: &Line) -> Vec<Finding> {
    match line {
        Line::Blank => Vec::new(),
        Line::Malformed { text } if has_garbage(text) => vec![finding(
            FindingId::BinaryGarbage,
            Severity::Error,
            "binary garbage (control characters) instead of a property",
            at_line(file, n, "control characters"),
        )],
        Line::Malformed { .. } => vec![finding(
            FindingId::MalformedLine,
            Severity::Error,
            "not name:type:value (truncated or corrupted line)",
            at_line(file, n, "not name:type:value"),
        )],
        Line::Property { name, kind, value } => {
            let key = name.trim().to_ascii_lowercase();
            let mut out = Vec::new();
            if has_garbage(value) || has_garbage(name) {
                out.push(finding(
                    FindingId::BinaryGarbage,
                    Severity::Error,
                    format!("binary garbage in '{key}'"),
                    at_line(file, n, "control characters"),
                ));
            }
            out.extend(type_and_value(file, n, &key, kind, value));
            out.extend(run_together(file, n, &key, kind, value));
            if kind == "s" && value.ends_with([' ', '\t']) {
                out.push(finding(
                    FindingId::TrailingSpaces,
                    Severity::Warning,
                    format!("'{key}' has trailing spaces: they become part of the value"),
                    at_line(file, n, "trailing spaces"),
                ));
            }
            out
        }
    }
}

/// The type against the catalog, then integer values against their range.
fn type_and_value(file: &RdpFile, n: usize, key: &str, kind: &str, value: &str) -> Vec<Finding> {
    if !matches!(kind, "s" | "i" | "b") {
        return vec![finding(
            FindingId::UnknownType,
            Severity::Error,
            format!("'{key}': type '{kind}' is not s, i or b"),
            at_line(file, n, format!("type '{kind}'")),
        )];
    }
    let Some(spec) = catalog::lookup(key) else {
        return vec![finding(
            FindingId::UnknownProperty,
            Severity::Warning,
            format!("unknown property '{key}' (kept; clients ignore it)"),
            at_line(file, n, "not in the catalog"),
        )];
    };
    if !spec.kind.is_empty() && spec.kind != kind {
        return vec![finding(
            FindingId::WrongType,
            Severity::Error,
            format!(
                "'{key}' is documented as type '{}', the file says '{kind}'",
                spec.kind
            ),
            at_line(file, n, format!("documented type '{}'", spec.kind)),
        )];
    }
    if kind != "i" {
        return Vec::new();
    }
    let Ok(v) = value.trim().parse::<i64>() else {
        return vec![finding(
            FindingId::NotAnInteger,
            Severity::Error,
            format!("'{key}': '{}' is not an integer", value.trim()),
            at_line(file, n, "not an integer"),
        )];
    };
    if v < i64::from(i32::MIN) || v > i64::from(u32::MAX) {
        return vec![finding(
            FindingId::NotAnInteger,
            Severity::Error,
            format!("'{key}': {v} does not fit in 32 bits"),
            at_line(file, n, "not a 32-bit integer"),
        )];
    }
    let (bad, allowed) = match &spec.allowed {
        Allowed::Range(a, b) => (!(a..=b).contains(&&v), spec.allowed_text.as_str()),
        Allowed::OneOf(list) => (!list.contains(&v), spec.allowed_text.as_str()),
        Allowed::Unchecked if key == "server port" => (!valid_port(v), "a port, 1-65535"),
        Allowed::Unchecked => (false, ""),
    };
    if !bad {
        return Vec::new();
    }
    let allowed: String = allowed.chars().take(120).collect();
    vec![finding(
        FindingId::ValueOutOfRange,
        Severity::Error,
        format!("'{key}': {v} is not an allowed value ({allowed})"),
        at_line(file, n, "value out of range"),
    )]
}

/// A string value holding `x:s:`, `x:i:` or `x:b:`: a missing line break.
fn run_together(file: &RdpFile, n: usize, key: &str, kind: &str, value: &str) -> Option<Finding> {
    (kind == "s" && [":s:", ":i:", ":b:"].iter().any(|m| value.contains(m))).then(|| {
        finding(
            FindingId::MalformedLine,
            Severity::Error,
            format!("'{key}' looks like two lines run together (a line break is missing)"),
            at_line(file, n, "two lines run together"),
        )
    })
}

fn duplicates(file: &RdpFile) -> Vec<Finding> {
    let mut seen: HashMap<String, Vec<(usize, &str)>> = HashMap::new();
    for p in file.properties() {
        seen.entry(p.name.trim().to_ascii_lowercase())
            .or_default()
            .push((p.line, p.value));
    }
    let mut dups: Vec<_> = seen.into_iter().filter(|(_, v)| v.len() > 1).collect();
    dups.sort_by_key(|(_, v)| v[0].0);
    dups.into_iter()
        .map(|(key, occ)| {
            let lines: Vec<String> = occ.iter().map(|(n, _)| n.to_string()).collect();
            let lines = lines.join(", ");
            if occ.iter().any(|(_, v)| *v != occ[0].1) {
                finding(
                    FindingId::ConflictingDuplicate,
                    Severity::Warning,
                    format!("'{key}' is set {} times with different values (lines {lines}); FreeRDP uses the last", occ.len()),
                    at_line(file, occ[1].0, format!("also on lines {lines}")),
                )
            } else {
                finding(
                    FindingId::RepeatedProperty,
                    Severity::Info,
                    format!("'{key}' is repeated (lines {lines})"),
                    at_line(file, occ[1].0, format!("also on lines {lines}")),
                )
            }
        })
        .collect()
}

fn address_rules(file: &RdpFile, s: &ClientSettings) -> Vec<Finding> {
    let Some(fa) = &s.full_address else {
        return vec![finding(
            FindingId::NoFullAddress,
            Severity::Error,
            "no 'full address': the only mandatory property",
            whole_file("no 'full address' line"),
        )];
    };
    let raw = file.get("full address").map_or("", |p| p.value);
    if fa.value.is_empty() {
        return vec![finding(
            FindingId::NoFullAddress,
            Severity::Error,
            "'full address' is empty",
            at_line(file, fa.line, "empty"),
        )];
    }
    if let Err(why) = valid_address(raw) {
        return vec![finding(
            FindingId::MalformedFullAddress,
            Severity::Error,
            format!("'full address' {raw:?} is malformed: {why}"),
            at_line(file, fa.line, why),
        )];
    }
    port_conflict(file, s).into_iter().collect()
}

fn port_conflict(file: &RdpFile, s: &ClientSettings) -> Option<Finding> {
    let port = embedded_port(&s.full_address.as_ref()?.value)?;
    let sp = s.server_port.as_ref()?;
    (sp.value != i64::from(port)).then(|| {
        finding(
            FindingId::PortConflict,
            Severity::Warning,
            format!(
                "'server port' {} differs from the port in 'full address' ({port}), which wins",
                sp.value
            ),
            at_line(file, sp.line, format!("full address says {port}")),
        )
    })
}

fn gateway_rule(file: &RdpFile, s: &ClientSettings) -> Option<Finding> {
    let host = s.gateway_hostname.as_ref().filter(|h| !h.value.is_empty());
    let usage = s.gateway_usage.as_ref().filter(|u| u.value.uses_gateway());
    match (usage, host) {
        (Some(u), None) => Some(finding(
            FindingId::MalformedGateway,
            Severity::Error,
            "a gateway is to be used (gatewayusagemethod) but 'gatewayhostname' is empty",
            at_line(file, u.line, "no gateway host"),
        )),
        (_, Some(h)) => valid_address(&h.value).err().map(|why| {
            finding(
                FindingId::MalformedGateway,
                Severity::Error,
                format!("'gatewayhostname' is malformed: {why}"),
                at_line(file, h.line, why),
            )
        }),
        (None, None) => None,
    }
}

fn saved_password(file: &RdpFile, s: &ClientSettings) -> Option<Finding> {
    s.saved_password_line.map(|n| {
        finding(
            FindingId::SavedPassword,
            Severity::Warning,
            "a saved password ('password 51:b:') is in the file: it only decrypts for the user and machine that saved it",
            at_line(file, n, "saved password blob"),
        )
    })
}

fn security_rules(file: &RdpFile, s: &ClientSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    let credssp = s.enablecredsspsupport.as_ref();
    if let (Some(c), Some(n)) = (credssp, &s.negotiate_security_layer) {
        if c.value && !n.value {
            out.push(finding(
                FindingId::WeakSecuritySettings,
                Severity::Warning,
                "'enablecredsspsupport:i:1' with 'negotiate security layer:i:0': CredSSP needs the security layer to be negotiated",
                at_line(file, n.line, "security layer not negotiated"),
            ));
        }
    }
    if let Some(c) = credssp.filter(|c| !c.value) {
        out.push(finding(
            FindingId::WeakSecuritySettings,
            Severity::Warning,
            "'enablecredsspsupport:i:0' turns NLA off: hosts that require NLA refuse the connection (HYBRID_REQUIRED_BY_SERVER)",
            at_line(file, c.line, "NLA off"),
        ));
    }
    if let Some(a) = s
        .authentication_level
        .as_ref()
        .filter(|a| a.value == AuthenticationLevel::ConnectWithoutWarning)
    {
        out.push(finding(
            FindingId::WeakSecuritySettings,
            Severity::Warning,
            "'authentication level:i:0' connects without warning when the server cannot be authenticated",
            at_line(file, a.line, "server authentication not required"),
        ));
    }
    out
}

fn encoding_rule(file: &RdpFile) -> Option<Finding> {
    let mstsc = file.encoding == Encoding::Utf16LeBom && file.line_endings == LineEndings::Crlf;
    (!mstsc).then(|| {
        let found = format!("{}, {}", file.encoding, file.line_endings);
        finding(
            FindingId::NotMstscEncoding,
            Severity::Info,
            format!(
                "{found}; mstsc writes {}, {} (both are read)",
                Encoding::Utf16LeBom,
                LineEndings::Crlf
            ),
            whole_file(found),
        )
    })
}
