//! The one human renderer of findings, remedies and diagnoses, for every subcommand.
//!
//! Remedies' actions are shown as the commands that carry them out where the
//! evidence came from: for a rescued disk's hives `rdp-doctor host fix --system …`
//! (never PowerShell for this machine's registry), for a live host PowerShell.

use std::io::{self, Write};

use rdp_doctor_diagnose::{AgainstReason, Diagnosis, RankedCause};
use rdp_doctor_model::command::{self, Target};
use rdp_doctor_model::{Finding, FindingId, Remedy, Severity};

use crate::style::Style;

/// How many causes `diagnose` details.
const CAUSES_SHOWN: usize = 3;

/// Findings, most important first, numbered.
pub fn findings(
    out: &mut impl Write,
    list: &[Finding],
    st: Style,
    target: &Target,
) -> io::Result<()> {
    for (i, f) in list.iter().enumerate() {
        finding(out, i + 1, f, st, target)?;
    }
    Ok(())
}

/// One finding: id, severity, title, then its evidence and (for problems) its remedies.
pub fn finding(
    out: &mut impl Write,
    n: usize,
    f: &Finding,
    st: Style,
    target: &Target,
) -> io::Result<()> {
    writeln!(
        out,
        "  {n}. [{}] {} {}",
        f.id,
        st.bold(f.severity.label()),
        f.title
    )?;
    let mut seen: Vec<String> = Vec::new();
    for e in &f.evidence {
        let line = e.line();
        if !seen.contains(&line) {
            writeln!(out, "       evidence: {line}")?;
            seen.push(line);
        }
    }
    if f.severity != Severity::Info {
        remedies(out, &f.remedies, f.id, target, "       ")?;
    }
    Ok(())
}

/// Remedies with the commands of their actions, most advisable first.
pub fn remedies(
    out: &mut impl Write,
    list: &[Remedy],
    id: FindingId,
    target: &Target,
    indent: &str,
) -> io::Result<()> {
    for r in list {
        let mark = if r.downgrade {
            " (lowers security: opt-in)"
        } else {
            ""
        };
        writeln!(out, "{indent}fix:      {}{mark}", r.title)?;
        if !r.explanation.is_empty() {
            writeln!(out, "{indent}          {}", r.explanation)?;
        }
        for a in &r.actions {
            for line in command::lines(a, id, target) {
                writeln!(out, "{indent}          {line}")?;
            }
        }
    }
    Ok(())
}

/// The diagnosis: verdict, ranked causes with evidence for and against, the next check.
pub fn diagnosis_head(
    out: &mut impl Write,
    d: &Diagnosis,
    st: Style,
    target: &Target,
) -> io::Result<()> {
    writeln!(out, "{}", st.bold(&d.verdict))?;
    if d.causes.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", st.heading("Most likely causes"))?;
    for (i, c) in d.causes.iter().take(CAUSES_SHOWN).enumerate() {
        cause(out, i, c, st, target)?;
    }
    if d.causes.len() > CAUSES_SHOWN {
        let rest: Vec<&str> = d.causes[CAUSES_SHOWN..]
            .iter()
            .map(|c| c.cause.name())
            .collect();
        writeln!(out, "  also possible: {}", rest.join(", "))?;
    }
    if let Some(n) = &d.next_check {
        writeln!(out, "\n{} {}", st.heading("Next check:"), n.command)?;
        if n.between[0] != n.between[1] {
            writeln!(out, "  (tells {} from {})", n.between[0], n.between[1])?;
        }
    }
    Ok(())
}

fn cause(
    out: &mut impl Write,
    i: usize,
    c: &RankedCause,
    st: Style,
    target: &Target,
) -> io::Result<()> {
    let sources: Vec<&str> = c.corroborated_by.iter().map(|s| s.name()).collect();
    writeln!(
        out,
        "  {}. {} [{}] {:.0}%  (from: {})",
        i + 1,
        st.bold(c.title),
        c.cause,
        c.confidence * 100.0,
        sources.join(", ")
    )?;
    let mut seen: Vec<String> = Vec::new();
    for s in &c.evidence_for {
        let id = s.finding.map(|f| format!("[{f}] ")).unwrap_or_default();
        for e in &s.evidence {
            let line = format!("{id}{}", e.line());
            if !seen.contains(&line) {
                writeln!(out, "       for:      {line}")?;
                seen.push(line);
            }
        }
    }
    for a in &c.against {
        let why = match a.reason {
            AgainstReason::PhaseCompleted { phase } => {
                format!("the probe got through {}", phase.label())
            }
            AgainstReason::CheckPassed { check } => {
                let read = a
                    .evidence
                    .first()
                    .map(|e| format!(": {}", e.line()))
                    .unwrap_or_default();
                format!("[{check}] passed{read}")
            }
        };
        writeln!(out, "       against:  {why}")?;
    }
    // The first cause gets every remedy; the others their first.
    let shown = if i == 0 { c.remedies.len() } else { 1 };
    for r in c.remedies.iter().take(shown) {
        let id = r.finding.unwrap_or(FindingId::ReportedCode);
        remedies(out, std::slice::from_ref(&r.remedy), id, target, "       ")?;
    }
    if i == 0 {
        for check in c.checks {
            writeln!(out, "       check:    {check}")?;
        }
    }
    Ok(())
}
