//! Scoring: evidence for and against every cause, then the ranking.

use std::collections::BTreeMap;

use rdp_doctor_codes::causes;
use rdp_doctor_model::{CauseId, Evidence, FindingId, PhaseName, Remedy, Source};
use serde::Serialize;

use crate::{against, cross, support, Inputs};

/// One piece of evidence for a cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Support {
    #[serde(skip)]
    pub cause: CauseId,
    pub source: Source,
    /// The finding behind it (none for a reported code or a cross-source rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<FindingId>,
    pub weight: f32,
    pub evidence: Vec<Evidence>,
}

/// Why a fact counts against a cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgainstReason {
    /// The probe got through this phase.
    PhaseCompleted { phase: PhaseName },
    /// A host check that would show the cause passed.
    CheckPassed { check: FindingId },
}

/// One fact against a cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Against {
    pub source: Source,
    pub reason: AgainstReason,
    pub weight: f32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// One cause, with the evidence for and against it.
#[derive(Debug, Clone, Serialize)]
pub struct RankedCause {
    pub cause: CauseId,
    pub title: &'static str,
    /// 0..1: the cause's share of the evidence, discounted when the evidence is thin.
    pub confidence: f32,
    /// Evidence for minus evidence against.
    pub score: f32,
    /// The sources that point at it.
    pub corroborated_by: Vec<Source>,
    #[serde(rename = "for")]
    pub evidence_for: Vec<Support>,
    pub against: Vec<Against>,
    /// Most specific first: the findings' remedies, then the catalog's.
    pub remedies: Vec<CauseRemedy>,
    /// Commands that confirm or rule out the cause.
    pub checks: &'static [&'static str],
}

/// A remedy, with the finding it belongs to (its actions are that finding's fix).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseRemedy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<FindingId>,
    #[serde(flatten)]
    pub remedy: Remedy,
}

/// Evidence for and against every cause, summed; causes with a positive score, best first.
pub fn rank(inputs: &Inputs) -> Vec<RankedCause> {
    let mut pro: BTreeMap<CauseId, Vec<Support>> = BTreeMap::new();
    for s in supports(inputs) {
        pro.entry(s.cause).or_default().push(s);
    }
    let con = againsts(inputs);
    let mut ranked: Vec<RankedCause> = pro
        .into_iter()
        .map(|(cause, evidence_for)| {
            let against: Vec<Against> = con
                .iter()
                .filter(|(c, _)| *c == cause)
                .map(|(_, a)| a.clone())
                .collect();
            let score = evidence_for.iter().map(|s| s.weight).sum::<f32>()
                - against.iter().map(|a| a.weight).sum::<f32>();
            let mut corroborated_by: Vec<Source> = evidence_for.iter().map(|s| s.source).collect();
            corroborated_by.sort();
            corroborated_by.dedup();
            let catalog = causes::cause(cause);
            RankedCause {
                cause,
                title: catalog.title,
                confidence: 0.0,
                score,
                corroborated_by,
                remedies: remedies(inputs, cause, &evidence_for),
                evidence_for,
                against,
                checks: catalog.checks,
            }
        })
        .filter(|r| r.score > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.cause.cmp(&b.cause)));
    // Causes far below the first are noise (a code's long tail): they do not dilute the others.
    let max = ranked.first().map_or(0.0, |r| r.score);
    let total: f32 = ranked
        .iter()
        .map(|r| r.score)
        .filter(|s| *s >= max / 4.0)
        .sum();
    for r in &mut ranked {
        r.confidence = confidence(r.score, total);
    }
    ranked
}

/// The cause's share of all positive evidence, discounted when the evidence
/// itself is thin (one ambiguous symptom is not a diagnosis).
pub fn confidence(score: f32, total: f32) -> f32 {
    if total <= 0.0 {
        return 0.0;
    }
    let share = (score / total).min(1.0);
    let strength = score.min(1.0);
    (share * strength * 100.0).round() / 100.0
}

fn supports(inputs: &Inputs) -> Vec<Support> {
    let mut out = Vec::new();
    for f in inputs.findings() {
        for (cause, weight) in support::supports(f) {
            out.push(Support {
                cause,
                source: f.source(),
                finding: Some(f.id),
                weight,
                evidence: f.evidence.clone(),
            });
        }
    }
    for code in &inputs.codes {
        for (rank, &cause) in code.causes.iter().enumerate() {
            out.push(Support {
                cause,
                source: Source::Code,
                finding: None,
                weight: support::code_weight(rank, code.causes.len()),
                evidence: code.evidence.clone(),
            });
        }
    }
    out.extend(cross::all(inputs));
    out
}

fn againsts(inputs: &Inputs) -> Vec<(CauseId, Against)> {
    let mut out = Vec::new();
    if let Some(p) = &inputs.probe {
        for &phase in &p.completed {
            for &(cause, weight) in against::ruled_out_by_phase(phase) {
                out.push((
                    cause,
                    Against {
                        source: Source::Probe,
                        reason: against::phase_reason(phase),
                        weight,
                        evidence: Vec::new(),
                    },
                ));
            }
        }
    }
    if let Some(h) = &inputs.host {
        // A check that covers several values (HOST004: three services) can pass for some and fail for others.
        let failed = |id: &FindingId| {
            h.findings
                .iter()
                .any(|f| f.id == *id && f.severity.is_problem())
        };
        for (check, ev) in h.passed.iter().filter(|(id, _)| !failed(id)) {
            for &(cause, weight) in against::ruled_out_by_check(*check) {
                // A cause with several forms (service OR listener) is not ruled out by one form passing.
                if h.findings
                    .iter()
                    .any(|f| f.cause == Some(cause) && f.severity.is_problem())
                {
                    continue;
                }
                out.push((
                    cause,
                    Against {
                        source: Source::Host,
                        reason: AgainstReason::CheckPassed { check: *check },
                        weight,
                        evidence: vec![ev.clone()],
                    },
                ));
            }
        }
    }
    out
}

/// The remedies of the findings behind a cause (deduplicated), then the catalog's fixes.
fn remedies(inputs: &Inputs, cause: CauseId, support: &[Support]) -> Vec<CauseRemedy> {
    let mut out: Vec<CauseRemedy> = Vec::new();
    let mut push = |finding: Option<FindingId>, r: &Remedy| {
        if !out.iter().any(|o| o.remedy.title == r.title) {
            out.push(CauseRemedy {
                finding,
                remedy: r.clone(),
            });
        }
    };
    if let Some(line) = inputs
        .rdp_file
        .as_ref()
        .and_then(|f| f.credssp_disabled.as_ref())
        .filter(|_| cause == CauseId::SecurityLayerMismatch)
        .filter(|_| cross::nla_required_but_file_disables_credssp(inputs).is_some())
    {
        push(None, &Remedy::new(
            format!("Turn NLA back on in the .rdp file: line {} `{}` -> enablecredsspsupport:i:1", line.line, line.text),
            "The server requires Network Level Authentication; a client told not to use CredSSP is refused before logon.",
        ));
    }
    let ids: Vec<FindingId> = support.iter().filter_map(|s| s.finding).collect();
    for f in inputs
        .findings()
        .filter(|f| ids.contains(&f.id) && f.cause == Some(cause))
    {
        for r in &f.remedies {
            push(Some(f.id), r);
        }
    }
    // The catalog's general fixes only when no finding brought a specific one.
    let specific = ids.iter().any(|id| {
        inputs
            .findings()
            .any(|f| f.id == *id && f.cause == Some(cause) && !f.remedies.is_empty())
    }) || (cause == CauseId::SecurityLayerMismatch
        && cross::nla_required_but_file_disables_credssp(inputs).is_some());
    if !specific {
        for fix in causes::cause(cause).fixes {
            push(None, &Remedy::advice(*fix));
        }
    }
    out
}
