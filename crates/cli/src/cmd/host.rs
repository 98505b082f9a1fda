//! `rdp-doctor host check`: the Windows host's configuration from its hives.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rdp_doctor_host::Status;
use rdp_doctor_regf::Hive;

use crate::style::Style;
use crate::Outcome;

/// The Windows host, read offline from a rescued disk's registry hives.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Report every Remote Desktop setting that can stop a connection, with its registry path.
    Check {
        /// The SYSTEM hive (Windows\System32\config\SYSTEM).
        #[arg(long)]
        system: PathBuf,
        /// The SOFTWARE hive (Group Policy copies, certificate store, MachineGuid).
        #[arg(long)]
        software: Option<PathBuf>,
        /// The mounted Windows volume's root (to check the RDP key file in MachineKeys).
        #[arg(long)]
        windows: Option<PathBuf>,
        /// Print JSON (schema rdp-doctor.host-check/v1).
        #[arg(long)]
        json: bool,
    },
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(args: &Args) -> Result<Outcome> {
    let Action::Check {
        system,
        software,
        windows,
        json,
    } = &args.action;
    let sys_bytes = read(system)?;
    let sys = Hive::new(&sys_bytes)
        .with_context(|| format!("{} is not a readable hive", system.display()))?;
    let sw_bytes = software.as_ref().map(read).transpose()?;
    let sw = match (&sw_bytes, software) {
        (Some(b), Some(p)) => {
            Some(Hive::new(b).with_context(|| format!("{} is not a readable hive", p.display()))?)
        }
        _ => None,
    };
    let report = rdp_doctor_host::check(&sys, sw.as_ref(), windows.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if *json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let st = Style::for_stdout();
        writeln!(out, "{}", st.bold(&report.verdict))?;
        writeln!(
            out,
            "  CurrentControlSet = {}{}",
            report.current_control_set,
            if report.system_dirty {
                " (hive dirty: see HOST000)"
            } else {
                ""
            }
        )?;
        for c in &report.checks {
            let mark = match c.status {
                Status::Fail => st.bold("FAIL"),
                Status::Warn => st.bold("warn"),
                Status::Ok => "ok  ".to_string(),
                Status::Info => st.dim("info"),
            };
            writeln!(out, "  {mark} [{}] {}", c.id, c.message)?;
            writeln!(out, "         {} = {}", c.path, c.value)?;
            if let Some(f) = c
                .fix
                .as_ref()
                .filter(|_| matches!(c.status, Status::Fail | Status::Warn))
            {
                writeln!(out, "         fix: {f}")?;
            }
        }
    }
    Ok(if report.failures() > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}
