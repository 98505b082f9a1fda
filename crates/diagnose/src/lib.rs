//! The diagnosis engine: from the findings of every evidence source to a ranked
//! list of root causes.
//!
//! ```text
//! probe report ─┐
//! reported codes┤                       ┌ for:     findings that point at the cause (weighted)
//! host facts ───┼─> findings + facts ─> │ against: facts that rule it out (a phase completed, a check passed)
//! event logs ───┤                       └ cross-source rules (the server requires NLA and the .rdp file turns it off)
//! .rdp file ────┘                          -> ranked causes, confidence, remedies, the check that separates close ones
//! ```
//!
//! Every rule is a small pure function over typed facts; nothing here reads a
//! message string, the clock or the filesystem.

#![forbid(unsafe_code)]

mod against;
mod cross;
mod next;
mod rank;
mod support;

use rdp_doctor_model::{CauseId, Evidence, Finding, FindingId, PhaseName, Severity, Source};
use serde::Serialize;

pub use next::NextCheck;
pub use rank::{Against, AgainstReason, CauseRemedy, RankedCause, Support};

/// Version of the JSON document `diagnose --json` prints.
pub const SCHEMA: &str = "rdp-doctor.diagnose/v2";

/// What the network probe established, as facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeFacts {
    /// The phases that completed, in order.
    pub completed: Vec<PhaseName>,
    /// The first phase that failed, if one did.
    pub failed: Option<PhaseName>,
    /// The findings of the probe.
    pub findings: Vec<Finding>,
    /// The number of `--repeat` handshakes, when asked.
    pub repeated: Option<usize>,
    /// Whether the probe made a full connection with credentials.
    pub with_credentials: bool,
    /// The server accepts only CredSSP (NLA): every request without it was refused.
    pub nla_required: bool,
}

/// A code the user reported, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedCode {
    /// What the code is (`Evidence::Code`, one per code of a pair read together).
    pub evidence: Vec<Evidence>,
    /// The causes the code points at, most likely first (the explain catalog's ranking).
    pub causes: Vec<CauseId>,
}

/// The host's configuration: its findings and the checks that passed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    pub findings: Vec<Finding>,
    /// Checks that passed, with what was read (evidence against the causes they rule out).
    pub passed: Vec<(FindingId, Evidence)>,
    /// Read from the live registry rather than hives.
    pub live: bool,
}

/// A client setting read from the .rdp file, with the line it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSetting {
    pub line: usize,
    pub text: String,
}

/// What the .rdp file says the client will do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientFacts {
    pub findings: Vec<Finding>,
    /// `enablecredsspsupport:i:0`: the client will not do NLA (CredSSP).
    pub credssp_disabled: Option<FileSetting>,
    /// `negotiate security layer:i:0`: the client does not negotiate.
    pub negotiation_disabled: Option<FileSetting>,
    /// The file, as given.
    pub file: Option<String>,
}

/// Every evidence source given to `diagnose`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    pub target: Option<String>,
    pub probe: Option<ProbeFacts>,
    pub codes: Vec<ReportedCode>,
    pub host: Option<HostFacts>,
    pub logs: Option<Vec<Finding>>,
    pub rdp_file: Option<ClientFacts>,
}

impl Inputs {
    /// The sources given.
    pub fn sources(&self) -> Vec<Source> {
        let mut s = Vec::new();
        if self.probe.is_some() {
            s.push(Source::Probe);
        }
        if !self.codes.is_empty() {
            s.push(Source::Code);
        }
        if self.host.is_some() {
            s.push(Source::Host);
        }
        if self.logs.is_some() {
            s.push(Source::Events);
        }
        if self.rdp_file.is_some() {
            s.push(Source::RdpFile);
        }
        s
    }

    /// Every finding of every source, in source order.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        let probe = self.probe.iter().flat_map(|p| &p.findings);
        let host = self.host.iter().flat_map(|h| &h.findings);
        let logs = self.logs.iter().flatten();
        let file = self.rdp_file.iter().flat_map(|f| &f.findings);
        probe.chain(host).chain(logs).chain(file)
    }
}

/// The diagnosis: the most likely cause first, with everything behind it.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub schema: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// One sentence: the most likely cause, or that everything works.
    pub verdict: String,
    /// No finding of severity error and no reported code.
    pub healthy: bool,
    /// The sources given.
    pub sources: Vec<Source>,
    /// Causes with more evidence for than against, most likely first.
    pub causes: Vec<RankedCause>,
    /// When the first two causes stay close: the check that tells them apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_check: Option<NextCheck>,
    /// Every finding of every source, most important first.
    pub findings: Vec<Finding>,
}

/// Ranks the causes behind every piece of evidence given.
pub fn diagnose(inputs: &Inputs) -> Diagnosis {
    let causes = rank::rank(inputs);
    let sources = inputs.sources();
    let next_check = next::separating_check(&causes, &sources, inputs.target.as_deref());
    let mut findings: Vec<Finding> = inputs.findings().cloned().collect();
    rdp_doctor_model::finding::sort(&mut findings);
    let healthy =
        inputs.codes.is_empty() && !findings.iter().any(|f| f.severity == Severity::Error);
    let verdict = verdict(inputs, &causes, healthy);
    Diagnosis {
        schema: SCHEMA,
        target: inputs.target.clone(),
        verdict,
        healthy,
        sources,
        causes,
        next_check,
        findings,
    }
}

fn verdict(inputs: &Inputs, causes: &[RankedCause], healthy: bool) -> String {
    let about = inputs
        .target
        .as_deref()
        .map(|t| format!("RDP to {t}"))
        .unwrap_or_else(|| "The connection".into());
    if healthy {
        let problems = inputs
            .findings()
            .filter(|f| f.severity.is_problem())
            .count();
        return match (inputs.probe.is_some(), problems) {
            (true, 0) => format!("{about} works: every phase completed"),
            (true, n) => format!("{about} works, with {n} warning(s)"),
            (false, 0) => "No problem found in the evidence given".into(),
            (false, n) => format!("No connection-breaking problem found; {n} warning(s)"),
        };
    }
    let Some(top) = causes.first() else {
        return format!("{about} fails, and the evidence points at no known cause");
    };
    let likely = format!(
        "most likely: {} ({}% confidence)",
        rdp_doctor_codes::causes::cause(top.cause).title,
        (top.confidence * 100.0).round()
    );
    match inputs.probe.as_ref() {
        Some(p) => match p.failed {
            Some(phase) => format!("{about} fails at {}; {likely}", phase.label()),
            None => {
                format!("{about} completes the handshake now; the reported failure is {likely}")
            }
        },
        None => {
            let mut l = likely;
            l.replace_range(..1, "M");
            l
        }
    }
}

#[cfg(test)]
mod tests;
