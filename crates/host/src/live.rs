//! The live registry and services of the Windows host this runs on, and the
//! live applier.
//!
//! [`LiveRegistry`] reads `HKLM\SYSTEM` and `HKLM\SOFTWARE` through the Win32
//! registry API, where `CurrentControlSet` is a real key, so the rules read the
//! live host exactly as they read a rescued disk's hives. [`services`] asks the
//! Service Control Manager what it has loaded (run state and start type).
//!
//! [`apply`] changes values with a backup written first (every touched value's
//! type and bytes, or its absence, in `manifest.json`), then reads every value
//! back and rolls everything back on a mismatch; [`undo`] restores a backup's
//! before-state exactly, deleting values (and keys) that did not exist.
//!
//! The applier is written over [`RawRegistry`], so its logic is tested on every
//! platform; only the Win32 calls are Windows-only. Elsewhere
//! [`LiveRegistry::open`] and [`services`] fail with [`NOT_WINDOWS`].

use std::path::{Path, PathBuf};

use rdp_doctor_model::{Evidence, Finding, FindingId, Remedy, Severity};
use rdp_doctor_regf::Data;
use serde::{Deserialize, Serialize};

use crate::fix::Plan;
use crate::registry::{Action, Registry, Root};
use crate::report::Passed;
use crate::rules::Outcome;
use crate::{Error, Report};

/// What the live commands say on a build for another system.
pub const NOT_WINDOWS: &str = "host check --live reads the Windows registry: run it on the Windows host, or give --system HIVE";

/// Whether this build can read the live registry.
pub const AVAILABLE: bool = cfg!(windows);

/// Version of a live backup's `manifest.json` (a hive backup's is
/// [`crate::apply::BACKUP_SCHEMA`]; both share the same envelope).
pub const BACKUP_SCHEMA: &str = "rdp-doctor.host-live-backup/v1";

pub use crate::apply::MANIFEST;

/// The services whose state [`services`] reports.
pub const SERVICES: [&str; 3] = ["TermService", "UmRdpService", "SessionEnv"];

// ---------------------------------------------------------------------------
// Values as the registry stores them.

/// A value as the registry stores it: its type number and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue {
    pub kind: u32,
    pub bytes: Vec<u8>,
}

impl RawValue {
    /// The bytes Windows stores for `data` (strings UTF-16LE with their terminator).
    pub fn from_data(data: &Data) -> Self {
        let (kind, bytes) = data.to_raw();
        RawValue { kind, bytes }
    }

    /// The typed value, decoded as the hive reader decodes it.
    pub fn to_data(&self) -> Data {
        Data::from_raw(self.kind, self.bytes.clone())
    }
}

/// Raw read and write access to `HKLM\SYSTEM` and `HKLM\SOFTWARE`: what the
/// applier needs. Paths are as in [`crate::Registry`].
pub trait RawRegistry {
    /// The value's type and bytes; `None` when the key or the value is absent.
    fn get(&self, root: Root, key: &str, name: &str) -> Result<Option<RawValue>, Error>;
    /// Whether the key exists.
    fn key_exists(&self, root: Root, key: &str) -> Result<bool, Error>;
    /// Creates or overwrites the value, creating the key and its parents as needed.
    fn set(&mut self, root: Root, key: &str, name: &str, value: &RawValue) -> Result<(), Error>;
    /// Deletes the value; nothing happens when it (or its key) is absent.
    fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error>;
    /// Deletes the key when it has neither values nor subkeys; `false` when it
    /// was kept (not empty) or absent.
    fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error>;
}

// ---------------------------------------------------------------------------
// The backup manifest.

/// A value as stored in a backup: type number, type name (for people) and hex bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredValue {
    #[serde(rename = "type")]
    pub kind: u32,
    pub type_name: String,
    /// The bytes, as lowercase hex.
    pub hex: String,
    /// The value as `host check` shows it (for people; `hex` is what is restored).
    pub shown: String,
}

impl StoredValue {
    fn new(raw: &RawValue) -> Self {
        let data = raw.to_data();
        StoredValue {
            kind: raw.kind,
            type_name: data.type_name(),
            hex: raw.bytes.iter().map(|b| format!("{b:02x}")).collect(),
            shown: data.to_string(),
        }
    }

    fn raw(&self) -> Result<RawValue, Error> {
        let pairs = self.hex.as_bytes().chunks_exact(2);
        if !pairs.remainder().is_empty() {
            return Err(Error(format!("backup: odd-length hex {:?}", self.hex)));
        }
        let digit = |c: u8| (c as char).to_digit(16);
        let bytes = pairs
            .map(|p| match (digit(p[0]), digit(p[1])) {
                (Some(a), Some(b)) => Ok((a * 16 + b) as u8),
                _ => Err(Error(format!("backup: not hex: {:?}", self.hex))),
            })
            .collect::<Result<Vec<u8>, Error>>()?;
        Ok(RawValue {
            kind: self.kind,
            bytes,
        })
    }
}

/// One value a fix touches: where, and its state before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `SYSTEM` or `SOFTWARE`.
    pub root: String,
    pub key: String,
    pub name: String,
    /// The value before the fix; `null` when it did not exist.
    pub before: Option<StoredValue>,
    /// The value the fix writes; `null` when the fix deletes it.
    pub after: Option<StoredValue>,
}

fn parse_root(name: &str) -> Result<Root, Error> {
    match name.to_ascii_uppercase().as_str() {
        "SYSTEM" => Ok(Root::System),
        "SOFTWARE" => Ok(Root::Software),
        other => Err(Error(format!(
            "backup: unknown root {other:?} (SYSTEM or SOFTWARE)"
        ))),
    }
}

impl Entry {
    fn root(&self) -> Result<Root, Error> {
        parse_root(&self.root)
    }

    /// `HKLM\ROOT\key\name`.
    pub fn path(&self) -> String {
        format!("HKLM\\{}\\{}\\{}", self.root, self.key, self.name)
    }
}

/// A key the fix created (and `undo` deletes again when it is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedKey {
    pub root: String,
    pub key: String,
}

/// `manifest.json` of a live backup: the envelope of a hive backup's
/// ([`crate::apply::Manifest`]), with the values instead of file copies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`BACKUP_SCHEMA`].
    pub schema: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub tool_version: String,
    /// The checks fixed.
    pub fixed: Vec<String>,
    /// The actions applied (as in `host fix --format json`).
    pub actions: serde_json::Value,
    /// Every value the actions touch, before and after.
    pub values: Vec<Entry>,
    /// Keys that did not exist, deepest first.
    pub created_keys: Vec<CreatedKey>,
}

/// The manifest of the backup in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, Error> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error(format!("{} is not a backup manifest: {e}", path.display())))?;
    if m.schema == crate::apply::BACKUP_SCHEMA {
        return Err(Error(format!(
            "{} is a backup of hive files, not of the live registry",
            path.display()
        )));
    }
    if m.schema != BACKUP_SCHEMA {
        return Err(Error(format!(
            "{}: schema {:?}, this version reads {BACKUP_SCHEMA}",
            path.display(),
            m.schema
        )));
    }
    Ok(m)
}

/// Writes `manifest.json` into `dir` (created; it must not hold a manifest
/// already): temp file, fsync, rename, so a manifest is complete or absent.
fn write_manifest(dir: &Path, m: &Manifest) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(MANIFEST);
    if path.exists() {
        return Err(Error(format!(
            "{} already holds a backup: give another directory",
            dir.display()
        )));
    }
    let mut json = serde_json::to_vec_pretty(m).map_err(|e| Error(format!("backup: {e}")))?;
    json.push(b'\n');
    crate::atomic::write(&path, &json, crate::atomic::Existing::Refuse)?;
    Ok(path)
}

// ---------------------------------------------------------------------------
// The applier.

/// One value as a fix or an undo changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `HKLM\ROOT\key\name`.
    pub path: String,
    /// The value before, as shown by `host check` ("absent" when it did not exist).
    pub before: String,
    /// The value after (read back).
    pub after: String,
    /// `applied`; for undo `restored`, `already_original`, or `changed_since`
    /// (neither what the fix wrote nor the before-state: overwritten with `--force`).
    pub outcome: &'static str,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    pub backup: PathBuf,
    pub changes: Vec<Change>,
}

fn show(v: &Option<RawValue>) -> String {
    v.as_ref()
        .map(|v| v.to_data().to_string())
        .unwrap_or_else(|| "absent".into())
}

fn same_value(a: &Entry, root: Root, key: &str, name: &str) -> bool {
    a.root == root.name() && a.key.eq_ignore_ascii_case(key) && a.name.eq_ignore_ascii_case(name)
}

/// The parents of `key` (and `key` itself) that do not exist, deepest first.
fn missing_keys(reg: &dyn RawRegistry, root: Root, key: &str) -> Result<Vec<String>, Error> {
    let parts: Vec<&str> = key.split('\\').filter(|p| !p.is_empty()).collect();
    let mut missing = Vec::new();
    for n in (1..=parts.len()).rev() {
        let k = parts[..n].join("\\");
        if reg.key_exists(root, &k)? {
            break;
        }
        missing.push(k);
    }
    Ok(missing)
}

/// The backup of `plan`: every value's current state and the state the
/// actions leave it in (a value touched twice keeps its first before-state).
pub fn backup(reg: &dyn RawRegistry, plan: &Plan) -> Result<Manifest, Error> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut created_keys: Vec<CreatedKey> = Vec::new();
    for a in &plan.actions {
        let (root, key, name, after) = match a {
            Action::SetValue {
                root,
                key,
                name,
                data,
            } => (
                *root,
                key,
                name,
                Some(StoredValue::new(&RawValue::from_data(data))),
            ),
            Action::DeleteValue { root, key, name } => (*root, key, name, None),
            // Only registry actions are applied; the plan holds no other.
            _ => continue,
        };
        if let Some(e) = entries.iter_mut().find(|e| same_value(e, root, key, name)) {
            e.after = after;
            continue;
        }
        if after.is_some() {
            for k in missing_keys(reg, root, key)? {
                if !created_keys
                    .iter()
                    .any(|c| c.root == root.name() && c.key.eq_ignore_ascii_case(&k))
                {
                    created_keys.push(CreatedKey {
                        root: root.name().into(),
                        key: k,
                    });
                }
            }
        }
        let before = reg.get(root, key, name)?;
        entries.push(Entry {
            root: root.name().into(),
            key: key.clone(),
            name: name.clone(),
            before: before.as_ref().map(StoredValue::new),
            after,
        });
    }
    // Deepest first, whichever action created them.
    created_keys.sort_by_key(|c| std::cmp::Reverse(c.key.matches('\\').count()));
    Ok(Manifest {
        schema: BACKUP_SCHEMA.into(),
        created: crate::cert::rfc3339(crate::cert::now()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        fixed: plan
            .steps
            .iter()
            .map(|s| s.finding.id.to_string())
            .collect(),
        actions: serde_json::to_value(&plan.actions)
            .map_err(|e| Error(format!("manifest: {e}")))?,
        values: entries,
        created_keys,
    })
}

/// Writes `want` (or deletes the value when `None`) and reads it back.
fn put(
    reg: &mut dyn RawRegistry,
    e: &Entry,
    want: Option<&StoredValue>,
) -> Result<Option<RawValue>, Error> {
    let root = e.root()?;
    let want = want.map(StoredValue::raw).transpose()?;
    match &want {
        Some(v) => reg.set(root, &e.key, &e.name, v)?,
        None => reg.delete(root, &e.key, &e.name)?,
    }
    let got = reg.get(root, &e.key, &e.name)?;
    if got != want {
        return Err(Error(format!(
            "{}: wrote {} but read back {}",
            e.path(),
            show(&want),
            show(&got)
        )));
    }
    Ok(got)
}

/// Where a value stands against its backup.
fn state_of(reg: &dyn RawRegistry, e: &Entry) -> Result<(Option<RawValue>, &'static str), Error> {
    let now = reg.get(e.root()?, &e.key, &e.name)?;
    let before = e.before.as_ref().map(StoredValue::raw).transpose()?;
    let after = e.after.as_ref().map(StoredValue::raw).transpose()?;
    let outcome = if now == before {
        "already_original"
    } else if now == after {
        "restored"
    } else {
        "changed_since"
    };
    Ok((now, outcome))
}

/// Puts every entry back to its before-state and removes the keys the fix
/// created. Every value is attempted; the errors are joined.
fn restore(reg: &mut dyn RawRegistry, m: &Manifest) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for e in &m.values {
        let result = state_of(reg, e).and_then(|(now, outcome)| {
            let got = put(reg, e, e.before.as_ref())?;
            Ok(Change {
                path: e.path(),
                before: show(&now),
                after: show(&got),
                outcome,
            })
        });
        match result {
            Ok(c) => changes.push(c),
            Err(err) => errors.push(err.0),
        }
    }
    for c in &m.created_keys {
        if let Err(err) = parse_root(&c.root).and_then(|root| reg.delete_key_if_empty(root, &c.key))
        {
            errors.push(err.0);
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(Error(errors.join("; ")))
    }
}

/// Applies the plan's actions to the registry: backup into `backup_dir`
/// first, then every change, each read back. On any error or mismatch every
/// value is put back to its before-state and the error says so.
pub fn apply(reg: &mut dyn RawRegistry, plan: &Plan, backup_dir: &Path) -> Result<Applied, Error> {
    if plan.actions.is_empty() {
        return Err(Error("nothing to apply: the plan is empty".into()));
    }
    let m = backup(reg, plan)?;
    write_manifest(backup_dir, &m)?;
    let mut changes = Vec::new();
    let mut failure = None;
    for e in &m.values {
        let result = e
            .before
            .as_ref()
            .map(StoredValue::raw)
            .transpose()
            .and_then(|before| Ok((before, put(reg, e, e.after.as_ref())?)));
        match result {
            Ok((before, got)) => changes.push(Change {
                path: e.path(),
                before: show(&before),
                after: show(&got),
                outcome: "applied",
            }),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    match failure {
        None => Ok(Applied {
            backup: backup_dir.to_path_buf(),
            changes,
        }),
        Some(err) => match restore(reg, &m) {
            Ok(_) => Err(Error(format!(
                "{err}; every value was put back as it was (backup in {})",
                backup_dir.display()
            ))),
            Err(again) => Err(Error(format!(
                "{err}; putting the values back failed too: {again}; the before-state is in {}",
                backup_dir.display()
            ))),
        },
    }
}

/// Restores the before-state recorded in `backup_dir`: values set back to their
/// type and bytes, values that were absent deleted, created keys deleted when
/// empty; every value read back. A value changed since the fix (neither the
/// backup's before nor its after) is only overwritten with `force`: without
/// it nothing is changed and the error names it.
pub fn undo(
    reg: &mut dyn RawRegistry,
    backup_dir: &Path,
    force: bool,
) -> Result<Vec<Change>, Error> {
    let m = read_manifest(backup_dir)?;
    if !force {
        let mut changed = Vec::new();
        for e in &m.values {
            let (now, outcome) = state_of(reg, e)?;
            if outcome == "changed_since" {
                changed.push(format!("{} is now {}", e.path(), show(&now)));
            }
        }
        if !changed.is_empty() {
            return Err(Error(format!(
                "changed since the fix, so nothing was restored (--force restores anyway): {}",
                changed.join("; ")
            )));
        }
    }
    restore(reg, &m)
}

// ---------------------------------------------------------------------------
// Services.

/// A service as the Service Control Manager reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    /// `running`, `stopped`, `start pending`, …; `None` when it could not be asked.
    pub state: Option<String>,
    /// `boot`, `system`, `auto`, `demand`, `disabled`, as the SCM has it loaded.
    pub start_type: Option<String>,
    /// The SCM's start type as the registry's `Start` number.
    pub start: Option<u32>,
    /// Why the SCM did not answer for this service ("not installed", …).
    pub error: Option<String>,
}

/// The name of a `SERVICE_STATUS.dwCurrentState`.
pub fn state_name(state: u32) -> String {
    match state {
        1 => "stopped".into(),
        2 => "start pending".into(),
        3 => "stop pending".into(),
        4 => "running".into(),
        5 => "continue pending".into(),
        6 => "pause pending".into(),
        7 => "paused".into(),
        n => format!("state {n}"),
    }
}

/// The name of a start type (the registry's `Start`).
pub fn start_name(start: u32) -> String {
    match start {
        0 => "boot".into(),
        1 => "system".into(),
        2 => "auto".into(),
        3 => "demand".into(),
        4 => "disabled".into(),
        n => format!("start type {n}"),
    }
}

/// HOST018: what the Service Control Manager says, beside the registry's `Start`
/// (`registry_start`: the value read for each service, when any).
pub fn service_checks(
    services: &[Service],
    registry_start: &dyn Fn(&str) -> Option<u32>,
) -> Vec<Outcome> {
    services
        .iter()
        .flat_map(|s| service_outcomes(s, registry_start(&s.name)))
        .collect()
}

fn service_outcomes(s: &Service, registry_start: Option<u32>) -> Vec<Outcome> {
    let essential = s.name.eq_ignore_ascii_case("TermService");
    let path = format!("Service Control Manager: {}", s.name);
    let value = match (&s.state, &s.start_type, &s.error) {
        (Some(st), Some(t), _) => format!("{st}, start type {t}"),
        (Some(st), None, _) => st.clone(),
        (_, _, Some(e)) => e.clone(),
        _ => "no answer".into(),
    };
    let seen = Evidence::File {
        path: path.clone(),
        detail: value.clone(),
    };
    let finding = |severity, title: String| {
        Finding::new(FindingId::ServiceState, severity, title).evidence(seen.clone())
    };
    if let Some(e) = &s.error {
        let sev = if essential {
            Severity::Warning
        } else {
            Severity::Info
        };
        return vec![Outcome::Found(
            finding(
                sev,
                format!(
                    "the Service Control Manager does not report {}: {e}",
                    s.name
                ),
            )
            .no_cause(),
        )];
    }
    let mut out = Vec::new();
    if let (Some(scm), Some(reg)) = (s.start, registry_start) {
        if scm != reg {
            out.push(Outcome::Found(finding(Severity::Info, format!(
                "{} has start type {} loaded, the registry says {} (Start={reg}): the registry's value applies from the next boot",
                s.name, start_name(scm), start_name(reg)
            )).no_cause()));
        }
    }
    match s.state.as_deref() {
        Some("running") => out.push(Outcome::Passed(Passed { id: FindingId::ServiceState, path, value, message: format!("{} is running", s.name) })),
        Some(st) if essential => out.push(Outcome::Found(
            finding(Severity::Warning, format!("{} is {st}: nothing accepts Remote Desktop connections until it runs", s.name)).remedy(
                Remedy::new(format!("Start {}", s.name), "Once its Start value is not 4 (disabled); a registry value does not start a service.")
                    .action(Action::run(rdp_doctor_model::Machine::Host, format!("Start-Service {}", s.name))),
            ),
        )),
        Some(st) => out.push(Outcome::Found(finding(Severity::Info, format!("{} is {st}", s.name)).no_cause())),
        None => {}
    }
    out
}

// ---------------------------------------------------------------------------
// `host check --live`.

/// Every rule on the live registry (the Windows volume is `%SystemDrive%\`,
/// for MachineKeys), then what the Service Control Manager says (HOST018).
pub fn check(reg: &LiveRegistry) -> Result<Report, Error> {
    let windows = std::env::var_os("SystemDrive").map(|d| {
        let mut root = PathBuf::from(d);
        root.push("\\");
        root
    });
    let mut report = crate::check_registry(reg, windows.as_deref())?;
    let extra = match services(&SERVICES) {
        Ok(list) => {
            let start = |name: &str| {
                reg.value(
                    Root::System,
                    &format!("CurrentControlSet\\Services\\{name}"),
                    "Start",
                )
                .ok()
                .flatten()
                .and_then(|d| d.as_u64())
                .and_then(|n| u32::try_from(n).ok())
            };
            service_checks(&list, &start)
        }
        Err(e) => vec![Outcome::Found(
            Finding::new(
                FindingId::ServiceState,
                Severity::Warning,
                format!("service states unknown: {e}"),
            )
            .no_cause()
            .evidence(Evidence::File {
                path: "Service Control Manager".into(),
                detail: "no answer".into(),
            }),
        )],
    };
    report.extend(extra, "this host");
    Ok(report)
}

mod system;
pub use system::{services, LiveRegistry};

#[cfg(test)]
mod tests;
