//! `rdp-doctor probe`: the handshake, phase by phase; its flags and phase
//! rendering are shared with `diagnose`.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use rdp_doctor_probe::{NegotiationOutcome, ProbeOptions, ProbeReport, Status};

use crate::style::Style;
use crate::{Outcome, UsageError};

/// `probe`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// HOST, HOST:PORT or [IPv6]:PORT.
    target: String,

    #[command(flatten)]
    flags: ProbeFlags,
}

/// Probe options shared by `probe` and `diagnose`.
#[derive(clap::Args, Debug)]
pub struct ProbeFlags {
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

    /// Print JSON (schema rdp-doctor.probe/v2 or rdp-doctor.diagnose/v2, see docs/json.md).
    #[arg(long)]
    pub json: bool,

    /// Also try RDP over UDP: an RDP-UDP SYN to the UDP port (--udp-port, default the TCP
    /// port), retransmitted within --step-timeout.
    #[arg(long)]
    pub udp: bool,

    /// The UDP port for --udp (default: the TCP port).
    #[arg(long, value_name = "PORT", requires = "udp")]
    pub udp_port: Option<u16>,

    /// TARGET is an RD Gateway (default port 443): its certificate, the answer of its HTTP
    /// transport, the authentication schemes it offers, its E_PROXY_* refusals.
    #[arg(long, conflicts_with = "udp")]
    pub gateway: bool,

    #[command(flatten)]
    pub credentials: super::credentials::CredentialArgs,
}

fn options(args: &ProbeFlags) -> Result<ProbeOptions> {
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

/// The deadline of one step (--step-timeout).
pub fn step_timeout(args: &ProbeFlags) -> Result<Duration> {
    Ok(options(args)?.io_timeout)
}

/// Runs the probe of `target` with these flags (credentials from env, file or prompt).
pub fn run_probe(target: &str, args: &ProbeFlags) -> Result<ProbeReport> {
    let opts = options(args)?;
    let credentials = super::credentials::credentials(&args.credentials)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = match &credentials {
        Some(c) => runtime.block_on(rdp_doctor_probe::probe_with_credentials(target, &opts, c)),
        None => runtime.block_on(rdp_doctor_probe::probe(target, &opts)),
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

pub fn render_phases(out: &mut impl Write, r: &ProbeReport, st: Style) -> std::io::Result<()> {
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

/// Which common clients connect with their defaults, and why not.
fn render_clients(out: &mut impl Write, r: &ProbeReport, st: Style) -> std::io::Result<()> {
    if r.clients.iter().all(|c| c.connects.is_none()) {
        return Ok(());
    }
    writeln!(out, "\n{}", st.heading("Clients (defaults)"))?;
    for c in &r.clients {
        let verdict = match c.connects {
            Some(true) => st.bold("connects"),
            Some(false) => st.bold("REFUSED "),
            None => st.dim("unknown "),
        };
        writeln!(out, "  {verdict} {}", c.client)?;
        for (reason, source) in c.reasons.iter().zip(&c.sources) {
            writeln!(
                out,
                "  {:>9}{}",
                "",
                st.dim(&format!("{reason} ({source})"))
            )?;
        }
    }
    Ok(())
}

/// `probe`: the raw layered report.
pub fn run(args: &Args) -> Result<Outcome> {
    let step = step_timeout(&args.flags)?;
    if args.flags.gateway {
        return super::transport::run_gateway(&args.target, step, args.flags.json);
    }
    let report = run_probe(&args.target, &args.flags)?;
    let udp = match args.flags.udp {
        true => super::transport::udp_check(&report, args.flags.udp_port, step)?,
        false => None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.flags.json {
        #[derive(serde::Serialize)]
        struct WithUdp<'a> {
            #[serde(flatten)]
            report: &'a ProbeReport,
            #[serde(skip_serializing_if = "Option::is_none")]
            udp: Option<&'a rdp_doctor_probe::udp::UdpOutcome>,
        }
        serde_json::to_writer_pretty(
            &mut out,
            &WithUdp {
                report: &report,
                udp: udp.as_ref(),
            },
        )?;
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
        render_clients(&mut out, &report, st)?;
        let udp_findings = super::transport::udp_findings(udp.as_ref());
        if !udp_findings.is_empty() {
            writeln!(out, "\n{}", st.heading("RDP over UDP"))?;
            crate::render::findings(&mut out, &udp_findings, st, &Default::default())?;
        }
    }
    Ok(if report.first_failure().is_some() {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}
