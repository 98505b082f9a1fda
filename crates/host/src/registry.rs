//! Where the host's registry comes from, and the changes a fix makes to it.
//!
//! Every rule reads through [`Registry`], so the same checks run on a rescued
//! disk's hives and on the live registry of a Windows host; every fix is a list
//! of [`Action`]s, so one plan renders as text, JSON, a .reg file or a
//! PowerShell script and is applied by the offline hive editor or the live
//! registry alike.

use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::{Data, Hive, Key};

pub use rdp_doctor_model::{Action, Root};

use crate::Error;

/// Read access to `HKLM\SYSTEM` and `HKLM\SOFTWARE`.
///
/// Paths are relative to the root, backslash-separated and case-insensitive.
/// Under [`Root::System`], a path starting with `CurrentControlSet` means the
/// control set the host boots with (offline: the one `Select\Current` names).
pub trait Registry {
    /// The value `name` of the key `path`; `None` when the key or the value is absent.
    fn value(&self, root: Root, path: &str, name: &str) -> Result<Option<Data>, Error>;
    /// The names of the subkeys of `path`; empty when the key is absent.
    fn subkeys(&self, root: Root, path: &str) -> Result<Vec<String>, Error>;
    /// Every value of `path`; empty when the key is absent.
    fn values(&self, root: Root, path: &str) -> Result<Vec<(String, Data)>, Error>;
    /// Whether the key `path` exists.
    fn key_exists(&self, root: Root, path: &str) -> Result<bool, Error>;
    /// Whether `root` can be read at all (offline, SOFTWARE is optional).
    fn has_root(&self, root: Root) -> bool;
    /// What `CurrentControlSet` stands for, as the report shows it (offline: `ControlSet001`).
    fn current_control_set(&self) -> String {
        "CurrentControlSet".into()
    }
    /// The (primary, secondary) sequence numbers of a hive that was not closed
    /// cleanly, whose latest changes are still in its .LOG1/.LOG2 (offline only).
    fn dirty(&self, _root: Root) -> Option<(u32, u32)> {
        None
    }
    /// Where `root`'s values come from, for the evidence a finding shows.
    fn origin(&self, _root: Root) -> RegistryOrigin {
        RegistryOrigin::Live
    }
}

/// A rescued disk's registry: the SYSTEM hive and, when given, the SOFTWARE hive.
///
/// `CurrentControlSet` is resolved through `Select\Current`, as the boot loader does.
pub struct OfflineHives<'h, 'a> {
    system: &'h Hive<'a>,
    software: Option<&'h Hive<'a>>,
    control_set: String,
    /// The hive files as given, for the evidence (`[SYSTEM, SOFTWARE]`).
    files: [Option<String>; 2],
}

impl<'h, 'a> OfflineHives<'h, 'a> {
    /// Opens the hives: the SYSTEM hive must have `Select\Current` and the control set it names.
    pub fn new(system: &'h Hive<'a>, software: Option<&'h Hive<'a>>) -> Result<Self, Error> {
        let root = system.root().map_err(|e| hive_error(Root::System, e))?;
        let current = root
            .path("Select")
            .map_err(|e| hive_error(Root::System, e))?
            .and_then(|k| k.value("Current").ok().flatten())
            .and_then(|d| d.as_u64())
            .ok_or_else(|| {
                Error("SYSTEM hive has no Select\\Current: is this a SYSTEM hive?".into())
            })?;
        let control_set = format!("ControlSet{current:03}");
        if root
            .path(&control_set)
            .map_err(|e| hive_error(Root::System, e))?
            .is_none()
        {
            return Err(Error(format!(
                "Select\\Current names {control_set}, which the SYSTEM hive does not have"
            )));
        }
        if let Some(sw) = software {
            sw.root().map_err(|e| hive_error(Root::Software, e))?;
        }
        Ok(OfflineHives {
            system,
            software,
            control_set,
            files: [None, None],
        })
    }

    /// Names the hive files the evidence cites (otherwise `SYSTEM` and `SOFTWARE`).
    pub fn with_files(mut self, system: impl Into<String>, software: Option<String>) -> Self {
        self.files = [Some(system.into()), software];
        self
    }

    /// The control set `CurrentControlSet` stands for (`ControlSet001`).
    pub fn control_set(&self) -> &str {
        &self.control_set
    }

    /// `path` as stored in the hive file: `CurrentControlSet` replaced by the control set it names.
    pub fn hive_path(&self, root: Root, path: &str) -> String {
        resolve_control_set(root, path, &self.control_set)
    }

    fn hive(&self, root: Root) -> Option<&'h Hive<'a>> {
        match root {
            Root::System => Some(self.system),
            Root::Software => self.software,
        }
    }

    fn key(&self, root: Root, path: &str) -> Result<Option<Key<'h, 'a>>, Error> {
        let Some(hive) = self.hive(root) else {
            return Ok(None);
        };
        let at = |e| hive_error(root, e);
        hive.root()
            .map_err(at)?
            .path(&self.hive_path(root, path))
            .map_err(at)
    }
}

/// Replaces a leading `CurrentControlSet` (any case) under SYSTEM with `control_set`.
pub fn resolve_control_set(root: Root, path: &str, control_set: &str) -> String {
    const CCS: &str = "CurrentControlSet";
    let path = path.trim_start_matches('\\');
    if root == Root::System {
        let first = path.split('\\').next().unwrap_or_default();
        if first.eq_ignore_ascii_case(CCS) {
            return format!("{control_set}{}", &path[first.len()..]);
        }
    }
    path.to_string()
}

fn hive_error(root: Root, e: rdp_doctor_regf::Error) -> Error {
    Error(format!("{} hive: {e}", root.name()))
}

impl Registry for OfflineHives<'_, '_> {
    fn value(&self, root: Root, path: &str, name: &str) -> Result<Option<Data>, Error> {
        match self.key(root, path)? {
            Some(k) => k.value(name).map_err(|e| hive_error(root, e)),
            None => Ok(None),
        }
    }

    fn subkeys(&self, root: Root, path: &str) -> Result<Vec<String>, Error> {
        match self.key(root, path)? {
            Some(k) => Ok(k
                .subkeys()
                .map_err(|e| hive_error(root, e))?
                .iter()
                .map(|k| k.name())
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn values(&self, root: Root, path: &str) -> Result<Vec<(String, Data)>, Error> {
        match self.key(root, path)? {
            Some(k) => Ok(k
                .values()
                .map_err(|e| hive_error(root, e))?
                .into_iter()
                .map(|v| (v.name, v.data))
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn key_exists(&self, root: Root, path: &str) -> Result<bool, Error> {
        Ok(self.key(root, path)?.is_some())
    }

    fn has_root(&self, root: Root) -> bool {
        self.hive(root).is_some()
    }

    fn current_control_set(&self) -> String {
        self.control_set.clone()
    }

    fn origin(&self, root: Root) -> RegistryOrigin {
        let given = match root {
            Root::System => &self.files[0],
            Root::Software => &self.files[1],
        };
        RegistryOrigin::Hive {
            file: given.clone().unwrap_or_else(|| root.name().to_string()),
        }
    }

    fn dirty(&self, root: Root) -> Option<(u32, u32)> {
        self.hive(root)
            .filter(|h| h.base.is_dirty())
            .map(|h| (h.base.primary_sequence, h.base.secondary_sequence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_control_set_is_resolved_under_system_only() {
        let r = |root, p| resolve_control_set(root, p, "ControlSet002");
        assert_eq!(
            r(Root::System, "CurrentControlSet\\Control\\Terminal Server"),
            "ControlSet002\\Control\\Terminal Server"
        );
        assert_eq!(r(Root::System, "currentcontrolset"), "ControlSet002");
        assert_eq!(r(Root::System, "Select"), "Select");
        assert_eq!(
            r(Root::System, "CurrentControlSetX\\a"),
            "CurrentControlSetX\\a"
        );
        assert_eq!(
            r(Root::Software, "CurrentControlSet\\a"),
            "CurrentControlSet\\a"
        );
    }
}
