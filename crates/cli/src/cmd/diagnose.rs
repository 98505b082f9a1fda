//! `rdp-doctor diagnose`: every evidence source given, one diagnosis.
//!
//! This module only gathers the evidence (probe, reported code, hives or the
//! live host, event logs, .rdp file) into the engine's inputs, calls
//! [`rdp_doctor_diagnose::diagnose`] and renders the result.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rdp_doctor_diagnose::{self as engine, ClientFacts, HostFacts, Inputs, ReportedCode};
use rdp_doctor_model::command::Target;
use rdp_doctor_model::{Evidence, RegistryOrigin};

use crate::style::Style;
use crate::{render, Outcome, UsageError};

/// `diagnose`: the probe plus every other evidence source given.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  rdp-doctor diagnose server.example.com
  rdp-doctor diagnose 10.0.0.5 --system SYSTEM --software SOFTWARE --windows /mnt/c
  rdp-doctor diagnose --code \"Error code: 0x904, Extended error code: 0x7\"
  rdp-doctor diagnose host --rdp-file client.rdp --evtx Logs/

Exit codes: 0 healthy, 1 problem found, 2 usage error, 3 could not complete.")]
pub struct Args {
    /// HOST, HOST:PORT or [IPv6]:PORT to probe; optional when other evidence is given.
    target: Option<String>,

    #[command(flatten)]
    probe: super::probe::ProbeFlags,

    /// The code the client showed: `0x904 0x7`, `"Error code: 0x904, Extended error code: 0x7"`,
    /// FreeRDP's `[0x0002000D]`, an ERRINFO, SSPI or NTSTATUS code.
    #[arg(long, value_name = "CODE", num_args = 1..=2)]
    code: Vec<String>,

    /// The .rdp file the client uses: linted as `rdpfile lint` does.
    #[arg(long, value_name = "FILE")]
    rdp_file: Option<PathBuf>,

    /// Exported event logs (.evtx files or a Logs folder) of the host or the client.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    evtx: Vec<PathBuf>,

    /// The host's SYSTEM hive (from a rescued disk): checked as `host check` does, logs replayed.
    #[arg(long, value_name = "HIVE", conflicts_with = "live")]
    system: Option<PathBuf>,

    /// The host's SOFTWARE hive (with --system).
    #[arg(long, value_name = "HIVE", requires = "system")]
    software: Option<PathBuf>,

    /// The mounted Windows volume of the rescued disk (for MachineKeys), with --system.
    #[arg(long, value_name = "DIR", requires = "system")]
    windows: Option<PathBuf>,

    /// The host's SECURITY hive (with --system): the Remote Desktop and network logon rights.
    #[arg(long, value_name = "HIVE", requires = "system")]
    security: Option<PathBuf>,

    /// The host's SAM hive (with --system): Remote Desktop Users, Administrators, --user's account.
    #[arg(long, value_name = "HIVE", requires = "system")]
    sam: Option<PathBuf>,

    /// On Windows: add this host's live registry and services.
    #[arg(long)]
    live: bool,

    /// A folder `host collect` wrote on the host: its hives and event logs, read as a rescued disk's.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["live", "system"])]
    collected: Option<PathBuf>,

    /// Output format: human text, JSON (schema rdp-doctor.diagnose/v2) or SARIF 2.1.0 (the findings).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Also write a self-contained HTML report (verdict, causes, phase waterfall) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Replace an existing --html file (a symlink is replaced, never followed).
    #[arg(long, requires = "html")]
    force: bool,
}

/// How `diagnose` prints its answer.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// The files of the host given on the command line, or found in a collected folder.
struct HostFiles {
    system: Option<PathBuf>,
    software: Option<PathBuf>,
    security: Option<PathBuf>,
    sam: Option<PathBuf>,
    evtx: Vec<PathBuf>,
}

fn host_files(args: &Args) -> Result<HostFiles> {
    let mut files = HostFiles {
        system: args.system.clone(),
        software: args.software.clone(),
        security: args.security.clone(),
        sam: args.sam.clone(),
        evtx: args.evtx.clone(),
    };
    if let Some(dir) = &args.collected {
        let found = rdp_doctor_client::collected::paths(dir)
            .map_err(|e| UsageError(format!("--collected {}: {e}", dir.display())))?;
        files.system = found.system;
        files.software = found.software;
        files.security = found.security;
        files.sam = found.sam;
        files.evtx.extend(found.evtx_dir);
    }
    Ok(files)
}

/// `diagnose`: gather, decide, render.
pub fn run(args: &Args) -> Result<Outcome> {
    let files = host_files(args)?;
    let given_other = !args.code.is_empty()
        || args.rdp_file.is_some()
        || !files.evtx.is_empty()
        || files.system.is_some()
        || args.live;
    if args.target.is_none() && !given_other {
        return Err(UsageError(
            "diagnose needs a TARGET to probe, or other evidence: --code, --system, --evtx, --rdp-file or --live".into(),
        )
        .into());
    }
    let step = super::probe::step_timeout(&args.probe)?;
    let probed = match &args.target {
        Some(t) if !args.probe.gateway => Some(rdp_doctor_probe::diagnose::diagnose(
            super::probe::run_probe(t, &args.probe)?,
        )),
        _ => None,
    };
    let udp = match (&probed, args.probe.udp) {
        (Some(p), true) => super::transport::udp_check(&p.probe, args.probe.udp_port, step)?,
        _ => None,
    };
    let gateway = match (&args.target, args.probe.gateway) {
        (Some(t), true) => Some(super::transport::gateway_probe_facts(t, step)?),
        _ => None,
    };
    let probe_report = probed.as_ref().map(|p| &p.probe);
    let (host, target) = host_facts(args, &files)?;
    let inputs = Inputs {
        target: probe_report.map(|r| r.authority()),
        probe: gateway.or_else(|| {
            let facts = probed
                .as_ref()
                .map(|p| rdp_doctor::facts::probe_facts(&p.probe, p.findings.clone()));
            facts.map(|f| super::transport::with_udp(f, udp.as_ref()))
        }),
        codes: codes(&args.code)?,
        host,
        logs: logs(&files.evtx)?,
        rdp_file: rdp_file(args.rdp_file.as_deref())?,
    };
    let d = engine::diagnose(&inputs);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(path) = &args.html {
        let page = rdp_doctor::html::diagnosis_page(&d, probe_report);
        super::host::write_output(path, page.as_bytes(), args.force)?;
    }
    let format = if args.probe.json {
        Format::Json
    } else {
        args.format
    };
    if format == Format::Json {
        let doc = Document {
            diagnosis: &d,
            probe: probe_report,
        };
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else if format == Format::Sarif {
        let sarif = rdp_doctor::sarif::to_sarif("rdp-doctor diagnose", &d.findings, None);
        serde_json::to_writer_pretty(&mut out, &sarif)?;
        writeln!(out)?;
    } else {
        let st = Style::for_stdout();
        render::diagnosis_head(&mut out, &d, st, &target)?;
        if let Some(r) = probe_report {
            writeln!(out)?;
            super::probe::render_phases(&mut out, r, st)?;
        }
        if !d.findings.is_empty() {
            writeln!(out, "\n{}", st.heading("Findings, most important first"))?;
            render::findings(&mut out, &d.findings, st, &target)?;
        }
    }
    Ok(if d.healthy {
        Outcome::Healthy
    } else {
        Outcome::ProblemFound
    })
}

/// The JSON document (schema rdp-doctor.diagnose/v2).
#[derive(serde::Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    diagnosis: &'a engine::Diagnosis,
    #[serde(skip_serializing_if = "Option::is_none")]
    probe: Option<&'a rdp_doctor_probe::ProbeReport>,
}

fn codes(code: &[String]) -> Result<Vec<ReportedCode>> {
    if code.is_empty() {
        return Ok(Vec::new());
    }
    let text = code.join(", ");
    let bad = |e: rdp_doctor_codes::QueryError| UsageError(format!("--code {text:?}: {e}"));
    let reported = rdp_doctor_codes::parse_reported(&text).map_err(bad)?;
    let explanation = rdp_doctor_codes::explain_reported(&reported).map_err(bad)?;
    let evidence = rdp_doctor_codes::findings(&explanation)
        .into_iter()
        .flat_map(|f| f.evidence)
        .collect();
    let mut causes: Vec<rdp_doctor_model::CauseId> = Vec::new();
    for c in &explanation.causes {
        if !causes.contains(&c.cause.id) {
            causes.push(c.cause.id);
        }
    }
    Ok(vec![ReportedCode { evidence, causes }])
}

fn logs(paths: &[PathBuf]) -> Result<Option<Vec<rdp_doctor_model::Finding>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let report =
        rdp_doctor_events::read_paths(paths, &rdp_doctor_events::Options::default(), |_, _, _| {})?;
    Ok(Some(report.findings))
}

fn rdp_file(path: Option<&std::path::Path>) -> Result<Option<ClientFacts>> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = rdp_doctor_rdpfile::parse(&bytes);
    let report = rdp_doctor_rdpfile::lint_named(&file, Some(&path.display().to_string()));
    let settings = rdp_doctor_rdpfile::settings(&file);
    // The rule needs the setting turned off, and the line that does it.
    let off = |s: &Option<rdp_doctor_rdpfile::Setting<bool>>, name: &str| {
        s.as_ref()
            .filter(|s| !s.value)
            .map(|s| engine::FileSetting {
                line: s.line,
                text: format!("{name}:i:0"),
            })
    };
    Ok(Some(ClientFacts {
        findings: report.findings,
        credssp_disabled: off(&settings.enablecredsspsupport, "enablecredsspsupport"),
        negotiation_disabled: off(
            &settings.negotiate_security_layer,
            "negotiate security layer",
        ),
        file: Some(path.display().to_string()),
    }))
}

fn host_facts(args: &Args, files: &HostFiles) -> Result<(Option<HostFacts>, Target)> {
    if args.live {
        let report = super::host::live_report(args.probe.credentials.user())?;
        return Ok((
            Some(host_facts_of(report, RegistryOrigin::Live)),
            Target::Live,
        ));
    }
    let Some(system) = &files.system else {
        return Ok((None, Target::Live));
    };
    let offline_err = |e| match e {
        rdp_doctor_host::OfflineError::Usage(m) => anyhow::Error::from(UsageError(m)),
        e => anyhow::anyhow!("{e}"),
    };
    let mut report =
        rdp_doctor_host::check_offline(system, files.software.as_deref(), args.windows.as_deref())
            .map_err(offline_err)?;
    let accounts = rdp_doctor_host::accounts::AccountFiles {
        security: files.security.clone(),
        sam: files.sam.clone(),
        // The account of --user (also the one a credentialed probe logs on as).
        user: args.probe.credentials.user().map(str::to_string),
    };
    let now = u64::try_from(rdp_doctor_host::cert::now()).unwrap_or(0);
    report.extend(
        rdp_doctor_host::accounts::check_files(&accounts, now).map_err(offline_err)?,
        "these hives",
    );
    let target = Target::Offline {
        system: system.display().to_string(),
        software: files.software.as_ref().map(|p| p.display().to_string()),
    };
    let origin = RegistryOrigin::Hive {
        file: system.display().to_string(),
    };
    Ok((Some(host_facts_of(report, origin)), target))
}

fn host_facts_of(report: rdp_doctor_host::Report, origin: RegistryOrigin) -> HostFacts {
    let live = origin == RegistryOrigin::Live;
    let passed = report
        .passed
        .iter()
        .map(|p| {
            let ev = Evidence::Registry {
                path: p.path.clone(),
                value: p.value.clone(),
                origin: origin.clone(),
            };
            (p.id, ev)
        })
        .collect();
    HostFacts {
        findings: report.findings,
        passed,
        live,
    }
}
