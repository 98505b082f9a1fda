//! Who may log on through Remote Desktop: the logon rights LSA keeps (the
//! SECURITY hive, or `LsaEnumerateAccountsWithUserRight` live), the local
//! groups and the account checked (the SAM hive, or the NetApi calls live).
//!
//! ```text
//! SECURITY -> lsa::Rights ─┐
//! SAM      -> sam::Groups ─┼-> AccountFacts -> rules::all -> Outcomes
//! --user   -> sam::Account ┘
//! ```

pub mod live;
pub mod lsa;
pub mod offline;
mod remedies;
pub mod rules;
pub mod sam;

use rdp_doctor_model::RegistryOrigin;

pub use offline::{check_files, AccountFiles};

/// A security identifier: the one type of `secdesc`, with what accounts need.
pub use crate::secdesc::Sid;

impl Sid {
    /// Reads a binary SID (revision 1) at the start of `b`; returns it and its length.
    pub fn parse(b: &[u8]) -> Option<(Sid, usize)> {
        crate::secdesc::parse_sid(b, 0).ok()
    }

    /// Reads `S-1-5-32-544`.
    pub fn from_text(s: &str) -> Option<Sid> {
        Sid::parse_str(s.trim()).filter(|s| s.subs.len() <= 15)
    }

    /// The binary form (what `Sid` values and alias member lists hold).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![1, self.subs.len() as u8];
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for s in &self.subs {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// This SID with `rid` appended (a domain's account).
    pub fn child(&self, rid: u32) -> Sid {
        let mut subs = self.subs.clone();
        subs.push(rid);
        Sid {
            authority: self.authority,
            subs,
        }
    }

    /// The name Windows gives a well-known SID, when it is one.
    pub fn well_known_name(&self) -> Option<&'static str> {
        WELL_KNOWN.iter().find(|(s, _)| self.is(s)).map(|&(_, n)| n)
    }

    /// `S-1-5-32-555 (Remote Desktop Users)`, or the bare SID.
    pub fn shown(&self) -> String {
        match self.well_known_name() {
            Some(n) => format!("{self} ({n})"),
            None => self.to_string(),
        }
    }
}

pub const EVERYONE: &str = "S-1-1-0";
pub const NETWORK: &str = "S-1-5-2";
pub const INTERACTIVE: &str = "S-1-5-4";
pub const AUTHENTICATED_USERS: &str = "S-1-5-11";
pub const REMOTE_INTERACTIVE: &str = "S-1-5-14";
pub const LOCAL_ACCOUNT: &str = "S-1-5-113";
pub const LOCAL_ADMIN_ACCOUNT: &str = "S-1-5-114";
pub const ADMINISTRATORS: &str = "S-1-5-32-544";
pub const USERS: &str = "S-1-5-32-545";
pub const REMOTE_DESKTOP_USERS: &str = "S-1-5-32-555";

/// Well-known SIDs a Remote Desktop logon's token can hold, with their English names.
const WELL_KNOWN: &[(&str, &str)] = &[
    (EVERYONE, "Everyone"),
    (NETWORK, "NETWORK"),
    (INTERACTIVE, "INTERACTIVE"),
    (AUTHENTICATED_USERS, "Authenticated Users"),
    (REMOTE_INTERACTIVE, "REMOTE INTERACTIVE LOGON"),
    (LOCAL_ACCOUNT, "Local account"),
    (
        LOCAL_ADMIN_ACCOUNT,
        "Local account and member of Administrators group",
    ),
    (ADMINISTRATORS, "Administrators"),
    (USERS, "Users"),
    ("S-1-5-32-546", "Guests"),
    (REMOTE_DESKTOP_USERS, "Remote Desktop Users"),
];

/// The well-known SID `s` (a constant of this module).
pub fn sid(s: &str) -> Sid {
    Sid::from_text(s).unwrap_or(Sid {
        authority: 0,
        subs: Vec::new(),
    })
}

/// Everything the account rules read. `None`: that source was not read.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountFacts {
    pub rights: Option<lsa::Rights>,
    pub groups: Option<sam::Groups>,
    /// The account asked about (`--user`), as SAM has it.
    pub user: Option<UserLookup>,
    /// Now, as a FILETIME (for account expiry).
    pub now: u64,
}

/// The account asked about.
#[derive(Debug, Clone, PartialEq)]
pub enum UserLookup {
    /// Not a local account of this SAM (a domain account, or a typo).
    NotFound {
        name: String,
        origin: RegistryOrigin,
    },
    Found(sam::Account),
}

/// Seconds since 1970 as a FILETIME (100 ns since 1601).
pub fn filetime(unix_seconds: u64) -> u64 {
    unix_seconds
        .saturating_add(11_644_473_600)
        .saturating_mul(10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_round_trip_between_text_and_binary() {
        let s = sid("S-1-5-21-1760460187-1592185332-161725925-1000");
        assert_eq!(
            s.to_string(),
            "S-1-5-21-1760460187-1592185332-161725925-1000"
        );
        let b = s.to_bytes();
        assert_eq!(b.len(), 28);
        assert_eq!(Sid::parse(&b), Some((s, 28)));
        assert_eq!(
            sid(REMOTE_DESKTOP_USERS).to_bytes(),
            [1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x2B, 2, 0, 0]
        );
        assert_eq!(
            sid(REMOTE_DESKTOP_USERS).shown(),
            "S-1-5-32-555 (Remote Desktop Users)"
        );
    }

    #[test]
    fn bad_sids_are_refused() {
        assert_eq!(Sid::parse(&[]), None);
        assert_eq!(Sid::parse(&[2, 1, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0]), None);
        assert_eq!(Sid::parse(&[1, 2, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0]), None);
        assert_eq!(Sid::from_text("S-1-5-x"), None);
        assert_eq!(Sid::from_text("X-1-5"), None);
    }

    #[test]
    fn filetime_of_the_unix_epoch() {
        assert_eq!(filetime(0), 116_444_736_000_000_000);
    }
}
