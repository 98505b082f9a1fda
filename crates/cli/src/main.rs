//! `rdp-doctor`: the command-line front end. Each subcommand lives in its own
//! module under `cmd/` and returns an [`Outcome`]; this file only dispatches
//! and maps outcomes and errors to the documented exit codes.

mod cmd;
mod style;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Finds out why Windows Remote Desktop will not connect, and fixes it.
#[derive(Parser)]
#[command(name = "rdp-doctor", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an mstsc / FreeRDP / ERRINFO / negotiation / event code.
    Explain(cmd::explain::Args),
    /// Find out where and why an RDP connection fails, and what to do.
    Diagnose(cmd::probe::DiagnoseArgs),
    /// Probe the RDP handshake phase by phase and print the raw layered report.
    Probe(cmd::probe::Args),
    /// Check and fix the Windows host's Remote Desktop settings: offline from a rescued disk's hives, or live.
    Host(cmd::host::Args),
    /// Read RDP failures from exported event logs (.evtx files or a Logs folder).
    Logs(cmd::logs::Args),
    /// Lint, clean or create .rdp files.
    Rdpfile(cmd::rdpfile::Args),
    /// Probe many hosts at once: bounded concurrency, a deadline per host, table/NDJSON/CSV/JSON.
    Scan(cmd::scan::Args),
    /// Serve probes to Prometheus (blackbox_exporter style): /probe?target=&module=, /metrics.
    Serve(cmd::serve::Args),
}

/// What a command found. Errors (could not complete) are `Err` and exit 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: nothing wrong found.
    Healthy,
    /// Exit 1: a problem was found and reported.
    ProblemFound,
}

/// A usage error found after argument parsing (exit 2, like clap's own).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Exit code for a usage error.
const EXIT_USAGE: u8 = 2;
/// Exit code for "could not complete".
const EXIT_INCOMPLETE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => cmd::explain::run(&args),
        Command::Diagnose(args) => cmd::probe::run_diagnose(&args),
        Command::Probe(args) => cmd::probe::run(&args),
        Command::Host(args) => cmd::host::run(&args),
        Command::Logs(args) => cmd::logs::run(&args),
        Command::Rdpfile(args) => cmd::rdpfile::run(&args),
        Command::Scan(args) => cmd::scan::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
    };
    match result {
        Ok(Outcome::Healthy) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemFound) => ExitCode::from(1),
        Err(err) if err.is::<UsageError>() => {
            eprintln!("rdp-doctor: {err}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(err) => {
            eprintln!("rdp-doctor: error: {err:#}");
            ExitCode::from(EXIT_INCOMPLETE)
        }
    }
}
