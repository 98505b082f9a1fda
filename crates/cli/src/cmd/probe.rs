//! `rdp-doctor probe` and `rdp-doctor diagnose`: the handshake, phase by phase.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use rdp_doctor_probe::diagnose::{diagnose, Diagnosis, Severity};
use rdp_doctor_probe::{NegotiationOutcome, ProbeOptions, ProbeReport, Status};

use crate::style::Style;
use crate::{Outcome, UsageError};

/// Options shared by `probe` and `diagnose`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HOST, HOST:PORT or [IPv6]:PORT.
    target: String,

    /// Port when TARGET names none.
    #[arg(long, default_value_t = 3389)]
    port: u16,

    /// Total time budget in seconds for everything the probe does, --repeat
    /// handshakes included; every single wait also has its own deadline.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,

    /// Deadline of one TCP connect or one exchange, in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "SECONDS")]
    step_timeout: f64,

    /// Only ask what mstsc asks; skip the one-connection-per-protocol support matrix.
    #[arg(long)]
    no_matrix: bool,

    /// Check the certificate against this name instead of the target's host.
    #[arg(long, value_name = "NAME")]
    tls_name: Option<String>,

    /// After the probe, N handshakes one after another: success rate, loss, RTT, jitter.
    /// They run inside the --timeout budget; those it leaves no time for are
    /// reported as not run.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=rdp_doctor_probe::path::MAX_REPEAT as i64))]
    repeat: u32,

    /// Print JSON (schema rdp-doctor.probe/v1 or rdp-doctor.diagnose/v1, see docs/json.md).
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    credentials: super::credentials::CredentialArgs,
}

fn options(args: &Args) -> Result<ProbeOptions> {
    let secs = |v: f64, what: &str| -> Result<Duration> {
        if v.is_finite() && v > 0.0 && v <= 600.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(UsageError(format!("--{what} must be a number of seconds in (0, 600]")).into())
        }
    };
    Ok(ProbeOptions {
        default_port: args.port,
        total_budget: secs(args.timeout, "timeout")?,
        connect_timeout: secs(args.step_timeout, "step-timeout")?,
        io_timeout: secs(args.step_timeout, "step-timeout")?,
        protocol_matrix: !args.no_matrix,
        ntlm_info: true,
        tls_name: args.tls_name.clone(),
        repeat: args.repeat,
    })
}

fn run_probe(args: &Args) -> Result<ProbeReport> {
    let opts = options(args)?;
    let credentials = super::credentials::credentials(&args.credentials)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = match &credentials {
        Some(c) => runtime.block_on(rdp_doctor_probe::probe_with_credentials(
            &args.target,
            &opts,
            c,
        )),
        None => runtime.block_on(rdp_doctor_probe::probe(&args.target, &opts)),
    };
    report.map_err(|e| UsageError(e.to_string()).into())
}

fn mark(st: Style, s: Status) -> String {
    match s {
        Status::Ok => st.bold("ok  "),
        Status::Warn => st.bold("warn"),
        Status::Fail => st.bold("FAIL"),
        Status::Skipped => st.dim("skip"),
    }
}

fn render_phases(out: &mut impl Write, r: &ProbeReport, st: Style) -> std::io::Result<()> {
    for p in &r.phases {
        writeln!(
            out,
            "  {} {:<8} {:>9.1} ms  {}",
            mark(st, p.status),
            p.name.label(),
            p.duration_ms,
            p.summary
        )?;
        for e in &p.evidence {
            writeln!(out, "  {:>24}{}", "", st.dim(e))?;
        }
    }
    render_path(out, r, st)
}

/// The path tests, when they ran: the small-MSS retry and the repeated handshakes.
fn render_path(out: &mut impl Write, r: &ProbeReport, st: Style) -> std::io::Result<()> {
    let path = &r.path;
    if let Some(m) = &path.mss_retry {
        writeln!(
            out,
            "  {:<13} retry with MSS {}: {}",
            "MTU",
            m.mss,
            if m.tls_completed {
                format!(
                    "TLS completed ({} bytes back): the full-size packets are lost",
                    m.tls_bytes_received
                )
            } else {
                format!("failed too ({})", m.error.as_deref().unwrap_or("?"))
            }
        )?;
    }
    let Some(s) = &path.repeat else {
        return Ok(());
    };
    writeln!(
        out,
        "\n{} ({} asked: {} run, {} succeeded ({:.0}% of those run), {} timed out; {} handshake)",
        st.heading("Repeated handshakes"),
        s.requested,
        s.attempts,
        s.succeeded,
        s.success_rate * 100.0,
        s.timeouts,
        s.handshake
    )?;
    if s.not_run > 0 {
        let why = match s.not_run_reason {
            Some(rdp_doctor_probe::path::NotRun::NoAddress) => "the host has no address",
            _ => "the --timeout budget ran out",
        };
        writeln!(out, "  {} not run: {why}", s.not_run)?;
    }
    let spread = |name: &str, v: Option<rdp_doctor_probe::path::Spread>| match v {
        Some(v) => format!(
            "  {name:<22} {:>8.1} {:>8.1} {:>8.1} ms",
            v.min, v.median, v.max
        ),
        None => format!("  {name:<22} {:>8} {:>8} {:>8}", "-", "-", "-"),
    };
    writeln!(
        out,
        "  {:<22} {:>8} {:>8} {:>8}",
        "", "min", "median", "max"
    )?;
    writeln!(out, "{}", spread("handshake", s.handshake_ms))?;
    writeln!(out, "{}", spread("X.224 answer (RTT)", s.answer_ms))?;
    writeln!(out, "{}", spread("kernel RTT", s.kernel_rtt_ms))?;
    writeln!(
        out,
        "  jitter {} ms, {} retransmission(s)",
        s.jitter_ms
            .map(|j| format!("{j:.1}"))
            .unwrap_or_else(|| "-".into()),
        s.retransmits
    )?;
    Ok(())
}

/// `probe`: the raw layered report.
pub fn run(args: &Args) -> Result<Outcome> {
    let report = run_probe(args)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let st = Style::for_stdout();
        writeln!(
            out,
            "{} {}  ({} connection(s), {:.0} ms)",
            st.heading("Probe"),
            report.authority(),
            report.connections_used,
            report.total_ms
        )?;
        render_phases(&mut out, &report, st)?;
        if !report.protocols.is_empty() {
            writeln!(
                out,
                "\n{}",
                st.heading("Security protocols (one request each)")
            )?;
            for p in &report.protocols {
                let name = p.requested.first().map(|p| p.name()).unwrap_or_default();
                let what = match &p.outcome {
                    NegotiationOutcome::Selected { selected_name, .. } if p.accepted => {
                        format!("accepted ({selected_name})")
                    }
                    NegotiationOutcome::Selected { selected_name, .. } => {
                        format!("not accepted (server chose {selected_name})")
                    }
                    NegotiationOutcome::Failure { code, name, .. } => {
                        format!("refused: 0x{code:X} ({code}) {name}")
                    }
                    other => rdp_doctor_probe::text::negotiation(other),
                };
                writeln!(out, "  {name:<20} {what}")?;
            }
        }
        if let Some(c) = report.tls.as_ref().and_then(|t| t.chain.first()) {
            writeln!(out, "\n{}", st.heading("Certificate"))?;
            writeln!(out, "  subject:    {}", c.subject)?;
            writeln!(
                out,
                "  issuer:     {}{}",
                c.issuer,
                if c.self_signed { " (self-signed)" } else { "" }
            )?;
            if !c.subject_alt_names.is_empty() {
                writeln!(out, "  names:      {}", c.subject_alt_names.join(", "))?;
            }
            writeln!(out, "  valid:      {} .. {}", c.not_before, c.not_after)?;
            writeln!(
                out,
                "  key:        {} {} bits; signature {}",
                c.key_type,
                c.key_bits.unwrap_or(0),
                c.signature_algorithm
            )?;
            writeln!(
                out,
                "  SHA1:       {}   (SSLCertificateSHA1Hash)",
                c.sha1_thumbprint
            )?;
        }
    }
    Ok(if report.first_failure().is_some() {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

fn render_diagnosis(out: &mut impl Write, d: &Diagnosis, st: Style) -> std::io::Result<()> {
    writeln!(out, "{}", st.bold(&d.verdict))?;
    writeln!(out)?;
    render_phases(out, &d.probe, st)?;
    if d.findings.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{}", st.heading("Findings, most important first"))?;
    for (i, f) in d.findings.iter().enumerate() {
        let sev = f.severity.label();
        writeln!(out, "  {}. [{}] {} {}", i + 1, f.id, st.bold(sev), f.title)?;
        for e in &f.evidence {
            writeln!(out, "       evidence: {}", e.line())?;
        }
        if f.severity != Severity::Info {
            for r in &f.remedies {
                writeln!(out, "       fix:      {}", r.title)?;
                for a in &r.actions {
                    writeln!(out, "                 {}", a.path())?;
                }
            }
        }
    }
    Ok(())
}

/// `diagnose`: the probe, plus every other evidence source given.
#[derive(clap::Args, Debug)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    probe: Args,

    /// The .rdp file the client uses: linted as `rdpfile lint` does.
    #[arg(long, value_name = "FILE")]
    rdp_file: Option<std::path::PathBuf>,

    /// Exported event logs (.evtx files or a Logs folder) of the host or the client.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    evtx: Vec<std::path::PathBuf>,

    /// The host's SYSTEM hive (from a rescued disk): checked as `host check` does.
    #[arg(long, value_name = "HIVE")]
    system: Option<std::path::PathBuf>,

    /// The host's SOFTWARE hive (with --system).
    #[arg(long, value_name = "HIVE", requires = "system")]
    software: Option<std::path::PathBuf>,
}

/// Everything `diagnose` read, in one JSON document (schema rdp-doctor.diagnose/v1).
#[derive(serde::Serialize)]
struct Combined<'a> {
    #[serde(flatten)]
    network: &'a Diagnosis,
    #[serde(skip_serializing_if = "Option::is_none")]
    rdp_file: Option<rdp_doctor_rdpfile::Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logs: Option<rdp_doctor_events::LogReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<rdp_doctor_host::Report>,
    /// Problems (errors and warnings) found outside the network probe.
    other_problems: usize,
}

/// `diagnose`: the verdict, evidence and numbered fixes.
pub fn run_diagnose(args: &DiagnoseArgs) -> Result<Outcome> {
    use anyhow::Context;
    let d = diagnose(run_probe(&args.probe)?);
    let rdp_file = match &args.rdp_file {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            Some(rdp_doctor_rdpfile::lint(&rdp_doctor_rdpfile::parse(&bytes)))
        }
        None => None,
    };
    let logs = if args.evtx.is_empty() {
        None
    } else {
        Some(
            rdp_doctor_events::read_paths(
                &args.evtx,
                &rdp_doctor_events::Options::default(),
                |_, _, _| {},
            )?
            .keep_latest(30),
        )
    };
    let host = match &args.system {
        Some(sys_path) => Some(
            rdp_doctor_host::check_offline(sys_path, args.software.as_deref(), None).map_err(
                |e| match e {
                    rdp_doctor_host::OfflineError::Usage(m) => crate::UsageError(m).into(),
                    e => anyhow::anyhow!("{e}"),
                },
            )?,
        ),
        None => None,
    };
    let problems_in = |sev: Severity| sev != Severity::Info;
    let other_problems = rdp_file.as_ref().map_or(0, |r| {
        r.findings
            .iter()
            .filter(|f| problems_in(f.severity))
            .count()
    }) + logs.as_ref().map_or(0, |r| {
        r.findings
            .iter()
            .filter(|f| problems_in(f.severity))
            .count()
    }) + host.as_ref().map_or(0, |r| r.failures() + r.warnings());
    let combined = Combined {
        network: &d,
        rdp_file,
        logs,
        host,
        other_problems,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.probe.json {
        serde_json::to_writer_pretty(&mut out, &combined)?;
        writeln!(out)?;
    } else {
        let st = Style::for_stdout();
        render_diagnosis(&mut out, &d, st)?;
        render_other(&mut out, &combined, st)?;
    }
    let errors_elsewhere = combined.rdp_file.as_ref().is_some_and(|r| r.errors() > 0)
        || combined
            .logs
            .as_ref()
            .is_some_and(|r| r.findings.iter().any(|f| f.severity == Severity::Error))
        || combined.host.as_ref().is_some_and(|r| r.failures() > 0);
    Ok(if d.healthy && !errors_elsewhere {
        Outcome::Healthy
    } else {
        Outcome::ProblemFound
    })
}

fn render_other(out: &mut impl Write, c: &Combined, st: Style) -> std::io::Result<()> {
    if let Some(r) = &c.rdp_file {
        writeln!(
            out,
            "\n{} ({} error(s), {} warning(s))",
            st.heading("The .rdp file"),
            r.errors(),
            r.warnings()
        )?;
        for f in r.findings.iter().filter(|f| f.severity != Severity::Info) {
            let line = rdp_doctor_rdpfile::line_of(f)
                .map(|l| format!("line {l}"))
                .unwrap_or_else(|| "file".into());
            writeln!(
                out,
                "  [{}] {} {line}: {}",
                f.id,
                f.severity.label(),
                f.title
            )?;
        }
        if r.errors() > 0 {
            writeln!(out, "  fix: rdp-doctor rdpfile clean FILE -o clean.rdp")?;
        }
    }
    if let Some(r) = &c.logs {
        writeln!(
            out,
            "\n{} ({} RDP events in {} file(s))",
            st.heading("Event logs"),
            r.rdp_events,
            r.files.len()
        )?;
        for f in &r.findings {
            writeln!(out, "  [{}] {} {}", f.id, f.severity.label(), f.title)?;
            if f.severity != Severity::Info {
                for fix in &f.remedies {
                    writeln!(out, "       fix: {}", fix.title)?;
                }
            }
        }
    }
    if let Some(r) = &c.host {
        writeln!(
            out,
            "\n{} ({} failing, {} warning(s))",
            st.heading("The host's configuration (hives)"),
            r.failures(),
            r.warnings()
        )?;
        for f in r.findings.iter().filter(|f| f.severity.is_problem()) {
            writeln!(out, "  [{}] {}", f.id, f.title)?;
            for e in &f.evidence {
                writeln!(out, "       {}", e.line())?;
            }
            if let Some(fix) = f.remedies.first() {
                writeln!(out, "       fix: {}", fix.title)?;
            }
        }
    }
    Ok(())
}
