//! `rdp-doctor client check|fix|undo`: the client side of Remote Desktop, from
//! the client's SOFTWARE hive and NTUSER.DAT (or live on Windows), its
//! Default.rdp and its RDPClient/Operational log; client policies fixed with a
//! backup and undone byte for byte. Also `host collect`'s runner.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use rdp_doctor_client::check::Files;
use rdp_doctor_client::plan::{self, Op, Options, Plan, Transport};
use rdp_doctor_client::rules::Oracle;
use rdp_doctor_client::{apply, collect, live, ClientRegistry, OfflineClient, Report};
use rdp_doctor_host::offline::Input;
use rdp_doctor_model::command::Target;
use rdp_doctor_model::Root;
use rdp_doctor_regf::Hive;

use crate::progress::{self, Progress};
use crate::style::Style;
use crate::{render, Outcome, UsageError};

/// The client computer, read offline from its hives or live on Windows (--live).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Args, Debug)]
struct Sources {
    /// The client's SOFTWARE hive, for its policies (e.g. --software /mnt/Windows/System32/config/SOFTWARE).
    #[arg(long)]
    software: Option<PathBuf>,
    /// The user's NTUSER.DAT, for the server list and pinned certificates (e.g. --ntuser /mnt/Users/alice/NTUSER.DAT).
    #[arg(long)]
    ntuser: Option<PathBuf>,
    /// This Windows machine's registry (HKLM\SOFTWARE and HKCU) instead of hive files (e.g. client check --live).
    #[arg(long, conflicts_with_all = ["software", "ntuser"])]
    live: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// 0: refuses unpatched servers (and, as a server, unpatched clients).
    ForceUpdated,
    /// 1: refuses unpatched servers; Windows' default.
    Mitigated,
    /// 2: falls back to insecure CredSSP with unpatched servers (lowers security).
    Vulnerable,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Report the client's transport and CredSSP policies, server list, Default.rdp and disconnect codes.
    #[command(after_help = "\
Examples:
  rdp-doctor client check --software SOFTWARE --ntuser NTUSER.DAT
  rdp-doctor client check --ntuser NTUSER.DAT --profile /mnt/Users/alice
  rdp-doctor client check --default-rdp Default.rdp --evtx RDPClient.evtx
  rdp-doctor client check --live --json          on the Windows client itself")]
    Check {
        #[command(flatten)]
        sources: Sources,
        /// A Default.rdp to lint (e.g. --default-rdp /mnt/Users/alice/Documents/Default.rdp).
        #[arg(long)]
        default_rdp: Option<PathBuf>,
        /// A user folder whose Documents/Default.rdp is linted (e.g. --profile /mnt/Users/alice).
        #[arg(long, conflicts_with = "default_rdp")]
        profile: Option<PathBuf>,
        /// An exported Microsoft-Windows-TerminalServices-RDPClient/Operational log; repeatable (e.g. --evtx RDPClient.evtx).
        #[arg(long)]
        evtx: Vec<PathBuf>,
        /// Print JSON (schema rdp-doctor.client-check/v1), e.g. client check --live --json.
        #[arg(long)]
        json: bool,
    },
    /// Plan client policy changes (a dry run unless --apply): TCP only, UDP back on, the CredSSP level.
    #[command(after_help = "\
Examples:
  rdp-doctor client fix --software SOFTWARE --tcp-only
  rdp-doctor client fix --software SOFTWARE --tcp-only --apply --backup-dir backup
  rdp-doctor client fix --software SOFTWARE --udp-on --apply
  rdp-doctor client fix --live --credssp vulnerable --allow-downgrade --apply
  rdp-doctor client undo backup")]
    Fix {
        #[command(flatten)]
        sources: Sources,
        /// Turn UDP off on this client: policy fClientDisableUDP 1 (e.g. client fix --software SOFTWARE --tcp-only).
        #[arg(long, conflicts_with = "udp_on")]
        tcp_only: bool,
        /// Remove the TCP-only policy: UDP is used when the server offers it (e.g. client fix --live --udp-on).
        #[arg(long)]
        udp_on: bool,
        /// Set AllowEncryptionOracle (e.g. --credssp mitigated); without it only a Vulnerable client is changed (to Mitigated).
        #[arg(long, value_enum)]
        credssp: Option<Level>,
        /// Allow changes that lower security (e.g. --credssp vulnerable --allow-downgrade).
        #[arg(long)]
        allow_downgrade: bool,
        /// Write the changes (backup first, atomic replace, read-back), e.g. --apply --backup-dir backup.
        #[arg(long)]
        apply: bool,
        /// Where --apply puts the backup (default: ./rdp-doctor-backup-TIME), e.g. --backup-dir backup.
        #[arg(long, requires = "apply")]
        backup_dir: Option<PathBuf>,
        /// Print JSON (schema rdp-doctor.client-fix/v1), e.g. client fix --software SOFTWARE --tcp-only --json.
        #[arg(long)]
        json: bool,
    },
    /// Restore a `client fix --apply` backup: the hive byte for byte, or the live values.
    #[command(after_help = "\
Examples:
  rdp-doctor client undo rdp-doctor-backup-20260101T120000Z
  rdp-doctor client undo backup --force")]
    Undo {
        /// The backup directory `fix --apply` printed (e.g. client undo backup).
        backup_dir: PathBuf,
        /// Restore even when the file or value changed since the fix (e.g. client undo backup --force).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &Args) -> Result<Outcome> {
    match &args.action {
        Action::Check {
            sources,
            default_rdp,
            profile,
            evtx,
            json,
        } => {
            let files = Files {
                default_rdp: default_rdp.clone(),
                profile: profile.clone(),
                evtx: evtx.clone(),
            };
            run_check(sources, &files, *json)
        }
        Action::Fix {
            sources,
            tcp_only,
            udp_on,
            credssp,
            allow_downgrade,
            apply,
            backup_dir,
            json,
        } => {
            let opts = Options {
                transport: match (tcp_only, udp_on) {
                    (true, _) => Some(Transport::TcpOnly),
                    (_, true) => Some(Transport::UdpOn),
                    _ => None,
                },
                credssp: credssp.map(|l| match l {
                    Level::ForceUpdated => Oracle::ForceUpdated,
                    Level::Mitigated => Oracle::Mitigated,
                    Level::Vulnerable => Oracle::Vulnerable,
                }),
                allow_downgrade: *allow_downgrade,
            };
            run_fix(sources, &opts, *apply, backup_dir.as_deref(), *json)
        }
        Action::Undo { backup_dir, force } => run_undo(backup_dir, *force),
    }
}

/// A hive file opened as `host` opens them (a dirty one replayed with its logs, in memory).
fn open(path: &Path) -> Result<Input> {
    Input::open(Root::Software, path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn hive<'a>(input: &'a Input, flag: &str) -> Result<Hive<'a>> {
    Hive::new(input.current())
        .map_err(|e| UsageError(format!("{flag} {}: not a hive: {e}", input.path.display())).into())
}

/// Runs `f` on the registry the flags name (None: neither hive nor --live).
fn with_registry<T>(
    s: &Sources,
    f: impl FnOnce(Option<&dyn ClientRegistry>) -> Result<T>,
) -> Result<T> {
    if s.live {
        let reg = live::LiveClient::open().map_err(|e| {
            if live::AVAILABLE {
                anyhow::anyhow!("{e}")
            } else {
                UsageError(e.0).into()
            }
        })?;
        return f(Some(&reg));
    }
    let sw = s.software.as_deref().map(open).transpose()?;
    let nt = s.ntuser.as_deref().map(open).transpose()?;
    let sw_h = sw.as_ref().map(|i| hive(i, "--software")).transpose()?;
    let nt_h = nt.as_ref().map(|i| hive(i, "--ntuser")).transpose()?;
    if sw_h.is_none() && nt_h.is_none() {
        return f(None);
    }
    let shown = |p: &Option<PathBuf>| p.as_deref().map(|p| p.display().to_string());
    let reg = OfflineClient::new(
        sw_h.as_ref().zip(shown(&s.software)),
        nt_h.as_ref().zip(shown(&s.ntuser)),
    );
    f(Some(&reg))
}

fn run_check(s: &Sources, files: &Files, json: bool) -> Result<Outcome> {
    if !s.live
        && s.software.is_none()
        && s.ntuser.is_none()
        && files.default_rdp.is_none()
        && files.profile.is_none()
        && files.evtx.is_empty()
    {
        return Err(UsageError(
            "give --software, --ntuser, --default-rdp, --profile or --evtx (or --live on the Windows client)".into(),
        )
        .into());
    }
    let report = with_registry(s, |reg| {
        rdp_doctor_client::check(reg, files).map_err(|e| anyhow::anyhow!("{e}"))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report)?;
    }
    Ok(if report.has_problem() {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

fn print_report(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let st = Style::for_stdout();
    writeln!(out, "{}", st.heading("Remote Desktop client"))?;
    if let Some(f) = &r.default_rdp {
        writeln!(out, "  Default.rdp: {f}")?;
    }
    if r.findings.is_empty() {
        writeln!(out, "  nothing found")?;
    }
    render::findings(out, &r.findings, st, &Target::Live)
}

fn run_fix(
    s: &Sources,
    opts: &Options,
    apply_it: bool,
    backup_dir: Option<&Path>,
    json: bool,
) -> Result<Outcome> {
    if !s.live && s.software.is_none() {
        return Err(UsageError(
            "client fix changes machine policies: give --software SOFTWARE, or --live on the Windows client".into(),
        )
        .into());
    }
    let plan = with_registry(s, |reg| {
        let reg = reg.ok_or_else(|| UsageError("no registry given".into()))?;
        let facts =
            rdp_doctor_client::facts::read_facts(reg).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(plan::plan(&facts, opts))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &plan)?;
        writeln!(out)?;
    } else {
        print_plan(&mut out, &plan, apply_it)?;
    }
    if !apply_it || plan.is_empty() {
        return Ok(if plan.is_empty() && plan.held.is_empty() {
            Outcome::Healthy
        } else {
            Outcome::ProblemFound
        });
    }
    let dir = backup_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(rdp_doctor_host::apply::default_backup_dir);
    if s.live {
        let applied = live::apply(&plan, &dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        for c in &applied.changes {
            writeln!(out, "applied: {} = {} (was {})", c.path, c.after, c.before)?;
        }
    } else if let Some(sw) = &s.software {
        let applied = apply::apply(sw, &plan, &dir).map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(
            out,
            "applied: {} (SHA-256 {} -> {})",
            applied.file.original_path.display(),
            applied.file.sha256_before,
            applied.file.sha256_after
        )?;
    }
    writeln!(
        out,
        "backup: {}   (undo: rdp-doctor client undo {})",
        dir.display(),
        dir.display()
    )?;
    Ok(if plan.held.is_empty() {
        Outcome::Healthy
    } else {
        Outcome::ProblemFound
    })
}

fn print_plan(out: &mut impl Write, p: &Plan, apply_it: bool) -> std::io::Result<()> {
    let verb = if apply_it {
        "applying"
    } else {
        "would change (dry run; --apply writes)"
    };
    if p.changes.is_empty() && p.held.is_empty() {
        writeln!(out, "nothing to change")?;
    }
    for c in &p.changes {
        let what = match &c.op {
            Op::Set { data } => format!("set {} {}", data.type_name(), data),
            Op::Remove => "remove".into(),
        };
        writeln!(
            out,
            "{verb}: [{}] {} : {what} (now {})",
            c.finding, c.path, c.before
        )?;
        writeln!(out, "  {}", c.remedy.title)?;
    }
    for c in &p.held {
        writeln!(
            out,
            "held back (lowers security; --allow-downgrade applies it): [{}] {}: {} (now {})",
            c.finding, c.path, c.remedy.title, c.before
        )?;
    }
    for u in &p.unchanged {
        writeln!(out, "already as asked: {u}")?;
    }
    Ok(())
}

fn run_undo(dir: &Path, force: bool) -> Result<Outcome> {
    let schema = apply::backup_schema(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if schema == rdp_doctor_host::apply::BACKUP_SCHEMA {
        for r in apply::undo(dir, force).map_err(|e| anyhow::anyhow!("{e}"))? {
            writeln!(
                out,
                "{}: {} (SHA-256 {})",
                r.outcome.replace('_', " "),
                r.path.display(),
                r.sha256
            )?;
        }
    } else if schema == rdp_doctor_host::live::BACKUP_SCHEMA {
        for c in live::undo(dir, force).map_err(|e| anyhow::anyhow!("{e}"))? {
            writeln!(
                out,
                "{}: {} = {}",
                c.outcome.replace('_', " "),
                c.path,
                c.after
            )?;
        }
    } else {
        return Err(UsageError(format!(
            "{}: a backup of schema {schema:?}, not one client fix writes",
            dir.display()
        ))
        .into());
    }
    Ok(Outcome::Healthy)
}

/// `host collect -o DIR`: the host's evidence folder (Windows only).
pub fn run_collect(dir: &Path, accounts: bool, no_progress: bool) -> Result<Outcome> {
    if !cfg!(windows) {
        return Err(UsageError(collect::NOT_WINDOWS.into()).into());
    }
    let progress = Progress::new(0, "steps", progress::wanted(no_progress));
    let m = collect::collect(dir, accounts, &mut |done, total, what| {
        progress.step(done as u64, total as u64, what)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    progress.finish();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for i in &m.items {
        writeln!(
            out,
            "collected: {} ({} bytes, SHA-256 {})",
            i.path, i.size, i.sha256
        )?;
        if let Some(p) = &i.partial {
            writeln!(out, "  partial: {p}")?;
        }
    }
    for l in &m.left_out {
        writeln!(out, "left out: {}: {}", l.what, l.why)?;
    }
    writeln!(
        out,
        "manifest: {}",
        dir.join(rdp_doctor_client::collected::MANIFEST).display()
    )?;
    Ok(Outcome::Healthy)
}
