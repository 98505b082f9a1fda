//! Findings about a .rdp file: the evidence (the line as written, secrets
//! left out) and the remedies.

use rdp_doctor_model::{Action, CauseId, Evidence, Finding, FindingId, Remedy, Severity};

use crate::file::{Line, RdpFile};

/// Properties whose values are secrets: never copied into evidence.
const SECRETS: &[&str] = &["password 51", "password", "gatewayaccesstoken"];

/// Evidence longer than this is cut: a corrupted line can be kilobytes long.
const MAX_SHOWN: usize = 200;

/// The 1-based line `n` as written, for evidence: control characters
/// escaped, a secret's value left out, long lines cut.
pub fn shown_line(file: &RdpFile, n: usize) -> Option<String> {
    let (_, line) = file.lines.get(n.checked_sub(1)?)?;
    let raw = match line {
        Line::Property { name, kind, .. }
            if SECRETS.iter().any(|s| name.trim().eq_ignore_ascii_case(s)) =>
        {
            format!("{name}:{kind}:(hidden)")
        }
        Line::Property { name, kind, value } => {
            hide_merged_secret(&format!("{name}:{kind}:{value}"))
        }
        Line::Malformed { text } => hide_merged_secret(text),
        Line::Blank => String::new(),
    };
    Some(printable(&raw))
}

/// A line that swallowed a password line (a missing line break) keeps it hidden too.
fn hide_merged_secret(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    SECRETS
        .iter()
        .filter_map(|s| lower.find(&format!("{s}:")).map(|i| i + s.len() + 1))
        .min()
        .map_or_else(
            || text.to_string(),
            |end| format!("{}…(hidden)", &text[..end]),
        )
}

fn printable(raw: &str) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i == MAX_SHOWN {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Evidence pointing at line `n`.
pub fn at_line(file: &RdpFile, n: usize, detail: impl Into<String>) -> Evidence {
    Evidence::RdpFile {
        line: Some(n),
        text: shown_line(file, n),
        detail: detail.into(),
    }
}

/// Evidence about the whole file.
pub fn whole_file(detail: impl Into<String>) -> Evidence {
    Evidence::RdpFile {
        line: None,
        text: None,
        detail: detail.into(),
    }
}

/// A finding with its evidence and the remedy for its ID.
pub fn finding(
    id: FindingId,
    severity: Severity,
    title: impl Into<String>,
    evidence: Evidence,
) -> Finding {
    let f = Finding::new(id, severity, title).evidence(evidence);
    match remedy(id, severity) {
        Some(r) => f.remedy(r),
        None => f,
    }
}

/// The remedy: a clean copy for corruption, advice for the rest, none for facts.
fn remedy(id: FindingId, severity: Severity) -> Option<Remedy> {
    use FindingId::*;
    if severity == Severity::Info {
        return None;
    }
    if id.info().cause == Some(CauseId::CorruptRdpFile) {
        return Some(clean_copy(None));
    }
    let advice = match id {
        UnknownProperty => "Check the name's spelling: clients ignore properties they do not know",
        MalformedGateway => "Set `gatewayhostname` to the RD Gateway's host name, or `gatewayusagemethod:i:0` when no gateway is used",
        SavedPassword => "Remove the `password 51` line before sharing the file: it only decrypts for the user and machine that saved it",
        WeakSecuritySettings => "Use `enablecredsspsupport:i:1`, `negotiate security layer:i:1` and `authentication level:i:2` unless the host cannot do NLA",
        PortConflict => "Give the port once: in `full address` (host:port) or in `server port`",
        _ => return None,
    };
    Some(Remedy::advice(advice))
}

/// The remedy that replaces the file with a clean copy.
pub fn clean_copy(file: Option<String>) -> Remedy {
    Remedy::new(
        "Write a clean copy of the file",
        "`rdp-doctor rdpfile clean FILE -o clean.rdp` keeps what the connection needs (address, account, \
         gateway, broker, Azure Virtual Desktop and RemoteApp settings) and drops the rest",
    )
    .action(Action::WriteCleanRdpFile { file })
}

/// The line a finding points at (its first evidence's line).
pub fn line_of(f: &Finding) -> Option<usize> {
    f.evidence.iter().find_map(|e| match e {
        Evidence::RdpFile { line, .. } => *line,
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn secrets_never_shown() {
        let f = parse(
            b"password 51:b:01000000D08C9DDF\r\nfull address:s:hpassword 51:b:0100DEAD\r\nx\x01y\r\n",
        );
        assert_eq!(shown_line(&f, 1).as_deref(), Some("password 51:b:(hidden)"));
        let merged = shown_line(&f, 2).unwrap_or_default();
        assert!(!merged.contains("0100DEAD"), "{merged}");
        assert_eq!(shown_line(&f, 3).as_deref(), Some("x\\u{1}y"));
        assert_eq!(shown_line(&f, 9), None);
        assert_eq!(shown_line(&f, 0), None);
    }
}
