//! A rescued disk's hives, read the one way every command reads them: each
//! file mapped, a dirty one replayed in memory with the .LOG1/.LOG2 beside it,
//! its role checked (SYSTEM, SOFTWARE), then every rule run.
//! `host check --system` and `diagnose --system` both call [`check_offline`].

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rdp_doctor_model::{Evidence, Finding, FindingId, RegistryOrigin, Severity};
use rdp_doctor_regf::Hive;

use crate::registry::{OfflineHives, Root};
use crate::rules::Outcome;
use crate::{check_registry, Error, Report};

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
            let current = top
                .path("Select")
                .ok()
                .flatten()
                .and_then(|k| k.value("Current").ok().flatten())
                .and_then(|d| d.as_u64());
            match current {
                None => Some("it has no Select\\Current (is it a SYSTEM hive?)".into()),
                Some(n) if !has(&format!("ControlSet{n:03}")) => Some(format!(
                    "Select\\Current names ControlSet{n:03}, which it does not have"
                )),
                Some(_) => None,
            }
        }
        Root::Software if has("Select") => Some("it is a SYSTEM hive (it has Select)".into()),
        Root::Software if !has("Microsoft\\Windows NT") => {
            Some("it has no Microsoft\\Windows NT key (is it a SOFTWARE hive?)".into())
        }
        Root::Software => None,
    }
}

/// Opens the hive files and checks their roles and the Windows volume.
pub fn open(
    system: &Path,
    software: Option<&Path>,
    windows: Option<&Path>,
) -> Result<(Input, Option<Input>), OfflineError> {
    if let Some(w) = windows.filter(|w| !w.is_dir()) {
        return Err(OfflineError::Usage(format!(
            "--windows {}: not a folder (give the mounted Windows volume's root)",
            w.display()
        )));
    }
    let open_as = |root: Root, path: &Path, flag: &str| -> Result<Input, OfflineError> {
        let input = Input::open(root, path)?;
        match wrong_role(root, input.current()) {
            Some(why) => Err(OfflineError::Usage(format!(
                "{flag} {}: not a {} hive: {why}",
                path.display(),
                root.name()
            ))),
            None => Ok(input),
        }
    };
    let sys = open_as(Root::System, system, "--system")?;
    let sw = software
        .map(|p| open_as(Root::Software, p, "--software"))
        .transpose()?;
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
pub fn check_opened(
    system: &Input,
    software: Option<&Input>,
    windows: Option<&Path>,
) -> Result<Report, Error> {
    let mut report = check_inputs(system, software, windows)?;
    let notes = std::iter::once(system)
        .chain(software)
        .filter(|i| i.replayed.is_some())
        .map(|i| Outcome::Found(replayed(i)))
        .collect();
    report.extend(notes, "these hives");
    Ok(report)
}

/// The one entry point for a rescued disk's hives: opens them (dirty hives
/// replayed with their logs, in memory), checks their roles, runs every rule.
pub fn check_offline(
    system: &Path,
    software: Option<&Path>,
    windows: Option<&Path>,
) -> Result<Report, OfflineError> {
    let (sys, sw) = open(system, software, windows)?;
    Ok(check_opened(&sys, sw.as_ref(), windows)?)
}

/// A hive file's bytes: memory-mapped (read-only) when possible.
pub enum HiveBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for HiveBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            HiveBytes::Mapped(m) => m,
            HiveBytes::Owned(v) => v,
        }
    }
}

/// Maps a hive file read-only (the file must not change while mapped: this
/// program replaces hives by rename, never in place).
pub fn map_file(path: &Path) -> Result<HiveBytes, Error> {
    let f = File::open(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let len = f
        .metadata()
        .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?
        .len();
    if len == 0 {
        return Ok(HiveBytes::Owned(Vec::new()));
    }
    // SAFETY: the mapping is read-only and this program never writes a hive in
    // place; another program truncating the file meanwhile is outside what a
    // rescued disk's hive sees.
    match unsafe { memmap2::Mmap::map(&f) } {
        Ok(m) => {
            // The checks read a few keys spread over the file: no read-ahead
            // or fault-around, so only the pages read become resident.
            #[cfg(unix)]
            let _ = m.advise(memmap2::Advice::Random);
            Ok(HiveBytes::Mapped(m))
        }
        Err(_) => fs::read(path)
            .map(HiveBytes::Owned)
            .map_err(|e| Error(format!("cannot read {}: {e}", path.display()))),
    }
}

/// The transaction logs beside a hive: `NAME.LOG1`, `NAME.LOG2`, or `NAME.LOG` (any case).
pub fn find_logs(hive: &Path) -> Vec<PathBuf> {
    let Some(name) = hive.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = hive
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    for e in entries.flatten() {
        let f = e.file_name();
        let Some(f) = f.to_str() else { continue };
        for (rank, ext) in [".LOG1", ".LOG2", ".LOG"].iter().enumerate() {
            if f.len() == name.len() + ext.len()
                && f[..name.len()].eq_ignore_ascii_case(name)
                && f[name.len()..].eq_ignore_ascii_case(ext)
            {
                found.push((rank, e.path()));
            }
        }
    }
    found.sort();
    // .LOG only when neither .LOG1 nor .LOG2 is there.
    if found.iter().any(|(r, _)| *r < 2) {
        found.retain(|(r, _)| *r < 2);
    }
    found.into_iter().map(|(_, p)| p).collect()
}

fn is_dirty(bytes: &[u8]) -> bool {
    Hive::new(bytes).is_ok_and(|h| h.base.is_dirty() || !h.base.checksum_ok())
}

/// One hive file as `host fix` reads it.
pub struct Input {
    pub root: Root,
    pub path: PathBuf,
    /// The file as it is on disk.
    pub original: HiveBytes,
    /// The hive the checks read: the file, or the file with its logs replayed.
    pub replayed: Option<Vec<u8>>,
    /// The logs replayed.
    pub logs: Vec<PathBuf>,
    /// Why this file cannot be edited (a dirty hive whose logs cannot bring it up to date).
    pub refused: Option<String>,
}

impl Input {
    /// Reads a hive file and replays its logs in memory when it is dirty.
    pub fn open(root: Root, path: &Path) -> Result<Input, Error> {
        let original = map_file(path)?;
        Hive::new(&original)
            .map_err(|e| Error(format!("{} is not a readable hive: {e}", path.display())))?;
        let mut input = Input {
            root,
            path: path.to_path_buf(),
            original,
            replayed: None,
            logs: Vec::new(),
            refused: None,
        };
        if is_dirty(&input.original) {
            let logs = find_logs(path);
            if logs.is_empty() {
                input.refused = Some(format!(
                    "{} is dirty (not closed cleanly) and no {name}.LOG1/.LOG2 is beside it: its last changes are missing. \
                     Copy the logs next to it (Windows\\System32\\config), or boot the disk once, then run again",
                    path.display(),
                    name = path.file_name().and_then(|n| n.to_str()).unwrap_or("HIVE")
                ));
                return Ok(input);
            }
            let bytes: Vec<Vec<u8>> = logs
                .iter()
                .map(|p| {
                    fs::read(p).map_err(|e| Error(format!("cannot read {}: {e}", p.display())))
                })
                .collect::<Result<_, _>>()?;
            let slices: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
            match rdp_doctor_regf::log::replay(&input.original, &slices) {
                Ok(r) => {
                    input.logs = r
                        .log_used
                        .iter()
                        .filter_map(|&i| logs.get(i))
                        .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
                        .collect();
                    input.replayed = Some(r.bytes);
                }
                Err(e) => {
                    input.refused = Some(format!(
                        "{} is dirty and its logs ({}) cannot be replayed: {e}",
                        path.display(),
                        logs.iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        Ok(input)
    }

    /// The bytes the checks read.
    pub fn current(&self) -> &[u8] {
        self.replayed.as_deref().unwrap_or(&self.original)
    }
}

/// Runs the checks on the (replayed) inputs.
pub fn check_inputs(
    system: &Input,
    software: Option<&Input>,
    windows: Option<&Path>,
) -> Result<Report, Error> {
    let sys = Hive::new(system.current())
        .map_err(|e| Error(format!("{}: {e}", system.path.display())))?;
    let sw = match software {
        Some(s) => {
            Some(Hive::new(s.current()).map_err(|e| Error(format!("{}: {e}", s.path.display())))?)
        }
        None => None,
    };
    let reg = OfflineHives::new(&sys, sw.as_ref())?.with_files(
        system.path.display().to_string(),
        software.map(|s| s.path.display().to_string()),
    );
    check_registry(&reg, windows)
}
