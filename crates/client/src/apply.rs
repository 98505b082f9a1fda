//! Applying a client plan to a SOFTWARE hive file, the way `host fix` applies
//! its plan: edit in memory and check, back up (byte copy + manifest), replace
//! atomically, read back; any difference restores the backup. The backup is
//! the host's hive backup format, so [`undo`] is the host's: the file is put
//! back byte for byte.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rdp_doctor_host::apply::{self as host_apply, BackupFile, Manifest, BACKUP_SCHEMA, MANIFEST};
use rdp_doctor_host::atomic::{self, Existing};
use rdp_doctor_host::offline::{map_file, Input};
use rdp_doctor_model::Root;
use rdp_doctor_regf::{Data, Hive, HiveEditor, Key};
use serde::Serialize;

use crate::plan::{Op, Plan};
use crate::Error;

/// What [`apply`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub backup_dir: PathBuf,
    pub file: BackupFile,
}

type Tree = BTreeMap<(String, String), Data>;

/// Every key and value: (KEY PATH, VALUE NAME) uppercased; keys as (path, "\0key").
fn tree(bytes: &[u8]) -> Result<Tree, Error> {
    let h = Hive::new(bytes).map_err(|e| Error(format!("hive: {e}")))?;
    let root = h.root().map_err(|e| Error(format!("hive: {e}")))?;
    let mut out = Tree::new();
    walk(root, String::new(), 0, &mut out)?;
    Ok(out)
}

fn walk(k: Key<'_, '_>, path: String, depth: u32, out: &mut Tree) -> Result<(), Error> {
    if depth > 512 {
        return Err(Error(format!("keys nested more than 512 deep at {path}")));
    }
    let at = |e: rdp_doctor_regf::Error| Error(format!("hive at {path}: {e}"));
    out.insert((path.clone(), "\0key".into()), Data::None);
    for v in k.values().map_err(at)? {
        out.insert((path.clone(), v.name.to_uppercase()), v.data);
    }
    for s in k.subkeys().map_err(at)? {
        let name = s.name().to_uppercase();
        let p = if path.is_empty() {
            name
        } else {
            format!("{path}\\{name}")
        };
        walk(s, p, depth + 1, out)?;
    }
    Ok(())
}

/// Only the plan's values changed (and the keys a set creates), each as planned.
fn verify(before: &[u8], after: &[u8], plan: &Plan) -> Result<(), Error> {
    let (b, a) = (tree(before)?, tree(after)?);
    let targets: Vec<(String, String, &Op)> = plan
        .changes
        .iter()
        .map(|c| (c.key.to_uppercase(), c.name.to_uppercase(), &c.op))
        .collect();
    let is_target = |k: &(String, String)| {
        targets.iter().any(|(key, name, op)| {
            (k.0 == *key && k.1 == *name)
                || (matches!(op, Op::Set { .. })
                    && k.1 == "\0key"
                    && (*key == k.0 || key.starts_with(&format!("{}\\", k.0)))
                    && !b.contains_key(k))
        })
    };
    for k in b.keys().chain(a.keys()) {
        if b.get(k) != a.get(k) && !is_target(k) {
            return Err(Error(format!(
                "{}\\{} would change although the plan does not touch it",
                k.0, k.1
            )));
        }
    }
    for (key, name, op) in &targets {
        let got = a.get(&(key.clone(), name.clone()));
        let ok = match op {
            Op::Set { data } => got == Some(data),
            Op::Remove => got.is_none(),
        };
        if !ok {
            return Err(Error(format!(
                "{key}\\{name} does not read back as planned"
            )));
        }
    }
    Ok(())
}

fn edit(input: &Input, plan: &Plan) -> Result<Vec<u8>, Error> {
    let at = |e: rdp_doctor_regf::Error| Error(format!("editing {}: {e}", input.path.display()));
    let mut ed = HiveEditor::new(input.current().to_vec()).map_err(at)?;
    for c in &plan.changes {
        match &c.op {
            Op::Set { data } => ed.set_value(&c.key, &c.name, data).map_err(at)?,
            Op::Remove => {
                ed.delete_value(&c.key, &c.name).map_err(at)?;
            }
        }
    }
    Ok(ed.finish())
}

fn now() -> String {
    rdp_doctor_host::cert::rfc3339(rdp_doctor_host::cert::now())
}

fn empty_or_absent(dir: &Path) -> bool {
    !dir.exists() || fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Applies `plan` to the SOFTWARE hive at `software`, with its backup in `backup_dir`.
pub fn apply(software: &Path, plan: &Plan, backup_dir: &Path) -> Result<Applied, Error> {
    if plan.is_empty() {
        return Err(Error("nothing to apply: the plan is empty".into()));
    }
    let input = Input::open(Root::Software, software)?;
    if let Some(why) = &input.refused {
        return Err(Error(format!("refusing to edit: {why}")));
    }
    let after = edit(&input, plan)?;
    verify(input.current(), &after, plan)
        .map_err(|e| Error(format!("{}: {e}; nothing written", software.display())))?;
    if !empty_or_absent(backup_dir) {
        return Err(Error(format!(
            "the backup directory {} exists and is not empty: give another --backup-dir",
            backup_dir.display()
        )));
    }
    fs::create_dir_all(backup_dir)
        .map_err(|e| Error(format!("cannot create {}: {e}", backup_dir.display())))?;
    let file = BackupFile {
        root: Root::Software.name().into(),
        original_path: fs::canonicalize(software).unwrap_or_else(|_| software.to_path_buf()),
        backup_file: Root::Software.name().into(),
        size_before: input.original.len() as u64,
        size_after: after.len() as u64,
        sha256_before: host_apply::sha256_hex(&input.original),
        sha256_after: host_apply::sha256_hex(&after),
        replayed_logs: input.logs.clone(),
    };
    atomic::write(
        &backup_dir.join(&file.backup_file),
        &input.original,
        Existing::Refuse,
    )?;
    let manifest = Manifest {
        schema: BACKUP_SCHEMA.into(),
        created: now(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        files: vec![file.clone()],
        fixed: plan.changes.iter().map(|c| c.finding.to_string()).collect(),
        actions: serde_json::to_value(
            plan.changes
                .iter()
                .map(|c| c.registry_action())
                .collect::<Vec<_>>(),
        )
        .map_err(|e| Error(format!("manifest: {e}")))?,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| Error(format!("manifest: {e}")))?;
    atomic::write(&backup_dir.join(MANIFEST), &text, Existing::Refuse)?;
    host_apply::replace_atomically(&file.original_path, &after)?;
    let read_back = map_file(&file.original_path)
        .map_err(Error::from)
        .and_then(|b| {
            if host_apply::sha256_hex(&b) != file.sha256_after {
                return Err(Error(
                    "the file does not read back as written (SHA-256 differs)".into(),
                ));
            }
            verify(input.current(), &b, plan)
        });
    if let Err(e) = read_back {
        let restored = host_apply::replace_atomically(&file.original_path, &input.original);
        return Err(Error(match restored {
            Ok(()) => format!("{e}; the backup was put back ({})", backup_dir.display()),
            Err(r) => format!(
                "{e}; PUTTING THE BACKUP BACK FAILED: {r} (copy {} over {} by hand)",
                backup_dir.join(&file.backup_file).display(),
                file.original_path.display()
            ),
        }));
    }
    Ok(Applied {
        backup_dir: backup_dir.to_path_buf(),
        file,
    })
}

/// The kind of backup in `dir`: its manifest's schema.
pub fn backup_schema(dir: &Path) -> Result<String, Error> {
    let path = dir.join(MANIFEST);
    let text =
        fs::read(&path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| Error(format!("{} is not a backup manifest: {e}", path.display())))?;
    v.get("schema")
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .ok_or_else(|| Error(format!("{} has no schema", path.display())))
}

/// Puts a hive backup's files back byte for byte (the host's undo).
pub fn undo(dir: &Path, force: bool) -> Result<Vec<host_apply::Restored>, Error> {
    Ok(host_apply::undo(dir, force)?)
}
