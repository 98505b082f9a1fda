//! The Win32 registry calls every live reader and writer shares: wide strings,
//! open and create, the size loop of `RegQueryValueExW`, the enumeration of
//! subkeys and values, set and delete. Keys are closed on drop; every error
//! names the key as a person types it (`HKLM\SYSTEM\…`, `HKCU\…`). Windows only.

use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_NO_MORE_ITEMS, ERROR_SUCCESS, WIN32_ERROR,
};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegCreateKeyExW, RegDeleteKeyExW, RegDeleteValueW, RegEnumKeyExW, RegEnumValueW,
    RegOpenKeyExW, RegQueryInfoKeyW, RegQueryValueExW, RegSetValueExW, HKEY, HKEY_CURRENT_USER,
    HKEY_LOCAL_MACHINE, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE, KEY_SET_VALUE, KEY_WOW64_64KEY,
    REG_OPTION_NON_VOLATILE, REG_SAM_FLAGS,
};

use crate::Error;

/// Key names are at most 255 characters, value names 16383.
const MAX_KEY_NAME: usize = 256;
const MAX_VALUE_NAME: usize = 16384;

/// The predefined key a path is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    LocalMachine,
    CurrentUser,
}

impl Top {
    fn handle(self) -> HKEY {
        match self {
            Top::LocalMachine => HKEY_LOCAL_MACHINE,
            Top::CurrentUser => HKEY_CURRENT_USER,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Top::LocalMachine => "HKLM",
            Top::CurrentUser => "HKCU",
        }
    }
}

/// What a key is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Values and subkeys read.
    Read,
    /// Values written or deleted.
    Write,
}

impl Access {
    fn flags(self) -> REG_SAM_FLAGS {
        match self {
            Access::Read => KEY_QUERY_VALUE | KEY_ENUMERATE_SUB_KEYS,
            Access::Write => KEY_SET_VALUE | KEY_QUERY_VALUE,
        }
    }
}

/// A value as the registry stores it: its type number and bytes.
pub type Raw = (u32, Vec<u8>);

/// `s` NUL-terminated, as the W functions take it.
pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// `what`: the system's message for `code`, and what to do about the usual ones.
pub fn win_error(what: String, code: WIN32_ERROR) -> Error {
    let text = std::io::Error::from_raw_os_error(code as i32);
    let hint = match code {
        5 => ": run rdp-doctor from an elevated (Administrator) prompt",
        _ => "",
    };
    Error(format!("{what}: {text}{hint}"))
}

/// `top\path` as shown in messages.
pub fn shown(top: Top, path: &str) -> String {
    let path = path.trim_matches('\\');
    if path.is_empty() {
        top.prefix().to_string()
    } else {
        format!("{}\\{path}", top.prefix())
    }
}

/// An open registry key, closed on drop.
#[derive(Debug)]
pub struct Key {
    handle: HKEY,
    /// The key as shown in messages.
    name: String,
}

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
        unsafe { RegCloseKey(self.handle) };
    }
}

/// Opens `top\path` (the 64-bit view); `None` when it does not exist.
pub fn open(top: Top, path: &str, access: Access) -> Result<Option<Key>, Error> {
    let name = shown(top, path);
    let w = wide(path.trim_matches('\\'));
    let mut h: HKEY = null_mut();
    // SAFETY: `w` is NUL-terminated and outlives the call; `h` is written on success.
    let rc = unsafe {
        RegOpenKeyExW(
            top.handle(),
            w.as_ptr(),
            0,
            access.flags() | KEY_WOW64_64KEY,
            &mut h,
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Some(Key { handle: h, name })),
        ERROR_FILE_NOT_FOUND => Ok(None),
        e => Err(win_error(format!("cannot open {name}"), e)),
    }
}

/// Opens `top\path` for writing, creating it and the keys above it as needed.
pub fn create(top: Top, path: &str) -> Result<Key, Error> {
    let name = shown(top, path);
    let w = wide(path.trim_matches('\\'));
    let mut h: HKEY = null_mut();
    // SAFETY: `w` is NUL-terminated; class, security attributes and disposition may be null.
    let rc = unsafe {
        RegCreateKeyExW(
            top.handle(),
            w.as_ptr(),
            0,
            null(),
            REG_OPTION_NON_VOLATILE,
            Access::Write.flags() | KEY_WOW64_64KEY,
            null(),
            &mut h,
            null_mut(),
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Key { handle: h, name }),
        e => Err(win_error(format!("cannot create {name}"), e)),
    }
}

/// Deletes the key `top\path` (it must have no subkeys); `false` when it did not exist.
pub fn delete_key(top: Top, path: &str) -> Result<bool, Error> {
    let w = wide(path.trim_matches('\\'));
    // SAFETY: `w` is NUL-terminated.
    match unsafe { RegDeleteKeyExW(top.handle(), w.as_ptr(), KEY_WOW64_64KEY, 0) } {
        ERROR_SUCCESS => Ok(true),
        ERROR_FILE_NOT_FOUND => Ok(false),
        e => Err(win_error(format!("cannot delete {}", shown(top, path)), e)),
    }
}

impl Key {
    /// The key as shown in messages (`HKLM\SYSTEM\…`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts of subkeys and values, and the longest value's size in bytes.
    pub fn info(&self) -> Result<(u32, u32, u32), Error> {
        let (mut subkeys, mut values, mut max_data) = (0u32, 0u32, 0u32);
        // SAFETY: every pointer is either null (not asked) or a live u32.
        let rc = unsafe {
            RegQueryInfoKeyW(
                self.handle,
                null_mut(),
                null_mut(),
                null(),
                &mut subkeys,
                null_mut(),
                null_mut(),
                &mut values,
                null_mut(),
                &mut max_data,
                null_mut(),
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => Ok((subkeys, values, max_data)),
            e => Err(win_error(format!("cannot query {}", self.name), e)),
        }
    }

    /// The value `name` (`""`: the default value); `None` when absent.
    pub fn query(&self, name: &str) -> Result<Option<Raw>, Error> {
        let w = wide(name);
        let fail = |e| win_error(format!("cannot read {}\\{name}", self.name), e);
        // The value can grow between the size query and the read: retry a few times.
        for _ in 0..4 {
            let (mut kind, mut size) = (0u32, 0u32);
            // SAFETY: a null data pointer asks for the size only.
            let rc = unsafe {
                RegQueryValueExW(
                    self.handle,
                    w.as_ptr(),
                    null(),
                    &mut kind,
                    null_mut(),
                    &mut size,
                )
            };
            match rc {
                ERROR_SUCCESS => {}
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(fail(e)),
            }
            let mut buf = vec![0u8; size as usize];
            let mut len = size;
            // SAFETY: `buf` has `len` writable bytes.
            let rc = unsafe {
                RegQueryValueExW(
                    self.handle,
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
                    return Ok(Some((kind, buf)));
                }
                ERROR_MORE_DATA => continue,
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(fail(e)),
            }
        }
        Err(Error(format!(
            "cannot read {}\\{name}: it keeps changing size",
            self.name
        )))
    }

    /// The names of the subkeys.
    pub fn subkeys(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut buf = vec![0u16; MAX_KEY_NAME];
        for index in 0u32.. {
            let mut len = buf.len() as u32;
            // SAFETY: `buf` holds `len` u16s; the class and time outputs are not asked.
            let rc = unsafe {
                RegEnumKeyExW(
                    self.handle,
                    index,
                    buf.as_mut_ptr(),
                    &mut len,
                    null(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                )
            };
            match rc {
                ERROR_SUCCESS => names.push(String::from_utf16_lossy(&buf[..len as usize])),
                ERROR_NO_MORE_ITEMS => break,
                e => {
                    return Err(win_error(
                        format!("cannot list the subkeys of {}", self.name),
                        e,
                    ))
                }
            }
        }
        Ok(names)
    }

    /// Every value: name, type and bytes.
    pub fn values(&self) -> Result<Vec<(String, Raw)>, Error> {
        let (_, _, max_data) = self.info()?;
        let mut name = vec![0u16; MAX_VALUE_NAME];
        let mut data = vec![0u8; max_data as usize + 16];
        let mut out = Vec::new();
        let mut index = 0u32;
        loop {
            let mut name_len = name.len() as u32;
            let mut data_len = data.len() as u32;
            let mut kind = 0u32;
            // SAFETY: `name` holds `name_len` u16s and `data` `data_len` bytes.
            let rc = unsafe {
                RegEnumValueW(
                    self.handle,
                    index,
                    name.as_mut_ptr(),
                    &mut name_len,
                    null(),
                    &mut kind,
                    data.as_mut_ptr(),
                    &mut data_len,
                )
            };
            match rc {
                ERROR_SUCCESS => {
                    out.push((
                        String::from_utf16_lossy(&name[..name_len as usize]),
                        (kind, data[..data_len as usize].to_vec()),
                    ));
                    index += 1;
                }
                // A value grew since RegQueryInfoKeyW: `data_len` is its size now.
                ERROR_MORE_DATA if data_len as usize > data.len() => {
                    data.resize(data_len as usize, 0);
                }
                ERROR_NO_MORE_ITEMS => break,
                e => {
                    return Err(win_error(
                        format!("cannot list the values of {}", self.name),
                        e,
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Writes the value `name`.
    pub fn set(&self, name: &str, kind: u32, bytes: &[u8]) -> Result<(), Error> {
        let w = wide(name);
        let len = u32::try_from(bytes.len())
            .map_err(|_| Error(format!("{}\\{name}: value too large", self.name)))?;
        // SAFETY: `bytes` holds `len` bytes.
        let rc = unsafe { RegSetValueExW(self.handle, w.as_ptr(), 0, kind, bytes.as_ptr(), len) };
        match rc {
            ERROR_SUCCESS => Ok(()),
            e => Err(win_error(format!("cannot write {}\\{name}", self.name), e)),
        }
    }

    /// Deletes the value `name`; an absent value is not an error.
    pub fn delete_value(&self, name: &str) -> Result<(), Error> {
        let w = wide(name);
        // SAFETY: `w` is NUL-terminated.
        match unsafe { RegDeleteValueW(self.handle, w.as_ptr()) } {
            ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
            e => Err(win_error(format!("cannot delete {}\\{name}", self.name), e)),
        }
    }
}
