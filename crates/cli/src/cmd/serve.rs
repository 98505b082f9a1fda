//! `rdp-doctor serve`: the Prometheus exporter, with the RDP probe as its prober.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result};
use rdp_doctor_fleet::exporter::{Exporter, Module, ProbeOutcome, Prober, Sample};
use rdp_doctor_probe::diagnose::{diagnose, Severity};
use rdp_doctor_probe::wire::x224::Protocol;
use rdp_doctor_probe::{NegotiationOutcome, ProbeOptions, ProbeReport, Status};

use crate::Outcome;

/// Serve probes to Prometheus: /probe?target=HOST[:PORT]&module=NAME and /metrics.
///
/// The configuration file (TOML) names the modules, the allowlist of targets
/// and the concurrency bound; it is reloaded on SIGHUP and POST /-/reload.
/// See docs/exporter.md.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9643")]
    listen: SocketAddr,

    /// Configuration file.
    #[arg(long)]
    config: PathBuf,
}

/// Probe options for one module with a total budget.
pub fn module_options(module: &Module, matrix: bool) -> ProbeOptions {
    let total = module.timeout();
    let step = (total / 3).clamp(Duration::from_millis(200), Duration::from_secs(3));
    ProbeOptions {
        default_port: module.port,
        total_budget: total,
        connect_timeout: step,
        io_timeout: step,
        protocol_matrix: matrix,
        ntlm_info: true,
        tls_name: None,
        repeat: 0,
    }
}

/// The RDP prober behind the exporter's uniform interface.
pub struct RdpProber;

const PHASES: [(&str, rdp_doctor_probe::PhaseName); 6] = [
    ("dns", rdp_doctor_probe::PhaseName::Dns),
    ("tcp", rdp_doctor_probe::PhaseName::Tcp),
    ("x224", rdp_doctor_probe::PhaseName::X224),
    ("tls", rdp_doctor_probe::PhaseName::Tls),
    ("credssp", rdp_doctor_probe::PhaseName::Credssp),
    ("connect", rdp_doctor_probe::PhaseName::Connect),
];

/// The JSON name of a serialisable enum value (`"mcs_connect"`, `"logon_failed"`).
fn json_name(v: &impl serde::Serialize, field: Option<&str>) -> String {
    let v = serde_json::to_value(v).unwrap_or_default();
    let v = match field {
        Some(f) => v.get(f).cloned().unwrap_or_default(),
        None => v,
    };
    v.as_str().unwrap_or_default().to_string()
}

/// Metrics of the credentialed connection: step durations, the outcome and
/// the code the server sent (never the password: it is in no report).
fn connection_samples(c: &rdp_doctor_probe::connect::ConnectionReport, s: &mut Vec<Sample>) {
    use rdp_doctor_probe::connect::ConnectOutcome;
    for st in &c.steps {
        s.push(
            Sample::gauge(
                "rdp_probe_connect_step_duration_seconds",
                "Duration of each step of the credentialed connection.",
                st.duration_ms / 1000.0,
            )
            .label("step", json_name(&st.step, None)),
        );
    }
    s.push(
        Sample::gauge(
            "rdp_probe_connect_outcome",
            "How the credentialed connection ended (1 for the outcome seen).",
            1.0,
        )
        .label("kind", json_name(&c.outcome, Some("kind"))),
    );
    let code = match &c.outcome {
        ConnectOutcome::LogonFailed { code }
        | ConnectOutcome::ServerDenied { code }
        | ConnectOutcome::LicensingFailed { code, .. } => Some(code),
        ConnectOutcome::McsDisconnect { reason } => Some(reason),
        _ => None,
    };
    if let Some(code) = code {
        s.push(
            Sample::gauge(
                "rdp_probe_connect_code",
                "The code the server refused the connection with (ERRINFO, NTSTATUS, MCS reason, licensing error).",
                f64::from(code.value),
            )
            .label("namespace", code.namespace.clone())
            .label("name", code.name.clone()),
        );
    }
}

/// Metrics of one probe report (and its diagnosis).
pub fn report_samples(report: &ProbeReport) -> (bool, Vec<Sample>) {
    let mut s = Vec::new();
    for (label, name) in PHASES {
        // A skipped phase did not run: neither its time nor success is a measurement.
        if report
            .phase(name)
            .is_some_and(|p| p.status == Status::Skipped)
        {
            s.push(
                Sample::gauge(
                    "rdp_probe_phase_skipped",
                    "Phases that did not run (1 each), e.g. TLS when the server offers no TLS.",
                    1.0,
                )
                .label("phase", label),
            );
            continue;
        }
        if let Some(p) = report.phase(name) {
            s.push(
                Sample::gauge(
                    "rdp_probe_phase_duration_seconds",
                    "Duration of each probe phase.",
                    p.duration_ms / 1000.0,
                )
                .label("phase", label),
            );
            s.push(
                Sample::gauge(
                    "rdp_probe_phase_ok",
                    "Whether each phase that ran succeeded (1), warned (1) or failed (0).",
                    if matches!(p.status, Status::Ok | Status::Warn) {
                        1.0
                    } else {
                        0.0
                    },
                )
                .label("phase", label),
            );
        }
    }
    let supported = report.supported();
    if !report.protocols.is_empty() {
        for p in Protocol::ALL {
            s.push(
                Sample::gauge(
                    "rdp_probe_protocol_supported",
                    "Whether the server accepts this security protocol on its own.",
                    f64::from(u8::from(supported.contains(&p))),
                )
                .label("protocol", p.name()),
            );
        }
        let nla_required = !supported.is_empty()
            && supported
                .iter()
                .all(|p| matches!(p, Protocol::Hybrid | Protocol::HybridEx));
        s.push(Sample::gauge(
            "rdp_probe_nla_required",
            "Whether the server accepts only CredSSP (NLA) protocols.",
            f64::from(u8::from(nla_required)),
        ));
    }
    if let Some(n) = &report.negotiated {
        match &n.outcome {
            NegotiationOutcome::Selected { selected_name, .. } => s.push(
                Sample::gauge(
                    "rdp_probe_negotiated_protocol",
                    "The protocol selected for an mstsc-style request.",
                    1.0,
                )
                .label("protocol", selected_name.clone()),
            ),
            NegotiationOutcome::Failure { code, name, .. } => s.push(
                Sample::gauge(
                    "rdp_probe_neg_failure_code",
                    "RDP_NEG_FAILURE code answered to an mstsc-style request.",
                    f64::from(*code),
                )
                .label("name", name.clone()),
            ),
            _ => {}
        }
    }
    if let Some(tls) = &report.tls {
        if let Some(leaf) = tls.chain.first() {
            s.push(
                Sample::gauge(
                    "rdp_probe_tls_cert_not_after_timestamp_seconds",
                    "Expiry of the listener's certificate (Unix time).",
                    leaf.not_after_unix as f64,
                )
                .label("sha1", leaf.sha1_thumbprint.clone())
                .label("subject", leaf.subject.clone()),
            );
        }
        if let Some(v) = &tls.version {
            s.push(
                Sample::gauge("rdp_probe_tls_version_info", "TLS version negotiated.", 1.0)
                    .label("version", v.clone()),
            );
        }
    }
    if let Some(st) = report.tcp_stats {
        s.push(Sample::gauge(
            "rdp_probe_tcp_rtt_seconds",
            "Kernel smoothed RTT of the first connection.",
            st.rtt_ms / 1000.0,
        ));
        s.push(Sample::gauge(
            "rdp_probe_tcp_retransmits",
            "Kernel retransmissions on the first connection.",
            f64::from(st.retransmits_total),
        ));
    }
    s.push(Sample::gauge(
        "rdp_probe_connections",
        "TCP connections the probe opened.",
        f64::from(report.connections_used),
    ));
    if let Some(c) = &report.connection {
        connection_samples(c, &mut s);
    }
    let diagnosis = diagnose(report.clone());
    for f in diagnosis
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
    {
        let severity = if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        s.push(
            Sample::gauge(
                "rdp_probe_finding",
                "Findings of the probe (1 each), by stable id.",
                1.0,
            )
            .label("id", f.id.code())
            .label("severity", severity)
            .label("cause", f.cause.map(|c| c.name()).unwrap_or_default()),
        );
    }
    (diagnosis.healthy, s)
}

impl Prober for RdpProber {
    fn probe<'a>(
        &'a self,
        target: &'a str,
        module: &'a Module,
    ) -> Pin<Box<dyn Future<Output = ProbeOutcome> + Send + 'a>> {
        Box::pin(async move {
            let opts = module_options(module, true);
            // The password is read for each probe (rotation needs no reload) and goes nowhere but the connection.
            let credentials = match &module.credentials {
                Some(c) => match c.password() {
                    Ok(password) => Some(rdp_doctor_probe::Credentials::new(
                        c.user.clone(),
                        c.domain.clone(),
                        password,
                    )),
                    Err(_) => {
                        return ProbeOutcome {
                            success: false,
                            samples: vec![Sample::gauge(
                                "rdp_probe_credentials_unreadable",
                                "The module's password could not be read (variable unset or file unreadable).",
                                1.0,
                            )],
                        }
                    }
                },
                None => None,
            };
            let result = match &credentials {
                Some(c) => rdp_doctor_probe::probe_with_credentials(target, &opts, c).await,
                None => rdp_doctor_probe::probe(target, &opts).await,
            };
            let Ok(report) = result else {
                return ProbeOutcome {
                    success: false,
                    samples: Vec::new(),
                };
            };
            let (mut success, mut samples) = report_samples(&report);
            if module.udp {
                samples.extend(super::transport::udp_samples(&report, module.timeout()).await);
            }
            if module.handshakes > 1 {
                // Repeated handshakes (mstsc's request + TLS, no matrix) for loss and jitter.
                let quick = module_options(module, false);
                let mut ok = 0u32;
                let mut times = Vec::new();
                for _ in 0..module.handshakes {
                    if let Ok(r) = rdp_doctor_probe::probe(target, &quick).await {
                        if r.first_failure().is_none() {
                            ok += 1;
                            times.push(r.total_ms / 1000.0);
                        }
                    }
                }
                let n = f64::from(module.handshakes);
                let ratio = f64::from(ok) / n;
                samples.push(Sample::gauge(
                    "rdp_probe_handshake_success_ratio",
                    "Share of repeated handshakes that completed.",
                    ratio,
                ));
                if !times.is_empty() {
                    let mean = times.iter().sum::<f64>() / times.len() as f64;
                    let var =
                        times.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / times.len() as f64;
                    samples.push(Sample::gauge(
                        "rdp_probe_handshake_duration_mean_seconds",
                        "Mean duration of the repeated handshakes.",
                        mean,
                    ));
                    samples.push(Sample::gauge(
                        "rdp_probe_handshake_jitter_seconds",
                        "Standard deviation of the repeated handshakes' durations.",
                        var.sqrt(),
                    ));
                }
                success = success && ok == module.handshakes;
            }
            ProbeOutcome { success, samples }
        })
    }
}

pub fn run(args: &Args) -> Result<Outcome> {
    let exporter = Exporter::new(RdpProber, args.config.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = rdp_doctor_fleet::exporter::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("rdp-doctor serve: listening on http://{}", args.listen);
        exporter.serve(listener).await.context("server stopped")
    })?;
    Ok(Outcome::Healthy)
}
