//! The client's live registry on Windows (`HKLM\SOFTWARE` and `HKCU`), and
//! the live applier: the host's, which backs up every value it touches and
//! reads it back, given the plan as `HKLM\SOFTWARE` registry actions.
//! Elsewhere [`LiveClient::open`] fails with [`NOT_WINDOWS`].

use std::path::Path;

use rdp_doctor_host::fix::{Plan as HostPlan, Step, Target};
use rdp_doctor_host::live::{self as host_live, Applied, Change};
use rdp_doctor_model::Severity;

use crate::plan::Plan;
use crate::Error;

/// What the live commands say on a build for another system.
pub const NOT_WINDOWS: &str = "client --live reads the Windows registry: run it on the Windows client, or give --software SOFTWARE --ntuser NTUSER.DAT";

/// Whether this build can read the live registry.
pub const AVAILABLE: bool = cfg!(windows);

/// The plan as the host's live applier takes it.
pub fn host_plan(plan: &Plan) -> HostPlan {
    HostPlan {
        steps: plan
            .changes
            .iter()
            .map(|c| Step {
                finding: Target {
                    id: c.finding,
                    severity: Severity::Info,
                    path: c.path.clone(),
                    value: c.before.clone(),
                    message: c.remedy.title.clone(),
                },
                remedy: c.remedy.clone(),
            })
            .collect(),
        held: Vec::new(),
        actions: plan.changes.iter().map(|c| c.registry_action()).collect(),
    }
}

/// Applies the plan to this machine's registry, with its backup in `backup_dir`.
pub fn apply(plan: &Plan, backup_dir: &Path) -> Result<Applied, Error> {
    if !AVAILABLE {
        return Err(Error(NOT_WINDOWS.into()));
    }
    let mut reg = host_live::LiveRegistry::open()?;
    Ok(host_live::apply(&mut reg, &host_plan(plan), backup_dir)?)
}

/// Restores a live backup's values.
pub fn undo(backup_dir: &Path, force: bool) -> Result<Vec<Change>, Error> {
    if !AVAILABLE {
        return Err(Error(NOT_WINDOWS.into()));
    }
    let mut reg = host_live::LiveRegistry::open()?;
    Ok(host_live::undo(&mut reg, backup_dir, force)?)
}

#[cfg(windows)]
mod win;
#[cfg(windows)]
pub use win::LiveClient;

/// The live registry (only on Windows).
#[cfg(not(windows))]
#[derive(Debug)]
pub struct LiveClient(());

#[cfg(not(windows))]
impl LiveClient {
    pub fn open() -> Result<Self, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
}

#[cfg(not(windows))]
impl crate::ClientRegistry for LiveClient {
    fn value(
        &self,
        _: crate::Branch,
        _: &str,
        _: &str,
    ) -> Result<Option<rdp_doctor_regf::Data>, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
    fn subkeys(&self, _: crate::Branch, _: &str) -> Result<Vec<String>, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
    fn values(
        &self,
        _: crate::Branch,
        _: &str,
    ) -> Result<Vec<(String, rdp_doctor_regf::Data)>, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
    fn has(&self, _: crate::Branch) -> bool {
        false
    }
    fn origin(&self, _: crate::Branch) -> rdp_doctor_model::RegistryOrigin {
        rdp_doctor_model::RegistryOrigin::Live
    }
}
