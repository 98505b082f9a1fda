//! Fixes: what each failing check's remedy changes, and the plan `host fix`
//! makes of them.
//!
//! A [`Check`] carries its remedies as [`Fix`]es, most advisable first. A fix
//! with no actions is done by hand (its explanation says how). A fix that
//! lowers the host's security (NLA off, SecurityLayer lowered) has
//! `downgrade: true` and is only chosen when the user allows downgrades.
//! [`plan`] picks one fix per check and merges their actions.

use serde::Serialize;

use crate::registry::Action;
use crate::{Check, Report, Status};

/// Version of the JSON document `host fix --format json` prints.
pub const SCHEMA: &str = "rdp-doctor.host-fix/v1";

/// One remedy for a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// What the fix does, in one line.
    pub title: String,
    /// Why this is the remedy, and what to know before applying it.
    pub explanation: String,
    /// The registry changes; empty when the fix is done by hand.
    pub actions: Vec<Action>,
    /// The fix lowers the host's security: applied only with `--allow-downgrade`.
    pub downgrade: bool,
}

impl Fix {
    pub fn new(title: impl Into<String>, explanation: impl Into<String>) -> Self {
        Fix {
            title: title.into(),
            explanation: explanation.into(),
            actions: Vec::new(),
            downgrade: false,
        }
    }

    pub fn action(mut self, a: Action) -> Self {
        self.actions.push(a);
        self
    }

    pub fn actions(mut self, a: impl IntoIterator<Item = Action>) -> Self {
        self.actions.extend(a);
        self
    }

    pub fn downgrade(mut self) -> Self {
        self.downgrade = true;
        self
    }
}

/// Which checks to fix, and whether security downgrades may be chosen.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these check IDs (`HOST001`, case-insensitive); empty = every failing or warning check.
    pub only: Vec<String>,
    pub allow_downgrade: bool,
}

/// The check a planned fix answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub id: &'static str,
    pub status: Status,
    /// The registry path the check read (as in `host check`).
    pub path: String,
    pub value: String,
    pub message: String,
}

impl Target {
    fn of(c: &Check) -> Self {
        Target {
            id: c.id,
            status: c.status,
            path: c.path.clone(),
            value: c.value.clone(),
            message: c.message.clone(),
        }
    }
}

/// A fix the plan applies.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub check: Target,
    pub fix: Fix,
}

/// Why a check's fix is not in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldReason {
    /// Every remedy lowers security and `--allow-downgrade` was not given.
    Downgrade,
    /// The remedy is done by hand (files, Group Policy, reinstalling).
    Manual,
    /// The fix changes a value another fix of the plan sets differently.
    Conflict,
}

/// A fix shown but not applied.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub check: Target,
    pub reason: HeldReason,
    pub fix: Fix,
}

/// What `host fix` does: the chosen fixes, those held back, and the merged actions.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub held: Vec<Held>,
    /// Every action of `steps`, in order, duplicates removed.
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

/// Chooses, for every failing or warning check (or those in `opts.only`), the
/// first of its fixes that has actions and is allowed.
pub fn plan(report: &Report, opts: &Options) -> Plan {
    let wanted = |c: &Check| {
        matches!(c.status, Status::Fail | Status::Warn)
            && (opts.only.is_empty() || opts.only.iter().any(|id| id.eq_ignore_ascii_case(c.id)))
    };
    let mut p = Plan {
        steps: Vec::new(),
        held: Vec::new(),
        actions: Vec::new(),
    };
    for c in report.checks.iter().filter(|c| wanted(c)) {
        let chosen = c
            .fixes
            .iter()
            .find(|f| !f.actions.is_empty() && (!f.downgrade || opts.allow_downgrade));
        let Some(fix) = chosen else {
            for f in &c.fixes {
                p.held.push(Held {
                    check: Target::of(c),
                    reason: if f.actions.is_empty() {
                        HeldReason::Manual
                    } else {
                        HeldReason::Downgrade
                    },
                    fix: f.clone(),
                });
            }
            continue;
        };
        let conflicts = fix
            .actions
            .iter()
            .any(|a| p.actions.iter().any(|b| same_target(a, b) && a != b));
        if conflicts {
            p.held.push(Held {
                check: Target::of(c),
                reason: HeldReason::Conflict,
                fix: fix.clone(),
            });
            continue;
        }
        for a in &fix.actions {
            if !p.actions.contains(a) {
                p.actions.push(a.clone());
            }
        }
        p.steps.push(Step {
            check: Target::of(c),
            fix: fix.clone(),
        });
        // Manual remedies listed before the chosen one are still worth showing.
        for f in c.fixes.iter().take_while(|f| !std::ptr::eq(*f, fix)) {
            if f.actions.is_empty() {
                p.held.push(Held {
                    check: Target::of(c),
                    reason: HeldReason::Manual,
                    fix: f.clone(),
                });
            }
        }
    }
    p
}
