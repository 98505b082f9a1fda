//! `rdp-doctor host check|fix|undo`: the Windows host's configuration from its
//! hives, fixed safely (dry run first, backup, atomic replace, read-back).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use rdp_doctor_host::apply::{self, Input};
use rdp_doctor_host::atomic::{self, Existing};
use rdp_doctor_host::fix::{self, HeldReason, Options, Plan};
use rdp_doctor_host::offline::{self, OfflineError};
use rdp_doctor_host::{render, Action as RegAction, Report, Root};
use rdp_doctor_model::command::{self, Target};
use rdp_doctor_model::{FindingId, Source};
use serde::Serialize;

use crate::style::Style;
use crate::{Outcome, UsageError};

/// The Windows host, read offline from a rescued disk's registry hives, or live on Windows (--live).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args, Debug, Clone)]
struct Hives {
    /// The SYSTEM hive (Windows\System32\config\SYSTEM).
    #[arg(long, required_unless_present_any = ["live", "collected"])]
    system: Option<PathBuf>,
    /// The SOFTWARE hive (Group Policy copies, certificate store, MachineGuid).
    #[arg(long)]
    software: Option<PathBuf>,
    /// The mounted Windows volume's root (to check the RDP key files in MachineKeys).
    #[arg(long)]
    windows: Option<PathBuf>,
    /// The SECURITY hive: who holds the Remote Desktop and network logon rights, and deny rights left behind.
    #[arg(long)]
    security: Option<PathBuf>,
    /// The SAM hive: the members of Remote Desktop Users and Administrators, and --user's account.
    #[arg(long)]
    sam: Option<PathBuf>,
    /// The account to check (with --sam, or --live): its groups and rights, disabled, locked out or expired.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The live registry and services of this Windows host instead of hives (fix --apply writes it).
    #[arg(long, conflicts_with_all = ["system", "software", "windows", "security", "sam"])]
    live: bool,
    /// A folder `host collect` wrote on the host: its hives (SYSTEM, SOFTWARE, SAM, SECURITY), e.g. --collected evidence.
    #[arg(long, conflicts_with_all = ["system", "software", "security", "sam", "live"])]
    collected: Option<PathBuf>,
}

/// The hives of a `host collect` folder, as if given with --system, --software, --security and --sam.
fn with_collected(h: &Hives) -> Result<Hives> {
    let Some(dir) = &h.collected else {
        return Ok(h.clone());
    };
    let p = rdp_doctor_client::collected::paths(dir)
        .map_err(|e| UsageError(format!("--collected {e}")))?;
    if p.system.is_none() {
        return Err(UsageError(format!(
            "--collected {}: it has no hives/SYSTEM",
            dir.display()
        ))
        .into());
    }
    Ok(Hives {
        system: p.system,
        software: p.software,
        security: p.security,
        sam: p.sam,
        collected: None,
        ..h.clone()
    })
}

impl Hives {
    fn system(&self) -> Result<&Path> {
        self.system.as_deref().ok_or_else(|| {
            UsageError("give --system HIVE, or --live on the Windows host".into()).into()
        })
    }

    /// The hive files, opened (dirty ones replayed in memory) and checked to be what their flags say.
    fn open(&self) -> Result<(Input, Option<Input>)> {
        offline::open(
            self.system()?,
            self.software.as_deref(),
            self.windows.as_deref(),
        )
        .map_err(offline_err)
    }

    /// The account checks of --security, --sam and --user, added to `report`.
    fn add_accounts(&self, report: &mut Report) -> Result<()> {
        if self.user.is_some() && self.sam.is_none() {
            return Err(UsageError(
                "--user needs --sam HIVE (or --live on the Windows host)".into(),
            )
            .into());
        }
        let files = rdp_doctor_host::accounts::AccountFiles {
            security: self.security.clone(),
            sam: self.sam.clone(),
            user: self.user.clone(),
        };
        let now = u64::try_from(rdp_doctor_host::cert::now()).unwrap_or(0);
        let outcomes = rdp_doctor_host::accounts::check_files(&files, now).map_err(offline_err)?;
        report.extend(outcomes, "these hives");
        Ok(())
    }

    /// Where the fixes' commands run: these hive files.
    fn target(&self) -> Target {
        Target::Offline {
            system: self
                .system
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            software: self.software.as_deref().map(|p| p.display().to_string()),
        }
    }
}

fn offline_err(e: OfflineError) -> anyhow::Error {
    match e {
        OfflineError::Usage(m) => UsageError(m).into(),
        OfflineError::Failed(e) => host_err(e),
    }
}

mod live;

/// This host's live report, for `diagnose --live` (on other systems: a usage error saying so).
pub(crate) fn live_report(user: Option<&str>) -> Result<rdp_doctor_host::Report> {
    live::report(user)
}

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
        /// Print JSON (schema rdp-doctor.host-check/v2); the same as --format json.
        #[arg(long)]
        json: bool,
        /// Output format: text, json, or sarif (SARIF 2.1.0: the findings, each at its registry path).
        #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
        format: Option<super::ReportFormat>,
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
        /// Same as --format json (schema rdp-doctor.host-fix/v2).
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Write the .reg (UTF-16LE with BOM, as regedit) or PowerShell rendering to FILE instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace FILE when it exists (a symbolic link is replaced, never followed).
        #[arg(long, requires = "output")]
        force: bool,
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
    /// On the Windows host: export its hives, RDP event logs and Remote Desktop certificates into one folder with a manifest.
    #[command(after_help = "\
Examples:
  rdp-doctor host collect -o evidence
  rdp-doctor host collect -o evidence --accounts
  rdp-doctor host check --collected evidence      anywhere, later")]
    Collect {
        /// The folder to write (new or empty), e.g. -o evidence.
        #[arg(short, long)]
        output: PathBuf,
        /// Also export SAM and SECURITY (they hold password hashes and LSA secrets), e.g. --accounts.
        #[arg(long)]
        accounts: bool,
        /// Never show the progress bar (it is shown on a terminal only).
        #[arg(long)]
        no_progress: bool,
    },
}

pub fn run(args: &Args) -> Result<Outcome> {
    match &args.action {
        Action::Check {
            hives,
            json,
            format,
        } => run_check(
            &with_collected(hives)?,
            super::ReportFormat::pick(*format, *json),
        ),
        Action::Fix {
            hives,
            only,
            allow_downgrade,
            format,
            json,
            output,
            force,
            apply,
            backup_dir,
        } => {
            let format = if *json { Format::Json } else { *format };
            let opts = Options {
                only: parse_only(only)?,
                allow_downgrade: *allow_downgrade,
            };
            let output = output.as_deref().map(|p| (p, *force));
            let hives = with_collected(hives)?;
            run_fix(&hives, &opts, format, output, *apply, backup_dir.as_deref())
        }
        Action::Undo {
            backup_dir,
            force,
            json,
        } => run_undo(backup_dir, *force, *json),
        Action::Collect {
            output,
            accounts,
            no_progress,
        } => super::client::run_collect(output, *accounts, *no_progress),
    }
}

fn host_err(e: rdp_doctor_host::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// `--only` as host finding IDs; anything else is a usage error.
fn parse_only(only: &[String]) -> Result<Vec<FindingId>> {
    only.iter()
        .map(|code| {
            FindingId::from_code(code)
                .filter(|id| id.source() == Source::Host)
                .ok_or_else(|| {
                    UsageError(format!(
                        "--only {code:?}: not a host check ID (a HOST ID that rdp-doctor host check shows)"
                    ))
                    .into()
                })
        })
        .collect()
}

fn run_check(h: &Hives, format: super::ReportFormat) -> Result<Outcome> {
    use super::ReportFormat;
    if h.live && format != ReportFormat::Sarif {
        return live::check(format == ReportFormat::Json, h.user.as_deref());
    }
    let report = if h.live {
        live::report(h.user.as_deref())?
    } else {
        // A dirty hive whose .LOG1/.LOG2 lie beside it is read with the logs replayed,
        // in memory: the files are not changed by a check.
        let mut report = rdp_doctor_host::check_offline(
            h.system()?,
            h.software.as_deref(),
            h.windows.as_deref(),
        )
        .map_err(offline_err)?;
        h.add_accounts(&mut report)?;
        report
    };
    if format == ReportFormat::Sarif {
        super::print_sarif("rdp-doctor host check", &report.findings, None)?;
        return Ok(if report.failures() > 0 {
            Outcome::ProblemFound
        } else {
            Outcome::Healthy
        });
    }
    print_check(&report, format == ReportFormat::Json, &h.target())
}

/// The plan as a .reg file or a PowerShell script, to `output` or standard output.
fn write_script(
    format: Format,
    plan: &Plan,
    output: Option<(&Path, bool)>,
    out: &mut impl Write,
) -> Result<()> {
    let text = if format == Format::Reg {
        render::to_reg(&plan.actions)
    } else {
        render::to_powershell(plan)
    };
    match output {
        Some((path, force)) => {
            let bytes = if format == Format::Reg {
                render::to_utf16le_bom(&text)
            } else {
                // A BOM makes Windows PowerShell 5.1 read the script as UTF-8.
                let mut b = vec![0xEF, 0xBB, 0xBF];
                b.extend_from_slice(text.as_bytes());
                b
            };
            write_output(path, &bytes, force)?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Writes an `-o` file atomically; an existing file or symlink only with `--force`.
pub(crate) fn write_output(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let existing = if force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(UsageError(format!(
            "{} exists (or is a symbolic link): refusing to overwrite it; give --force to replace it",
            path.display()
        ))
        .into());
    }
    atomic::write(path, bytes, existing).map_err(host_err)
}

fn print_check(report: &Report, json: bool, target: &Target) -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, report, target)?;
    }
    Ok(if report.failures() > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

fn print_report(out: &mut impl Write, report: &Report, target: &Target) -> Result<()> {
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
    crate::render::findings(out, &report.findings, st, target)?;
    for p in &report.passed {
        writeln!(out, "  ok   [{}] {}", p.id, p.message)?;
        writeln!(out, "         {} = {}", p.path, p.value)?;
    }
    Ok(())
}

/// The JSON document of `host fix` (schema rdp-doctor.host-fix/v2).
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

fn run_fix(
    h: &Hives,
    opts: &Options,
    format: Format,
    output: Option<(&Path, bool)>,
    apply_it: bool,
    backup_dir: Option<&Path>,
) -> Result<Outcome> {
    if output.is_some() && !matches!(format, Format::Reg | Format::Powershell) {
        return Err(UsageError("--output is for --format reg or powershell".into()).into());
    }
    if h.live {
        return live::fix(opts, format, output, apply_it, backup_dir);
    }
    let (system, software) = h.open()?;
    let mut report =
        apply::check_inputs(&system, software.as_ref(), h.windows.as_deref()).map_err(host_err)?;
    h.add_accounts(&mut report)?;
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
        let known = report.ids();
        for id in &opts.only {
            if !known.contains(id) {
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
        other => format!(
            "by hand: {}",
            command::lines(other, FindingId::HiveDirty, &Target::Live).join("; ")
        ),
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
        .filter(|i| plan.actions.iter().any(|a| a.root() == Some(i.root)))
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
        writeln!(out, "  {}. [{}] {}", n + 1, s.finding.id, s.finding.message)?;
        writeln!(out, "       now:  {} = {}", s.finding.path, s.finding.value)?;
        writeln!(
            out,
            "       fix:  {}{}",
            s.remedy.title,
            if s.remedy.downgrade {
                " (security downgrade, allowed by --allow-downgrade)"
            } else {
                ""
            }
        )?;
        writeln!(out, "       why:  {}", s.remedy.explanation)?;
        for a in &s.remedy.actions {
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
            writeln!(out, "  - [{}] {} ({why})", h.finding.id, h.remedy.title)?;
            writeln!(out, "       {}", h.remedy.explanation)?;
            for a in &h.remedy.actions {
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
