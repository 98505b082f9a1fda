//! `rdp-doctor host check|fix|undo`: the Windows host's configuration from its
//! hives, fixed safely (dry run first, backup, atomic replace, read-back).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rdp_doctor_host::apply::{self, Input};
use rdp_doctor_host::fix::{self, HeldReason, Options, Plan};
use rdp_doctor_host::registry::Action as RegAction;
use rdp_doctor_host::{render, Report, Root, Status};
use serde::Serialize;

use crate::style::Style;
use crate::{Outcome, UsageError};

/// The Windows host, read offline from a rescued disk's registry hives, or live on Windows (--live).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args, Debug)]
struct Hives {
    /// The SYSTEM hive (Windows\System32\config\SYSTEM).
    #[arg(long, required_unless_present = "live")]
    system: Option<PathBuf>,
    /// The SOFTWARE hive (Group Policy copies, certificate store, MachineGuid).
    #[arg(long)]
    software: Option<PathBuf>,
    /// The mounted Windows volume's root (to check the RDP key files in MachineKeys).
    #[arg(long)]
    windows: Option<PathBuf>,
    /// The live registry and services of this Windows host instead of hives (fix --apply writes it).
    #[arg(long, conflicts_with_all = ["system", "software", "windows"])]
    live: bool,
}

impl Hives {
    fn system(&self) -> Result<&Path> {
        self.system.as_deref().ok_or_else(|| {
            UsageError("give --system HIVE, or --live on the Windows host".into()).into()
        })
    }
}

mod live;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Reg,
    Powershell,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Report every Remote Desktop setting that can stop a connection, with its registry path.
    Check {
        #[command(flatten)]
        hives: Hives,
        /// Print JSON (schema rdp-doctor.host-check/v1).
        #[arg(long)]
        json: bool,
    },
    /// Plan the fixes for what `check` finds (a dry run unless --apply), as text, JSON, .reg or PowerShell.
    Fix {
        #[command(flatten)]
        hives: Hives,
        /// Only these checks (comma-separated IDs, e.g. HOST001,HOST006).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Allow fixes that lower security (NLA off, SecurityLayer lowered).
        #[arg(long)]
        allow_downgrade: bool,
        /// How to print the plan.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Same as --format json (schema rdp-doctor.host-fix/v1).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Write the .reg (UTF-16LE with BOM, as regedit) or PowerShell rendering to FILE instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write the changes to the hive files (backup first, atomic replace, read-back verification).
        #[arg(long)]
        apply: bool,
        /// Where --apply puts the backup (default: ./rdp-doctor-backup-TIME).
        #[arg(long)]
        backup_dir: Option<PathBuf>,
    },
    /// Restore the hive files of a `fix --apply` backup, byte for byte (or, for a `fix --live` backup, the values).
    Undo {
        /// The backup directory `fix --apply` printed.
        backup_dir: PathBuf,
        /// Restore even when a hive changed since the fix.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &Args) -> Result<Outcome> {
    match &args.action {
        Action::Check { hives, json } => run_check(hives, *json),
        Action::Fix {
            hives,
            only,
            allow_downgrade,
            format,
            json,
            output,
            apply,
            backup_dir,
        } => {
            let format = if *json { Format::Json } else { *format };
            let opts = Options {
                only: only.clone(),
                allow_downgrade: *allow_downgrade,
            };
            run_fix(
                hives,
                &opts,
                format,
                output.as_deref(),
                *apply,
                backup_dir.as_deref(),
            )
        }
        Action::Undo {
            backup_dir,
            force,
            json,
        } => run_undo(backup_dir, *force, *json),
    }
}

fn host_err(e: rdp_doctor_host::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn run_check(h: &Hives, json: bool) -> Result<Outcome> {
    if h.live {
        return live::check(json);
    }
    // A dirty hive whose .LOG1/.LOG2 lie beside it is read with the logs replayed,
    // in memory: the files are not changed by a check.
    let system = Input::open(Root::System, h.system()?).map_err(host_err)?;
    let software = h
        .software
        .as_deref()
        .map(|p| Input::open(Root::Software, p))
        .transpose()
        .map_err(host_err)?;
    let mut report =
        apply::check_inputs(&system, software.as_ref(), h.windows.as_deref()).map_err(host_err)?;
    for input in std::iter::once(&system).chain(software.as_ref()) {
        if input.replayed.is_some() {
            report.checks.insert(0, replayed_check(input));
        }
    }
    print_check(&report, json)
}

/// HOST000 as information: the hive was dirty and its logs were replayed for the check.
fn replayed_check(input: &Input) -> rdp_doctor_host::Check {
    let logs: Vec<String> = input.logs.iter().map(|p| p.display().to_string()).collect();
    rdp_doctor_host::Check {
        id: "HOST000",
        status: Status::Info,
        path: input.path.display().to_string(),
        value: format!("dirty; replayed {}", logs.join(", ")),
        message: format!(
            "the {} hive was not closed cleanly: the values below include its transaction logs, replayed in memory (the files are unchanged)",
            input.root.name()
        ),
        cause: None,
        fix: None,
        fixes: Vec::new(),
    }
}

/// The plan as a .reg file or a PowerShell script, to `output` or standard output.
fn write_script(
    format: Format,
    plan: &Plan,
    output: Option<&Path>,
    out: &mut impl Write,
) -> Result<()> {
    let text = if format == Format::Reg {
        render::to_reg(&plan.actions)
    } else {
        render::to_powershell(plan)
    };
    match output {
        Some(path) => {
            let bytes = if format == Format::Reg {
                render::to_utf16le_bom(&text)
            } else {
                // A BOM makes Windows PowerShell 5.1 read the script as UTF-8.
                let mut b = vec![0xEF, 0xBB, 0xBF];
                b.extend_from_slice(text.as_bytes());
                b
            };
            std::fs::write(path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}

fn print_check(report: &Report, json: bool) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, report)?;
    }
    Ok(if report.failures() > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

fn print_report(out: &mut impl Write, report: &Report) -> Result<()> {
    let st = Style::for_stdout();
    writeln!(out, "{}", st.bold(&report.verdict))?;
    writeln!(
        out,
        "  CurrentControlSet = {}{}",
        report.current_control_set,
        if report.system_dirty {
            " (hive dirty: see HOST000)"
        } else {
            ""
        }
    )?;
    for c in &report.checks {
        let mark = match c.status {
            Status::Fail => st.bold("FAIL"),
            Status::Warn => st.bold("warn"),
            Status::Ok => "ok  ".to_string(),
            Status::Info => st.dim("info"),
        };
        writeln!(out, "  {mark} [{}] {}", c.id, c.message)?;
        writeln!(out, "         {} = {}", c.path, c.value)?;
        if let Some(f) = c
            .fix
            .as_ref()
            .filter(|_| matches!(c.status, Status::Fail | Status::Warn))
        {
            writeln!(out, "         fix: {f}")?;
        }
    }
    Ok(())
}

/// The JSON document of `host fix` (schema rdp-doctor.host-fix/v1).
#[derive(Serialize)]
struct FixDoc<'a> {
    schema: &'static str,
    applied: bool,
    verdict: String,
    current_control_set: &'a str,
    failures_before: usize,
    warnings_before: usize,
    hives: Vec<HiveDoc>,
    steps: &'a [fix::Step],
    held: &'a [fix::Held],
    actions: &'a [RegAction],
    backup_dir: Option<PathBuf>,
    files: Vec<apply::BackupFile>,
    failures_after: Option<usize>,
    warnings_after: Option<usize>,
}

#[derive(Serialize)]
struct HiveDoc {
    root: Root,
    path: PathBuf,
    dirty: bool,
    replayed_logs: Vec<PathBuf>,
    refused: Option<String>,
}

fn hive_doc(i: &Input) -> HiveDoc {
    HiveDoc {
        root: i.root,
        path: i.path.clone(),
        dirty: i.replayed.is_some() || i.refused.is_some(),
        replayed_logs: i.logs.clone(),
        refused: i.refused.clone(),
    }
}

fn known_ids(report: &Report) -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = report.checks.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn run_fix(
    h: &Hives,
    opts: &Options,
    format: Format,
    output: Option<&Path>,
    apply_it: bool,
    backup_dir: Option<&Path>,
) -> Result<Outcome> {
    for id in &opts.only {
        let valid = id.len() == 7
            && id[..4].eq_ignore_ascii_case("HOST")
            && id[4..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(
                UsageError(format!("--only {id:?}: expected check IDs like HOST001")).into(),
            );
        }
    }
    if output.is_some() && !matches!(format, Format::Reg | Format::Powershell) {
        return Err(UsageError("--output is for --format reg or powershell".into()).into());
    }
    if h.live {
        return live::fix(opts, format, output, apply_it, backup_dir);
    }
    let system = Input::open(Root::System, h.system()?).map_err(host_err)?;
    let software = h
        .software
        .as_deref()
        .map(|p| Input::open(Root::Software, p))
        .transpose()
        .map_err(host_err)?;
    let report =
        apply::check_inputs(&system, software.as_ref(), h.windows.as_deref()).map_err(host_err)?;
    let plan = fix::plan(&report, opts);
    let inputs: Vec<&Input> = std::iter::once(&system).chain(software.as_ref()).collect();

    let mut applied = None;
    if apply_it && !plan.is_empty() {
        let dir = backup_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(apply::default_backup_dir);
        applied = Some(
            apply::apply(
                &system,
                software.as_ref(),
                h.windows.as_deref(),
                &plan,
                &dir,
            )
            .map_err(host_err)?,
        );
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Reg | Format::Powershell => write_script(format, &plan, output, &mut out)?,
        Format::Json => {
            let doc = FixDoc {
                schema: fix::SCHEMA,
                applied: applied.is_some(),
                verdict: report.verdict.clone(),
                current_control_set: &report.current_control_set,
                failures_before: report.failures(),
                warnings_before: report.warnings(),
                hives: inputs.iter().map(|i| hive_doc(i)).collect(),
                steps: &plan.steps,
                held: &plan.held,
                actions: &plan.actions,
                backup_dir: applied.as_ref().and_then(|a| a.backup_dir.clone()),
                files: applied
                    .as_ref()
                    .map(|a| a.files.clone())
                    .unwrap_or_default(),
                failures_after: applied.as_ref().map(|a| a.report_after.failures()),
                warnings_after: applied.as_ref().map(|a| a.report_after.warnings()),
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            print_plan(&mut out, &report, &plan, &inputs, apply_it, opts)?;
            if let Some(a) = &applied {
                let st = Style::for_stdout();
                writeln!(out)?;
                for f in &a.files {
                    writeln!(
                        out,
                        "{} {}: SHA-256 {} -> {}",
                        st.bold("wrote"),
                        f.original_path.display(),
                        &f.sha256_before[..16],
                        &f.sha256_after[..16]
                    )?;
                }
                if let Some(d) = &a.backup_dir {
                    writeln!(
                        out,
                        "backup: {} (undo: rdp-doctor host undo {})",
                        d.display(),
                        d.display()
                    )?;
                }
                writeln!(
                    out,
                    "verified: the fixed checks pass and no other value changed; now {} failure(s), {} warning(s)",
                    a.report_after.failures(),
                    a.report_after.warnings()
                )?;
            }
        }
    }
    if !opts.only.is_empty() {
        let known = known_ids(&report);
        for id in &opts.only {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(id)) {
                eprintln!("rdp-doctor: note: no check {id} ran on these hives");
            }
        }
    }
    let remaining = match &applied {
        Some(a) => a.report_after.failures(),
        None => report.failures() + plan.steps.len(),
    };
    Ok(if remaining > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

fn show_action(a: &RegAction) -> String {
    match a {
        RegAction::SetValue { data, .. } => {
            format!("set    {} = {} ({})", a.path(), data, data.type_name())
        }
        RegAction::DeleteValue { .. } => format!("delete {}", a.path()),
    }
}

fn print_plan(
    out: &mut impl Write,
    report: &Report,
    plan: &Plan,
    inputs: &[&Input],
    apply_it: bool,
    opts: &Options,
) -> Result<()> {
    let st = Style::for_stdout();
    for i in inputs {
        if i.replayed.is_some() {
            writeln!(
                out,
                "{} is dirty: replayed {} in memory first",
                i.path.display(),
                i.logs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )?;
        }
        if let Some(why) = &i.refused {
            writeln!(out, "{} {why}", st.bold("warning:"))?;
        }
    }
    let files: Vec<&str> = inputs
        .iter()
        .filter(|i| plan.actions.iter().any(|a| a.root() == i.root))
        .map(|i| i.root.name())
        .collect();
    if plan.is_empty() {
        writeln!(
            out,
            "{}",
            st.bold(&format!(
                "Nothing to fix automatically ({} failure(s), {} warning(s) found)",
                report.failures(),
                report.warnings()
            ))
        )?;
    } else {
        writeln!(
            out,
            "{}",
            st.bold(&format!(
                "{} fix(es), {} change(s) to {}{}",
                plan.steps.len(),
                plan.actions.len(),
                if inputs.is_empty() {
                    "the live registry".to_string()
                } else {
                    files.join(" and ")
                },
                if apply_it {
                    ""
                } else {
                    " (dry run: nothing written; --apply writes them)"
                }
            ))
        )?;
    }
    for (n, s) in plan.steps.iter().enumerate() {
        writeln!(out, "  {}. [{}] {}", n + 1, s.check.id, s.check.message)?;
        writeln!(out, "       now:  {} = {}", s.check.path, s.check.value)?;
        writeln!(
            out,
            "       fix:  {}{}",
            s.fix.title,
            if s.fix.downgrade {
                " (security downgrade, allowed by --allow-downgrade)"
            } else {
                ""
            }
        )?;
        writeln!(out, "       why:  {}", s.fix.explanation)?;
        for a in &s.fix.actions {
            writeln!(out, "       {}", show_action(a))?;
        }
    }
    if !plan.held.is_empty() {
        writeln!(out, "Not applied")?;
        for h in &plan.held {
            let why = match h.reason {
                HeldReason::Downgrade if !opts.allow_downgrade => {
                    "a security downgrade: applied only with --allow-downgrade"
                }
                HeldReason::Downgrade => "a security downgrade",
                HeldReason::Manual => "to do by hand",
                HeldReason::Conflict => "it conflicts with an earlier fix of this plan",
            };
            writeln!(out, "  - [{}] {} ({why})", h.check.id, h.fix.title)?;
            writeln!(out, "       {}", h.fix.explanation)?;
            for a in &h.fix.actions {
                writeln!(out, "       would {}", show_action(a))?;
            }
        }
    }
    Ok(())
}

fn run_undo(dir: &Path, force: bool, json: bool) -> Result<Outcome> {
    if live::is_backup(dir) {
        return live::undo(dir, force, json);
    }
    let restored = apply::undo(dir, force).map_err(host_err)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"schema": "rdp-doctor.host-undo/v1", "restored": restored}),
        )?;
        writeln!(out)?;
    } else {
        for r in &restored {
            writeln!(
                out,
                "{} {} (SHA-256 {})",
                if r.outcome == "restored" {
                    "restored"
                } else {
                    "already original:"
                },
                r.path.display(),
                r.sha256
            )?;
        }
    }
    Ok(Outcome::Healthy)
}
