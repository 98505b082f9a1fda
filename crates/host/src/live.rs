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

use rdp_doctor_codes::CauseId;
use rdp_doctor_regf::Data;
use serde::{Deserialize, Serialize};

use crate::fix::Plan;
use crate::registry::{Action, Registry, Root};
use crate::{Check, Error, Fix, Report, Status};

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
    use std::io::Write;
    let io =
        |what: &str, p: &Path, e: std::io::Error| Error(format!("{what} {}: {e}", p.display()));
    std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let path = dir.join(MANIFEST);
    if path.exists() {
        return Err(Error(format!(
            "{} already holds a backup: give another directory",
            dir.display()
        )));
    }
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let json = serde_json::to_vec_pretty(m).map_err(|e| Error(format!("backup: {e}")))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
    f.write_all(&json)
        .and_then(|_| f.write_all(b"\n"))
        .and_then(|_| f.sync_all())
        .map_err(|e| io("cannot write", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &path).map_err(|e| io("cannot rename to", &path, e))?;
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(Manifest {
        schema: BACKUP_SCHEMA.into(),
        created: crate::cert::rfc3339(now),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        fixed: plan.steps.iter().map(|s| s.check.id.to_string()).collect(),
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
) -> Vec<Check> {
    let mut checks = Vec::new();
    for s in services {
        let essential = s.name.eq_ignore_ascii_case("TermService");
        let path = format!("Service Control Manager: {}", s.name);
        let value = match (&s.state, &s.start_type, &s.error) {
            (Some(st), Some(t), _) => format!("{st}, start type {t}"),
            (Some(st), None, _) => st.clone(),
            (_, _, Some(e)) => e.clone(),
            _ => "no answer".into(),
        };
        let check = |status, message: String, cause, fix| Check {
            id: "HOST018",
            status,
            path: path.clone(),
            value: value.clone(),
            message,
            cause,
            fix,
            fixes: Vec::new(),
        };
        if let Some(e) = &s.error {
            checks.push(check(
                if essential {
                    Status::Warn
                } else {
                    Status::Info
                },
                format!(
                    "the Service Control Manager does not report {}: {e}",
                    s.name
                ),
                None,
                None,
            ));
            continue;
        }
        let reg = registry_start(&s.name);
        if let (Some(scm), Some(reg)) = (s.start, reg) {
            if scm != reg {
                checks.push(check(
                    Status::Info,
                    format!(
                        "{} has start type {} loaded, the registry says {} (Start={reg}): the registry's value applies from the next boot",
                        s.name,
                        start_name(scm),
                        start_name(reg)
                    ),
                    None,
                    None,
                ));
            }
        }
        match s.state.as_deref() {
            Some("running") => checks.push(check(
                Status::Ok,
                format!("{} is running", s.name),
                None,
                None,
            )),
            Some(st) if essential => {
                let mut c = check(
                    Status::Warn,
                    format!(
                        "{} is {st}: nothing accepts Remote Desktop connections until it runs",
                        s.name
                    ),
                    Some(CauseId::ServiceOrListenerDown),
                    Some(format!("Start-Service {}", s.name)),
                );
                c.fixes.push(Fix::new(
                    format!("Start {}", s.name),
                    format!("Start-Service {} once its Start value is not 4 (disabled); a registry value does not start a service", s.name),
                ));
                checks.push(c);
            }
            Some(st) => checks.push(check(
                Status::Info,
                format!("{} is {st}", s.name),
                None,
                None,
            )),
            None => {}
        }
    }
    checks
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
        Err(e) => vec![Check {
            id: "HOST018",
            status: Status::Warn,
            path: "Service Control Manager".into(),
            value: "no answer".into(),
            message: format!("service states unknown: {e}"),
            cause: None,
            fix: None,
            fixes: Vec::new(),
        }],
    };
    report.checks.extend(extra);
    // Stable: the rules' order is kept within each status.
    report.checks.sort_by_key(|c| c.status);
    if report.failures() == 0 {
        report.verdict = format!(
            "no setting on this host stops Remote Desktop ({} warning(s))",
            report.warnings()
        );
    }
    Ok(report)
}

// ---------------------------------------------------------------------------
// The Win32 side.

#[cfg(windows)]
pub use win::{services, LiveRegistry};

#[cfg(windows)]
mod win {
    use std::ptr::{null, null_mut};

    use rdp_doctor_regf::Data;
    use windows_sys::Win32::Foundation::{
        GetLastError, ERROR_FILE_NOT_FOUND, ERROR_INSUFFICIENT_BUFFER, ERROR_MORE_DATA,
        ERROR_NO_MORE_ITEMS, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SUCCESS, WIN32_ERROR,
    };
    use windows_sys::Win32::System::Registry::{
        RegCloseKey, RegCreateKeyExW, RegDeleteKeyExW, RegDeleteValueW, RegEnumKeyExW,
        RegEnumValueW, RegOpenKeyExW, RegQueryInfoKeyW, RegQueryValueExW, RegSetValueExW, HKEY,
        HKEY_LOCAL_MACHINE, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE, KEY_SET_VALUE,
        KEY_WOW64_64KEY, REG_OPTION_NON_VOLATILE, REG_SAM_FLAGS,
    };
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceConfigW, QueryServiceStatus,
        QUERY_SERVICE_CONFIGW, SC_HANDLE, SC_MANAGER_CONNECT, SERVICE_QUERY_CONFIG,
        SERVICE_QUERY_STATUS, SERVICE_STATUS,
    };

    use super::{RawRegistry, RawValue, Service};
    use crate::registry::{Registry, Root};
    use crate::Error;

    /// Key names are at most 255 characters, value names 16383.
    const MAX_KEY_NAME: usize = 256;
    const MAX_VALUE_NAME: usize = 16384;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// `what`: the system's message for `code`, and what to do about the usual ones.
    fn win_error(what: String, code: WIN32_ERROR) -> Error {
        let text = std::io::Error::from_raw_os_error(code as i32);
        let hint = match code {
            5 => ": run rdp-doctor from an elevated (Administrator) prompt",
            _ => "",
        };
        Error(format!("{what}: {text}{hint}"))
    }

    fn full(root: Root, path: &str) -> String {
        let path = path.trim_matches('\\');
        if path.is_empty() {
            root.name().to_string()
        } else {
            format!("{}\\{path}", root.name())
        }
    }

    /// An open registry key, closed on drop.
    struct Key(HKEY);

    impl Drop for Key {
        fn drop(&mut self) {
            // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
            unsafe { RegCloseKey(self.0) };
        }
    }

    fn open(root: Root, path: &str, access: REG_SAM_FLAGS) -> Result<Option<Key>, Error> {
        let name = full(root, path);
        let w = wide(&name);
        let mut h: HKEY = null_mut();
        // SAFETY: `w` is NUL-terminated and outlives the call; `h` is written on success.
        let rc = unsafe {
            RegOpenKeyExW(
                HKEY_LOCAL_MACHINE,
                w.as_ptr(),
                0,
                access | KEY_WOW64_64KEY,
                &mut h,
            )
        };
        match rc {
            ERROR_SUCCESS => Ok(Some(Key(h))),
            ERROR_FILE_NOT_FOUND => Ok(None),
            e => Err(win_error(format!("cannot open HKLM\\{name}"), e)),
        }
    }

    fn create(root: Root, path: &str) -> Result<Key, Error> {
        let name = full(root, path);
        let w = wide(&name);
        let mut h: HKEY = null_mut();
        // SAFETY: `w` is NUL-terminated; class, security attributes and disposition may be null.
        let rc = unsafe {
            RegCreateKeyExW(
                HKEY_LOCAL_MACHINE,
                w.as_ptr(),
                0,
                null(),
                REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE | KEY_QUERY_VALUE | KEY_WOW64_64KEY,
                null(),
                &mut h,
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => Ok(Key(h)),
            e => Err(win_error(format!("cannot create HKLM\\{name}"), e)),
        }
    }

    /// Counts of subkeys and values, and the longest value's size in bytes.
    fn info(k: &Key, at: &str) -> Result<(u32, u32, u32), Error> {
        let (mut subkeys, mut values, mut max_data) = (0u32, 0u32, 0u32);
        // SAFETY: every pointer is either null (not asked) or a live u32.
        let rc = unsafe {
            RegQueryInfoKeyW(
                k.0,
                null_mut(),
                null_mut(),
                null(),
                &mut subkeys,
                null_mut(),
                null_mut(),
                &mut values,
                null_mut(),
                &mut max_data,
                null_mut(),
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => Ok((subkeys, values, max_data)),
            e => Err(win_error(format!("cannot query HKLM\\{at}"), e)),
        }
    }

    fn query(k: &Key, at: &str, name: &str) -> Result<Option<RawValue>, Error> {
        let w = wide(name);
        let mut size = 0u32;
        let mut kind = 0u32;
        // The value can grow between the size query and the read: retry a few times.
        for _ in 0..4 {
            // SAFETY: a null data pointer asks for the size only.
            let rc = unsafe {
                RegQueryValueExW(k.0, w.as_ptr(), null(), &mut kind, null_mut(), &mut size)
            };
            match rc {
                ERROR_SUCCESS => {}
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(win_error(format!("cannot read HKLM\\{at}\\{name}"), e)),
            }
            let mut buf = vec![0u8; size as usize];
            let mut len = size;
            // SAFETY: `buf` has `len` writable bytes.
            let rc = unsafe {
                RegQueryValueExW(
                    k.0,
                    w.as_ptr(),
                    null(),
                    &mut kind,
                    buf.as_mut_ptr(),
                    &mut len,
                )
            };
            match rc {
                ERROR_SUCCESS => {
                    buf.truncate(len as usize);
                    return Ok(Some(RawValue { kind, bytes: buf }));
                }
                ERROR_MORE_DATA => continue,
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(win_error(format!("cannot read HKLM\\{at}\\{name}"), e)),
            }
        }
        Err(Error(format!(
            "cannot read HKLM\\{at}\\{name}: it keeps changing size"
        )))
    }

    /// The live registry of this host (`HKLM\SYSTEM`, `HKLM\SOFTWARE`).
    #[derive(Debug)]
    pub struct LiveRegistry {
        software: bool,
    }

    impl LiveRegistry {
        /// Opens the live registry: `HKLM\SYSTEM` must be readable.
        pub fn open() -> Result<Self, Error> {
            if open(Root::System, "", KEY_QUERY_VALUE)?.is_none() {
                return Err(Error("HKLM\\SYSTEM does not exist".into()));
            }
            let software = open(Root::Software, "", KEY_QUERY_VALUE)?.is_some();
            Ok(LiveRegistry { software })
        }

        /// The raw value (type and bytes).
        pub fn raw_value(
            &self,
            root: Root,
            path: &str,
            name: &str,
        ) -> Result<Option<RawValue>, Error> {
            match open(root, path, KEY_QUERY_VALUE)? {
                Some(k) => query(&k, &full(root, path), name),
                None => Ok(None),
            }
        }
    }

    impl Registry for LiveRegistry {
        fn value(&self, root: Root, path: &str, name: &str) -> Result<Option<Data>, Error> {
            Ok(self.raw_value(root, path, name)?.map(|v| v.to_data()))
        }

        fn subkeys(&self, root: Root, path: &str) -> Result<Vec<String>, Error> {
            let Some(k) = open(root, path, KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE)? else {
                return Ok(Vec::new());
            };
            let at = full(root, path);
            let mut names = Vec::new();
            let mut buf = vec![0u16; MAX_KEY_NAME];
            for index in 0u32.. {
                let mut len = buf.len() as u32;
                // SAFETY: `buf` holds `len` u16s; the class and time outputs are not asked.
                let rc = unsafe {
                    RegEnumKeyExW(
                        k.0,
                        index,
                        buf.as_mut_ptr(),
                        &mut len,
                        null(),
                        null_mut(),
                        null_mut(),
                        null_mut(),
                    )
                };
                match rc {
                    ERROR_SUCCESS => names.push(String::from_utf16_lossy(&buf[..len as usize])),
                    ERROR_NO_MORE_ITEMS => break,
                    e => {
                        return Err(win_error(
                            format!("cannot list the subkeys of HKLM\\{at}"),
                            e,
                        ))
                    }
                }
            }
            Ok(names)
        }

        fn values(&self, root: Root, path: &str) -> Result<Vec<(String, Data)>, Error> {
            let Some(k) = open(root, path, KEY_QUERY_VALUE)? else {
                return Ok(Vec::new());
            };
            let at = full(root, path);
            let (_, _, max_data) = info(&k, &at)?;
            let mut name = vec![0u16; MAX_VALUE_NAME];
            let mut data = vec![0u8; max_data as usize + 16];
            let mut out = Vec::new();
            let mut index = 0u32;
            loop {
                let mut name_len = name.len() as u32;
                let mut data_len = data.len() as u32;
                let mut kind = 0u32;
                // SAFETY: `name` holds `name_len` u16s and `data` `data_len` bytes.
                let rc = unsafe {
                    RegEnumValueW(
                        k.0,
                        index,
                        name.as_mut_ptr(),
                        &mut name_len,
                        null(),
                        &mut kind,
                        data.as_mut_ptr(),
                        &mut data_len,
                    )
                };
                match rc {
                    ERROR_SUCCESS => {
                        let raw = RawValue {
                            kind,
                            bytes: data[..data_len as usize].to_vec(),
                        };
                        out.push((
                            String::from_utf16_lossy(&name[..name_len as usize]),
                            raw.to_data(),
                        ));
                        index += 1;
                    }
                    // A value grew since RegQueryInfoKeyW: `data_len` is its size now.
                    ERROR_MORE_DATA if data_len as usize > data.len() => {
                        data.resize(data_len as usize, 0);
                    }
                    ERROR_NO_MORE_ITEMS => break,
                    e => {
                        return Err(win_error(
                            format!("cannot list the values of HKLM\\{at}"),
                            e,
                        ))
                    }
                }
            }
            Ok(out)
        }

        fn key_exists(&self, root: Root, path: &str) -> Result<bool, Error> {
            Ok(open(root, path, KEY_QUERY_VALUE)?.is_some())
        }

        fn has_root(&self, root: Root) -> bool {
            match root {
                Root::System => true,
                Root::Software => self.software,
            }
        }
    }

    impl RawRegistry for LiveRegistry {
        fn get(&self, root: Root, key: &str, name: &str) -> Result<Option<RawValue>, Error> {
            self.raw_value(root, key, name)
        }

        fn key_exists(&self, root: Root, key: &str) -> Result<bool, Error> {
            Registry::key_exists(self, root, key)
        }

        fn set(
            &mut self,
            root: Root,
            key: &str,
            name: &str,
            value: &RawValue,
        ) -> Result<(), Error> {
            let k = create(root, key)?;
            let w = wide(name);
            let len = u32::try_from(value.bytes.len()).map_err(|_| {
                Error(format!(
                    "HKLM\\{}\\{name}: value too large",
                    full(root, key)
                ))
            })?;
            // SAFETY: `value.bytes` holds `len` bytes.
            let rc = unsafe {
                RegSetValueExW(k.0, w.as_ptr(), 0, value.kind, value.bytes.as_ptr(), len)
            };
            match rc {
                ERROR_SUCCESS => Ok(()),
                e => Err(win_error(
                    format!("cannot write HKLM\\{}\\{name}", full(root, key)),
                    e,
                )),
            }
        }

        fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error> {
            let Some(k) = open(root, key, KEY_SET_VALUE)? else {
                return Ok(());
            };
            let w = wide(name);
            // SAFETY: `w` is NUL-terminated.
            match unsafe { RegDeleteValueW(k.0, w.as_ptr()) } {
                ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
                e => Err(win_error(
                    format!("cannot delete HKLM\\{}\\{name}", full(root, key)),
                    e,
                )),
            }
        }

        fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error> {
            let at = full(root, key);
            let Some(k) = open(root, key, KEY_QUERY_VALUE)? else {
                return Ok(false);
            };
            let (subkeys, values, _) = info(&k, &at)?;
            drop(k);
            if subkeys > 0 || values > 0 {
                return Ok(false);
            }
            let w = wide(&at);
            // SAFETY: `w` is NUL-terminated.
            match unsafe { RegDeleteKeyExW(HKEY_LOCAL_MACHINE, w.as_ptr(), KEY_WOW64_64KEY, 0) } {
                ERROR_SUCCESS => Ok(true),
                ERROR_FILE_NOT_FOUND => Ok(false),
                e => Err(win_error(format!("cannot delete HKLM\\{at}"), e)),
            }
        }
    }

    /// A Service Control Manager handle, closed on drop.
    struct Handle(SC_HANDLE);

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle came from OpenSCManagerW/OpenServiceW and is closed once.
            unsafe { CloseServiceHandle(self.0) };
        }
    }

    fn last_error() -> WIN32_ERROR {
        // SAFETY: no preconditions.
        unsafe { GetLastError() }
    }

    fn service(scm: &Handle, name: &str) -> Service {
        let mut s = Service {
            name: name.to_string(),
            state: None,
            start_type: None,
            start: None,
            error: None,
        };
        let w = wide(name);
        // SAFETY: `w` is NUL-terminated; a null handle means failure.
        let h = unsafe {
            OpenServiceW(
                scm.0,
                w.as_ptr(),
                SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG,
            )
        };
        if h.is_null() {
            let e = last_error();
            s.error = Some(if e == ERROR_SERVICE_DOES_NOT_EXIST {
                "not installed".into()
            } else {
                win_error("cannot open the service".into(), e).0
            });
            return s;
        }
        let h = Handle(h);
        let mut status = SERVICE_STATUS::default();
        // SAFETY: `status` is a live SERVICE_STATUS.
        if unsafe { QueryServiceStatus(h.0, &mut status) } != 0 {
            s.state = Some(super::state_name(status.dwCurrentState));
        } else {
            s.error = Some(win_error("cannot query its status".into(), last_error()).0);
        }
        let mut needed = 0u32;
        // SAFETY: a null buffer of size 0 asks for the size.
        let ok = unsafe { QueryServiceConfigW(h.0, null_mut(), 0, &mut needed) };
        let e = last_error();
        if ok == 0 && e != ERROR_INSUFFICIENT_BUFFER {
            s.error = Some(win_error("cannot query its configuration".into(), e).0);
            return s;
        }
        // u64 words: the buffer must be aligned for QUERY_SERVICE_CONFIGW.
        let words = (needed as usize)
            .div_ceil(8)
            .max(std::mem::size_of::<QUERY_SERVICE_CONFIGW>().div_ceil(8));
        let mut buf = vec![0u64; words];
        let size = (words * 8) as u32;
        let cfg = buf.as_mut_ptr().cast::<QUERY_SERVICE_CONFIGW>();
        // SAFETY: `buf` is aligned and holds `size` bytes, at least one QUERY_SERVICE_CONFIGW.
        if unsafe { QueryServiceConfigW(h.0, cfg, size, &mut needed) } != 0 {
            // SAFETY: the call filled the structure at the start of `buf`.
            let start = unsafe { (*cfg).dwStartType };
            s.start = Some(start);
            s.start_type = Some(super::start_name(start));
        } else {
            s.error = Some(win_error("cannot query its configuration".into(), last_error()).0);
        }
        s
    }

    /// The state of each of `names` as the Service Control Manager has it.
    pub fn services(names: &[&str]) -> Result<Vec<Service>, Error> {
        // SAFETY: null machine and database mean this host's active database.
        let scm = unsafe { OpenSCManagerW(null(), null(), SC_MANAGER_CONNECT) };
        if scm.is_null() {
            return Err(win_error(
                "cannot connect to the Service Control Manager".into(),
                last_error(),
            ));
        }
        let scm = Handle(scm);
        Ok(names.iter().map(|n| service(&scm, n)).collect())
    }
}

#[cfg(not(windows))]
pub use other::{services, LiveRegistry};

#[cfg(not(windows))]
mod other {
    use rdp_doctor_regf::Data;

    use super::{RawRegistry, RawValue, Service, NOT_WINDOWS};
    use crate::registry::{Registry, Root};
    use crate::Error;

    /// The live registry, which only a Windows build can read: on this build
    /// [`LiveRegistry::open`] fails with [`NOT_WINDOWS`] and no value exists.
    #[derive(Debug)]
    pub struct LiveRegistry {
        never: std::convert::Infallible,
    }

    impl LiveRegistry {
        /// Fails: this build is not for Windows.
        pub fn open() -> Result<Self, Error> {
            Err(Error(NOT_WINDOWS.into()))
        }

        pub fn raw_value(&self, _: Root, _: &str, _: &str) -> Result<Option<RawValue>, Error> {
            match self.never {}
        }
    }

    impl Registry for LiveRegistry {
        fn value(&self, _: Root, _: &str, _: &str) -> Result<Option<Data>, Error> {
            match self.never {}
        }
        fn subkeys(&self, _: Root, _: &str) -> Result<Vec<String>, Error> {
            match self.never {}
        }
        fn values(&self, _: Root, _: &str) -> Result<Vec<(String, Data)>, Error> {
            match self.never {}
        }
        fn key_exists(&self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
        fn has_root(&self, _: Root) -> bool {
            match self.never {}
        }
    }

    impl RawRegistry for LiveRegistry {
        fn get(&self, _: Root, _: &str, _: &str) -> Result<Option<RawValue>, Error> {
            match self.never {}
        }
        fn key_exists(&self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
        fn set(&mut self, _: Root, _: &str, _: &str, _: &RawValue) -> Result<(), Error> {
            match self.never {}
        }
        fn delete(&mut self, _: Root, _: &str, _: &str) -> Result<(), Error> {
            match self.never {}
        }
        fn delete_key_if_empty(&mut self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
    }

    /// Fails: this build is not for Windows.
    pub fn services(_: &[&str]) -> Result<Vec<Service>, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A registry in memory: keys (lowercase path -> values by lowercase name).
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    struct Memory {
        keys: BTreeMap<(Root, String), BTreeMap<String, (String, RawValue)>>,
        /// A value whose writes store something else (a registry filter, a policy).
        corrupt: Option<RawValue>,
        /// Values whose writes fail.
        refuse: Option<String>,
    }

    impl Memory {
        fn with(values: &[(Root, &str, &str, Data)]) -> Self {
            let mut m = Memory::default();
            for (root, key, name, data) in values {
                m.set(*root, key, name, &RawValue::from_data(data)).unwrap();
            }
            m
        }
    }

    impl RawRegistry for Memory {
        fn get(&self, root: Root, key: &str, name: &str) -> Result<Option<RawValue>, Error> {
            Ok(self
                .keys
                .get(&(root, key.to_lowercase()))
                .and_then(|k| k.get(&name.to_lowercase()))
                .map(|(_, v)| v.clone()))
        }
        fn key_exists(&self, root: Root, key: &str) -> Result<bool, Error> {
            Ok(self.keys.contains_key(&(root, key.to_lowercase())))
        }
        fn set(
            &mut self,
            root: Root,
            key: &str,
            name: &str,
            value: &RawValue,
        ) -> Result<(), Error> {
            if self.refuse.as_deref() == Some(name) {
                return Err(Error(format!("cannot write {name}: Access is denied")));
            }
            let parts: Vec<&str> = key.split('\\').collect();
            for n in 1..parts.len() {
                self.keys
                    .entry((root, parts[..n].join("\\").to_lowercase()))
                    .or_default();
            }
            let mut value = value.clone();
            if self.corrupt.as_ref() == Some(&value) {
                value.bytes.push(0xEE);
            }
            self.keys
                .entry((root, key.to_lowercase()))
                .or_default()
                .insert(name.to_lowercase(), (name.to_string(), value));
            Ok(())
        }
        fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error> {
            if let Some(k) = self.keys.get_mut(&(root, key.to_lowercase())) {
                k.remove(&name.to_lowercase());
            }
            Ok(())
        }
        fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error> {
            let lower = key.to_lowercase();
            let prefix = format!("{lower}\\");
            let has_sub = self
                .keys
                .keys()
                .any(|(r, k)| *r == root && k.starts_with(&prefix));
            match self.keys.get(&(root, lower.clone())) {
                Some(v) if v.is_empty() && !has_sub => {
                    self.keys.remove(&(root, lower));
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
    }

    const TS: &str = "CurrentControlSet\\Control\\Terminal Server";
    const TERM: &str = "CurrentControlSet\\Services\\TermService";
    const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";

    fn broken_host() -> Memory {
        Memory::with(&[
            (Root::System, TS, "fDenyTSConnections", Data::Dword(1)),
            (Root::System, TERM, "Start", Data::Dword(4)),
            (
                Root::System,
                TERM,
                "ImagePath",
                Data::ExpandString("%SystemRoot%\\System32\\svchost.exe".into()),
            ),
            (
                Root::Software,
                "Policies\\Microsoft",
                "Keep",
                Data::String("x".into()),
            ),
        ])
    }

    fn fix() -> Vec<Action> {
        vec![
            Action::SetValue {
                root: Root::System,
                key: TS.into(),
                name: "fDenyTSConnections".into(),
                data: Data::Dword(0),
            },
            Action::SetValue {
                root: Root::System,
                key: TERM.into(),
                name: "Start".into(),
                data: Data::Dword(3),
            },
            // An absent value in a key that does not exist yet.
            Action::SetValue {
                root: Root::Software,
                key: POLICY.into(),
                name: "fDenyTSConnections".into(),
                data: Data::Dword(0),
            },
            Action::DeleteValue {
                root: Root::System,
                key: TERM.into(),
                name: "ImagePath".into(),
            },
        ]
    }

    fn plan(actions: &[Action]) -> Plan {
        Plan {
            steps: Vec::new(),
            held: Vec::new(),
            actions: actions.to_vec(),
        }
    }

    fn dir() -> tempdir::Dir {
        tempdir::Dir::new()
    }

    /// A directory removed on drop (no extra dependency).
    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "rdp-doctor-live-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                let _ = std::fs::remove_dir_all(&p);
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn raw_values_round_trip_and_match_windows_bytes() {
        for d in [
            Data::None,
            Data::String("Remote Desktop".into()),
            Data::ExpandString("%SystemRoot%".into()),
            Data::Binary(vec![0x92, 0x8B, 0xFD]),
            Data::Dword(0xD3D),
            Data::DwordBigEndian(7),
            Data::MultiString(vec!["a".into(), "bc".into()]),
            Data::Qword(1 << 40),
            Data::Other(0x1234, vec![1, 2]),
        ] {
            assert_eq!(RawValue::from_data(&d).to_data(), d);
        }
        let s = RawValue::from_data(&Data::String("ab".into()));
        assert_eq!((s.kind, s.bytes), (1, vec![b'a', 0, b'b', 0, 0, 0]));
        let m = RawValue::from_data(&Data::MultiString(vec!["a".into()]));
        assert_eq!((m.kind, m.bytes), (7, vec![b'a', 0, 0, 0, 0, 0]));
        assert_eq!(RawValue::from_data(&Data::Dword(4)).bytes, vec![4, 0, 0, 0]);
        // A short DWORD is kept raw rather than invented.
        let short = RawValue {
            kind: 4,
            bytes: vec![1],
        };
        assert_eq!(short.to_data(), Data::Other(4, vec![1]));
    }

    #[test]
    fn apply_backs_up_writes_verifies_and_undo_restores_exactly() {
        let original = broken_host();
        let mut reg = original.clone();
        let d = dir();
        let applied = apply(&mut reg, &plan(&fix()), &d.0).unwrap();
        assert_eq!(applied.changes.len(), 4);
        assert_eq!(
            reg.get(Root::System, TS, "fDenyTSConnections").unwrap(),
            Some(RawValue::from_data(&Data::Dword(0)))
        );
        assert_eq!(reg.get(Root::System, TERM, "ImagePath").unwrap(), None);
        assert!(reg.key_exists(Root::Software, POLICY).unwrap());
        assert_eq!(applied.changes[0].before, "0x00000001 (1)");
        assert_eq!(applied.changes[0].after, "0x00000000 (0)");
        assert_eq!(applied.changes[2].before, "absent");

        let m = read_manifest(&d.0).unwrap();
        assert_eq!(m.values.len(), 4);
        assert_eq!(m.values[0].before.as_ref().unwrap().hex, "01000000");
        assert_eq!(m.values[2].before, None);
        assert_eq!(m.values[3].after, None);
        // Only the two policy keys were missing ("Policies\Microsoft" existed).
        let created: Vec<&str> = m.created_keys.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            created,
            [POLICY, "Policies\\Microsoft\\Windows NT"],
            "deepest first"
        );

        let undone = undo(&mut reg, &d.0, false).unwrap();
        assert_eq!(undone.len(), 4);
        assert!(undone.iter().all(|c| c.outcome == "restored"));
        assert_eq!(reg, original, "undo restores values, absences and keys");
    }

    #[test]
    fn a_value_that_reads_back_wrong_rolls_everything_back() {
        let original = broken_host();
        let mut reg = original.clone();
        reg.corrupt = Some(RawValue::from_data(&Data::Dword(3)));
        let d = dir();
        let err = apply(&mut reg, &plan(&fix()), &d.0).unwrap_err().0;
        assert!(
            err.contains("TermService\\Start: wrote 0x00000003 (3) but read back"),
            "{err}"
        );
        assert!(err.contains("put back as it was"), "{err}");
        reg.corrupt = None;
        assert_eq!(reg, original);
    }

    #[test]
    fn a_refused_write_rolls_back_the_ones_before_it() {
        let original = broken_host();
        let mut reg = original.clone();
        reg.refuse = Some("Start".into());
        let d = dir();
        let err = apply(&mut reg, &plan(&fix()), &d.0).unwrap_err().0;
        assert!(err.contains("Access is denied"), "{err}");
        reg.refuse = None;
        assert_eq!(reg, original, "fDenyTSConnections was put back to 1");
    }

    #[test]
    fn a_backup_is_never_overwritten_and_an_empty_plan_is_refused() {
        let mut reg = broken_host();
        let d = dir();
        apply(&mut reg, &plan(&fix()[..1]), &d.0).unwrap();
        let after = reg.clone();
        let err = apply(&mut reg, &plan(&fix()[1..2]), &d.0).unwrap_err().0;
        assert!(err.contains("already holds a backup"), "{err}");
        assert_eq!(reg, after, "nothing changed");
        assert!(apply(&mut reg, &plan(&[]), &dir().0).is_err());
    }

    #[test]
    fn a_value_touched_twice_keeps_its_first_before_state() {
        let original = broken_host();
        let mut reg = original.clone();
        let mut actions = fix();
        actions.push(Action::SetValue {
            root: Root::System,
            key: TS.to_uppercase(),
            name: "FDENYTSCONNECTIONS".into(),
            data: Data::Dword(2),
        });
        let d = dir();
        apply(&mut reg, &plan(&actions), &d.0).unwrap();
        let m = read_manifest(&d.0).unwrap();
        assert_eq!(m.values.len(), 4);
        assert_eq!(m.values[0].after.as_ref().unwrap().hex, "02000000");
        undo(&mut reg, &d.0, false).unwrap();
        assert_eq!(reg, original);
    }

    #[test]
    fn undo_refuses_values_changed_since_the_fix_unless_forced() {
        let original = broken_host();
        let mut reg = original.clone();
        let d = dir();
        apply(&mut reg, &plan(&fix()), &d.0).unwrap();
        reg.set(
            Root::System,
            TERM,
            "Start",
            &RawValue::from_data(&Data::Dword(2)),
        )
        .unwrap();
        // Put one value back by hand: undo says so rather than failing.
        reg.set(
            Root::System,
            TS,
            "fDenyTSConnections",
            &RawValue::from_data(&Data::Dword(1)),
        )
        .unwrap();
        let changed = reg.clone();
        let err = undo(&mut reg, &d.0, false).unwrap_err().0;
        assert!(
            err.contains("TermService\\Start is now 0x00000002 (2)"),
            "{err}"
        );
        assert_eq!(reg, changed, "nothing restored");
        let undone = undo(&mut reg, &d.0, true).unwrap();
        let outcome = |suffix: &str| {
            undone
                .iter()
                .find(|c| c.path.ends_with(suffix))
                .unwrap()
                .outcome
        };
        assert_eq!(outcome("\\Start"), "changed_since");
        assert_eq!(
            outcome("Terminal Server\\fDenyTSConnections"),
            "already_original"
        );
        assert_eq!(outcome("\\ImagePath"), "restored");
        assert_eq!(reg, original);
    }

    #[test]
    fn manifests_from_elsewhere_are_refused_with_the_reason() {
        let d = dir();
        assert!(read_manifest(&d.0).unwrap_err().0.contains("cannot read"));
        std::fs::create_dir_all(&d.0).unwrap();
        let path = d.0.join(MANIFEST);
        std::fs::write(&path, "{").unwrap();
        assert!(read_manifest(&d.0)
            .unwrap_err()
            .0
            .contains("not a backup manifest"));
        let mut m = backup(&broken_host(), &plan(&fix())).unwrap();
        m.schema = "rdp-doctor.host-backup/v9".into();
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
        assert!(read_manifest(&d.0)
            .unwrap_err()
            .0
            .contains("this version reads"));
        m.schema = crate::apply::BACKUP_SCHEMA.into();
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
        let err = read_manifest(&d.0).unwrap_err().0;
        assert!(err.contains("a backup of hive files"), "{err}");
        m.schema = BACKUP_SCHEMA.into();
        m.values[0].before.as_mut().unwrap().hex = "0g".into();
        std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
        let mut reg = broken_host();
        assert!(undo(&mut reg, &d.0, false)
            .unwrap_err()
            .0
            .contains("not hex"));
    }

    fn svc(name: &str, state: Option<&str>, start: Option<u32>, error: Option<&str>) -> Service {
        Service {
            name: name.into(),
            state: state.map(str::to_string),
            start_type: start.map(start_name),
            start,
            error: error.map(str::to_string),
        }
    }

    #[test]
    fn service_checks_read_the_scm_beside_the_registry() {
        let services = [
            svc("TermService", Some("stopped"), Some(3), None),
            svc("UmRdpService", None, None, Some("not installed")),
            svc("SessionEnv", Some("running"), Some(3), None),
        ];
        let checks = service_checks(&services, &|name| match name {
            "TermService" => Some(4),
            "SessionEnv" => Some(3),
            _ => None,
        });
        let summary: Vec<(Status, &str)> = checks
            .iter()
            .map(|c| (c.status, c.value.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (Status::Info, "stopped, start type demand"),
                (Status::Warn, "stopped, start type demand"),
                (Status::Info, "not installed"),
                (Status::Ok, "running, start type demand"),
            ]
        );
        assert!(
            checks[0].message.contains("next boot"),
            "{}",
            checks[0].message
        );
        assert_eq!(checks[1].fix.as_deref(), Some("Start-Service TermService"));
        // Done by hand: `host fix` shows it and writes nothing for it.
        assert_eq!(checks[1].fixes.len(), 1);
        assert!(checks[1].fixes[0].actions.is_empty());
        assert!(checks.iter().all(|c| c.id == "HOST018"));
    }

    /// The real registry (Windows, or Wine in scripts/windows.sh): a scratch
    /// key under SOFTWARE, removed again by the test itself.
    #[cfg(windows)]
    mod win {
        use super::*;

        fn scratch(tag: &str) -> String {
            format!("rdp-doctor-live-test-{}-{tag}", std::process::id())
        }

        #[test]
        fn every_type_is_written_and_read_back_as_the_hive_reader_reads_it() {
            let mut reg = LiveRegistry::open().unwrap();
            let key = format!("{}\\Sub", scratch("types"));
            let values = [
                ("sz", Data::String("Remote Desktop".into())),
                (
                    "expand",
                    Data::ExpandString("%SystemRoot%\\System32".into()),
                ),
                ("bin", Data::Binary(vec![0x92, 0x8B, 0xFD, 0x8C])),
                ("dword", Data::Dword(0xD3D)),
                ("multi", Data::MultiString(vec!["a".into(), "bc".into()])),
                ("qword", Data::Qword(1 << 40)),
            ];
            assert!(!Registry::key_exists(&reg, Root::Software, &key).unwrap());
            for (name, d) in &values {
                reg.set(Root::Software, &key, name, &RawValue::from_data(d))
                    .unwrap();
            }
            for (name, d) in &values {
                assert_eq!(
                    reg.value(Root::Software, &key, name).unwrap().as_ref(),
                    Some(d),
                    "{name}"
                );
                assert_eq!(
                    reg.get(Root::Software, &key, &name.to_uppercase()).unwrap(),
                    Some(RawValue::from_data(d)),
                    "{name}: case-insensitive, same bytes"
                );
            }
            let mut listed = reg.values(Root::Software, &key).unwrap();
            listed.sort_by(|a, b| a.0.cmp(&b.0));
            let mut want: Vec<(String, Data)> = values
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect();
            want.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(listed, want);
            assert_eq!(
                reg.subkeys(Root::Software, &scratch("types")).unwrap(),
                ["Sub"]
            );
            assert_eq!(reg.value(Root::Software, &key, "absent").unwrap(), None);
            assert_eq!(
                reg.value(Root::Software, "rdp-doctor-no-such-key", "x")
                    .unwrap(),
                None
            );
            assert!(reg
                .subkeys(Root::Software, "rdp-doctor-no-such-key")
                .unwrap()
                .is_empty());

            assert!(
                !reg.delete_key_if_empty(Root::Software, &key).unwrap(),
                "it has values"
            );
            for (name, _) in &values {
                reg.delete(Root::Software, &key, name).unwrap();
            }
            reg.delete(Root::Software, &key, "absent").unwrap();
            assert!(
                !reg.delete_key_if_empty(Root::Software, &scratch("types"))
                    .unwrap(),
                "it has a subkey"
            );
            assert!(reg.delete_key_if_empty(Root::Software, &key).unwrap());
            assert!(reg
                .delete_key_if_empty(Root::Software, &scratch("types"))
                .unwrap());
            assert!(!Registry::key_exists(&reg, Root::Software, &scratch("types")).unwrap());
        }

        #[test]
        fn apply_and_undo_on_the_live_registry() {
            let mut reg = LiveRegistry::open().unwrap();
            let base = scratch("apply");
            let key = format!("{base}\\Terminal Server");
            reg.set(
                Root::Software,
                &base,
                "keep",
                &RawValue::from_data(&Data::Dword(1)),
            )
            .unwrap();
            reg.set(
                Root::Software,
                &base,
                "gone",
                &RawValue::from_data(&Data::String("x".into())),
            )
            .unwrap();
            let actions = [
                Action::SetValue {
                    root: Root::Software,
                    key: base.clone(),
                    name: "keep".into(),
                    data: Data::Dword(0),
                },
                Action::SetValue {
                    root: Root::Software,
                    key: key.clone(),
                    name: "new".into(),
                    data: Data::Dword(3),
                },
                Action::DeleteValue {
                    root: Root::Software,
                    key: base.clone(),
                    name: "gone".into(),
                },
            ];
            let d = dir();
            let applied = apply(&mut reg, &plan(&actions), &d.0).unwrap();
            assert_eq!(applied.changes.len(), 3);
            assert_eq!(
                reg.value(Root::Software, &base, "keep").unwrap(),
                Some(Data::Dword(0))
            );
            assert_eq!(
                reg.value(Root::Software, &key, "new").unwrap(),
                Some(Data::Dword(3))
            );
            assert_eq!(reg.value(Root::Software, &base, "gone").unwrap(), None);

            undo(&mut reg, &d.0, false).unwrap();
            assert_eq!(
                reg.value(Root::Software, &base, "keep").unwrap(),
                Some(Data::Dword(1))
            );
            assert_eq!(
                reg.value(Root::Software, &base, "gone").unwrap(),
                Some(Data::String("x".into()))
            );
            assert!(
                !Registry::key_exists(&reg, Root::Software, &key).unwrap(),
                "created key removed"
            );

            reg.delete(Root::Software, &base, "keep").unwrap();
            reg.delete(Root::Software, &base, "gone").unwrap();
            assert!(reg.delete_key_if_empty(Root::Software, &base).unwrap());
        }

        #[test]
        fn the_service_control_manager_answers_for_each_service() {
            let list = services(&["TermService", "rdp-doctor-no-such-service"]).unwrap();
            assert_eq!(list.len(), 2);
            assert!(list[0].state.is_some() || list[0].error.is_some());
            assert_eq!(list[1].error.as_deref(), Some("not installed"));
            assert_eq!(list[1].state, None);
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn elsewhere_the_live_registry_says_where_to_run() {
        assert_eq!(LiveRegistry::open().unwrap_err().0, NOT_WINDOWS);
        assert_eq!(services(&SERVICES).unwrap_err().0, NOT_WINDOWS);
    }
}
