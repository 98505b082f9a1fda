//! `rdp-doctor rdpfile lint|clean|new`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rdp_doctor_rdpfile::{self as rdpfile, clean};

use crate::cmd::host::write_output;
use crate::style::Style;
use crate::{Outcome, UsageError};

/// Lint, clean or create .rdp files.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Report corruption, wrong types, bad values, conflicts and secrets, with line numbers.
    Lint {
        /// The .rdp file to check.
        file: PathBuf,
        /// Print JSON (schema rdp-doctor.rdpfile-lint/v2); the same as --format json.
        #[arg(long)]
        json: bool,
        /// Output format: text, json, or sarif (SARIF 2.1.0, each finding at its line).
        #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
        format: Option<super::ReportFormat>,
    },
    /// Write a minimal clean copy: what the connection needs (address, account, gateway, broker, security, RemoteApp, Azure Virtual Desktop identity).
    Clean {
        /// The .rdp file to clean.
        file: PathBuf,
        /// Where to write the clean file.
        #[arg(
            short = 'o',
            long,
            required_unless_present = "in_place",
            conflicts_with = "in_place"
        )]
        output: Option<PathBuf>,
        /// Replace FILE itself (a backup FILE.bak-<time> is kept).
        #[arg(long)]
        in_place: bool,
        /// Overwrite OUTPUT if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Write a new minimal file.
    New {
        /// The host to connect to (name or address).
        #[arg(long)]
        host: String,
        /// The RDP port, when not 3389.
        #[arg(long)]
        port: Option<u16>,
        /// The account to sign in with (DOMAIN\user or user@domain).
        #[arg(long)]
        user: Option<String>,
        /// RD Gateway host name.
        #[arg(long)]
        gateway: Option<String>,
        /// Where to write the new file.
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Overwrite OUTPUT if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn read(path: &Path) -> Result<rdpfile::RdpFile> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > rdpfile::file::MAX_FILE_BYTES as u64 {
        anyhow::bail!(
            "{} is {} bytes: not an .rdp file (they are a few KiB)",
            path.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(rdpfile::parse(&bytes))
}

/// A backup name beside `file` that is not taken: `FILE.bak-<unix seconds>`, then `-2`, `-3`, …
fn backup_path(file: &Path, stamp: u64) -> PathBuf {
    let base = format!("{}.bak-{stamp}", file.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 2u64;
    while std::fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// Copies `file` to a new backup beside it, through the same atomic writer.
fn back_up(file: &Path) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let backup = backup_path(file, stamp);
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    write_output(&backup, &bytes, false)
        .with_context(|| format!("cannot back up to {}", backup.display()))?;
    Ok(backup)
}

/// Writes `file` to `path` atomically; an existing file or symbolic link is replaced only with `force`.
fn write_checked(path: &Path, file: &rdpfile::RdpFile, force: bool) -> Result<()> {
    let bytes = file.to_mstsc_bytes();
    // What is written must read back to the same properties.
    let back = rdpfile::parse(&bytes);
    anyhow::ensure!(
        back.lines == file.lines,
        "internal error: the written file does not read back the same"
    );
    write_output(path, &bytes, force)
}

pub fn run(args: &Args) -> Result<Outcome> {
    match &args.action {
        Action::Lint { file, json, format } => {
            let parsed = read(file)?;
            let name = file.display().to_string();
            let report = rdpfile::lint_named(&parsed, Some(&name));
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let format = super::ReportFormat::pick(*format, *json);
            if format == super::ReportFormat::Sarif {
                super::print_sarif("rdp-doctor rdpfile lint", &report.findings, Some(&name))?;
            } else if format == super::ReportFormat::Json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                render(&mut out, file, &report, Style::for_stdout())?;
            }
            Ok(if report.errors() > 0 {
                Outcome::ProblemFound
            } else {
                Outcome::Healthy
            })
        }
        Action::Clean {
            file,
            output,
            in_place,
            force,
        } => {
            let parsed = read(file)?;
            let cleaned = clean::clean(&parsed);
            if cleaned.get("full address").is_none() {
                anyhow::bail!("{} has no 'full address': nothing to keep; create a file with `rdp-doctor rdpfile new --host HOST -o OUT`", file.display());
            }
            let (target, replace) = if *in_place {
                let backup = back_up(file)?;
                writeln!(std::io::stdout(), "backup: {}", backup.display())?;
                (file.clone(), true)
            } else {
                let out = output
                    .clone()
                    .ok_or_else(|| UsageError("-o OUTPUT or --in-place".into()))?;
                if out == *file {
                    return Err(UsageError(
                        "OUTPUT is the input file: use --in-place to replace it (a backup is kept)"
                            .into(),
                    )
                    .into());
                }
                (out, *force)
            };
            write_checked(&target, &cleaned, replace)?;
            writeln!(
                std::io::stdout(),
                "wrote {} ({} of {} properties kept; UTF-16LE, CRLF)",
                target.display(),
                cleaned.properties().count(),
                parsed.properties().count()
            )?;
            Ok(Outcome::Healthy)
        }
        Action::New {
            host,
            port,
            user,
            gateway,
            output,
            force,
        } => {
            check_host(host, *port)?;
            if let Some(g) = gateway {
                rdpfile::address::valid_address(g)
                    .map_err(|why| UsageError(format!("--gateway {g:?}: {why}")))?;
            }
            let file = clean::new_file(host, *port, user.as_deref(), gateway.as_deref());
            write_checked(output, &file, *force)?;
            writeln!(std::io::stdout(), "wrote {}", output.display())?;
            Ok(Outcome::Healthy)
        }
    }
}

/// `--host` (with `--port`) must make a valid `full address`.
fn check_host(host: &str, port: Option<u16>) -> Result<()> {
    let bare_ipv6 = host.parse::<std::net::Ipv6Addr>().is_ok();
    if host.contains(':') && !host.starts_with('[') && !bare_ipv6 {
        return Err(UsageError(format!("--host {host:?}: give the port with --port")).into());
    }
    if bare_ipv6 {
        return Ok(());
    }
    let candidate = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    rdpfile::address::valid_address(&candidate)
        .map_err(|why| UsageError(format!("--host {host:?}: {why}")).into())
}

fn render(
    out: &mut impl Write,
    path: &Path,
    r: &rdpfile::Report,
    st: Style,
) -> std::io::Result<()> {
    let verdict = match (r.errors(), r.warnings()) {
        (0, 0) => format!("{}: ok ({} properties)", path.display(), r.properties),
        (0, w) => format!("{}: usable, {w} warning(s)", path.display()),
        (e, w) => format!(
            "{}: {e} error(s), {w} warning(s): clients may refuse or misread it",
            path.display()
        ),
    };
    writeln!(out, "{}", st.bold(&verdict))?;
    for f in &r.findings {
        let sev = f.severity.label();
        let line = rdpfile::line_of(f)
            .map(|l| format!("line {l}"))
            .unwrap_or_else(|| "file".into());
        writeln!(out, "  {:<8} {:<8} [{}] {}", line, sev, f.id, f.title)?;
    }
    if r.errors() > 0 {
        writeln!(
            out,
            "fix: rdp-doctor rdpfile clean {} -o clean.rdp",
            path.display()
        )?;
    }
    Ok(())
}
