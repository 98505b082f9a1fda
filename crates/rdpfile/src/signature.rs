//! Signed files (rdpsign). The signature itself cannot be verified without
//! the publisher's certificate chain; what can be checked is checked.

use base64::Engine;
use rdp_doctor_model::{Finding, FindingId, Severity};

use crate::catalog;
use crate::evidence::{at_line, finding};
use crate::file::{Property, RdpFile};

/// The signature rules.
pub fn rules(file: &RdpFile) -> Vec<Finding> {
    match (file.get("signscope"), file.get("signature")) {
        (None, None) => Vec::new(),
        (Some(s), None) => vec![problem(
            file,
            s.line,
            "'signscope' without 'signature': the signature was removed",
        )],
        (None, Some(s)) => vec![problem(file, s.line, "'signature' without 'signscope'")],
        (Some(scope), Some(sig)) => {
            let mut out = scope_rules(file, scope);
            out.push(blob_rule(file, sig));
            out
        }
    }
}

fn problem(file: &RdpFile, line: usize, title: impl Into<String>) -> Finding {
    finding(
        FindingId::SignatureProblem,
        Severity::Error,
        title,
        at_line(file, line, "signature"),
    )
}

/// Every property signscope names is present exactly once.
fn scope_rules(file: &RdpFile, scope: Property<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for name in scope
        .value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let Some(spec) = catalog::by_signscope_name(name) else {
            out.push(finding(
                FindingId::SignatureProblem,
                Severity::Warning,
                format!("signscope names '{name}', which is not a signable property"),
                at_line(file, scope.line, "signscope"),
            ));
            continue;
        };
        let count = file
            .properties()
            .filter(|p| p.name.trim().eq_ignore_ascii_case(&spec.name))
            .count();
        let title = match count {
            1 => continue,
            0 => format!(
                "signed property '{}' is missing: the file was edited after signing",
                spec.name
            ),
            n => format!(
                "signed property '{}' appears {n} times: the file was edited after signing",
                spec.name
            ),
        };
        out.push(problem(file, scope.line, title));
    }
    out
}

/// The blob has rdpsign's layout: header 01 00 01 00 01 00 00 00, then the length.
fn blob_rule(file: &RdpFile, sig: Property<'_>) -> Finding {
    let blob: String = sig.value.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = match base64::engine::general_purpose::STANDARD.decode(blob.as_bytes()) {
        Ok(b) => b,
        Err(e) => return problem(file, sig.line, format!("'signature' is not base64: {e}")),
    };
    let header_ok = bytes.len() >= 12 && bytes[..8] == [1, 0, 1, 0, 1, 0, 0, 0];
    let len_ok = header_ok
        && u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
            == bytes.len() - 12;
    if header_ok && len_ok {
        finding(
            FindingId::SignatureProblem,
            Severity::Info,
            "signed file: signed properties present once each and the signature blob is well formed; the cryptographic signature itself is not verified here",
            at_line(file, sig.line, "signature"),
        )
    } else {
        problem(
            file,
            sig.line,
            "'signature' does not have the rdpsign layout (header 01 00 01 00 01 00 00 00 and length): it was truncated or edited",
        )
    }
}
