//! The user's `Default.rdp`: the settings mstsc starts from, linted by the
//! rdpfile crate's rules.

use std::path::{Path, PathBuf};

use rdp_doctor_model::{Evidence, Finding, FindingId, Severity};

use crate::Error;

/// Where mstsc keeps it under a user folder.
pub const IN_PROFILE: &str = "Documents/Default.rdp";

/// `Default.rdp` under a user folder (`C:\Users\NAME`), any case; `None` when absent.
pub fn find_in_profile(profile: &Path) -> Option<PathBuf> {
    let mut at = profile.to_path_buf();
    for part in IN_PROFILE.split('/') {
        let entries = std::fs::read_dir(&at).ok()?;
        let found = entries.flatten().find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(part))
        })?;
        at = found.path();
    }
    at.is_file().then_some(at)
}

/// The lint's findings for the file.
pub fn lint_file(path: &Path) -> Result<Vec<Finding>, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let file = rdp_doctor_rdpfile::parse(&bytes);
    let shown = path.display().to_string();
    Ok(rdp_doctor_rdpfile::lint_named(&file, Some(&shown)).findings)
}

/// CLIENT005: the profile has no Default.rdp (mstsc's defaults apply).
pub fn none_in_profile(profile: &Path) -> Finding {
    Finding::new(
        FindingId::ClientNoDefaultRdp,
        Severity::Info,
        "no Default.rdp in this user folder: mstsc starts from its built-in settings",
    )
    .evidence(Evidence::File {
        path: profile.join(IN_PROFILE).display().to_string(),
        detail: "absent".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rdp_is_found_in_any_case() {
        let d = tempfile::tempdir().expect("tempdir");
        assert_eq!(find_in_profile(d.path()), None);
        std::fs::create_dir(d.path().join("documents")).expect("mkdir");
        std::fs::write(d.path().join("documents/DEFAULT.RDP"), b"x").expect("write");
        assert_eq!(
            find_in_profile(d.path()),
            Some(d.path().join("documents/DEFAULT.RDP"))
        );
    }
}
