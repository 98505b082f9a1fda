//! A rescued disk's hives, read the one way every command reads them: each
//! file mapped, a dirty one replayed in memory with the .LOG1/.LOG2 beside it,
//! its role checked (SYSTEM, SOFTWARE), then every rule run.
//! `host check --system` and `diagnose --system` both call [`check_offline`].

use std::path::Path;

use rdp_doctor_model::{Evidence, Finding, FindingId, RegistryOrigin, Severity};
use rdp_doctor_regf::Hive;

use crate::apply::{self, Input};
use crate::registry::Root;
use crate::rules::Outcome;
use crate::{Error, Report};

/// Why offline hives could not be checked.
#[derive(Debug)]
pub enum OfflineError {
    /// The arguments are wrong: a hive of the wrong kind, a missing folder.
    Usage(String),
    /// Reading failed.
    Failed(Error),
}

impl std::fmt::Display for OfflineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OfflineError::Usage(m) => f.write_str(m),
            OfflineError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OfflineError {}

impl From<Error> for OfflineError {
    fn from(e: Error) -> Self {
        OfflineError::Failed(e)
    }
}

/// Why `bytes` is not a hive of `root`'s kind, if it is not.
pub fn wrong_role(root: Root, bytes: &[u8]) -> Option<String> {
    let hive = Hive::new(bytes).ok()?;
    let top = hive.root().ok()?;
    let has = |p: &str| top.path(p).ok().flatten().is_some();
    match root {
        Root::System => {
            let current = top.path("Select").ok().flatten().and_then(|k| k.value("Current").ok().flatten()).and_then(|d| d.as_u64());
            match current {
                None => Some("it has no Select\\Current (is it a SYSTEM hive?)".into()),
                Some(n) if !has(&format!("ControlSet{n:03}")) => Some(format!("Select\\Current names ControlSet{n:03}, which it does not have")),
                Some(_) => None,
            }
        }
        Root::Software if has("Select") => Some("it is a SYSTEM hive (it has Select)".into()),
        Root::Software if !has("Microsoft\\Windows NT") => Some("it has no Microsoft\\Windows NT key (is it a SOFTWARE hive?)".into()),
        Root::Software => None,
    }
}

/// Opens the hive files and checks their roles and the Windows volume.
pub fn open(system: &Path, software: Option<&Path>, windows: Option<&Path>) -> Result<(Input, Option<Input>), OfflineError> {
    if let Some(w) = windows.filter(|w| !w.is_dir()) {
        return Err(OfflineError::Usage(format!("--windows {}: not a folder (give the mounted Windows volume's root)", w.display())));
    }
    let open_as = |root: Root, path: &Path, flag: &str| -> Result<Input, OfflineError> {
        let input = Input::open(root, path)?;
        match wrong_role(root, input.current()) {
            Some(why) => Err(OfflineError::Usage(format!("{flag} {}: not a {} hive: {why}", path.display(), root.name()))),
            None => Ok(input),
        }
    };
    let sys = open_as(Root::System, system, "--system")?;
    let sw = software.map(|p| open_as(Root::Software, p, "--software")).transpose()?;
    Ok((sys, sw))
}

/// HOST000 as information: the hive was dirty and its logs were replayed in memory.
fn replayed(input: &Input) -> Finding {
    let logs: Vec<String> = input.logs.iter().map(|p| p.display().to_string()).collect();
    Finding::new(FindingId::HiveDirty, Severity::Info, format!(
        "the {} hive was not closed cleanly: the values include its transaction logs, replayed in memory (the files are unchanged)",
        input.root.name()
    ))
    .evidence(Evidence::Registry {
        path: format!("{} hive base block", input.root.name()),
        value: format!("dirty; replayed {}", logs.join(", ")),
        origin: RegistryOrigin::Hive { file: input.path.display().to_string() },
    })
}

/// Every rule on opened inputs, with HOST000 for each hive whose logs were replayed.
pub fn check_opened(system: &Input, software: Option<&Input>, windows: Option<&Path>) -> Result<Report, Error> {
    let mut report = apply::check_inputs(system, software, windows)?;
    let notes = std::iter::once(system).chain(software).filter(|i| i.replayed.is_some()).map(|i| Outcome::Found(replayed(i))).collect();
    report.extend(notes, "these hives");
    Ok(report)
}

/// The one entry point for a rescued disk's hives: opens them (dirty hives
/// replayed with their logs, in memory), checks their roles, runs every rule.
pub fn check_offline(system: &Path, software: Option<&Path>, windows: Option<&Path>) -> Result<Report, OfflineError> {
    let (sys, sw) = open(system, software, windows)?;
    Ok(check_opened(&sys, sw.as_ref(), windows)?)
}
