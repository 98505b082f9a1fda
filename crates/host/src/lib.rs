//! The Windows host's Remote Desktop configuration, read through a
//! [`Registry`] (offline from the SYSTEM and SOFTWARE hives of a rescued disk,
//! or live), and checked by rules.
//!
//! ```text
//! Registry -> facts::read -> HostFacts -> rules::all -> Report { findings, passed } -> fix::plan
//! ```
//!
//! Each finding cites the registry value or file it read, so it can be
//! verified by hand. Group Policy copies of a value win over the local value,
//! as on Windows.

pub mod accounts;
pub mod apply;
pub mod atomic;
pub mod cert;
pub mod facts;
pub mod firewall;
pub mod fix;
pub mod live;
pub mod offline;
pub mod registry;
pub mod render;
pub mod report;
pub mod rules;
pub mod secdesc;
#[cfg(windows)]
pub mod winreg;

use std::path::Path;

use rdp_doctor_regf::Hive;

pub use offline::{check_offline, OfflineError};
pub use rdp_doctor_model::{Action, Remedy, Root};
pub use registry::{OfflineHives, Registry};
pub use report::{Passed, Report, SCHEMA};
pub use rules::MAX_OUTSTANDING;

/// Why the check could not run.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<rdp_doctor_regf::Error> for Error {
    fn from(e: rdp_doctor_regf::Error) -> Self {
        Error(format!("hive: {e}"))
    }
}

/// Runs every check on hives already in memory (no log replay: see [`check_offline`]).
pub fn check(
    system: &Hive,
    software: Option<&Hive>,
    windows: Option<&Path>,
) -> Result<Report, Error> {
    let reg = OfflineHives::new(system, software)?;
    check_registry(&reg, windows)
}

/// Runs every check on a registry, offline or live. `windows` is the Windows
/// volume's root, for the files the registry points at (MachineKeys).
pub fn check_registry(reg: &dyn Registry, windows: Option<&Path>) -> Result<Report, Error> {
    let facts = facts::read(reg, windows, cert::now())?;
    let place = if reg.dirty(Root::System).is_none()
        && matches!(
            reg.origin(Root::System),
            rdp_doctor_model::RegistryOrigin::Live
        ) {
        "this host's registry"
    } else {
        "these hives"
    };
    Ok(Report::new(
        rules::all(&facts),
        facts.control_set.clone(),
        reg.dirty(Root::System).is_some(),
        place,
    ))
}
