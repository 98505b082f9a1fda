//! The logon rights LSA grants and denies, as the SECURITY hive keeps them.
//!
//! Each account LSA knows has a key `Policy\Accounts\<SID>`; its subkey
//! `ActSysAc` holds, in the default value (REG_NONE, 4 bytes little-endian),
//! the account's system access mode: the logon rights as bits
//! ([MS-LSAD] 2.2.1.2 POLICY_SYSTEM_ACCESS_MODE, the SECURITY_ACCESS_* flags of
//! ntlsa.h). Its subkey `Sid` holds the binary SID, which wins over the key name.

use rdp_doctor_model::{Evidence, RegistryOrigin};
use rdp_doctor_regf::{Data, Hive, Key};

use super::Sid;
use crate::Error;

/// A logon right, with its bit in the system access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Right {
    Interactive,
    Network,
    Batch,
    Service,
    DenyInteractive,
    DenyNetwork,
    DenyBatch,
    DenyService,
    RemoteInteractive,
    DenyRemoteInteractive,
}

impl Right {
    pub const ALL: [Right; 10] = [
        Right::Interactive,
        Right::Network,
        Right::Batch,
        Right::Service,
        Right::DenyInteractive,
        Right::DenyNetwork,
        Right::DenyBatch,
        Right::DenyService,
        Right::RemoteInteractive,
        Right::DenyRemoteInteractive,
    ];

    /// Its bit ([MS-LSAD] 2.2.1.2).
    pub fn bit(self) -> u32 {
        match self {
            Right::Interactive => 0x1,
            Right::Network => 0x2,
            Right::Batch => 0x4,
            Right::Service => 0x10,
            Right::DenyInteractive => 0x40,
            Right::DenyNetwork => 0x80,
            Right::DenyBatch => 0x100,
            Right::DenyService => 0x200,
            Right::RemoteInteractive => 0x400,
            Right::DenyRemoteInteractive => 0x800,
        }
    }

    /// The right's name, as `secedit` and `LsaEnumerateAccountsWithUserRight` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Right::Interactive => "SeInteractiveLogonRight",
            Right::Network => "SeNetworkLogonRight",
            Right::Batch => "SeBatchLogonRight",
            Right::Service => "SeServiceLogonRight",
            Right::DenyInteractive => "SeDenyInteractiveLogonRight",
            Right::DenyNetwork => "SeDenyNetworkLogonRight",
            Right::DenyBatch => "SeDenyBatchLogonRight",
            Right::DenyService => "SeDenyServiceLogonRight",
            Right::RemoteInteractive => "SeRemoteInteractiveLogonRight",
            Right::DenyRemoteInteractive => "SeDenyRemoteInteractiveLogonRight",
        }
    }

    /// The name of the user-rights policy that sets it (secpol.msc, Group Policy).
    pub fn policy_name(self) -> &'static str {
        match self {
            Right::Interactive => "Allow log on locally",
            Right::Network => "Access this computer from the network",
            Right::Batch => "Log on as a batch job",
            Right::Service => "Log on as a service",
            Right::DenyInteractive => "Deny log on locally",
            Right::DenyNetwork => "Deny access to this computer from the network",
            Right::DenyBatch => "Deny log on as a batch job",
            Right::DenyService => "Deny log on as a service",
            Right::RemoteInteractive => "Allow log on through Remote Desktop Services",
            Right::DenyRemoteInteractive => "Deny log on through Remote Desktop Services",
        }
    }

    /// The rights set in a system access mode.
    pub fn in_mask(mask: u32) -> Vec<Right> {
        Right::ALL
            .into_iter()
            .filter(|r| mask & r.bit() != 0)
            .collect()
    }
}

/// The rights of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRights {
    pub sid: Sid,
    /// The system access mode (SECURITY_ACCESS_* bits).
    pub mask: u32,
    /// Where it was read (`HKLM\SECURITY\Policy\Accounts\<key>\ActSysAc`).
    pub path: String,
}

impl AccountRights {
    pub fn has(&self, r: Right) -> bool {
        self.mask & r.bit() != 0
    }

    pub fn evidence(&self, origin: &RegistryOrigin) -> Evidence {
        let names: Vec<&str> = Right::in_mask(self.mask)
            .into_iter()
            .map(Right::name)
            .collect();
        Evidence::Registry {
            path: self.path.clone(),
            value: format!(
                "0x{:08X} ({}) for {}",
                self.mask,
                if names.is_empty() {
                    "no logon right".into()
                } else {
                    names.join(", ")
                },
                self.sid.shown()
            ),
            origin: origin.clone(),
        }
    }
}

/// Every account's logon rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    /// Accounts with an `ActSysAc` (accounts with only privileges hold no logon right).
    pub accounts: Vec<AccountRights>,
    pub origin: RegistryOrigin,
}

impl Rights {
    /// The accounts among `sids` that hold `r`.
    pub fn holders<'a>(
        &'a self,
        r: Right,
        sids: &'a [Sid],
    ) -> impl Iterator<Item = &'a AccountRights> {
        self.accounts
            .iter()
            .filter(move |a| a.has(r) && sids.contains(&a.sid))
    }

    /// Every account that holds `r`.
    pub fn all_holders(&self, r: Right) -> impl Iterator<Item = &AccountRights> {
        self.accounts.iter().filter(move |a| a.has(r))
    }
}

pub const ACCOUNTS: &str = "Policy\\Accounts";

/// Reads `Policy\Accounts` of a SECURITY hive.
pub fn read(hive: &Hive, origin: RegistryOrigin) -> Result<Rights, Error> {
    let at = |e| Error(format!("SECURITY hive: {e}"));
    let root = hive.root().map_err(at)?;
    let accounts = root.path(ACCOUNTS).map_err(at)?.ok_or_else(|| {
        Error("SECURITY hive has no Policy\\Accounts: is it a SECURITY hive?".into())
    })?;
    let mut out = Vec::new();
    for k in accounts.subkeys().map_err(at)? {
        if let Some(a) = account(&k).map_err(at)? {
            out.push(a);
        }
    }
    Ok(Rights {
        accounts: out,
        origin,
    })
}

/// One account key: its SID (the `Sid` value, else the key name) and its `ActSysAc`.
fn account(k: &Key) -> Result<Option<AccountRights>, rdp_doctor_regf::Error> {
    let Some(act) = k.subkey("ActSysAc")? else {
        return Ok(None);
    };
    let Some(mask) = act.value("")?.as_ref().and_then(access_mask) else {
        return Ok(None);
    };
    let name = k.name();
    let from_value = k
        .subkey("Sid")?
        .and_then(|s| s.value("").ok().flatten())
        .and_then(|d| raw(&d).and_then(|b| Sid::parse(b).map(|(s, _)| s)));
    let Some(sid) = from_value.or_else(|| Sid::from_text(&name)) else {
        return Ok(None);
    };
    Ok(Some(AccountRights {
        sid,
        mask,
        path: format!("HKLM\\SECURITY\\{ACCOUNTS}\\{name}\\ActSysAc"),
    }))
}

/// The bytes of a REG_NONE / REG_BINARY value.
fn raw(d: &Data) -> Option<&[u8]> {
    match d {
        Data::Other(_, b) | Data::Binary(b) => Some(b),
        _ => None,
    }
}

/// The system access mode in an `ActSysAc` value (4 bytes, little-endian).
pub fn access_mask(d: &Data) -> Option<u32> {
    if let Data::Dword(v) = d {
        return Some(*v);
    }
    let b = raw(d)?.get(..4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_ms_lsad_s() {
        // [MS-LSAD] 2.2.1.2: POLICY_MODE_REMOTE_INTERACTIVE 0x400, DENY 0x800, NETWORK 0x2, DENY 0x80.
        assert_eq!(Right::RemoteInteractive.bit(), 0x400);
        assert_eq!(Right::DenyRemoteInteractive.bit(), 0x800);
        assert_eq!(Right::Network.bit(), 0x2);
        assert_eq!(Right::DenyNetwork.bit(), 0x80);
        assert_eq!(
            Right::in_mask(0x407),
            [
                Right::Interactive,
                Right::Network,
                Right::Batch,
                Right::RemoteInteractive
            ]
        );
    }

    #[test]
    fn masks_are_read_from_reg_none_bytes() {
        assert_eq!(access_mask(&Data::Other(0, vec![0, 8, 0, 0])), Some(0x800));
        assert_eq!(access_mask(&Data::Other(0, vec![0, 8])), None);
        assert_eq!(access_mask(&Data::None), None);
        assert_eq!(access_mask(&Data::Dword(2)), Some(2));
    }
}
