//! `rdp-doctor scan`: many hosts, the same probe as `probe`, bounded concurrency.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use rdp_doctor_fleet::scan::{self, Completion, ScanResult, Target};
use rdp_doctor_probe::diagnose::{diagnose, Diagnosis, Severity};
use serde::Serialize;

use crate::progress::{self, Progress};
use crate::{Outcome, UsageError};

/// Output formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An aligned table, in input order.
    Table,
    /// One JSON object per line, as each host finishes.
    Ndjson,
    /// CSV with a header, in input order.
    Csv,
    /// One JSON document (schema rdp-doctor.scan/v1).
    Json,
}

/// Probe many hosts.
///
/// Targets come from the arguments, from --file (one or more per line, `#`
/// comments, HOST, HOST:PORT, [IPv6]:PORT or a CIDR range up to 65536
/// addresses), or from standard input with --file -.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Targets.
    targets: Vec<String>,

    /// Read targets from FILE (`-` for standard input).
    #[arg(long, short = 'f', value_name = "FILE")]
    file: Option<PathBuf>,

    /// Port when a target names none.
    #[arg(long, default_value_t = 3389)]
    port: u16,

    /// Hosts probed at once.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,

    /// Time budget per host, in seconds: a third of it for each phase's answer,
    /// at most 3 s for the TCP connect.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,

    /// Only ask what mstsc asks (one connection per host instead of six).
    #[arg(long)]
    no_matrix: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Never show the progress bar (it is shown on a terminal only).
    #[arg(long)]
    no_progress: bool,

    /// At the end, print hosts per second, peak memory and peak open files on standard error.
    #[arg(long)]
    stats: bool,
}

/// One host's line of output.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub target: String,
    /// ok, problem, deadline
    pub status: &'static str,
    pub verdict: String,
    /// The top error or warning finding.
    pub finding: Option<String>,
    pub cause: Option<String>,
    pub supported: Vec<String>,
    pub negotiated: Option<String>,
    pub cert_sha1: Option<String>,
    pub cert_days_left: Option<i64>,
    pub duration_ms: f64,
}

impl Row {
    /// A row for a host whose probe produced no report.
    fn without_report(
        target: String,
        status: &'static str,
        verdict: String,
        duration_ms: f64,
    ) -> Row {
        Row {
            target,
            status,
            verdict,
            finding: None,
            cause: None,
            supported: Vec::new(),
            negotiated: None,
            cert_sha1: None,
            cert_days_left: None,
            duration_ms,
        }
    }
}

fn row(result: &ScanResult<Result<Diagnosis, String>>) -> Row {
    let target = result.target.authority();
    let duration_ms = (result.elapsed.as_secs_f64() * 1e5).round() / 100.0;
    match &result.completion {
        Completion::DeadlinePassed => Row::without_report(
            target,
            "deadline",
            "no result within the per-host deadline".into(),
            duration_ms,
        ),
        Completion::Done(Err(e)) => Row::without_report(target, "problem", e.clone(), duration_ms),
        Completion::Done(Ok(d)) => {
            let top = d.findings.iter().find(|f| f.severity != Severity::Info);
            let leaf = d.probe.tls.as_ref().and_then(|t| t.chain.first());
            Row {
                target,
                status: if d.healthy { "ok" } else { "problem" },
                verdict: d.verdict.clone(),
                finding: top.map(|f| f.id.to_string()),
                cause: top.and_then(|f| f.cause).map(|c| c.name().to_string()),
                supported: d
                    .probe
                    .supported()
                    .iter()
                    .map(|p| p.name().to_string())
                    .collect(),
                negotiated: d.probe.negotiated.as_ref().and_then(|n| match &n.outcome {
                    rdp_doctor_probe::NegotiationOutcome::Selected { selected_name, .. } => {
                        Some(selected_name.clone())
                    }
                    _ => None,
                }),
                cert_sha1: leaf.map(|c| c.sha1_thumbprint.clone()),
                cert_days_left: d.probe.tls.as_ref().and_then(|t| t.days_left),
                duration_ms,
            }
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn read_targets(args: &Args) -> Result<Vec<Target>> {
    let mut text = args.targets.join("\n");
    if let Some(path) = &args.file {
        let content = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading targets from standard input")?;
            s
        } else {
            std::fs::read_to_string(path)
                .with_context(|| format!("reading targets from {}", path.display()))?
        };
        text.push('\n');
        text.push_str(&content);
    }
    let (targets, errors) = scan::parse_targets(&text, args.port);
    if let Some(e) = errors.first() {
        return Err(UsageError(format!("bad target ({} in all): {e}", errors.len())).into());
    }
    if targets.is_empty() {
        return Err(UsageError("no targets: give them as arguments or with --file".into()).into());
    }
    Ok(targets)
}

pub fn run(args: &Args) -> Result<Outcome> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        return Err(UsageError("--timeout must be a number of seconds in (0, 600]".into()).into());
    }
    if args.concurrency == 0 || args.concurrency > 4096 {
        return Err(UsageError("--concurrency must be 1..=4096".into()).into());
    }
    let targets = read_targets(args)?;
    let total = targets.len();
    // A probe may hold a closing socket beside its next one; the rest is the runtime's and the output's.
    limits::raise_open_files(2 * args.concurrency.min(total) as u64 + 64)?;
    let started = std::time::Instant::now();
    let fd_watch = args.stats.then(limits::PeakFds::watch);
    let budget = Duration::from_secs_f64(args.timeout);
    let opts = rdp_doctor_probe::ProbeOptions {
        total_budget: budget,
        // Filtered addresses cost a whole connect wait each, so it stays short;
        // a server that answered gets a third of the budget per phase, so a busy
        // one is not called stalled.
        connect_timeout: (budget / 3).min(Duration::from_secs(3)),
        io_timeout: budget / 3,
        protocol_matrix: !args.no_matrix,
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let progress =
        Progress::new(total as u64, "hosts", progress::wanted(args.no_progress)).with_rate();
    let mut problems = 0usize;
    // The deadline passed to the runner has a margin over the probe's own budget.
    let results = runtime.block_on(scan::run(
        targets,
        args.concurrency,
        budget + Duration::from_secs(1),
        |t: Target| {
            let opts = opts.clone();
            async move {
                rdp_doctor_probe::probe(&t.authority(), &opts)
                    .await
                    .map(diagnose)
                    .map_err(|e| e.to_string())
            }
        },
        |r| {
            let rw = row(r);
            if rw.status != "ok" {
                problems += 1;
            }
            if args.format == Format::Ndjson {
                if let Ok(line) = serde_json::to_string(&rw) {
                    let _ = progress.suspend(|| writeln!(out, "{line}"));
                }
            }
            progress.inc(format!(
                "{problems} problem(s), last {} {}",
                rw.target, rw.status
            ));
        },
    ));
    progress.finish();
    if args.stats {
        let wall = started.elapsed().as_secs_f64();
        eprintln!(
            "stats: {total} hosts in {wall:.2} s ({:.1} hosts/s), concurrency {}, peak RSS {} KiB, peak open files {}",
            total as f64 / wall.max(1e-9),
            args.concurrency,
            limits::peak_rss_kib().map_or("?".into(), |k| k.to_string()),
            fd_watch.map_or(0, limits::PeakFds::stop)
        );
    }
    let rows: Vec<Row> = results.iter().map(row).collect();
    match args.format {
        Format::Ndjson => {}
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                schema: &'static str,
                hosts: usize,
                ok: usize,
                problems: usize,
                results: &'a [Row],
            }
            let ok = rows.iter().filter(|r| r.status == "ok").count();
            serde_json::to_writer_pretty(
                &mut out,
                &Doc {
                    schema: "rdp-doctor.scan/v1",
                    hosts: rows.len(),
                    ok,
                    problems: rows.len() - ok,
                    results: &rows,
                },
            )?;
            writeln!(out)?;
        }
        Format::Csv => {
            writeln!(out, "target,status,finding,cause,negotiated,supported,cert_sha1,cert_days_left,duration_ms,verdict")?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&r.target),
                    r.status,
                    r.finding.as_deref().unwrap_or(""),
                    r.cause.as_deref().unwrap_or(""),
                    r.negotiated.as_deref().unwrap_or(""),
                    csv_field(&r.supported.join(" ")),
                    r.cert_sha1.as_deref().unwrap_or(""),
                    r.cert_days_left.map(|d| d.to_string()).unwrap_or_default(),
                    r.duration_ms,
                    csv_field(&r.verdict)
                )?;
            }
        }
        Format::Table => {
            let w = rows
                .iter()
                .map(|r| r.target.len())
                .max()
                .unwrap_or(6)
                .max(6);
            writeln!(
                out,
                "{:<w$}  {:<8}  {:<8}  {:>8}  VERDICT",
                "TARGET", "STATUS", "FINDING", "MS"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<w$}  {:<8}  {:<8}  {:>8.0}  {}",
                    r.target,
                    r.status,
                    r.finding.as_deref().unwrap_or("-"),
                    r.duration_ms,
                    r.verdict
                )?;
            }
            let ok = rows.iter().filter(|r| r.status == "ok").count();
            writeln!(
                out,
                "\n{} host(s): {ok} ok, {} with problems",
                rows.len(),
                rows.len() - ok
            )?;
        }
    }
    Ok(if rows.iter().all(|r| r.status == "ok") {
        Outcome::Healthy
    } else {
        Outcome::ProblemFound
    })
}

/// The process's open-file limit and its peak use of memory and files.
mod limits {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::Result;

    #[cfg(unix)]
    use crate::UsageError;

    /// Windows has no open-file limit of this kind: sockets are bounded by the concurrency alone.
    #[cfg(not(unix))]
    pub fn raise_open_files(_needed: u64) -> Result<()> {
        Ok(())
    }

    /// Raises the soft RLIMIT_NOFILE to at least `needed`, up to the hard limit.
    #[cfg(unix)]
    pub fn raise_open_files(needed: u64) -> Result<()> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return Ok(()); // unknown: let the scan report what it meets
        }
        if lim.rlim_cur >= needed {
            return Ok(());
        }
        if lim.rlim_max < needed {
            return Err(UsageError(format!(
                "--concurrency needs about {needed} open files but the hard limit is {} \
                 (raise it with `ulimit -Hn {needed}` as root, or lower --concurrency)",
                lim.rlim_max
            ))
            .into());
        }
        let raised = libc::rlimit {
            rlim_cur: needed,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(UsageError(format!(
                "cannot raise the open-file limit from {} to {needed}: {} (lower --concurrency)",
                lim.rlim_cur,
                std::io::Error::last_os_error()
            ))
            .into());
        }
        Ok(())
    }

    /// The peak resident set (VmHWM), in KiB.
    pub fn peak_rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn open_files() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
    }

    /// Samples the number of open files every 10 ms until stopped.
    pub struct PeakFds {
        stop: Arc<AtomicBool>,
        peak: Arc<AtomicUsize>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl PeakFds {
        pub fn watch() -> PeakFds {
            let stop = Arc::new(AtomicBool::new(false));
            let peak = Arc::new(AtomicUsize::new(open_files()));
            let (s, p) = (stop.clone(), peak.clone());
            let thread = std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    p.fetch_max(open_files(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
            PeakFds {
                stop,
                peak,
                thread: Some(thread),
            }
        }

        /// Stops sampling; the most files seen open at once.
        pub fn stop(mut self) -> usize {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            self.peak.load(Ordering::Relaxed)
        }
    }
}
