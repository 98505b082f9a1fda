//! The optional transport checks of `probe` and `diagnose`: RDP over UDP
//! (`--udp`) after the TCP probe, and the RD Gateway (`--gateway`) in its place.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use rdp_doctor_model::command::Target;
use rdp_doctor_model::{Finding, Severity};
use rdp_doctor_probe::gateway::{self, Exchange, GatewayReport};
use rdp_doctor_probe::udp::{self, UdpOutcome};
use rdp_doctor_probe::ProbeReport;

use crate::style::Style;
use crate::{render, Outcome, UsageError};

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The UDP check against the address the TCP probe reached (or the first one
/// resolved), on `port` or the probe's port. `None` when the host has no address.
pub fn udp_check(
    report: &ProbeReport,
    port: Option<u16>,
    step: Duration,
) -> Result<Option<UdpOutcome>> {
    let Some(ip) = report
        .connected_to
        .map(|a| a.ip())
        .or_else(|| report.addresses.first().copied())
    else {
        return Ok(None);
    };
    let port = port.unwrap_or(report.port);
    Ok(Some(runtime()?.block_on(udp::probe_udp(ip, port, step))))
}

/// The findings of a UDP check, or none when it did not run.
pub fn udp_findings(outcome: Option<&UdpOutcome>) -> Vec<Finding> {
    outcome.map(udp::udp_findings).unwrap_or_default()
}

/// `probe --gateway` / `diagnose --gateway`: TARGET is an RD Gateway.
pub fn run_gateway(target: &str, step: Duration, json: bool) -> Result<Outcome> {
    let report = runtime()?
        .block_on(gateway::probe_gateway(target, step))
        .map_err(|e| UsageError(e.to_string()))?;
    let findings = gateway::gateway_findings(&report);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            gateway: &'a GatewayReport,
            findings: &'a [Finding],
        }
        serde_json::to_writer_pretty(
            &mut out,
            &Doc {
                gateway: &report,
                findings: &findings,
            },
        )?;
        writeln!(out)?;
    } else {
        let st = Style::for_stdout();
        writeln!(
            out,
            "{} {}:{}",
            st.heading("RD Gateway"),
            report.host,
            report.port
        )?;
        for (what, x) in [
            ("RDG_OUT_DATA", &report.out_data),
            ("websocket", &report.websocket),
        ] {
            let said = match x {
                Exchange::Answered { answer, elapsed_ms } => {
                    format!("HTTP {} {} ({elapsed_ms} ms)", answer.status, answer.reason)
                }
                Exchange::NotHttp { error, .. } => format!("not HTTP: {error}"),
                Exchange::Closed { received } => format!("closed after {received} bytes"),
                Exchange::TimedOut { received } => format!("no answer in time ({received} bytes)"),
                Exchange::NoConnection => "not sent".into(),
            };
            writeln!(out, "  {what:<13} {said}")?;
        }
        if !findings.is_empty() {
            writeln!(out, "\n{}", st.heading("Findings"))?;
            render::findings(&mut out, &findings, st, &Target::Live)?;
        }
    }
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

/// `diagnose --gateway`: the gateway's findings as the engine's probe evidence.
pub fn gateway_probe_facts(
    target: &str,
    step: Duration,
) -> Result<rdp_doctor_diagnose::ProbeFacts> {
    let report = runtime()?
        .block_on(gateway::probe_gateway(target, step))
        .map_err(|e| UsageError(e.to_string()))?;
    Ok(rdp_doctor_diagnose::ProbeFacts {
        completed: Vec::new(),
        failed: None,
        findings: gateway::gateway_findings(&report),
        ..Default::default()
    })
}

/// The probe's facts with the UDP check's findings added; a SYN+ACK completes the UDP phase.
pub fn with_udp(
    mut facts: rdp_doctor_diagnose::ProbeFacts,
    outcome: Option<&UdpOutcome>,
) -> rdp_doctor_diagnose::ProbeFacts {
    if let Some(o) = outcome {
        if matches!(o, UdpOutcome::SynAck { .. }) {
            facts.completed.push(rdp_doctor_model::PhaseName::Udp);
        }
        facts.findings.extend(udp::udp_findings(o));
    }
    facts
}

/// The exporter's `udp = true`: the UDP check's metrics for the address the probe reached.
pub async fn udp_samples(
    report: &ProbeReport,
    budget: Duration,
) -> Vec<rdp_doctor_fleet::exporter::Sample> {
    use rdp_doctor_fleet::exporter::Sample;
    let Some(addr) = report.connected_to else {
        return Vec::new();
    };
    let outcome = udp::probe_udp(addr.ip(), addr.port(), budget.min(Duration::from_secs(3))).await;
    let answered = matches!(outcome, UdpOutcome::SynAck { .. });
    let mut samples = vec![Sample::gauge(
        "rdp_probe_udp_answered",
        "1 when the RDP-UDP SYN got a SYN+ACK (UDP transport works).",
        if answered { 1.0 } else { 0.0 },
    )];
    for f in udp::udp_findings(&outcome)
        .iter()
        .filter(|f| f.severity != Severity::Info)
    {
        samples.push(
            Sample::gauge(
                "rdp_probe_finding",
                "Findings of the probe (1 each), by stable id.",
                1.0,
            )
            .label("id", f.id.code())
            .label("severity", "warning")
            .label("cause", f.cause.map(|c| c.name()).unwrap_or_default()),
        );
    }
    samples
}
