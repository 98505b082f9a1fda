//! The result of `host check`: the findings, most severe first, and the
//! checks that passed (evidence against a cause for the diagnosis engine).

use rdp_doctor_model::{Finding, FindingId, Severity};
use serde::Serialize;

use crate::rules::Outcome;

/// Version of the JSON document `host check --json` prints.
pub const SCHEMA: &str = "rdp-doctor.host-check/v2";

/// A check that passed: what was read where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Passed {
    pub id: FindingId,
    /// Registry path of the value (`HKLM\…`), or the file checked.
    pub path: String,
    /// The value as read ("absent" when not set).
    pub value: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub verdict: String,
    pub current_control_set: String,
    pub system_dirty: bool,
    /// Errors first, then warnings, then information; rule order within each.
    pub findings: Vec<Finding>,
    pub passed: Vec<Passed>,
}

impl Report {
    /// The report of the rules' outcomes; `place` names what was read ("these hives", "this host").
    pub fn new(
        outcomes: Vec<Outcome>,
        current_control_set: String,
        system_dirty: bool,
        place: &str,
    ) -> Self {
        let mut r = Report {
            schema: SCHEMA,
            verdict: String::new(),
            current_control_set,
            system_dirty,
            findings: Vec::new(),
            passed: Vec::new(),
        };
        r.extend(outcomes, place);
        r
    }

    /// Adds outcomes (e.g. the live services'), keeping the order and the verdict right.
    pub fn extend(&mut self, outcomes: Vec<Outcome>, place: &str) {
        for o in outcomes {
            match o {
                Outcome::Found(f) => self.findings.push(f),
                Outcome::Passed(p) => self.passed.push(p),
            }
        }
        rdp_doctor_model::finding::sort(&mut self.findings);
        self.verdict = verdict(&self.findings, place);
    }

    pub fn failures(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// The findings with `id`.
    pub fn found(&self, id: FindingId) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.id == id)
    }

    /// Whether a check of `id` passed (e.g. HOST001: Remote Desktop is on).
    pub fn has_passed(&self, id: FindingId) -> bool {
        self.passed.iter().any(|p| p.id == id)
    }

    /// Every ID the checks looked at (found or passed).
    pub fn ids(&self) -> Vec<FindingId> {
        let mut ids: Vec<FindingId> = self
            .findings
            .iter()
            .map(|f| f.id)
            .chain(self.passed.iter().map(|p| p.id))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn verdict(findings: &[Finding], place: &str) -> String {
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    match errors.first() {
        Some(f) => format!(
            "{} problem(s) on this host would stop Remote Desktop; first: {}",
            errors.len(),
            f.title
        ),
        None => format!(
            "no setting in {place} stops Remote Desktop ({} warning(s))",
            findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .count()
        ),
    }
}
