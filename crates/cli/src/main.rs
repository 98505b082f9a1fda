//! `rdp-doctor`: the command-line front end. Each subcommand lives in its own
//! module under `cmd/` and returns an [`Outcome`]; this file only dispatches
//! and maps outcomes and errors to the documented exit codes.

mod cmd;
mod progress;
mod render;
mod style;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The version `--version` prints: the package version and, when built from a
/// git checkout, the commit (`-dirty` when tracked files had changes); see build.rs.
const VERSION: &str = env!("RDP_DOCTOR_VERSION");

/// The end of `--help`: what a user types most, and what the exit status means.
const AFTER_LONG_HELP: &str = "\
Examples:
  rdp-doctor explain 0x904 0x7          decode mstsc's error code and extended code
  rdp-doctor diagnose rdp.example.com   why a connection to this host fails
  rdp-doctor host check --system SYSTEM the Remote Desktop settings of a rescued disk
  rdp-doctor logs Security.evtx         RDP failures in an exported event log
  rdp-doctor rdpfile lint Work.rdp      what is wrong in a .rdp file
  rdp-doctor scan -f hosts.txt          many hosts at once

Exit codes:
  0  healthy: nothing wrong found
  1  problem found (and reported)
  2  usage error
  3  could not complete (a file could not be read, the network failed, ...)";

/// Finds out why Windows Remote Desktop will not connect, and fixes it.
#[derive(Parser)]
#[command(
    name = "rdp-doctor",
    version = VERSION,
    about,
    long_about = None,
    after_help = "Exit codes: 0 healthy, 1 problem found, 2 usage error, 3 could not complete.\n\
                  Run `rdp-doctor --help` for examples, `rdp-doctor help COMMAND` for a command's.",
    after_long_help = AFTER_LONG_HELP,
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an mstsc / FreeRDP / ERRINFO / negotiation / event code.
    #[command(after_help = "\
Examples:
  rdp-doctor explain 0x904 0x7      mstsc's \"Error code\" and \"Extended error code\", read together
  rdp-doctor explain 2308           a decimal code
  rdp-doctor explain ERRINFO_SERVER_DENIED_CONNECTION
  rdp-doctor explain event 1058     a Windows event ID
  rdp-doctor explain --json 0x7     the same as JSON")]
    Explain(cmd::explain::Args),
    /// Find out where and why an RDP connection fails, and what to do.
    #[command(after_help = "\
Examples:
  rdp-doctor diagnose rdp.example.com
  rdp-doctor diagnose 192.0.2.10:3390
  rdp-doctor diagnose --json rdp.example.com")]
    Diagnose(cmd::diagnose::Args),
    /// Probe the RDP handshake phase by phase and print the raw layered report.
    #[command(after_help = "\
Examples:
  rdp-doctor probe rdp.example.com
  rdp-doctor probe --json 192.0.2.10:3389")]
    Probe(cmd::probe::Args),
    /// Check and fix the Windows host's Remote Desktop settings: offline from a rescued disk's hives, or live.
    #[command(after_help = "\
Examples:
  rdp-doctor host check --system /mnt/Windows/System32/config/SYSTEM
  rdp-doctor host fix --system SYSTEM --format reg > fix.reg
  rdp-doctor host fix --system SYSTEM --apply --backup-dir backup
  rdp-doctor host undo backup
  rdp-doctor host check --live          on the Windows host itself")]
    Host(cmd::host::Args),
    /// Check and fix the client side: its policies (TCP only, CredSSP), server list, Default.rdp, disconnect codes.
    #[command(after_help = "\
Examples:
  rdp-doctor client check --software SOFTWARE --ntuser NTUSER.DAT
  rdp-doctor client fix --software SOFTWARE --tcp-only --apply --backup-dir backup
  rdp-doctor client undo backup
  rdp-doctor client check --live        on the Windows client itself")]
    Client(cmd::client::Args),
    /// Read RDP failures from exported event logs (.evtx files or a Logs folder).
    #[command(after_help = "\
Examples:
  rdp-doctor logs Security.evtx
  rdp-doctor logs /mnt/Windows/System32/winevt/Logs
  rdp-doctor logs --json Security.evtx")]
    Logs(cmd::logs::Args),
    /// Lint, clean or create .rdp files.
    #[command(after_help = "\
Examples:
  rdp-doctor rdpfile lint Work.rdp
  rdp-doctor rdpfile clean Work.rdp -o Work-clean.rdp
  rdp-doctor rdpfile clean --in-place Work.rdp
  rdp-doctor rdpfile new --host rdp.example.com --user alice -o New.rdp")]
    Rdpfile(cmd::rdpfile::Args),
    /// Probe many hosts at once: bounded concurrency, a deadline per host, table/NDJSON/CSV/JSON.
    #[command(after_help = "\
Examples:
  rdp-doctor scan 192.0.2.10 192.0.2.11:3390
  rdp-doctor scan -f hosts.txt --format csv > scan.csv")]
    Scan(cmd::scan::Args),
    /// A monitoring plugin (Nagios / Icinga): one status line with performance data, exit 0/1/2/3.
    #[command(after_help = "\
Examples:
  rdp-doctor check rdp.example.com
  rdp-doctor check 192.0.2.10:3390 --warning-ms 200 --critical-ms 1000 --cert-warning-days 30

Exit codes (plugin API): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage or internal error).")]
    Check(cmd::check::Args),
    /// Serve probes to Prometheus (blackbox_exporter style): /probe?target=&module=, /metrics.
    #[command(after_help = "\
Examples:
  rdp-doctor serve --listen 127.0.0.1:9643 --config exporter.toml")]
    Serve(cmd::serve::Args),
    /// Print the shell completion script (bash, zsh, fish, powershell, elvish).
    #[command(after_help = "\
Examples:
  rdp-doctor completions bash > /etc/bash_completion.d/rdp-doctor
  rdp-doctor completions zsh > \"${fpath[1]}/_rdp-doctor\"
  rdp-doctor completions fish > ~/.config/fish/completions/rdp-doctor.fish")]
    Completions(cmd::completions::CompletionsArgs),
    /// Print the manual page (roff).
    #[command(after_help = "\
Examples:
  rdp-doctor man > rdp-doctor.1
  rdp-doctor man | man -l -")]
    Man(cmd::completions::ManArgs),
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
    quiet_on_closed_stdout();
    let cli = Cli::try_parse().unwrap_or_else(|e| cmd::check::exit_on_parse_error(e));
    let result = match cli.command {
        Command::Explain(args) => cmd::explain::run(&args),
        Command::Diagnose(args) => cmd::diagnose::run(&args),
        Command::Probe(args) => cmd::probe::run(&args),
        Command::Host(args) => cmd::host::run(&args),
        Command::Client(args) => cmd::client::run(&args),
        Command::Logs(args) => cmd::logs::run(&args),
        Command::Rdpfile(args) => cmd::rdpfile::run(&args),
        Command::Scan(args) => cmd::scan::run(&args),
        Command::Serve(args) => cmd::serve::run(&args),
        Command::Check(args) => return cmd::check::run(&args),
        Command::Completions(args) => cmd::completions::run_completions(&args),
        Command::Man(args) => cmd::completions::run_man(&args),
    };
    match result {
        Ok(Outcome::Healthy) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemFound) => ExitCode::from(1),
        // The reader went away (`| head`): what it wanted, it has.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
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

/// Whether an error comes from writing to a pipe whose reader has closed it.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = match (
            e.downcast_ref::<io::Error>(),
            e.downcast_ref::<serde_json::Error>(),
        ) {
            (Some(io), _) => Some(io.kind()),
            // serde_json's source() skips its io::Error; its kind is still kept.
            (None, Some(json)) => json.io_error_kind(),
            (None, None) => None,
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

/// `print!` panics when stdout's reader has gone; every command writes through a
/// handle and returns the error instead, and this catches any print that does
/// not: such a panic ends the process quietly with status 0.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every (sub)command, as `command path: argument`, that has no help text.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path}: {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            undocumented(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_and_argument_has_help_text() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        undocumented(&cmd, "rdp-doctor", &mut missing);
        assert!(
            missing.is_empty(),
            "without help text:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn the_long_help_lists_the_exit_codes_and_examples() {
        let help = Cli::command().render_long_help().to_string();
        for line in [
            "0  healthy",
            "1  problem found",
            "2  usage error",
            "3  could not complete",
        ] {
            assert!(help.contains(line), "{line:?} missing from --help:\n{help}");
        }
        assert!(help.contains("rdp-doctor explain 0x904 0x7"), "{help}");
    }

    #[test]
    fn every_subcommand_has_examples() {
        let mut cmd = Cli::command();
        cmd.build();
        for sub in cmd.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            if name == "help" {
                continue;
            }
            let help = sub.render_help().to_string();
            assert!(
                help.contains(&format!("Examples:\n  rdp-doctor {name} ")),
                "{name} --help has no examples:\n{help}"
            );
        }
    }
}
