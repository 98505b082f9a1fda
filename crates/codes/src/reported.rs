//! Reported codes as the rest of rdp-doctor consumes them: an explanation,
//! findings of the shared model, and causes weighted by rank.

use rdp_doctor_model::{CauseId, Evidence, Finding, FindingId, Machine, Remedy, Severity};

use crate::causes;
use crate::explain::{explain_codes, CodeReading, Explanation};
use crate::pasted::{parse_reported, CodeKind, ReportedCode, ReportedCodes};
use crate::query::QueryError;
use crate::table::Namespace;

/// The term `explain_codes` reads for a reported code, and the table it is
/// confined to. Numbers keep their spelling; FreeRDP's packed codes become the
/// index in their table; names and lone numbers are read in every table.
fn term(code: &ReportedCode) -> (String, Option<Namespace>) {
    match code.kind {
        CodeKind::ErrConnect | CodeKind::ErrInfo if !code.is_name() => {
            (format!("0x{:X}", code.value), code.kind.namespace())
        }
        CodeKind::Dialog if !code.is_name() => (code.text.clone(), code.kind.namespace()),
        _ => (code.text.clone(), None),
    }
}

/// Explains codes read by [`parse_reported`].
pub fn explain_reported(reported: &ReportedCodes) -> Result<Explanation, QueryError> {
    let (main, forced) = term(&reported.main);
    let mut e = match &reported.extended {
        // A pair: the first is read as mstsc's Error code already.
        Some(ext) => explain_codes(&main, Some(&term(ext).0), None)?,
        None => explain_codes(&main, None, forced)?,
    };
    if let Some(c) = e.code.as_mut() {
        c.input = reported.main.text.clone();
    }
    if let (Some(c), Some(ext)) = (e.extended.as_mut(), &reported.extended) {
        c.input = ext.text.clone();
    }
    e.query = std::iter::once(&reported.main)
        .chain(&reported.extended)
        .map(|c| c.text.clone())
        .collect();
    Ok(e)
}

/// Explains pasted text: `0x904, 0x7`, a whole mstsc dialog, `[0x0002000D]`,
/// a name or a lone number. `forced` reads a lone code in one table only.
pub fn explain_pasted(text: &str, forced: Option<Namespace>) -> Result<Explanation, QueryError> {
    let reported = parse_reported(text)?;
    match (forced, &reported.extended) {
        (Some(ns), None) => {
            let mut e = explain_codes(&reported.main.text, None, Some(ns))?;
            e.query = vec![reported.main.text.clone()];
            Ok(e)
        }
        _ => explain_reported(&reported),
    }
}

/// The causes the reported codes point at, most likely first, weighted by
/// rank: 1.0 for the first, then 1/2, 1/3, ... The checks that confirm each
/// (what to run next) are `causes::cause(id).checks`.
pub fn ranked_causes(reported: &ReportedCodes) -> Vec<(CauseId, f32)> {
    let Ok(e) = explain_reported(reported) else {
        return Vec::new();
    };
    e.causes
        .iter()
        .map(|c| (c.cause.id, 1.0 / c.rank as f32))
        .collect()
}

/// One `ReportedCode` finding per code read, with the top-ranked cause and the
/// catalog's fixes for it as remedies.
pub fn findings(explanation: &Explanation) -> Vec<Finding> {
    let top = explanation.causes.first().map(|c| c.cause.id);
    explanation
        .code
        .iter()
        .chain(&explanation.extended)
        .map(|reading| finding(reading, top))
        .collect()
}

fn finding(reading: &CodeReading, top: Option<CauseId>) -> Finding {
    let value = reading.value.unwrap_or(0);
    let hex = reading.hex.clone().unwrap_or_else(|| reading.input.clone());
    let (namespace, name, meaning) = match reading.readings.first() {
        Some(r) => {
            let meaning = if r.meaning.is_empty() {
                r.message.clone().unwrap_or_default()
            } else {
                r.meaning.clone()
            };
            (r.namespace.key().to_string(), r.name.clone(), meaning)
        }
        None => (
            "unknown".to_string(),
            "(not in the tables)".to_string(),
            reading
                .family
                .clone()
                .or_else(|| {
                    reading
                        .composition
                        .as_ref()
                        .map(|c| format!("by the composition rule: {}", c.category_meaning))
                })
                .unwrap_or_else(|| "a value no table covers".to_string()),
        ),
    };
    let severity = if top.is_some() {
        Severity::Error
    } else {
        Severity::Info
    };
    let base = Finding::new(
        FindingId::ReportedCode,
        severity,
        format!(
            "Reported code {hex} {name}: {}",
            meaning.trim_end_matches('.')
        ),
    )
    .evidence(Evidence::Code {
        namespace,
        code: value,
        name,
        meaning,
    });
    match top {
        Some(cause) => base.cause(cause).remedies(remedies(cause)),
        None => base.no_cause(),
    }
}

/// The catalog's fixes of `cause` as remedies: a command on the host where the
/// fix is one, advice otherwise.
fn remedies(cause: CauseId) -> Vec<Remedy> {
    causes::cause(cause)
        .fixes
        .iter()
        .map(|fix| {
            let host_command = ["PowerShell on the host: ", "On the host: "]
                .iter()
                .find_map(|prefix| fix.strip_prefix(prefix));
            match host_command {
                Some(cmd) => Remedy::run(*fix, Machine::Host, cmd),
                None => Remedy::advice(*fix),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_fall_with_rank() {
        let r = parse_reported("0x904 0x7").expect("pair");
        let ranked = ranked_causes(&r);
        assert!(ranked.len() > 2);
        assert_eq!(ranked[0].1, 1.0);
        assert!(ranked.windows(2).all(|w| w[0].1 > w[1].1));
    }

    #[test]
    fn host_commands_become_run_actions() {
        let rs = remedies(CauseId::DrainOrLogonsDisabled);
        assert_eq!(rs[0].actions.len(), 1);
        let rs = remedies(CauseId::Credentials);
        assert!(rs[0].actions.is_empty());
    }
}
