//! `rdp-doctor logs`: the RDP story from exported event logs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use rdp_doctor_events::{self as events, Options};
use rdp_doctor_model::command::Target;

use crate::progress::{self, Progress};
use crate::style::Style;
use crate::{Outcome, UsageError};

/// Read RDP failures from .evtx files or a folder of them (e.g. a rescued disk's
/// Windows\System32\winevt\Logs).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// .evtx files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,

    /// Only events since: RFC 3339 (2024-05-01T00:00:00Z) or relative to now (24h, 7d, 30m).
    #[arg(long)]
    since: Option<String>,

    /// Failed logons from one address (or workstation and account) within 10 minutes that
    /// count as brute force (1 or more).
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    brute_force: usize,

    /// Timeline entries shown per client address (the latest); findings count every event.
    #[arg(long, default_value_t = 10)]
    timeline: usize,

    /// Print JSON (schema rdp-doctor.logs/v2); the same as --format json.
    #[arg(long)]
    json: bool,

    /// Output format: text, json, or sarif (SARIF 2.1.0: the findings).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "json")]
    format: Option<super::ReportFormat>,

    /// Also write the report as one self-contained HTML page (findings, a timeline per client).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Never show the progress bar (it is shown on a terminal only).
    #[arg(long)]
    no_progress: bool,
}

/// Parses --since.
pub fn parse_since(text: &str, now: f64) -> Option<f64> {
    let t = text.trim();
    if let Some(v) = events::event::parse_time(t) {
        return Some(v);
    }
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return None,
    };
    Some(now - n * secs)
}

pub fn run(args: &Args) -> Result<Outcome> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let since = match &args.since {
        Some(s) => Some(
            parse_since(s, now)
                .ok_or_else(|| UsageError(format!("--since {s}: use RFC 3339 or 24h, 7d, 30m")))?,
        ),
        None => None,
    };
    let opts = Options {
        since,
        brute_force_threshold: args.brute_force,
        ..Options::default()
    };
    let report = read_with_progress(args, &opts)?.keep_latest(args.timeline);
    if report.files.is_empty() {
        return Err(UsageError(format!(
            "no .evtx file found in the given paths ({} other file(s) skipped)",
            report.skipped.len()
        ))
        .into());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, rdp_doctor::html::logs_page(&report))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match super::ReportFormat::pick(args.format, args.json) {
        super::ReportFormat::Sarif => {
            super::print_sarif("rdp-doctor logs", &report.findings, None)?
        }
        super::ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        super::ReportFormat::Text => render(&mut out, &report, Style::for_stdout())?,
    }
    if report.files.iter().all(|f| f.error.is_some()) {
        anyhow::bail!("no file could be read");
    }
    Ok(if report.findings.iter().any(|f| f.severity.is_problem()) {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

/// Reads the logs with a bar of files and bytes read on a terminal. The reader
/// calls back before each file: the files before it are done.
fn read_with_progress(args: &Args, opts: &Options) -> Result<events::LogReport> {
    let progress = Progress::new(0, "files", progress::wanted(args.no_progress));
    progress.set_message("listing the folders");
    let (mut done_bytes, mut current) = (0u64, 0u64);
    let report = events::read_paths(&args.paths, opts, |path, i, n| {
        if !progress.visible() {
            return;
        }
        done_bytes += current;
        current = std::fs::metadata(path).map_or(0, |m| m.len());
        let name = path.file_name().unwrap_or(path.as_os_str());
        progress.step(
            i.saturating_sub(1) as u64,
            n as u64,
            &format!(
                "{} read, now {} {}",
                progress::bytes(done_bytes),
                progress::bytes(current),
                name.to_string_lossy()
            ),
        );
    })?;
    let n = report.files.len() as u64;
    progress.step(
        n,
        n,
        &format!("{} read", progress::bytes(done_bytes + current)),
    );
    progress.finish();
    Ok(report)
}

/// Skipped files listed in the text report; JSON lists them all.
const SKIPPED_SHOWN: usize = 20;

fn render(out: &mut impl Write, r: &events::LogReport, st: Style) -> std::io::Result<()> {
    writeln!(out, "{}", st.bold(&verdict(r)))?;
    for f in &r.files {
        match (&f.error, &f.truncated) {
            (Some(e), _) => writeln!(out, "  FAIL {}: {e}", f.path)?,
            (None, Some(t)) => writeln!(
                out,
                "  WARN {}: {}; {} records ({} damaged, skipped), {} RDP events",
                f.path,
                t.describe(),
                f.records,
                f.failed_records,
                f.rdp_events
            )?,
            (None, None) => writeln!(
                out,
                "  ok   {}: {} records ({} damaged, skipped), {} RDP events",
                f.path, f.records, f.failed_records, f.rdp_events
            )?,
        }
    }
    for s in r.skipped.iter().take(SKIPPED_SHOWN) {
        writeln!(out, "  skip {}: {}", s.path, s.reason)?;
    }
    if r.skipped.len() > SKIPPED_SHOWN {
        writeln!(
            out,
            "  skip ... and {} more (--json lists them all)",
            r.skipped.len() - SKIPPED_SHOWN
        )?;
    }
    if !r.findings.is_empty() {
        writeln!(out, "\n{}", st.heading("Findings"))?;
        crate::render::findings(out, &r.findings, st, &Target::Live)?;
    }
    render_timelines(out, r, st)
}

/// The first line: how many events (in the window), and whether anything is wrong.
fn verdict(r: &events::LogReport) -> String {
    let problems = r
        .findings
        .iter()
        .filter(|f| f.severity.is_problem())
        .count();
    let events = match &r.window {
        Some(w) => format!(
            "{} of {} RDP events since {}",
            w.rdp_events, r.rdp_events, w.since
        ),
        None => format!("{} RDP events", r.rdp_events),
    };
    let what = if problems > 0 {
        format!("{problems} problem(s) found")
    } else if r.window.as_ref().is_some_and(|w| w.rdp_events == 0) {
        "nothing to analyze in the window".to_string()
    } else {
        "no RDP failure signature found".to_string()
    };
    format!("{events} in {} file(s): {what}", r.files.len())
}

fn render_timelines(out: &mut impl Write, r: &events::LogReport, st: Style) -> std::io::Result<()> {
    if !r.timelines.is_empty() {
        writeln!(out, "\n{}", st.heading("Clients"))?;
        for t in &r.timelines {
            writeln!(
                out,
                "  {}  {} event(s), {} logon(s) ok, {} failed, {} .. {}",
                st.bold(&t.address),
                t.events,
                t.successful_logons,
                t.failed_logons,
                t.first,
                t.last
            )?;
            for e in &t.entries {
                writeln!(
                    out,
                    "    {}  {:>5}  {:<10} {}",
                    e.time,
                    e.event_id,
                    format!("{:?}", e.stage).to_lowercase(),
                    e.summary
                )?;
            }
        }
    }
    Ok(())
}
