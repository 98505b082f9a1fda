//! `rdp-doctor logs`: the RDP story from exported event logs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use rdp_doctor_events::{self as events, Options, Severity};

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

    /// Failed logons from one address within the window that count as brute force.
    #[arg(long, default_value_t = 10)]
    brute_force: usize,

    /// Timeline entries shown per client address (the latest).
    #[arg(long, default_value_t = 10)]
    timeline: usize,

    /// Print JSON (schema rdp-doctor.logs/v1).
    #[arg(long)]
    json: bool,
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
        brute_force_threshold: args.brute_force.max(1),
        timeline_entries: args.timeline,
        ..Options::default()
    };
    let show_progress = std::io::stderr().is_terminal();
    let report = events::read_paths(&args.paths, &opts, |path, i, n| {
        if show_progress && n > 1 {
            eprint!("\r\x1b[2K[{i}/{n}] {}", path.display());
        }
    })?;
    if show_progress && report.files.len() > 1 {
        eprintln!();
    }
    if report.files.is_empty() {
        return Err(UsageError("no .evtx file found in the given paths".into()).into());
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        render(&mut out, &report, Style::for_stdout())?;
    }
    if report.files.iter().all(|f| f.error.is_some()) {
        anyhow::bail!("no file could be read");
    }
    Ok(
        if report.findings.iter().any(|f| f.severity != Severity::Info) {
            Outcome::ProblemFound
        } else {
            Outcome::Healthy
        },
    )
}

fn render(out: &mut impl Write, r: &events::LogReport, st: Style) -> std::io::Result<()> {
    let problems = r
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .count();
    let verdict = if problems == 0 {
        format!(
            "{} RDP events in {} file(s): no RDP failure signature found",
            r.rdp_events,
            r.files.len()
        )
    } else {
        format!(
            "{} RDP events in {} file(s): {problems} problem(s) found",
            r.rdp_events,
            r.files.len()
        )
    };
    writeln!(out, "{}", st.bold(&verdict))?;
    for f in &r.files {
        match &f.error {
            Some(e) => writeln!(out, "  FAIL {}: {e}", f.path)?,
            None => writeln!(
                out,
                "  ok   {}: {} records ({} damaged, skipped), {} RDP events",
                f.path, f.records, f.failed_records, f.rdp_events
            )?,
        }
    }
    if !r.findings.is_empty() {
        writeln!(out, "\n{}", st.heading("Findings"))?;
        for (i, f) in r.findings.iter().enumerate() {
            let sev = f.severity.label();
            writeln!(
                out,
                "  {}. [{}] {} {} ({} event(s), {} .. {})",
                i + 1,
                f.id,
                st.bold(sev),
                f.title,
                f.count,
                f.first,
                f.last
            )?;
            for e in &f.evidence {
                writeln!(out, "       evidence: {e}")?;
            }
            writeln!(out, "       fix:      {}", f.fix)?;
        }
    }
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
