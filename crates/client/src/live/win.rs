//! The Win32 registry reads of the live client: `HKLM\SOFTWARE` and `HKCU`.

use std::ptr::{null, null_mut};

use rdp_doctor_model::RegistryOrigin;
use rdp_doctor_regf::Data;
use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS, WIN32_ERROR,
};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegEnumKeyExW, RegEnumValueW, RegOpenKeyExW, RegQueryValueExW, HKEY,
    HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE,
    KEY_WOW64_64KEY,
};

use crate::{Branch, ClientRegistry, Error};

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn fail(what: String, code: WIN32_ERROR) -> Error {
    Error(format!(
        "{what}: {}",
        std::io::Error::from_raw_os_error(code as i32)
    ))
}

/// An open key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW and is closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

fn open(branch: Branch, path: &str) -> Result<Option<Key>, Error> {
    let (root, full) = match branch {
        Branch::Software => (
            HKEY_LOCAL_MACHINE,
            format!("SOFTWARE\\{}", path.trim_matches('\\')),
        ),
        Branch::User => (HKEY_CURRENT_USER, path.trim_matches('\\').to_string()),
    };
    let w = wide(full.trim_end_matches('\\'));
    let mut h: HKEY = null_mut();
    // SAFETY: `w` is NUL-terminated and outlives the call; `h` is written on success.
    let rc = unsafe {
        RegOpenKeyExW(
            root,
            w.as_ptr(),
            0,
            KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS | KEY_WOW64_64KEY,
            &mut h,
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Some(Key(h))),
        ERROR_FILE_NOT_FOUND => Ok(None),
        e => Err(fail(format!("cannot open {}\\{path}", branch.prefix()), e)),
    }
}

fn query(k: &Key, name: &str) -> Result<Option<Data>, Error> {
    let w = wide(name);
    for _ in 0..4 {
        let (mut kind, mut size) = (0u32, 0u32);
        // SAFETY: a null data pointer asks for the size only.
        let rc =
            unsafe { RegQueryValueExW(k.0, w.as_ptr(), null(), &mut kind, null_mut(), &mut size) };
        match rc {
            ERROR_SUCCESS => {}
            ERROR_FILE_NOT_FOUND => return Ok(None),
            e => return Err(fail(format!("cannot read {name}"), e)),
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
                return Ok(Some(Data::from_raw(kind, buf)));
            }
            ERROR_MORE_DATA => continue,
            ERROR_FILE_NOT_FOUND => return Ok(None),
            e => return Err(fail(format!("cannot read {name}"), e)),
        }
    }
    Err(Error(format!("cannot read {name}: it keeps changing size")))
}

fn subkey_names(k: &Key) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for i in 0.. {
        let mut buf = [0u16; 256];
        let mut len = buf.len() as u32;
        // SAFETY: `buf` has `len` u16s; the other out-pointers may be null.
        let rc = unsafe {
            RegEnumKeyExW(
                k.0,
                i,
                buf.as_mut_ptr(),
                &mut len,
                null(),
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => out.push(String::from_utf16_lossy(&buf[..len as usize])),
            ERROR_NO_MORE_ITEMS => break,
            e => return Err(fail("cannot list subkeys".into(), e)),
        }
    }
    Ok(out)
}

fn value_names(k: &Key) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for i in 0.. {
        let mut buf = vec![0u16; 16384];
        let mut len = buf.len() as u32;
        // SAFETY: `buf` has `len` u16s; type and data are not asked.
        let rc = unsafe {
            RegEnumValueW(
                k.0,
                i,
                buf.as_mut_ptr(),
                &mut len,
                null(),
                null_mut(),
                null_mut(),
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => out.push(String::from_utf16_lossy(&buf[..len as usize])),
            ERROR_NO_MORE_ITEMS => break,
            e => return Err(fail("cannot list values".into(), e)),
        }
    }
    Ok(out)
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
        match open(branch, path)? {
            Some(k) => query(&k, name),
            None => Ok(None),
        }
    }

    fn subkeys(&self, branch: Branch, path: &str) -> Result<Vec<String>, Error> {
        match open(branch, path)? {
            Some(k) => subkey_names(&k),
            None => Ok(Vec::new()),
        }
    }

    fn values(&self, branch: Branch, path: &str) -> Result<Vec<(String, Data)>, Error> {
        let Some(k) = open(branch, path)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in value_names(&k)? {
            if let Some(d) = query(&k, &name)? {
                out.push((name, d));
            }
        }
        Ok(out)
    }

    fn has(&self, _: Branch) -> bool {
        true
    }

    fn origin(&self, _: Branch) -> RegistryOrigin {
        RegistryOrigin::Live
    }
}
