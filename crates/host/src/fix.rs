//! The plan `host fix` makes of a report's findings.
//!
//! A finding carries its remedies, most advisable first. A remedy with no
//! registry action is done by hand (its explanation says how); other action
//! kinds are shown, not applied. A remedy that lowers the host's security
//! (NLA off, SecurityLayer lowered) is only chosen when the user allows
//! downgrades. [`plan`] picks one remedy per finding and merges the registry
//! actions.

use rdp_doctor_model::{Evidence, Finding, FindingId, Remedy, Severity};
use serde::Serialize;

use crate::registry::Action;
use crate::Report;

/// Version of the JSON document `host fix --format json` prints.
pub const SCHEMA: &str = "rdp-doctor.host-fix/v2";

/// Which findings to fix, and whether security downgrades may be chosen.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these IDs; empty = every error and warning.
    pub only: Vec<FindingId>,
    pub allow_downgrade: bool,
}

/// The finding a planned remedy answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub id: FindingId,
    pub severity: Severity,
    /// The registry path or file the finding cites first (as in `host check`).
    pub path: String,
    pub value: String,
    pub message: String,
}

impl Target {
    pub fn of(f: &Finding) -> Self {
        let (path, value) = f
            .evidence
            .iter()
            .find_map(|e| match e {
                Evidence::Registry { path, value, .. } => Some((path.clone(), value.clone())),
                Evidence::File { path, detail } => Some((path.clone(), detail.clone())),
                _ => None,
            })
            .unwrap_or_default();
        Target {
            id: f.id,
            severity: f.severity,
            path,
            value,
            message: f.title.clone(),
        }
    }
}

/// A remedy the plan applies.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub finding: Target,
    pub remedy: Remedy,
}

/// Why a finding's remedy is not in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldReason {
    /// Every remedy lowers security and `--allow-downgrade` was not given.
    Downgrade,
    /// The remedy is done by hand (files, Group Policy, reinstalling, commands).
    Manual,
    /// The remedy changes a value another remedy of the plan sets differently.
    Conflict,
}

/// A remedy shown but not applied.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub finding: Target,
    pub reason: HeldReason,
    pub remedy: Remedy,
}

/// What `host fix` does: the chosen remedies, those held back, and the merged registry actions.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub held: Vec<Held>,
    /// Every registry action of `steps`, in order, duplicates removed.
    pub actions: Vec<Action>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

fn same_target(a: &Action, b: &Action) -> bool {
    a.root() == b.root()
        && a.key().eq_ignore_ascii_case(b.key())
        && a.name().eq_ignore_ascii_case(b.name())
}

fn applies(r: &Remedy) -> bool {
    r.actions.iter().any(Action::is_registry)
}

/// Chooses, for every error or warning (or those in `opts.only`), the first
/// of its remedies that changes the registry and is allowed.
pub fn plan(report: &Report, opts: &Options) -> Plan {
    let wanted = |f: &Finding| {
        f.severity.is_problem() && (opts.only.is_empty() || opts.only.contains(&f.id))
    };
    let mut p = Plan {
        steps: Vec::new(),
        held: Vec::new(),
        actions: Vec::new(),
    };
    for f in report.findings.iter().filter(|f| wanted(f)) {
        let hold = |p: &mut Plan, reason, r: &Remedy| {
            p.held.push(Held {
                finding: Target::of(f),
                reason,
                remedy: r.clone(),
            })
        };
        let Some(chosen) = f
            .remedies
            .iter()
            .find(|r| applies(r) && (!r.downgrade || opts.allow_downgrade))
        else {
            for r in &f.remedies {
                hold(
                    &mut p,
                    if applies(r) {
                        HeldReason::Downgrade
                    } else {
                        HeldReason::Manual
                    },
                    r,
                );
            }
            continue;
        };
        let registry: Vec<&Action> = chosen.actions.iter().filter(|a| a.is_registry()).collect();
        if registry
            .iter()
            .any(|a| p.actions.iter().any(|b| same_target(a, b) && *a != b))
        {
            hold(&mut p, HeldReason::Conflict, chosen);
            continue;
        }
        for a in registry {
            if !p.actions.contains(a) {
                p.actions.push(a.clone());
            }
        }
        p.steps.push(Step {
            finding: Target::of(f),
            remedy: chosen.clone(),
        });
        // Manual remedies listed before the chosen one are still worth showing.
        for r in f
            .remedies
            .iter()
            .take_while(|r| !std::ptr::eq(*r, chosen))
            .filter(|r| !applies(r))
        {
            hold(&mut p, HeldReason::Manual, r);
        }
    }
    p
}
