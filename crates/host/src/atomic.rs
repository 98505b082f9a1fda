//! The one way host writes a file: a temporary file in the same directory,
//! synced, renamed over the target, the directory synced. A reader sees the
//! old file or the new one, never half of one; a symlink at the target is
//! replaced, never followed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Error;

/// Whether an existing file (or symlink) at the target may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    Replace,
    Refuse,
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Syncs a directory, so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error(format!("cannot sync the directory {}: {e}", dir.display())))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` atomically. With [`Existing::Refuse`] an existing
/// file or symlink at `path` is an error naming it.
pub fn write(path: &Path, bytes: &[u8], existing: Existing) -> Result<(), Error> {
    write_with(path, bytes, existing, &|_| {})
}

/// [`write`], calling `at` after the temporary file is synced (`temp-written`)
/// and after the rename (`renamed`): the moments a crash test stops at.
pub fn write_with(
    path: &Path,
    bytes: &[u8],
    existing: Existing,
    at: &dyn Fn(&str),
) -> Result<(), Error> {
    let old = fs::symlink_metadata(path).ok();
    if existing == Existing::Refuse && old.is_some() {
        let what = if old.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
            "is a symbolic link"
        } else {
            "exists"
        };
        return Err(Error(format!(
            "{} {what}: refusing to overwrite it (give --force to replace it)",
            path.display()
        )));
    }
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = parent(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.rdp-doctor-{}-{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let io =
        |what: &str, p: &Path, e: std::io::Error| Error(format!("{what} {}: {e}", p.display()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io("cannot create", &tmp, e))?;
        // Keep a regular file's permissions; a symlink's target is never looked at.
        if let Some(m) = old.as_ref().filter(|m| m.is_file()) {
            let _ = f.set_permissions(m.permissions());
        }
        f.write_all(bytes)
            .map_err(|e| io("cannot write", &tmp, e))?;
        f.sync_all().map_err(|e| io("cannot sync", &tmp, e))?;
        drop(f);
        at("temp-written");
        fs::rename(&tmp, path).map_err(|e| io("cannot rename the new file over", path, e))?;
        at("renamed");
        sync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_existing_files_and_symlinks_and_never_writes_through_a_link() {
        let d = std::env::temp_dir().join(format!("rdp-doctor-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let target = d.join("target");
        fs::write(&target, b"keep").unwrap();
        let link = d.join("link");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, &link).unwrap();
        #[cfg(unix)]
        {
            let e = write(&link, b"new", Existing::Refuse).unwrap_err();
            assert!(e.0.contains("symbolic link"), "{e}");
            write(&link, b"new", Existing::Replace).unwrap();
            assert_eq!(fs::read(&target).unwrap(), b"keep");
            assert!(!fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
        assert!(write(&target, b"x", Existing::Refuse)
            .unwrap_err()
            .0
            .contains("exists"));
        write(&d.join("fresh"), b"x", Existing::Refuse).unwrap();
        assert_eq!(fs::read(d.join("fresh")).unwrap(), b"x");
        fs::remove_dir_all(&d).unwrap();
    }
}
