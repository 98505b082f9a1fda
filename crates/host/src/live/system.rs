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
        GetLastError, ERROR_INSUFFICIENT_BUFFER, ERROR_SERVICE_DOES_NOT_EXIST, WIN32_ERROR,
    };
    use windows_sys::Win32::System::Services::{
        CloseServiceHandle, OpenSCManagerW, OpenServiceW, QueryServiceConfigW, QueryServiceStatus,
        QUERY_SERVICE_CONFIGW, SC_HANDLE, SC_MANAGER_CONNECT, SERVICE_QUERY_CONFIG,
        SERVICE_QUERY_STATUS, SERVICE_STATUS,
    };

    use crate::live::{RawRegistry, RawValue, Service};
    use crate::registry::{Registry, Root};
    use crate::winreg::{self, wide, win_error, Access, Key, Top};
    use crate::Error;

    /// `SYSTEM\path` or `SOFTWARE\path`, under HKLM.
    fn full(root: Root, path: &str) -> String {
        let path = path.trim_matches('\\');
        if path.is_empty() {
            root.name().to_string()
        } else {
            format!("{}\\{path}", root.name())
        }
    }

    fn open(root: Root, path: &str, access: Access) -> Result<Option<Key>, Error> {
        winreg::open(Top::LocalMachine, &full(root, path), access)
    }

    /// The live registry of this host (`HKLM\SYSTEM`, `HKLM\SOFTWARE`).
    #[derive(Debug)]
    pub struct LiveRegistry {
        software: bool,
    }

    impl LiveRegistry {
        /// Opens the live registry: `HKLM\SYSTEM` must be readable.
        pub fn open() -> Result<Self, Error> {
            if open(Root::System, "", Access::Read)?.is_none() {
                return Err(Error("HKLM\\SYSTEM does not exist".into()));
            }
            let software = open(Root::Software, "", Access::Read)?.is_some();
            Ok(LiveRegistry { software })
        }

        /// The raw value (type and bytes).
        pub fn raw_value(
            &self,
            root: Root,
            path: &str,
            name: &str,
        ) -> Result<Option<RawValue>, Error> {
            let Some(k) = open(root, path, Access::Read)? else {
                return Ok(None);
            };
            Ok(k.query(name)?.map(|(kind, bytes)| RawValue { kind, bytes }))
        }
    }

    impl Registry for LiveRegistry {
        fn value(&self, root: Root, path: &str, name: &str) -> Result<Option<Data>, Error> {
            Ok(self.raw_value(root, path, name)?.map(|v| v.to_data()))
        }

        fn subkeys(&self, root: Root, path: &str) -> Result<Vec<String>, Error> {
            match open(root, path, Access::Read)? {
                Some(k) => k.subkeys(),
                None => Ok(Vec::new()),
            }
        }

        fn values(&self, root: Root, path: &str) -> Result<Vec<(String, Data)>, Error> {
            let Some(k) = open(root, path, Access::Read)? else {
                return Ok(Vec::new());
            };
            Ok(k.values()?
                .into_iter()
                .map(|(name, (kind, bytes))| (name, RawValue { kind, bytes }.to_data()))
                .collect())
        }

        fn key_exists(&self, root: Root, path: &str) -> Result<bool, Error> {
            Ok(open(root, path, Access::Read)?.is_some())
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
            winreg::create(Top::LocalMachine, &full(root, key))?.set(name, value.kind, &value.bytes)
        }

        fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error> {
            match open(root, key, Access::Write)? {
                Some(k) => k.delete_value(name),
                None => Ok(()),
            }
        }

        fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error> {
            let Some(k) = open(root, key, Access::Read)? else {
                return Ok(false);
            };
            let (subkeys, values, _) = k.info()?;
            drop(k);
            if subkeys > 0 || values > 0 {
                return Ok(false);
            }
            winreg::delete_key(Top::LocalMachine, &full(root, key))
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
