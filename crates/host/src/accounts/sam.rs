//! Local groups and accounts, as the SAM hive keeps them.
//!
//! Layouts (libyal's winreg-kb "Security Accounts Manager keys", chntpw's
//! sam.h, regipy's samparse agree on the fields read here):
//! - `SAM\Domains\Builtin\Aliases\<RID>\C`: the alias; at 40 the member
//!   array's offset (from 52), at 44 its size, at 48 its count; the members
//!   are binary SIDs back to back.
//! - `SAM\Domains\Account\Users\Names\<name>`: the default value's *type* is
//!   the account's RID.
//! - `SAM\Domains\Account\Users\<RID>\F`: at 8 the last logon, 24 the password
//!   last set, 32 the account expiry (FILETIMEs), 48 the RID, 56 the account
//!   control bits (16 bits), 64 failed logons, 66 logons.
//! - `SAM\Domains\Account\V`: the machine's domain SID in its last 24 bytes.

use rdp_doctor_model::{Evidence, RegistryOrigin};
use rdp_doctor_regf::{Data, Hive, Key};

use super::{Sid, UserLookup};
use crate::Error;

pub const BUILTIN_ALIASES: &str = "SAM\\Domains\\Builtin\\Aliases";
pub const USERS: &str = "SAM\\Domains\\Account\\Users";
pub const ACCOUNT: &str = "SAM\\Domains\\Account";

/// Account control bits (chntpw's ACB_*, [MS-SAMR] 2.2.1.12 USER_ACCOUNT codes).
pub const DISABLED: u16 = 0x0001;
pub const PASSWORD_NOT_EXPIRING: u16 = 0x0200;
pub const AUTO_LOCKED: u16 = 0x0400;
/// A FILETIME meaning "never" (account expiry).
pub const NEVER: u64 = 0x7FFF_FFFF_FFFF_FFFF;

/// A builtin local group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub rid: u32,
    pub members: Vec<Sid>,
    /// `HKLM\SAM\SAM\Domains\Builtin\Aliases\0000022B\C`.
    pub path: String,
}

impl Alias {
    /// Its SID (`S-1-5-32-<rid>`).
    pub fn sid(&self) -> Sid {
        Sid {
            authority: 5,
            subs: vec![32, self.rid],
        }
    }

    pub fn evidence(&self, origin: &RegistryOrigin) -> Evidence {
        let members: Vec<String> = self.members.iter().map(Sid::shown).collect();
        Evidence::Registry {
            path: self.path.clone(),
            value: format!(
                "{} member(s) of {}{}{}",
                self.members.len(),
                self.sid().shown(),
                if members.is_empty() { "" } else { ": " },
                members.join(", ")
            ),
            origin: origin.clone(),
        }
    }
}

/// The local groups and the machine's SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    pub aliases: Vec<Alias>,
    /// `S-1-5-21-…`: local accounts' SIDs are it plus their RID.
    pub domain: Option<Sid>,
    pub origin: RegistryOrigin,
}

impl Groups {
    pub fn alias(&self, rid: u32) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.rid == rid)
    }
}

/// A local account (the `F` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub rid: u32,
    /// The account's SID, when the machine's SID was read.
    pub sid: Option<Sid>,
    pub control: u16,
    pub last_logon: u64,
    pub password_last_set: u64,
    pub expires: u64,
    pub failed_logons: u16,
    /// `HKLM\SAM\SAM\Domains\Account\Users\000003E8\F`.
    pub path: String,
    pub origin: RegistryOrigin,
}

impl Account {
    pub fn disabled(&self) -> bool {
        self.control & DISABLED != 0
    }

    pub fn locked(&self) -> bool {
        self.control & AUTO_LOCKED != 0
    }

    /// The account expired before `now` (FILETIMEs; 0 and [`NEVER`] never expire).
    pub fn expired(&self, now: u64) -> bool {
        self.expires != 0 && self.expires != NEVER && self.expires <= now
    }

    /// "User must change password at next logon": the password was never set
    /// (0) and does not have "never expires".
    pub fn must_change_password(&self) -> bool {
        self.password_last_set == 0 && self.control & PASSWORD_NOT_EXPIRING == 0
    }

    pub fn evidence(&self) -> Evidence {
        Evidence::Registry {
            path: self.path.clone(),
            value: format!(
                "account {} (RID {}): control 0x{:04X}, password last set {}, expires {}, {} failed logon(s)",
                self.name,
                self.rid,
                self.control,
                if self.password_last_set == 0 { "never".into() } else { format!("FILETIME {}", self.password_last_set) },
                if self.expires == 0 || self.expires == NEVER { "never".into() } else { format!("FILETIME {}", self.expires) },
                self.failed_logons
            ),
            origin: self.origin.clone(),
        }
    }
}

fn at(e: rdp_doctor_regf::Error) -> Error {
    Error(format!("SAM hive: {e}"))
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

fn bytes(d: Option<Data>) -> Option<Vec<u8>> {
    match d? {
        Data::Binary(b) | Data::Other(_, b) => Some(b),
        _ => None,
    }
}

/// The member SIDs of an alias `C` value; `None` when the member array is out of bounds.
pub fn alias_members(c: &[u8]) -> Option<Vec<Sid>> {
    const DATA: usize = 52;
    let offset = DATA.checked_add(u32_at(c, 40)? as usize)?;
    let size = u32_at(c, 44)? as usize;
    let count = u32_at(c, 48)? as usize;
    let mut rest = c.get(offset..offset.checked_add(size)?)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let (sid, len) = Sid::parse(rest)?;
        out.push(sid);
        rest = &rest[len..];
    }
    Some(out)
}

/// An account's facts from its `F` value; `None` when it is too short.
pub fn account_from_f(f: &[u8]) -> Option<(u32, u16, u64, u64, u64, u16)> {
    Some((
        u32_at(f, 48)?,
        u16_at(f, 56)?,
        u64_at(f, 8)?,
        u64_at(f, 24)?,
        u64_at(f, 32)?,
        u16_at(f, 64)?,
    ))
}

/// The machine SID at the end of `SAM\Domains\Account\V`.
pub fn domain_sid(v: &[u8]) -> Option<Sid> {
    let tail = v.get(v.len().checked_sub(24)?..)?;
    let (sid, _) = Sid::parse(tail)?;
    (sid.authority == 5 && sid.subs.len() == 4 && sid.subs[0] == 21).then_some(sid)
}

/// The builtin aliases and the machine SID of a SAM hive.
pub fn read_groups(hive: &Hive, origin: RegistryOrigin) -> Result<Groups, Error> {
    let root = hive.root().map_err(at)?;
    let aliases_key = root.path(BUILTIN_ALIASES).map_err(at)?.ok_or_else(|| {
        Error("SAM hive has no SAM\\Domains\\Builtin\\Aliases: is it a SAM hive?".into())
    })?;
    let mut aliases = Vec::new();
    for k in aliases_key.subkeys().map_err(at)? {
        let name = k.name();
        let Ok(rid) = u32::from_str_radix(&name, 16) else {
            continue; // Members, Names
        };
        let path = format!("HKLM\\SAM\\{BUILTIN_ALIASES}\\{name}\\C");
        let c = bytes(k.value("C").map_err(at)?)
            .ok_or_else(|| Error(format!("SAM hive: {path} is missing or not binary")))?;
        let members = alias_members(&c).ok_or_else(|| {
            Error(format!(
                "SAM hive: {path}: the member list runs past the value ({} bytes)",
                c.len()
            ))
        })?;
        aliases.push(Alias { rid, members, path });
    }
    let domain = root
        .path(ACCOUNT)
        .map_err(at)?
        .and_then(|k| bytes(k.value("V").ok().flatten()))
        .and_then(|v| domain_sid(&v));
    Ok(Groups {
        aliases,
        domain,
        origin,
    })
}

/// The account `name` (case-insensitive, as Windows compares).
pub fn read_account(
    hive: &Hive,
    name: &str,
    domain: Option<&Sid>,
    origin: RegistryOrigin,
) -> Result<UserLookup, Error> {
    let root = hive.root().map_err(at)?;
    let names = root.path(&format!("{USERS}\\Names")).map_err(at)?;
    let Some(entry) = names.and_then(|n| n.subkey(name).ok().flatten()) else {
        return Ok(UserLookup::NotFound {
            name: name.into(),
            origin,
        });
    };
    let rid = rid_of(&entry).map_err(at)?.ok_or_else(|| {
        Error(format!(
            "SAM hive: {USERS}\\Names\\{name} has no default value holding the RID"
        ))
    })?;
    let key = format!("{rid:08X}");
    let path = format!("HKLM\\SAM\\{USERS}\\{key}\\F");
    let f = root
        .path(&format!("{USERS}\\{key}"))
        .map_err(at)?
        .and_then(|k| bytes(k.value("F").ok().flatten()))
        .ok_or_else(|| Error(format!("SAM hive: {path} is missing")))?;
    let (f_rid, control, last_logon, password_last_set, expires, failed_logons) =
        account_from_f(&f)
            .ok_or_else(|| Error(format!("SAM hive: {path} is {} bytes, too short", f.len())))?;
    if f_rid != rid {
        return Err(Error(format!(
            "SAM hive: {path} names RID {f_rid}, its key {rid}"
        )));
    }
    Ok(UserLookup::Found(Account {
        name: entry.name(),
        rid,
        sid: domain.map(|d| d.child(rid)),
        control,
        last_logon,
        password_last_set,
        expires,
        failed_logons,
        path,
        origin,
    }))
}

/// The RID a `Names\<name>` key holds as its default value's type.
fn rid_of(k: &Key) -> Result<Option<u32>, rdp_doctor_regf::Error> {
    Ok(k.values()?
        .into_iter()
        .find(|v| v.name.is_empty())
        .map(|v| v.data.to_raw().0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c_value(members: &[Sid]) -> Vec<u8> {
        let list: Vec<u8> = members.iter().flat_map(Sid::to_bytes).collect();
        let mut c = vec![0u8; 52 + 8];
        c[40..44].copy_from_slice(&8u32.to_le_bytes());
        c[44..48].copy_from_slice(&(list.len() as u32).to_le_bytes());
        c[48..52].copy_from_slice(&(members.len() as u32).to_le_bytes());
        c.extend(list);
        c
    }

    #[test]
    fn alias_members_are_read_back_to_back() {
        let m = [
            super::super::sid("S-1-5-11"),
            super::super::sid("S-1-5-21-1-2-3-1000"),
        ];
        assert_eq!(alias_members(&c_value(&m)), Some(m.to_vec()));
        assert_eq!(alias_members(&c_value(&[])), Some(Vec::new()));
    }

    #[test]
    fn member_lists_out_of_bounds_are_refused() {
        let mut c = c_value(&[super::super::sid("S-1-5-11")]);
        c[48] = 2; // two members announced, one there
        assert_eq!(alias_members(&c), None);
        c[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(alias_members(&c), None);
        assert_eq!(alias_members(&c[..30]), None);
    }

    #[test]
    fn account_state_from_control_bits_and_times() {
        let a = Account {
            name: "u".into(),
            rid: 1000,
            sid: None,
            control: 0x10,
            last_logon: 0,
            password_last_set: 5,
            expires: NEVER,
            failed_logons: 0,
            path: String::new(),
            origin: RegistryOrigin::Live,
        };
        assert!(
            !a.disabled() && !a.locked() && !a.expired(u64::MAX - 1) && !a.must_change_password()
        );
        let b = Account {
            control: 0x411,
            expires: 100,
            password_last_set: 0,
            ..a
        };
        assert!(b.disabled() && b.locked() && b.expired(100) && !b.expired(99));
        assert!(b.must_change_password());
    }
}
