//! One finding: what was found, how bad, the cause it points at, the evidence, the remedies.

use serde::Serialize;

use crate::action::Remedy;
use crate::cause::CauseId;
use crate::evidence::Evidence;
use crate::id::{FindingId, Source};
use crate::severity::Severity;

/// One finding, from any evidence source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    /// The root cause it points at; `None` for facts that point at no cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseId>,
    pub title: String,
    pub evidence: Vec<Evidence>,
    /// Most advisable first.
    pub remedies: Vec<Remedy>,
}

impl Finding {
    /// A finding with the registry's cause for `id`, and no evidence or remedy yet.
    pub fn new(id: FindingId, severity: Severity, title: impl Into<String>) -> Self {
        Finding {
            id,
            severity,
            cause: id.info().cause,
            title: title.into(),
            evidence: Vec::new(),
            remedies: Vec::new(),
        }
    }

    pub fn source(&self) -> Source {
        self.id.source()
    }

    pub fn cause(mut self, cause: CauseId) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn no_cause(mut self) -> Self {
        self.cause = None;
        self
    }

    pub fn evidence(mut self, e: Evidence) -> Self {
        self.evidence.push(e);
        self
    }

    pub fn evidences(mut self, e: impl IntoIterator<Item = Evidence>) -> Self {
        self.evidence.extend(e);
        self
    }

    pub fn remedy(mut self, r: Remedy) -> Self {
        self.remedies.push(r);
        self
    }

    pub fn remedies(mut self, r: impl IntoIterator<Item = Remedy>) -> Self {
        self.remedies.extend(r);
        self
    }
}

/// Sorts findings most important first: severity, then the order they were found in.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by_key(|f| f.severity);
}
