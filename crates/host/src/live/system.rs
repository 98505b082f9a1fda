//! The Win32 side of the live host, and nothing else: the registry API
//! (`LiveRegistry`, read and write) and the Service Control Manager
//! (`services`). Elsewhere both fail with [`crate::live::NOT_WINDOWS`].

#[cfg(windows)]
pub use win::{services, LiveRegistry};

#[cfg(windows)]
mod win {
    use std::ptr::{null, null_mut};

    use rdp_doctor_regf::Data;
    use windows_sys::Win32::Foundation::{
        GetLastError, ERROR_FILE_NOT_FOUND, ERROR_INSUFFICIENT_BUFFER, ERROR_MORE_DATA,
        ERROR_NO_MORE_ITEMS, ERROR_SERVICE_DOES_NOT_EXIST, ERROR_SUCCESS, WIN32_ERROR,
    };
    use windows_sys::Win32::System::Registry::{
        RegCloseKey, RegCreateKeyExW, RegDeleteKeyExW, RegDeleteValueW, RegEnumKeyExW,
        RegEnumValueW, RegOpenKeyExW, RegQueryInfoKeyW, RegQueryValueExW, RegSetValueExW, HKEY,
        HKEY_LOCAL_MACHINE, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE, KEY_SET_VALUE,
        KEY_WOW64_64KEY, REG_OPTION_NON_VOLATILE, REG_SAM_FLAGS,
    };
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceConfigW, QueryServiceStatus,
        QUERY_SERVICE_CONFIGW, SC_HANDLE, SC_MANAGER_CONNECT, SERVICE_QUERY_CONFIG,
        SERVICE_QUERY_STATUS, SERVICE_STATUS,
    };

    use crate::live::{RawRegistry, RawValue, Service};
    use crate::registry::{Registry, Root};
    use crate::Error;

    /// Key names are at most 255 characters, value names 16383.
    const MAX_KEY_NAME: usize = 256;
    const MAX_VALUE_NAME: usize = 16384;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(std::iter::once(0)).collect()
    }

    /// `what`: the system's message for `code`, and what to do about the usual ones.
    fn win_error(what: String, code: WIN32_ERROR) -> Error {
        let text = std::io::Error::from_raw_os_error(code as i32);
        let hint = match code {
            5 => ": run rdp-doctor from an elevated (Administrator) prompt",
            _ => "",
        };
        Error(format!("{what}: {text}{hint}"))
    }

    fn full(root: Root, path: &str) -> String {
        let path = path.trim_matches('\\');
        if path.is_empty() {
            root.name().to_string()
        } else {
            format!("{}\\{path}", root.name())
        }
    }

    /// An open registry key, closed on drop.
    struct Key(HKEY);

    impl Drop for Key {
        fn drop(&mut self) {
            // SAFETY: the handle came from RegOpenKeyExW/RegCreateKeyExW and is closed once.
            unsafe { RegCloseKey(self.0) };
        }
    }

    fn open(root: Root, path: &str, access: REG_SAM_FLAGS) -> Result<Option<Key>, Error> {
        let name = full(root, path);
        let w = wide(&name);
        let mut h: HKEY = null_mut();
        // SAFETY: `w` is NUL-terminated and outlives the call; `h` is written on success.
        let rc = unsafe {
            RegOpenKeyExW(
                HKEY_LOCAL_MACHINE,
                w.as_ptr(),
                0,
                access | KEY_WOW64_64KEY,
                &mut h,
            )
        };
        match rc {
            ERROR_SUCCESS => Ok(Some(Key(h))),
            ERROR_FILE_NOT_FOUND => Ok(None),
            e => Err(win_error(format!("cannot open HKLM\\{name}"), e)),
        }
    }

    fn create(root: Root, path: &str) -> Result<Key, Error> {
        let name = full(root, path);
        let w = wide(&name);
        let mut h: HKEY = null_mut();
        // SAFETY: `w` is NUL-terminated; class, security attributes and disposition may be null.
        let rc = unsafe {
            RegCreateKeyExW(
                HKEY_LOCAL_MACHINE,
                w.as_ptr(),
                0,
                null(),
                REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE | KEY_QUERY_VALUE | KEY_WOW64_64KEY,
                null(),
                &mut h,
                null_mut(),
            )
        };
        match rc {
            ERROR_SUCCESS => Ok(Key(h)),
            e => Err(win_error(format!("cannot create HKLM\\{name}"), e)),
        }
    }

    /// Counts of subkeys and values, and the longest value's size in bytes.
    fn info(k: &Key, at: &str) -> Result<(u32, u32, u32), Error> {
        let (mut subkeys, mut values, mut max_data) = (0u32, 0u32, 0u32);
        // SAFETY: every pointer is either null (not asked) or a live u32.
        let rc = unsafe {
            RegQueryInfoKeyW(
                k.0,
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
            e => Err(win_error(format!("cannot query HKLM\\{at}"), e)),
        }
    }

    fn query(k: &Key, at: &str, name: &str) -> Result<Option<RawValue>, Error> {
        let w = wide(name);
        let mut size = 0u32;
        let mut kind = 0u32;
        // The value can grow between the size query and the read: retry a few times.
        for _ in 0..4 {
            // SAFETY: a null data pointer asks for the size only.
            let rc = unsafe {
                RegQueryValueExW(k.0, w.as_ptr(), null(), &mut kind, null_mut(), &mut size)
            };
            match rc {
                ERROR_SUCCESS => {}
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(win_error(format!("cannot read HKLM\\{at}\\{name}"), e)),
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
                    return Ok(Some(RawValue { kind, bytes: buf }));
                }
                ERROR_MORE_DATA => continue,
                ERROR_FILE_NOT_FOUND => return Ok(None),
                e => return Err(win_error(format!("cannot read HKLM\\{at}\\{name}"), e)),
            }
        }
        Err(Error(format!(
            "cannot read HKLM\\{at}\\{name}: it keeps changing size"
        )))
    }

    /// The live registry of this host (`HKLM\SYSTEM`, `HKLM\SOFTWARE`).
    #[derive(Debug)]
    pub struct LiveRegistry {
        software: bool,
    }

    impl LiveRegistry {
        /// Opens the live registry: `HKLM\SYSTEM` must be readable.
        pub fn open() -> Result<Self, Error> {
            if open(Root::System, "", KEY_QUERY_VALUE)?.is_none() {
                return Err(Error("HKLM\\SYSTEM does not exist".into()));
            }
            let software = open(Root::Software, "", KEY_QUERY_VALUE)?.is_some();
            Ok(LiveRegistry { software })
        }

        /// The raw value (type and bytes).
        pub fn raw_value(
            &self,
            root: Root,
            path: &str,
            name: &str,
        ) -> Result<Option<RawValue>, Error> {
            match open(root, path, KEY_QUERY_VALUE)? {
                Some(k) => query(&k, &full(root, path), name),
                None => Ok(None),
            }
        }
    }

    impl Registry for LiveRegistry {
        fn value(&self, root: Root, path: &str, name: &str) -> Result<Option<Data>, Error> {
            Ok(self.raw_value(root, path, name)?.map(|v| v.to_data()))
        }

        fn subkeys(&self, root: Root, path: &str) -> Result<Vec<String>, Error> {
            let Some(k) = open(root, path, KEY_ENUMERATE_SUB_KEYS | KEY_QUERY_VALUE)? else {
                return Ok(Vec::new());
            };
            let at = full(root, path);
            let mut names = Vec::new();
            let mut buf = vec![0u16; MAX_KEY_NAME];
            for index in 0u32.. {
                let mut len = buf.len() as u32;
                // SAFETY: `buf` holds `len` u16s; the class and time outputs are not asked.
                let rc = unsafe {
                    RegEnumKeyExW(
                        k.0,
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
                            format!("cannot list the subkeys of HKLM\\{at}"),
                            e,
                        ))
                    }
                }
            }
            Ok(names)
        }

        fn values(&self, root: Root, path: &str) -> Result<Vec<(String, Data)>, Error> {
            let Some(k) = open(root, path, KEY_QUERY_VALUE)? else {
                return Ok(Vec::new());
            };
            let at = full(root, path);
            let (_, _, max_data) = info(&k, &at)?;
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
                        k.0,
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
                        let raw = RawValue {
                            kind,
                            bytes: data[..data_len as usize].to_vec(),
                        };
                        out.push((
                            String::from_utf16_lossy(&name[..name_len as usize]),
                            raw.to_data(),
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
                            format!("cannot list the values of HKLM\\{at}"),
                            e,
                        ))
                    }
                }
            }
            Ok(out)
        }

        fn key_exists(&self, root: Root, path: &str) -> Result<bool, Error> {
            Ok(open(root, path, KEY_QUERY_VALUE)?.is_some())
        }

        fn has_root(&self, root: Root) -> bool {
            match root {
                Root::System => true,
                Root::Software => self.software,
            }
        }
    }

    impl RawRegistry for LiveRegistry {
        fn get(&self, root: Root, key: &str, name: &str) -> Result<Option<RawValue>, Error> {
            self.raw_value(root, key, name)
        }

        fn key_exists(&self, root: Root, key: &str) -> Result<bool, Error> {
            Registry::key_exists(self, root, key)
        }

        fn set(
            &mut self,
            root: Root,
            key: &str,
            name: &str,
            value: &RawValue,
        ) -> Result<(), Error> {
            let k = create(root, key)?;
            let w = wide(name);
            let len = u32::try_from(value.bytes.len()).map_err(|_| {
                Error(format!(
                    "HKLM\\{}\\{name}: value too large",
                    full(root, key)
                ))
            })?;
            // SAFETY: `value.bytes` holds `len` bytes.
            let rc = unsafe {
                RegSetValueExW(k.0, w.as_ptr(), 0, value.kind, value.bytes.as_ptr(), len)
            };
            match rc {
                ERROR_SUCCESS => Ok(()),
                e => Err(win_error(
                    format!("cannot write HKLM\\{}\\{name}", full(root, key)),
                    e,
                )),
            }
        }

        fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error> {
            let Some(k) = open(root, key, KEY_SET_VALUE)? else {
                return Ok(());
            };
            let w = wide(name);
            // SAFETY: `w` is NUL-terminated.
            match unsafe { RegDeleteValueW(k.0, w.as_ptr()) } {
                ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(()),
                e => Err(win_error(
                    format!("cannot delete HKLM\\{}\\{name}", full(root, key)),
                    e,
                )),
            }
        }

        fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error> {
            let at = full(root, key);
            let Some(k) = open(root, key, KEY_QUERY_VALUE)? else {
                return Ok(false);
            };
            let (subkeys, values, _) = info(&k, &at)?;
            drop(k);
            if subkeys > 0 || values > 0 {
                return Ok(false);
            }
            let w = wide(&at);
            // SAFETY: `w` is NUL-terminated.
            match unsafe { RegDeleteKeyExW(HKEY_LOCAL_MACHINE, w.as_ptr(), KEY_WOW64_64KEY, 0) } {
                ERROR_SUCCESS => Ok(true),
                ERROR_FILE_NOT_FOUND => Ok(false),
                e => Err(win_error(format!("cannot delete HKLM\\{at}"), e)),
            }
        }
    }

    /// A Service Control Manager handle, closed on drop.
    struct Handle(SC_HANDLE);

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle came from OpenSCManagerW/OpenServiceW and is closed once.
            unsafe { CloseServiceHandle(self.0) };
        }
    }

    fn last_error() -> WIN32_ERROR {
        // SAFETY: no preconditions.
        unsafe { GetLastError() }
    }

    fn service(scm: &Handle, name: &str) -> Service {
        let mut s = Service {
            name: name.to_string(),
            state: None,
            start_type: None,
            start: None,
            error: None,
        };
        let w = wide(name);
        // SAFETY: `w` is NUL-terminated; a null handle means failure.
        let h = unsafe {
            OpenServiceW(
                scm.0,
                w.as_ptr(),
                SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG,
            )
        };
        if h.is_null() {
            let e = last_error();
            s.error = Some(if e == ERROR_SERVICE_DOES_NOT_EXIST {
                "not installed".into()
            } else {
                win_error("cannot open the service".into(), e).0
            });
            return s;
        }
        let h = Handle(h);
        let mut status = SERVICE_STATUS::default();
        // SAFETY: `status` is a live SERVICE_STATUS.
        if unsafe { QueryServiceStatus(h.0, &mut status) } != 0 {
            s.state = Some(crate::live::state_name(status.dwCurrentState));
        } else {
            s.error = Some(win_error("cannot query its status".into(), last_error()).0);
        }
        let mut needed = 0u32;
        // SAFETY: a null buffer of size 0 asks for the size.
        let ok = unsafe { QueryServiceConfigW(h.0, null_mut(), 0, &mut needed) };
        let e = last_error();
        if ok == 0 && e != ERROR_INSUFFICIENT_BUFFER {
            s.error = Some(win_error("cannot query its configuration".into(), e).0);
            return s;
        }
        // u64 words: the buffer must be aligned for QUERY_SERVICE_CONFIGW.
        let words = (needed as usize)
            .div_ceil(8)
            .max(std::mem::size_of::<QUERY_SERVICE_CONFIGW>().div_ceil(8));
        let mut buf = vec![0u64; words];
        let size = (words * 8) as u32;
        let cfg = buf.as_mut_ptr().cast::<QUERY_SERVICE_CONFIGW>();
        // SAFETY: `buf` is aligned and holds `size` bytes, at least one QUERY_SERVICE_CONFIGW.
        if unsafe { QueryServiceConfigW(h.0, cfg, size, &mut needed) } != 0 {
            // SAFETY: the call filled the structure at the start of `buf`.
            let start = unsafe { (*cfg).dwStartType };
            s.start = Some(start);
            s.start_type = Some(crate::live::start_name(start));
        } else {
            s.error = Some(win_error("cannot query its configuration".into(), last_error()).0);
        }
        s
    }

    /// The state of each of `names` as the Service Control Manager has it.
    pub fn services(names: &[&str]) -> Result<Vec<Service>, Error> {
        // SAFETY: null machine and database mean this host's active database.
        let scm = unsafe { OpenSCManagerW(null(), null(), SC_MANAGER_CONNECT) };
        if scm.is_null() {
            return Err(win_error(
                "cannot connect to the Service Control Manager".into(),
                last_error(),
            ));
        }
        let scm = Handle(scm);
        Ok(names.iter().map(|n| service(&scm, n)).collect())
    }
}

#[cfg(not(windows))]
pub use other::{services, LiveRegistry};

#[cfg(not(windows))]
mod other {
    use rdp_doctor_regf::Data;

    use crate::live::{RawRegistry, RawValue, Service, NOT_WINDOWS};
    use crate::registry::{Registry, Root};
    use crate::Error;

    /// The live registry, which only a Windows build can read: on this build
    /// [`LiveRegistry::open`] fails with [`NOT_WINDOWS`] and no value exists.
    #[derive(Debug)]
    pub struct LiveRegistry {
        never: std::convert::Infallible,
    }

    impl LiveRegistry {
        /// Fails: this build is not for Windows.
        pub fn open() -> Result<Self, Error> {
            Err(Error(NOT_WINDOWS.into()))
        }

        pub fn raw_value(&self, _: Root, _: &str, _: &str) -> Result<Option<RawValue>, Error> {
            match self.never {}
        }
    }

    impl Registry for LiveRegistry {
        fn value(&self, _: Root, _: &str, _: &str) -> Result<Option<Data>, Error> {
            match self.never {}
        }
        fn subkeys(&self, _: Root, _: &str) -> Result<Vec<String>, Error> {
            match self.never {}
        }
        fn values(&self, _: Root, _: &str) -> Result<Vec<(String, Data)>, Error> {
            match self.never {}
        }
        fn key_exists(&self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
        fn has_root(&self, _: Root) -> bool {
            match self.never {}
        }
    }

    impl RawRegistry for LiveRegistry {
        fn get(&self, _: Root, _: &str, _: &str) -> Result<Option<RawValue>, Error> {
            match self.never {}
        }
        fn key_exists(&self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
        fn set(&mut self, _: Root, _: &str, _: &str, _: &RawValue) -> Result<(), Error> {
            match self.never {}
        }
        fn delete(&mut self, _: Root, _: &str, _: &str) -> Result<(), Error> {
            match self.never {}
        }
        fn delete_key_if_empty(&mut self, _: Root, _: &str) -> Result<bool, Error> {
            match self.never {}
        }
    }

    /// Fails: this build is not for Windows.
    pub fn services(_: &[&str]) -> Result<Vec<Service>, Error> {
        Err(Error(NOT_WINDOWS.into()))
    }
}
