//! A rescued disk's SECURITY and SAM hives: mapped, a dirty one replayed in
//! memory with its .LOG1/.LOG2 (as the SYSTEM hive is), read into
//! [`AccountFacts`], then the account rules run.

use std::path::{Path, PathBuf};

use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::Hive;

use super::{lsa, rules, sam, AccountFacts};
use crate::offline::{find_logs, map_file, OfflineError};
use crate::rules::Outcome;
use crate::Error;

/// The account inputs of `host check` and `diagnose`.
#[derive(Debug, Clone, Default)]
pub struct AccountFiles {
    pub security: Option<PathBuf>,
    pub sam: Option<PathBuf>,
    /// The account to check (`--user`).
    pub user: Option<String>,
}

impl AccountFiles {
    pub fn is_empty(&self) -> bool {
        self.security.is_none() && self.sam.is_none()
    }
}

/// A hive's bytes, its logs replayed when it is dirty and they are beside it.
fn load(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = map_file(path)?.to_vec();
    let hive = Hive::new(&bytes)
        .map_err(|e| Error(format!("{} is not a readable hive: {e}", path.display())))?;
    if !hive.base.is_dirty() && hive.base.checksum_ok() {
        return Ok(bytes);
    }
    let logs: Vec<Vec<u8>> = find_logs(path)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    if logs.is_empty() {
        return Ok(bytes);
    }
    let slices: Vec<&[u8]> = logs.iter().map(Vec::as_slice).collect();
    rdp_doctor_regf::log::replay(&bytes, &slices)
        .map(|r| r.bytes)
        .map_err(|e| {
            Error(format!(
                "{}: its logs cannot be replayed: {e}",
                path.display()
            ))
        })
}

fn origin(path: &Path) -> RegistryOrigin {
    RegistryOrigin::Hive {
        file: path.display().to_string(),
    }
}

/// Reads the facts; `now_unix` is the time accounts expire against.
pub fn read(files: &AccountFiles, now_unix: u64) -> Result<AccountFacts, OfflineError> {
    let usage = |flag: &str, p: &Path, e: Error| {
        OfflineError::Usage(format!("{flag} {}: {e}", p.display()))
    };
    let rights = match &files.security {
        Some(p) => {
            let bytes = load(p).map_err(OfflineError::Failed)?;
            let hive = Hive::new(&bytes).map_err(|e| usage("--security", p, e.into()))?;
            Some(lsa::read(&hive, origin(p)).map_err(|e| usage("--security", p, e))?)
        }
        None => None,
    };
    let (groups, user) = match &files.sam {
        Some(p) => {
            let bytes = load(p).map_err(OfflineError::Failed)?;
            let hive = Hive::new(&bytes).map_err(|e| usage("--sam", p, e.into()))?;
            let groups = sam::read_groups(&hive, origin(p)).map_err(|e| usage("--sam", p, e))?;
            let user = match &files.user {
                Some(name) => Some(
                    sam::read_account(&hive, name, groups.domain.as_ref(), origin(p))
                        .map_err(OfflineError::Failed)?,
                ),
                None => None,
            };
            (Some(groups), user)
        }
        None => (None, None),
    };
    Ok(AccountFacts {
        rights,
        groups,
        user,
        now: super::filetime(now_unix),
    })
}

/// The account rules' outcomes for these files (none when neither hive is given).
pub fn check_files(files: &AccountFiles, now_unix: u64) -> Result<Vec<Outcome>, OfflineError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    Ok(rules::all(&read(files, now_unix)?))
}
