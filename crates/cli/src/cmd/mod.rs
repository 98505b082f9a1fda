pub mod check;
pub mod client;
pub mod completions;
pub mod credentials;
pub mod diagnose;
pub mod explain;
pub mod host;
pub mod logs;
pub mod probe;
pub mod rdpfile;
pub mod scan;
pub mod serve;
pub mod transport;

/// The output formats of the commands that report findings.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// For people.
    Text,
    /// The command's JSON document (see docs/json.md).
    Json,
    /// The findings as SARIF 2.1.0, for code-scanning and compliance tools.
    Sarif,
}

impl ReportFormat {
    /// `--format`, or JSON when the older `--json` flag is given.
    pub fn pick(format: Option<ReportFormat>, json: bool) -> ReportFormat {
        match (format, json) {
            (Some(f), _) => f,
            (None, true) => ReportFormat::Json,
            (None, false) => ReportFormat::Text,
        }
    }
}

/// Prints `findings` as one SARIF 2.1.0 log on standard output.
pub fn print_sarif(
    command: &str,
    findings: &[rdp_doctor_model::Finding],
    artifact: Option<&str>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    serde_json::to_writer_pretty(
        &mut out,
        &rdp_doctor::sarif::to_sarif(command, findings, artifact),
    )?;
    writeln!(out)?;
    Ok(())
}
