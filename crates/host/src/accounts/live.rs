//! The account facts of the Windows host rdp-doctor runs on: the logon rights
//! from LSA (`LsaEnumerateAccountsWithUserRight`), the groups from
//! `NetLocalGroupGetMembers`, the account from `NetUserGetInfo` (level 3).
//! The same [`AccountFacts`] as the hives give, so the same rules run.
//!
//! Under Wine (scripts/windows.sh): `LsaEnumerateAccountsWithUserRight` and
//! `NetLocalGroupGetMembers` are stubs (nobody holds a right, every group is
//! empty), `NetUserGetInfo` has level 1 but not level 3 (then the expiry and
//! "must change password" read as never and no); `LsaOpenPolicy`,
//! `LookupAccountSidW` and `LookupAccountNameW` work.

use rdp_doctor_model::RegistryOrigin;

use super::lsa::{AccountRights, Right, Rights};
use super::sam::{Account, AUTO_LOCKED, DISABLED, NEVER, PASSWORD_NOT_EXPIRING};
use super::{filetime, Sid};

/// The rights the rules read, as LSA names them.
pub const RIGHTS: [Right; 4] = [
    Right::RemoteInteractive,
    Right::DenyRemoteInteractive,
    Right::Network,
    Right::DenyNetwork,
];

/// The accounts holding each right, as one mask per SID.
pub fn rights_of(held: &[(Right, Vec<Sid>)]) -> Rights {
    let mut accounts: Vec<AccountRights> = Vec::new();
    for (right, sids) in held {
        for sid in sids {
            match accounts.iter_mut().find(|a| &a.sid == sid) {
                Some(a) => a.mask |= right.bit(),
                None => accounts.push(AccountRights {
                    sid: sid.clone(),
                    mask: right.bit(),
                    path: format!("LSA account rights of {sid}"),
                }),
            }
        }
    }
    Rights {
        accounts,
        origin: RegistryOrigin::Live,
    }
}

/// `USER_INFO_3`'s fields the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserInfo {
    pub rid: u32,
    /// `usri3_flags` (UF_*).
    pub flags: u32,
    pub password_age: u32,
    pub password_expired: bool,
    /// Seconds since 1970; `u32::MAX` is TIMEQ_FOREVER.
    pub acct_expires: u32,
    pub last_logon: u32,
    pub bad_pw_count: u32,
}

const UF_ACCOUNTDISABLE: u32 = 0x2;
const UF_LOCKOUT: u32 = 0x10;
const UF_DONT_EXPIRE_PASSWD: u32 = 0x1_0000;

/// The account as SAM's `F` value would hold it.
pub fn account_of(name: &str, u: UserInfo, domain: Option<&Sid>, now_unix: u64) -> Account {
    let mut control = 0;
    for (uf, acb) in [
        (UF_ACCOUNTDISABLE, DISABLED),
        (UF_LOCKOUT, AUTO_LOCKED),
        (UF_DONT_EXPIRE_PASSWD, PASSWORD_NOT_EXPIRING),
    ] {
        if u.flags & uf != 0 {
            control |= acb;
        }
    }
    let password_last_set = if u.password_expired {
        0
    } else {
        filetime(now_unix.saturating_sub(u64::from(u.password_age))).max(1)
    };
    Account {
        name: name.into(),
        rid: u.rid,
        sid: domain.map(|d| d.child(u.rid)),
        control,
        last_logon: if u.last_logon == 0 {
            0
        } else {
            filetime(u64::from(u.last_logon))
        },
        password_last_set,
        expires: if u.acct_expires == u32::MAX {
            NEVER
        } else {
            filetime(u64::from(u.acct_expires))
        },
        failed_logons: u16::try_from(u.bad_pw_count).unwrap_or(u16::MAX),
        path: format!("NetUserGetInfo({name}, 3)"),
        origin: RegistryOrigin::Live,
    }
}

#[cfg(windows)]
pub use win::read;

/// The account rules on this machine's LSA and local accounts, for `user`.
pub fn check(user: &str, now_unix: u64) -> Result<Vec<crate::rules::Outcome>, crate::Error> {
    #[cfg(windows)]
    {
        Ok(super::rules::all(&read(Some(user), now_unix)?))
    }
    #[cfg(not(windows))]
    {
        let _ = (user, now_unix);
        Err(crate::Error(crate::live::NOT_WINDOWS.into()))
    }
}

#[cfg(windows)]
mod win {
    use std::ptr::{null, null_mut};

    use windows_sys::Win32::NetworkManagement::NetManagement::{
        NetApiBufferFree, NetLocalGroupGetMembers, NetUserGetInfo, LOCALGROUP_MEMBERS_INFO_0,
        MAX_PREFERRED_LENGTH, USER_INFO_1, USER_INFO_3,
    };
    use windows_sys::Win32::Security::Authentication::Identity::{
        LsaClose, LsaEnumerateAccountsWithUserRight, LsaFreeMemory, LsaNtStatusToWinError,
        LsaOpenPolicy, LSA_ENUMERATION_INFORMATION, LSA_HANDLE, LSA_OBJECT_ATTRIBUTES,
        LSA_UNICODE_STRING, POLICY_LOOKUP_NAMES, POLICY_VIEW_LOCAL_INFORMATION,
    };
    use windows_sys::Win32::Security::{
        GetLengthSid, LookupAccountNameW, LookupAccountSidW, PSID, SID_NAME_USE,
    };

    use super::*;
    use crate::accounts::sam::{Alias, Groups};
    use crate::accounts::{AccountFacts, UserLookup};
    use crate::winreg::wide;
    use crate::Error;

    /// STATUS_NO_MORE_ENTRIES: nobody holds the right.
    const NO_MORE_ENTRIES: i32 = 0x8000_001A_u32 as i32;
    const NERR_USER_NOT_FOUND: u32 = 2221;

    fn os_error(what: &str, code: u32) -> Error {
        Error(format!(
            "{what}: {}",
            std::io::Error::from_raw_os_error(code as i32)
        ))
    }

    /// The bytes of a SID the system returned.
    ///
    /// # Safety
    /// `p` is a valid SID.
    unsafe fn sid_at(p: PSID) -> Option<Sid> {
        if p.is_null() {
            return None;
        }
        let len = GetLengthSid(p) as usize;
        let bytes = std::slice::from_raw_parts(p as *const u8, len);
        Sid::parse(bytes).map(|(s, _)| s)
    }

    struct Policy(LSA_HANDLE);

    impl Drop for Policy {
        fn drop(&mut self) {
            // SAFETY: the handle came from LsaOpenPolicy and is closed once.
            unsafe { LsaClose(self.0) };
        }
    }

    fn holders(policy: &Policy, right: Right) -> Result<Vec<Sid>, Error> {
        let mut name: Vec<u16> = right.name().encode_utf16().collect();
        let bytes = (name.len() * 2) as u16;
        let us = LSA_UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: name.as_mut_ptr(),
        };
        let mut buf: *mut core::ffi::c_void = null_mut();
        let mut count = 0u32;
        // SAFETY: valid policy handle, string and out pointers.
        let status =
            unsafe { LsaEnumerateAccountsWithUserRight(policy.0, &us, &mut buf, &mut count) };
        if status == NO_MORE_ENTRIES {
            return Ok(Vec::new());
        }
        if status < 0 {
            // SAFETY: plain conversion.
            let code = unsafe { LsaNtStatusToWinError(status) };
            return Err(os_error(
                &format!("LsaEnumerateAccountsWithUserRight({})", right.name()),
                code,
            ));
        }
        let mut out = Vec::new();
        if !buf.is_null() {
            // SAFETY: LSA returned `count` entries at `buf`, freed below.
            unsafe {
                let entries = std::slice::from_raw_parts(
                    buf as *const LSA_ENUMERATION_INFORMATION,
                    count as usize,
                );
                out.extend(entries.iter().filter_map(|e| sid_at(e.Sid)));
                LsaFreeMemory(buf);
            }
        }
        Ok(out)
    }

    fn rights() -> Result<Rights, Error> {
        let attrs = LSA_OBJECT_ATTRIBUTES {
            Length: std::mem::size_of::<LSA_OBJECT_ATTRIBUTES>() as u32,
            ..Default::default()
        };
        let mut handle: LSA_HANDLE = 0;
        let access = (POLICY_LOOKUP_NAMES | POLICY_VIEW_LOCAL_INFORMATION) as u32;
        // SAFETY: null system name (this machine), valid attributes and out pointer.
        let status = unsafe { LsaOpenPolicy(null(), &attrs, access, &mut handle) };
        if status < 0 {
            // SAFETY: plain conversion.
            let code = unsafe { LsaNtStatusToWinError(status) };
            return Err(os_error("LsaOpenPolicy", code));
        }
        let policy = Policy(handle);
        let held = RIGHTS
            .into_iter()
            .map(|r| Ok((r, holders(&policy, r)?)))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(rights_of(&held))
    }

    /// The local name of a builtin group (names are localized).
    fn group_name(rid: u32) -> Option<String> {
        let sid = Sid {
            authority: 5,
            subs: vec![32, rid],
        }
        .to_bytes();
        let (mut name, mut domain) = (vec![0u16; 256], vec![0u16; 256]);
        let (mut n, mut d, mut kind) = (256u32, 256u32, 0 as SID_NAME_USE);
        // SAFETY: valid SID bytes and buffers with their sizes.
        let ok = unsafe {
            LookupAccountSidW(
                null(),
                sid.as_ptr() as PSID,
                name.as_mut_ptr(),
                &mut n,
                domain.as_mut_ptr(),
                &mut d,
                &mut kind,
            )
        };
        (ok != 0).then(|| String::from_utf16_lossy(&name[..n as usize]))
    }

    fn members(group: &str) -> Result<Vec<Sid>, Error> {
        let mut buf: *mut u8 = null_mut();
        let (mut read, mut total) = (0u32, 0u32);
        // SAFETY: valid group name and out pointers; the buffer is freed below.
        let rc = unsafe {
            NetLocalGroupGetMembers(
                null(),
                wide(group).as_ptr(),
                0,
                &mut buf,
                MAX_PREFERRED_LENGTH,
                &mut read,
                &mut total,
                null_mut(),
            )
        };
        if rc != 0 {
            return Err(os_error(&format!("NetLocalGroupGetMembers({group})"), rc));
        }
        let mut out = Vec::new();
        if !buf.is_null() {
            // SAFETY: `read` entries at `buf`.
            unsafe {
                let entries = std::slice::from_raw_parts(
                    buf as *const LOCALGROUP_MEMBERS_INFO_0,
                    read as usize,
                );
                out.extend(entries.iter().filter_map(|e| sid_at(e.lgrmi0_sid)));
                NetApiBufferFree(buf as _);
            }
        }
        Ok(out)
    }

    fn groups(domain: Option<Sid>) -> Result<Groups, Error> {
        let mut aliases = Vec::new();
        for rid in [0x220, 0x221, 0x22B] {
            if let Some(name) = group_name(rid) {
                aliases.push(Alias {
                    rid,
                    members: members(&name)?,
                    path: format!("NetLocalGroupGetMembers({name})"),
                });
            }
        }
        Ok(Groups {
            aliases,
            domain,
            origin: RegistryOrigin::Live,
        })
    }

    /// The SID of `name`, for the machine's domain SID.
    fn sid_of(name: &str) -> Option<Sid> {
        let (mut sid, mut domain) = (vec![0u8; 68], vec![0u16; 256]);
        let (mut n, mut d, mut kind) = (68u32, 256u32, 0 as SID_NAME_USE);
        // SAFETY: buffers with their sizes.
        let ok = unsafe {
            LookupAccountNameW(
                null(),
                wide(name).as_ptr(),
                sid.as_mut_ptr() as PSID,
                &mut n,
                domain.as_mut_ptr(),
                &mut d,
                &mut kind,
            )
        };
        if ok == 0 {
            return None;
        }
        Sid::parse(&sid).map(|(s, _)| s)
    }

    /// `NetUserGetInfo` at `level`: the return code and the buffer (freed by the caller).
    fn user_buffer(name: &str, level: u32) -> (u32, *mut u8) {
        let mut buf: *mut u8 = null_mut();
        // SAFETY: valid name and out pointer.
        let rc = unsafe { NetUserGetInfo(null(), wide(name).as_ptr(), level, &mut buf) };
        (rc, buf)
    }

    /// The account's fields: level 3, else level 1 (Wine implements only the
    /// lower levels: then the expiry and "must change password" are unknown
    /// and read as never and no).
    fn user_info(name: &str) -> Result<Option<(UserInfo, u32)>, Error> {
        let (rc, buf) = user_buffer(name, 3);
        if rc == NERR_USER_NOT_FOUND {
            return Ok(None);
        }
        if rc == 0 && !buf.is_null() {
            // SAFETY: level 3 returns one USER_INFO_3, freed here.
            let info = unsafe {
                let u = &*(buf as *const USER_INFO_3);
                let info = UserInfo {
                    rid: u.usri3_user_id,
                    flags: u.usri3_flags,
                    password_age: u.usri3_password_age,
                    password_expired: u.usri3_password_expired != 0,
                    acct_expires: u.usri3_acct_expires,
                    last_logon: u.usri3_last_logon,
                    bad_pw_count: u.usri3_bad_pw_count,
                };
                NetApiBufferFree(buf as _);
                info
            };
            return Ok(Some((info, 3)));
        }
        let level3 = os_error(&format!("NetUserGetInfo({name}, 3)"), rc);
        let (rc, buf) = user_buffer(name, 1);
        if rc == NERR_USER_NOT_FOUND {
            return Ok(None);
        }
        if rc != 0 || buf.is_null() {
            return Err(level3);
        }
        let rid = sid_of(name)
            .and_then(|s| s.subs.last().copied())
            .unwrap_or(0);
        // SAFETY: level 1 returns one USER_INFO_1, freed here.
        let info = unsafe {
            let u = &*(buf as *const USER_INFO_1);
            let info = UserInfo {
                rid,
                flags: u.usri1_flags,
                password_age: u.usri1_password_age,
                password_expired: false,
                acct_expires: u32::MAX,
                last_logon: 0,
                bad_pw_count: 0,
            };
            NetApiBufferFree(buf as _);
            info
        };
        Ok(Some((info, 1)))
    }

    fn user(name: &str, now_unix: u64) -> Result<(UserLookup, Option<Sid>), Error> {
        let Some((info, level)) = user_info(name)? else {
            let origin = RegistryOrigin::Live;
            return Ok((
                UserLookup::NotFound {
                    name: name.into(),
                    origin,
                },
                None,
            ));
        };
        let domain = sid_of(name)
            .filter(|s| s.subs.last() == Some(&info.rid))
            .map(|s| Sid {
                authority: s.authority,
                subs: s.subs[..s.subs.len() - 1].to_vec(),
            });
        let mut account = account_of(name, info, domain.as_ref(), now_unix);
        account.path = format!("NetUserGetInfo({name}, {level})");
        Ok((UserLookup::Found(account), domain))
    }

    /// The account facts of this host, for `user` when given.
    pub fn read(user_name: Option<&str>, now_unix: u64) -> Result<AccountFacts, Error> {
        let (found, domain) = match user_name {
            Some(n) => {
                let (u, d) = user(n, now_unix)?;
                (Some(u), d)
            }
            None => (None, None),
        };
        Ok(AccountFacts {
            rights: Some(rights()?),
            groups: Some(groups(domain)?),
            user: found,
            now: filetime(now_unix),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::sid;

    #[test]
    fn rights_of_several_calls_merge_into_one_mask_per_sid() {
        let r = rights_of(&[
            (
                Right::RemoteInteractive,
                vec![sid("S-1-5-32-544"), sid("S-1-5-32-555")],
            ),
            (Right::DenyNetwork, vec![sid("S-1-5-32-555")]),
        ]);
        assert_eq!(r.accounts.len(), 2);
        assert_eq!(r.accounts[1].mask, 0x480);
    }

    #[test]
    fn user_info_3_maps_to_the_f_value_s_bits() {
        let u = UserInfo {
            rid: 1001,
            flags: 0x2 | 0x10,
            password_age: 0,
            password_expired: true,
            acct_expires: u32::MAX,
            last_logon: 0,
            bad_pw_count: 3,
        };
        let a = account_of("bob", u, Some(&sid("S-1-5-21-1-2-3")), 1_800_000_000);
        assert!(a.disabled() && a.locked() && a.must_change_password());
        assert!(!a.expired(u64::MAX - 1));
        assert_eq!(a.sid, Some(sid("S-1-5-21-1-2-3-1001")));
        let ok = account_of(
            "bob",
            UserInfo {
                flags: 0x1_0000,
                password_expired: false,
                acct_expires: 100,
                ..u
            },
            None,
            1_800_000_000,
        );
        assert!(!ok.disabled() && !ok.locked() && !ok.must_change_password());
        assert!(ok.expired(filetime(1_800_000_000)));
    }
}

/// This machine's accounts, under Windows or Wine (scripts/windows.sh).
#[cfg(all(test, windows))]
mod win_tests {
    use crate::accounts::{rules, UserLookup};

    #[test]
    fn this_host_s_accounts_are_read_and_checked() {
        let name = std::env::var("USERNAME").expect("USERNAME is set on Windows");
        let f = super::read(Some(&name), 1_800_000_000).expect("LSA and NetApi answer");
        eprintln!("{f:#?}");
        let Some(UserLookup::Found(a)) = &f.user else {
            panic!("the logged-on user {name} is a local account: {:?}", f.user)
        };
        assert!(a.name.eq_ignore_ascii_case(&name));
        let groups = f.groups.as_ref().expect("groups");
        assert!(groups.alias(0x220).is_some(), "Administrators: {groups:?}");
        // The rules run on live facts as on hives.
        assert!(!rules::all(&f).is_empty());
        // Someone who is not there.
        let missing = super::read(Some("rdp-doctor-no-such-user"), 0).expect("answers");
        assert!(
            matches!(missing.user, Some(UserLookup::NotFound { .. })),
            "{:?}",
            missing.user
        );
    }
}
