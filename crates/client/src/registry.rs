//! Where the client's registry comes from: hive files or the live registry.
//!
//! The rules read through [`ClientRegistry`], so a client's SOFTWARE hive and
//! NTUSER.DAT and the live registry of the Windows machine this runs on give
//! the same facts.

use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::{Data, Hive, Key};
use serde::Serialize;

use crate::Error;

/// The two parts of the registry a client's settings live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    /// `HKLM\SOFTWARE` (the SOFTWARE hive): machine policies.
    Software,
    /// `HKCU` (the user's NTUSER.DAT): the server list and certificate cache.
    User,
}

impl Branch {
    /// The prefix of a full path in this branch.
    pub fn prefix(self) -> &'static str {
        match self {
            Branch::Software => "HKLM\\SOFTWARE",
            Branch::User => "HKCU",
        }
    }

    /// `HKLM\SOFTWARE\key\name`.
    pub fn path(self, key: &str, name: &str) -> String {
        format!("{}\\{key}\\{name}", self.prefix())
    }
}

/// Read access to the client's registry. Paths are relative to the branch,
/// backslash-separated, case-insensitive.
pub trait ClientRegistry {
    /// The value; `None` when the key or the value is absent.
    fn value(&self, branch: Branch, path: &str, name: &str) -> Result<Option<Data>, Error>;
    /// The subkeys' names; empty when the key is absent.
    fn subkeys(&self, branch: Branch, path: &str) -> Result<Vec<String>, Error>;
    /// Every value of the key; empty when it is absent.
    fn values(&self, branch: Branch, path: &str) -> Result<Vec<(String, Data)>, Error>;
    /// Whether the branch was given (offline each hive is optional).
    fn has(&self, branch: Branch) -> bool;
    /// Where the branch's values come from, for the evidence.
    fn origin(&self, branch: Branch) -> RegistryOrigin;
}

/// A client's hive files: SOFTWARE and NTUSER.DAT, each optional.
pub struct OfflineClient<'h, 'a> {
    software: Option<&'h Hive<'a>>,
    user: Option<&'h Hive<'a>>,
    files: [String; 2],
}

impl<'h, 'a> OfflineClient<'h, 'a> {
    /// The hives and the file names the evidence cites.
    pub fn new(
        software: Option<(&'h Hive<'a>, String)>,
        user: Option<(&'h Hive<'a>, String)>,
    ) -> Self {
        let name = |x: &Option<(&Hive, String)>, d: &str| {
            x.as_ref().map_or_else(|| d.to_string(), |(_, f)| f.clone())
        };
        OfflineClient {
            files: [name(&software, "SOFTWARE"), name(&user, "NTUSER.DAT")],
            software: software.map(|(h, _)| h),
            user: user.map(|(h, _)| h),
        }
    }

    fn key(&self, branch: Branch, path: &str) -> Result<Option<Key<'h, 'a>>, Error> {
        let hive = match branch {
            Branch::Software => self.software,
            Branch::User => self.user,
        };
        let Some(hive) = hive else {
            return Ok(None);
        };
        let at = |e: rdp_doctor_regf::Error| Error(format!("{}: {e}", self.file(branch)));
        hive.root().map_err(at)?.path(path).map_err(at)
    }

    fn file(&self, branch: Branch) -> &str {
        match branch {
            Branch::Software => &self.files[0],
            Branch::User => &self.files[1],
        }
    }
}

impl ClientRegistry for OfflineClient<'_, '_> {
    fn value(&self, branch: Branch, path: &str, name: &str) -> Result<Option<Data>, Error> {
        match self.key(branch, path)? {
            Some(k) => k
                .value(name)
                .map_err(|e| Error(format!("{}: {e}", self.file(branch)))),
            None => Ok(None),
        }
    }

    fn subkeys(&self, branch: Branch, path: &str) -> Result<Vec<String>, Error> {
        match self.key(branch, path)? {
            Some(k) => Ok(k
                .subkeys()
                .map_err(|e| Error(format!("{}: {e}", self.file(branch))))?
                .iter()
                .map(|k| k.name())
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn values(&self, branch: Branch, path: &str) -> Result<Vec<(String, Data)>, Error> {
        match self.key(branch, path)? {
            Some(k) => Ok(k
                .values()
                .map_err(|e| Error(format!("{}: {e}", self.file(branch))))?
                .into_iter()
                .map(|v| (v.name, v.data))
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn has(&self, branch: Branch) -> bool {
        match branch {
            Branch::Software => self.software.is_some(),
            Branch::User => self.user.is_some(),
        }
    }

    fn origin(&self, branch: Branch) -> RegistryOrigin {
        RegistryOrigin::Hive {
            file: self.file(branch).to_string(),
        }
    }
}
