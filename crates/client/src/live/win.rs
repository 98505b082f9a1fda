//! The live client's registry: `HKLM\SOFTWARE` and `HKCU`, read through the
//! host crate's Win32 registry calls.

use rdp_doctor_host::winreg::{self, Access, Key, Top};
use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::Data;

use crate::{Branch, ClientRegistry, Error};

fn open(branch: Branch, path: &str) -> Result<Option<Key>, Error> {
    let path = path.trim_matches('\\');
    let (top, full) = match branch {
        Branch::Software if path.is_empty() => (Top::LocalMachine, "SOFTWARE".to_string()),
        Branch::Software => (Top::LocalMachine, format!("SOFTWARE\\{path}")),
        Branch::User => (Top::CurrentUser, path.to_string()),
    };
    Ok(winreg::open(top, &full, Access::Read)?)
}

/// This machine's `HKLM\SOFTWARE` and the current user's `HKCU`.
#[derive(Debug)]
pub struct LiveClient(());

impl LiveClient {
    pub fn open() -> Result<Self, Error> {
        match open(Branch::Software, "")? {
            Some(_) => Ok(LiveClient(())),
            None => Err(Error("HKLM\\SOFTWARE does not exist".into())),
        }
    }
}

impl ClientRegistry for LiveClient {
    fn value(&self, branch: Branch, path: &str, name: &str) -> Result<Option<Data>, Error> {
        let Some(k) = open(branch, path)? else {
            return Ok(None);
        };
        Ok(k.query(name)?
            .map(|(kind, bytes)| Data::from_raw(kind, bytes)))
    }

    fn subkeys(&self, branch: Branch, path: &str) -> Result<Vec<String>, Error> {
        match open(branch, path)? {
            Some(k) => Ok(k.subkeys()?),
            None => Ok(Vec::new()),
        }
    }

    fn values(&self, branch: Branch, path: &str) -> Result<Vec<(String, Data)>, Error> {
        let Some(k) = open(branch, path)? else {
            return Ok(Vec::new());
        };
        Ok(k.values()?
            .into_iter()
            .map(|(name, (kind, bytes))| (name, Data::from_raw(kind, bytes)))
            .collect())
    }

    fn has(&self, _: Branch) -> bool {
        true
    }

    fn origin(&self, _: Branch) -> RegistryOrigin {
        RegistryOrigin::Live
    }
}
