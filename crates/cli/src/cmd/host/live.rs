//! `host check --live`, `host fix --live` and `host undo` of a live backup:
//! the registry and services of the Windows host this runs on.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use rdp_doctor_host::fix::{self, Options, Plan};
use rdp_doctor_host::live::{self, Change, LiveRegistry};
use rdp_doctor_host::{apply, Action as RegAction, Report};
use rdp_doctor_model::command::Target;
use serde::Serialize;

use super::{host_err, print_plan, print_report, Format};
use crate::style::Style;
use crate::{Outcome, UsageError};

/// The live registry, or the usage error `elsewhere` on a build for another system.
fn open(elsewhere: &str) -> Result<LiveRegistry> {
    if !live::AVAILABLE {
        return Err(UsageError(elsewhere.to_string()).into());
    }
    LiveRegistry::open().map_err(host_err)
}

fn outcome(report: &Report) -> Outcome {
    if report.failures() > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    }
}

/// This host's report, as `host check --live` reads it (registry, services, and --user's account).
pub(crate) fn report(user: Option<&str>) -> Result<rdp_doctor_host::Report> {
    let reg = open(live::NOT_WINDOWS)?;
    let mut report = live::check(&reg).map_err(host_err)?;
    if let Some(user) = user {
        let now = u64::try_from(rdp_doctor_host::cert::now()).unwrap_or(0);
        let accounts = rdp_doctor_host::accounts::live::check(user, now).map_err(host_err)?;
        report.extend(accounts, "this host's registry");
    }
    Ok(report)
}

pub(super) fn check(json: bool, user: Option<&str>) -> Result<Outcome> {
    let report = report(user)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report, &Target::Live)?;
    }
    Ok(outcome(&report))
}

/// The JSON document of `host fix --live` (schema rdp-doctor.host-fix/v2, as
/// offline, with the values changed instead of the files).
#[derive(Serialize)]
struct FixDoc<'a> {
    schema: &'static str,
    live: bool,
    applied: bool,
    verdict: &'a str,
    current_control_set: &'a str,
    failures_before: usize,
    warnings_before: usize,
    /// No hive files live: always empty, as `files`.
    hives: &'a [serde_json::Value],
    steps: &'a [fix::Step],
    held: &'a [fix::Held],
    actions: &'a [RegAction],
    backup_dir: Option<&'a Path>,
    files: &'a [serde_json::Value],
    changes: &'a [Change],
    failures_after: Option<usize>,
    warnings_after: Option<usize>,
}

/// The checks a plan meant to fix that still fail or warn in `after`.
fn still_failing(plan: &Plan, after: &Report) -> Vec<String> {
    plan.steps
        .iter()
        .filter(|s| {
            after
                .found(s.finding.id)
                .any(|f| f.severity.is_problem() && fix::Target::of(f).path == s.finding.path)
        })
        .map(|s| format!("{} ({})", s.finding.id, s.finding.path))
        .collect()
}

pub(super) fn fix(
    opts: &Options,
    format: Format,
    output: Option<(&Path, bool)>,
    apply_it: bool,
    backup_dir: Option<&Path>,
) -> Result<Outcome> {
    let mut reg = open("host fix --live reads and changes the Windows registry: run it on the Windows host, or give --system HIVE")?;
    let report = live::check(&reg).map_err(host_err)?;
    let plan = fix::plan(&report, opts);

    let mut applied = None;
    let mut after = None;
    if apply_it && !plan.is_empty() {
        let dir = backup_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(apply::default_backup_dir);
        let a = live::apply(&mut reg, &plan, &dir).map_err(host_err)?;
        // Verify: the rules, run again on what the registry now says.
        let checked = live::check(&reg).map_err(host_err)?;
        let still = still_failing(&plan, &checked);
        if !still.is_empty() {
            let undone = live::undo(&mut reg, &dir, true);
            return Err(anyhow::anyhow!(
                "the values were written but {} still fail(s); {}",
                still.join(", "),
                match undone {
                    Ok(_) => format!("every value was put back (backup in {})", dir.display()),
                    Err(e) => format!(
                        "putting them back failed: {e}; run: rdp-doctor host undo {}",
                        dir.display()
                    ),
                }
            ));
        }
        applied = Some(a);
        after = Some(checked);
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Reg | Format::Powershell => super::write_script(format, &plan, output, &mut out)?,
        Format::Json => {
            let doc = FixDoc {
                schema: fix::SCHEMA,
                live: true,
                applied: applied.is_some(),
                verdict: &report.verdict,
                current_control_set: &report.current_control_set,
                failures_before: report.failures(),
                warnings_before: report.warnings(),
                hives: &[],
                steps: &plan.steps,
                held: &plan.held,
                actions: &plan.actions,
                backup_dir: applied.as_ref().map(|a| a.backup.as_path()),
                files: &[],
                changes: applied
                    .as_ref()
                    .map(|a| a.changes.as_slice())
                    .unwrap_or_default(),
                failures_after: after.as_ref().map(Report::failures),
                warnings_after: after.as_ref().map(Report::warnings),
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            print_plan(&mut out, &report, &plan, &[], apply_it, opts)?;
            if let (Some(a), Some(after)) = (&applied, &after) {
                let st = Style::for_stdout();
                writeln!(out)?;
                for c in &a.changes {
                    writeln!(
                        out,
                        "{} {}: {} -> {}",
                        st.bold("wrote"),
                        c.path,
                        c.before,
                        c.after
                    )?;
                }
                writeln!(
                    out,
                    "backup: {} (undo: rdp-doctor host undo {})",
                    a.backup.display(),
                    a.backup.display()
                )?;
                writeln!(
                    out,
                    "verified: every value read back, the fixed checks pass; now {} failure(s), {} warning(s)",
                    after.failures(),
                    after.warnings()
                )?;
            }
        }
    }
    let remaining = match &after {
        Some(a) => a.failures(),
        None => report.failures() + plan.steps.len(),
    };
    Ok(if remaining > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

/// Whether `dir` holds a backup of the live registry (rather than of hive files).
pub(super) fn is_backup(dir: &Path) -> bool {
    std::fs::read(dir.join(live::MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["schema"] == live::BACKUP_SCHEMA)
}

pub(super) fn undo(dir: &Path, force: bool, json: bool) -> Result<Outcome> {
    let mut reg =
        open("this is a backup of a Windows host's live registry: run host undo on that host")?;
    let restored = live::undo(&mut reg, dir, force).map_err(host_err)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"schema": "rdp-doctor.host-undo/v1", "live": true, "restored": restored}),
        )?;
        writeln!(out)?;
    } else {
        for c in &restored {
            match c.outcome {
                "already_original" => writeln!(out, "already original: {} = {}", c.path, c.after)?,
                "changed_since" => writeln!(
                    out,
                    "restored (changed since the fix, --force): {}: {} -> {}",
                    c.path, c.before, c.after
                )?,
                _ => writeln!(out, "restored {}: {} -> {}", c.path, c.before, c.after)?,
            }
        }
    }
    Ok(Outcome::Healthy)
}
