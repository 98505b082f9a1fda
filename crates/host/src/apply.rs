//! Applying a plan to a rescued disk's hive files, and undoing it.
//!
//! The order is fixed and each step is safe to be interrupted after:
//!
//! 1. read the hive; a dirty one (pending .LOG1/.LOG2) is replayed in memory
//!    with the logs found beside it, or refused;
//! 2. edit a copy in memory ([`HiveEditor`]) and check the result in memory:
//!    the fixed checks pass and no other value changed;
//! 3. back up: a byte copy of every hive file to change and `manifest.json`
//!    (SHA-256 before and after, sizes, time, the actions), each synced;
//! 4. replace each file atomically: a temporary file in the same directory,
//!    synced, renamed over the hive, the directory synced;
//! 5. read the files back and check again; on any difference, restore the
//!    backup and fail.
//!
//! [`undo`] puts the backup copies back the same way, byte for byte.
//!
//! Test hook: when the environment variable `RDP_DOCTOR_STEP_HOOK` is set,
//! each step prints `rdp-doctor: step NAME` on stderr and waits for a line on
//! stdin before going on, so a test can kill the process at a known moment.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rdp_doctor_regf::{Data, Hive, HiveEditor, Key};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::{self, Existing};
use crate::fix::Plan;
use crate::registry::{resolve_control_set, Action, OfflineHives, Root};
use crate::{check_registry, Error, Report};
use rdp_doctor_model::Severity;

/// Version of `manifest.json` in a backup directory.
pub const BACKUP_SCHEMA: &str = "rdp-doctor.host-hive-backup/v1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The environment variable of the step hook.
pub const STEP_HOOK: &str = "RDP_DOCTOR_STEP_HOOK";

/// The test hook's pause before going on (see the module's documentation).
fn step(name: &str) {
    if std::env::var_os(STEP_HOOK).is_some() {
        eprintln!("rdp-doctor: step {name}");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub use crate::offline::{check_inputs, find_logs, map_file, HiveBytes, Input};

/// The edited bytes of one hive.
struct Edited {
    root: Root,
    bytes: Vec<u8>,
}

fn control_set_of(bytes: &[u8]) -> Result<String, Error> {
    let h = Hive::new(bytes).map_err(|e| Error(format!("SYSTEM hive: {e}")))?;
    let reg = OfflineHives::new(&h, None)?;
    Ok(reg.control_set().to_string())
}

fn edit(input: &Input, actions: &[&Action], control_set: &str) -> Result<Vec<u8>, Error> {
    let at = |e: rdp_doctor_regf::Error| Error(format!("editing {}: {e}", input.path.display()));
    let mut ed = HiveEditor::new(input.current().to_vec()).map_err(at)?;
    for a in actions {
        let key = resolve_control_set(input.root, a.key(), control_set);
        match a {
            Action::SetValue { name, data, .. } => ed.set_value(&key, name, data).map_err(at)?,
            Action::DeleteValue { name, .. } => {
                ed.delete_value(&key, name).map_err(at)?;
            }
            // Only registry actions reach the editor (see `apply`).
            _ => {}
        }
    }
    let out = ed.finish();
    Hive::new(&out).map_err(|e| {
        Error(format!(
            "the edited {} does not read back: {e}",
            input.path.display()
        ))
    })?;
    Ok(out)
}

type Tree = BTreeMap<(String, String), Data>;

/// Every key and value of a hive: (KEY PATH, VALUE NAME) uppercased, keys as (path, "\0key").
fn tree(bytes: &[u8]) -> Result<Tree, Error> {
    let h = Hive::new(bytes).map_err(|e| Error(format!("hive: {e}")))?;
    let mut out = Tree::new();
    let root = h.root().map_err(|e| Error(format!("hive: {e}")))?;
    walk(root, String::new(), 0, &mut out)?;
    Ok(out)
}

fn walk(k: Key<'_, '_>, path: String, depth: u32, out: &mut Tree) -> Result<(), Error> {
    if depth > 512 {
        return Err(Error(format!("keys nested more than 512 deep at {path}")));
    }
    out.insert((path.clone(), "\0key".into()), Data::None);
    for v in k
        .values()
        .map_err(|e| Error(format!("hive at {path}: {e}")))?
    {
        out.insert((path.clone(), v.name.to_uppercase()), v.data);
    }
    for s in k
        .subkeys()
        .map_err(|e| Error(format!("hive at {path}: {e}")))?
    {
        let p = if path.is_empty() {
            s.name().to_uppercase()
        } else {
            format!("{path}\\{}", s.name().to_uppercase())
        };
        walk(s, p, depth + 1, out)?;
    }
    Ok(())
}

/// Every value outside the actions' targets is unchanged, and each target holds what its action wrote.
fn verify_only_targets_changed(
    before: &[u8],
    after: &[u8],
    actions: &[&Action],
    control_set: &str,
) -> Result<(), String> {
    let (b, a) = match (tree(before), tree(after)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => return Err(e.0),
    };
    let targets: Vec<(String, String, bool)> = actions
        .iter()
        .map(|x| {
            (
                resolve_control_set(x.root().unwrap_or(Root::System), x.key(), control_set)
                    .to_uppercase(),
                x.name().to_uppercase(),
                matches!(x, Action::SetValue { .. }),
            )
        })
        .collect();
    let target = |k: &(String, String)| {
        targets.iter().any(|(key, name, set)| {
            (k.0 == *key && k.1 == *name)
                // Keys a SetValue creates along its path may appear.
                || (*set
                    && k.1 == "\0key"
                    && key.starts_with(k.0.as_str())
                    && (key.len() == k.0.len() || key.as_bytes().get(k.0.len()) == Some(&b'\\'))
                    && !b.contains_key(k))
        })
    };
    for (k, v) in &b {
        if a.get(k) != Some(v) && !target(k) {
            return Err(format!(
                "{}\\{} changed although no fix touches it",
                k.0, k.1
            ));
        }
    }
    for k in a.keys() {
        if !b.contains_key(k) && !target(k) {
            return Err(format!("{}\\{} appeared although no fix adds it", k.0, k.1));
        }
    }
    for (x, (key, name, _)) in actions.iter().zip(&targets) {
        let k = (key.clone(), name.clone());
        match x {
            Action::SetValue { data, .. } if a.get(&k) != Some(data) => {
                return Err(format!("{key}\\{} does not read back as written", x.name()))
            }
            Action::DeleteValue { .. } if a.contains_key(&k) => {
                return Err(format!("{key}\\{} is still there", x.name()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The fixed findings are gone (or only information); a downgrade workaround may leave a warning.
fn verify_checks(report: &Report, plan: &Plan) -> Result<(), String> {
    for s in &plan.steps {
        let target = &s.finding;
        for f in report.found(target.id) {
            let t = crate::fix::Target::of(f);
            let bad = f.severity == Severity::Error
                || (f.severity == Severity::Warning && !s.remedy.downgrade);
            if t.path == target.path && bad {
                return Err(format!(
                    "{} ({}) still reads {} after the fix: {}",
                    f.id,
                    t.path,
                    f.severity.label(),
                    f.title
                ));
            }
        }
    }
    Ok(())
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupFile {
    /// `SYSTEM` or `SOFTWARE`.
    pub root: String,
    /// The hive file changed (absolute).
    pub original_path: PathBuf,
    /// The byte copy, relative to the backup directory.
    pub backup_file: String,
    pub size_before: u64,
    pub size_after: u64,
    pub sha256_before: String,
    pub sha256_after: String,
    /// Transaction logs replayed into the new file (left untouched beside it).
    pub replayed_logs: Vec<PathBuf>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub tool_version: String,
    pub files: Vec<BackupFile>,
    /// The checks fixed.
    pub fixed: Vec<String>,
    /// The actions applied (as in `host fix --format json`).
    pub actions: serde_json::Value,
}

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub backup_dir: Option<PathBuf>,
    pub files: Vec<BackupFile>,
    pub report_after: Report,
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let msg = format!("{what} {}", path.display());
    move |e| Error(format!("{msg}: {e}"))
}

/// Replaces `path` with `bytes` atomically (see [`atomic::write`]).
pub fn replace_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    atomic::write_with(path, bytes, Existing::Replace, &step)
}

fn now_rfc3339() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::cert::rfc3339(t)
}

/// The default backup directory: `rdp-doctor-backup-YYYYMMDDTHHMMSSZ` (UTC)
/// in the current directory, with `-2`, `-3`, … when that name is taken.
pub fn default_backup_dir() -> PathBuf {
    backup_dir_name(&now_rfc3339(), |p| p.exists())
}

/// `rdp-doctor-backup-STAMP` from an RFC 3339 time, the first name `taken` says is free.
pub fn backup_dir_name(rfc3339: &str, taken: impl Fn(&Path) -> bool) -> PathBuf {
    let stamp: String = rfc3339
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let base = format!("rdp-doctor-backup-{stamp}");
    (1..)
        .map(|n| {
            PathBuf::from(if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            })
        })
        .find(|p| !taken(p))
        .unwrap_or_else(|| PathBuf::from(base.clone()))
}

/// Applies `plan` (made from `check_inputs` on these inputs) to the hive files.
pub fn apply(
    system: &Input,
    software: Option<&Input>,
    windows: Option<&Path>,
    plan: &Plan,
    backup_dir: &Path,
) -> Result<Applied, Error> {
    let inputs: Vec<&Input> = std::iter::once(system).chain(software).collect();
    let control_set = control_set_of(system.current())?;
    // 2. Edit in memory and check the result before touching anything.
    let mut edited: Vec<Edited> = Vec::new();
    for input in &inputs {
        let actions: Vec<&Action> = plan
            .actions
            .iter()
            .filter(|a| a.is_registry() && a.root() == Some(input.root))
            .collect();
        if actions.is_empty() {
            continue;
        }
        if let Some(why) = &input.refused {
            return Err(Error(format!("refusing to edit: {why}")));
        }
        let bytes = edit(input, &actions, &control_set)?;
        verify_only_targets_changed(input.current(), &bytes, &actions, &control_set).map_err(
            |e| {
                Error(format!(
                    "{}: the edit would change more than planned: {e}; nothing written",
                    input.path.display()
                ))
            },
        )?;
        edited.push(Edited {
            root: input.root,
            bytes,
        });
    }
    if edited.is_empty() {
        return Ok(Applied {
            backup_dir: None,
            files: Vec::new(),
            report_after: check_inputs(system, software, windows)?,
        });
    }
    let after_of = |root: Root| {
        edited
            .iter()
            .find(|e| e.root == root)
            .map(|e| e.bytes.as_slice())
    };
    {
        let sys_after = after_of(Root::System).unwrap_or(system.current());
        let sys = Hive::new(sys_after).map_err(|e| Error(format!("edited SYSTEM hive: {e}")))?;
        let sw_after = software.map(|s| after_of(Root::Software).unwrap_or(s.current()));
        let sw = match sw_after {
            Some(b) => Some(Hive::new(b).map_err(|e| Error(format!("edited SOFTWARE hive: {e}")))?),
            None => None,
        };
        let report = check_registry(&OfflineHives::new(&sys, sw.as_ref())?, windows)?;
        verify_checks(&report, plan).map_err(|e| {
            Error(format!(
                "the planned fix does not work: {e}; nothing written"
            ))
        })?;
    }

    // 3. Backup.
    if backup_dir.exists()
        && fs::read_dir(backup_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error(format!(
            "the backup directory {} exists and is not empty: give another --backup-dir",
            backup_dir.display()
        )));
    }
    fs::create_dir_all(backup_dir).map_err(io("cannot create the backup directory", backup_dir))?;
    let mut files = Vec::new();
    for e in &edited {
        let Some(input) = inputs.iter().find(|i| i.root == e.root) else {
            continue;
        };
        let backup_file = e.root.name().to_string();
        atomic::write(
            &backup_dir.join(&backup_file),
            &input.original,
            Existing::Refuse,
        )?;
        files.push(BackupFile {
            root: e.root.name().into(),
            original_path: fs::canonicalize(&input.path).unwrap_or_else(|_| input.path.clone()),
            backup_file,
            size_before: input.original.len() as u64,
            size_after: e.bytes.len() as u64,
            sha256_before: sha256_hex(&input.original),
            sha256_after: sha256_hex(&e.bytes),
            replayed_logs: input.logs.clone(),
        });
    }
    step("backup-copied");
    let manifest = Manifest {
        schema: BACKUP_SCHEMA.into(),
        created: now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        files: files.clone(),
        fixed: plan
            .steps
            .iter()
            .map(|s| s.finding.id.to_string())
            .collect(),
        actions: serde_json::to_value(&plan.actions)
            .map_err(|e| Error(format!("manifest: {e}")))?,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error(format!("manifest: {e}")))?;
    atomic::write(&backup_dir.join(MANIFEST), &text, Existing::Refuse)?;
    step("manifest-written");

    // 4. Replace, 5. read back.
    // Puts back the first `replaced` files (the others were never written).
    let restore_all = |why: String, replaced: usize| -> Error {
        let mut msg = format!("{why}; restoring the backup from {}", backup_dir.display());
        for f in files.iter().take(replaced) {
            let restored = fs::read(backup_dir.join(&f.backup_file))
                .map_err(|e| Error(e.to_string()))
                .and_then(|b| replace_atomically(&f.original_path, &b));
            if let Err(e) = restored {
                msg.push_str(&format!(
                    "; RESTORING {} FAILED: {e} (copy {} back by hand)",
                    f.original_path.display(),
                    backup_dir.join(&f.backup_file).display()
                ));
            }
        }
        Error(msg)
    };
    for (n, (e, f)) in edited.iter().zip(&files).enumerate() {
        if let Err(err) = replace_atomically(&f.original_path, &e.bytes) {
            if n == 0 {
                return Err(Error(format!(
                    "cannot write {}: {}; nothing changed (the backup in {} is not needed)",
                    f.original_path.display(),
                    err.0,
                    backup_dir.display()
                )));
            }
            return Err(restore_all(err.0, n));
        }
    }
    step("replaced");
    let reread = |root: Root| -> Result<Option<HiveBytes>, Error> {
        match files.iter().find(|f| f.root == root.name()) {
            Some(f) => {
                let b = map_file(&f.original_path)?;
                if sha256_hex(&b) != f.sha256_after {
                    return Err(Error(format!(
                        "{} does not read back as written (SHA-256 differs)",
                        f.original_path.display()
                    )));
                }
                Ok(Some(b))
            }
            None => Ok(None),
        }
    };
    let verified = (|| -> Result<Report, Error> {
        let sys_b = reread(Root::System)?;
        let sw_b = reread(Root::Software)?;
        let sys_bytes: &[u8] = sys_b.as_deref().unwrap_or(system.current());
        let sw_bytes: Option<&[u8]> = match (&sw_b, software) {
            (Some(b), _) => Some(b),
            (None, Some(s)) => Some(s.current()),
            (None, None) => None,
        };
        let sys = Hive::new(sys_bytes).map_err(|e| Error(format!("SYSTEM hive read back: {e}")))?;
        let sw = match sw_bytes {
            Some(b) => {
                Some(Hive::new(b).map_err(|e| Error(format!("SOFTWARE hive read back: {e}")))?)
            }
            None => None,
        };
        // The files read back byte for byte as the edits whose values were
        // compared in memory (SHA-256 above): the checks run on them again.
        let report = check_registry(&OfflineHives::new(&sys, sw.as_ref())?, windows)?;
        verify_checks(&report, plan).map_err(Error)?;
        Ok(report)
    })();
    match verified {
        Ok(report_after) => {
            step("verified");
            Ok(Applied {
                backup_dir: Some(backup_dir.to_path_buf()),
                files,
                report_after,
            })
        }
        Err(e) => Err(restore_all(
            format!("read-back verification failed: {e}"),
            files.len(),
        )),
    }
}

/// What `undo` did with one file.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub path: PathBuf,
    /// `restored`, or `already_original` when the file was already the backup's copy.
    pub outcome: &'static str,
    pub sha256: String,
}

/// Puts the backup copies of `backup_dir` back, byte for byte.
pub fn undo(backup_dir: &Path, force: bool) -> Result<Vec<Restored>, Error> {
    let mpath = backup_dir.join(MANIFEST);
    let text = fs::read(&mpath).map_err(io("cannot read", &mpath))?;
    let m: Manifest = serde_json::from_slice(&text)
        .map_err(|e| Error(format!("{} is not a backup manifest: {e}", mpath.display())))?;
    if m.schema != BACKUP_SCHEMA {
        return Err(Error(format!(
            "{}: schema {:?}, expected {BACKUP_SCHEMA:?}",
            mpath.display(),
            m.schema
        )));
    }
    // Check everything before changing anything.
    let mut todo = Vec::new();
    for f in &m.files {
        if f.backup_file.contains(['/', '\\']) || f.backup_file.starts_with('.') {
            return Err(Error(format!(
                "{}: backup file name {:?} is not a plain name",
                mpath.display(),
                f.backup_file
            )));
        }
        let copy_path = backup_dir.join(&f.backup_file);
        let copy = fs::read(&copy_path).map_err(io("cannot read", &copy_path))?;
        if sha256_hex(&copy) != f.sha256_before {
            return Err(Error(format!(
                "the backup copy {} is damaged: its SHA-256 is not the manifest's",
                copy_path.display()
            )));
        }
        let current = match fs::read(&f.original_path) {
            Ok(b) => Some(sha256_hex(&b)),
            Err(_) => None,
        };
        match current.as_deref() {
            Some(s) if s == f.sha256_before => {
                todo.push((f, copy, false));
            }
            Some(s) if s == f.sha256_after => todo.push((f, copy, true)),
            _ if force => todo.push((f, copy, true)),
            Some(_) => {
                return Err(Error(format!(
                    "{} changed since the fix (its SHA-256 is neither the one before nor the one after it): refusing to overwrite; give --force to restore anyway",
                    f.original_path.display()
                )))
            }
            None => {
                return Err(Error(format!(
                    "{} is missing: give --force to restore it from the backup",
                    f.original_path.display()
                )))
            }
        }
    }
    let mut out = Vec::new();
    for (f, copy, write) in todo {
        if write {
            replace_atomically(&f.original_path, &copy)?;
        }
        let back = fs::read(&f.original_path).map_err(io("cannot read back", &f.original_path))?;
        let sha = sha256_hex(&back);
        if sha != f.sha256_before {
            return Err(Error(format!(
                "{} does not read back as the backup (SHA-256 differs)",
                f.original_path.display()
            )));
        }
        out.push(Restored {
            path: f.original_path.clone(),
            outcome: if write {
                "restored"
            } else {
                "already_original"
            },
            sha256: sha,
        });
    }
    Ok(out)
}
