//! The security descriptor of the listener's key file, read from the volume:
//! offline from an ntfs-3g mount's `system.ntfs_acl` extended attribute, live
//! from Windows (`GetFileSecurityW`). Both return the same self-relative bytes.

use std::path::{Path, PathBuf};

use crate::secdesc::{self, SecurityDescriptor};

#[derive(Debug, Clone, PartialEq)]
pub struct KeyAcl {
    pub path: PathBuf,
    /// The descriptor, or why it could not be read or parsed.
    pub descriptor: Result<SecurityDescriptor, String>,
}

/// The descriptor of `path`; `None` when the file system keeps none (a plain
/// copy of the volume rather than an NTFS mount).
pub fn read(path: &Path) -> Option<KeyAcl> {
    let raw = match raw_descriptor(path) {
        Ok(Some(b)) => b,
        Ok(None) => return None,
        Err(e) => {
            return Some(KeyAcl {
                path: path.to_path_buf(),
                descriptor: Err(e),
            })
        }
    };
    Some(KeyAcl {
        path: path.to_path_buf(),
        descriptor: secdesc::parse(&raw).map_err(|e| e.to_string()),
    })
}

#[cfg(unix)]
fn raw_descriptor(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let name = c"system.ntfs_acl";
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated and `buf` is as long as we say.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
            _ => Err(format!("reading system.ntfs_acl: {e}")),
        };
    }
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(Some(buf))
}

#[cfg(windows)]
fn raw_descriptor(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Security::{
        GetFileSecurityW, DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
    };
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    let what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        let mut needed = 0u32;
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        // SAFETY: `wide` is NUL-terminated; `buf` is `len` bytes long.
        let ok = unsafe {
            GetFileSecurityW(
                wide.as_ptr(),
                what,
                buf.as_mut_ptr().cast(),
                len,
                &mut needed,
            )
        };
        if ok != 0 {
            return Ok(Some(buf));
        }
        if needed as usize <= buf.len() {
            return Err(format!(
                "GetFileSecurityW: {}",
                std::io::Error::last_os_error()
            ));
        }
        buf.resize(needed as usize, 0);
    }
    Err("GetFileSecurityW: the descriptor keeps growing".into())
}

#[cfg(not(any(unix, windows)))]
fn raw_descriptor(_: &Path) -> Result<Option<Vec<u8>>, String> {
    Ok(None)
}
