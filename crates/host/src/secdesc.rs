//! Self-relative SECURITY_DESCRIPTORs ([MS-DTYP] 2.4.6) and their DACLs:
//! what NTFS keeps for a file (ntfs-3g shows it as the `system.ntfs_acl`
//! extended attribute; Windows returns it from `GetFileSecurityW`). Sans-IO,
//! bounded by the buffer, never panics.

use std::fmt;

/// `SE_DACL_PRESENT`.
const DACL_PRESENT: u16 = 0x0004;
const HEADER: usize = 20;

/// A security identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sid {
    pub authority: u64,
    pub subs: Vec<u32>,
}

impl Sid {
    /// `S-1-5-20` and the like.
    pub fn parse_str(s: &str) -> Option<Sid> {
        let mut parts = s.strip_prefix("S-1-")?.split('-');
        let authority = parts.next()?.parse().ok()?;
        let subs = parts
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u32>>>()?;
        Some(Sid { authority, subs })
    }

    pub fn is(&self, s: &str) -> bool {
        Sid::parse_str(s).is_some_and(|o| &o == self)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-1-{}", self.authority)?;
        for s in &self.subs {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AceKind {
    Allow,
    Deny,
    /// Another ACE type (audit, object, callback), kept by number.
    Other(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    pub kind: AceKind,
    pub flags: u8,
    pub mask: u32,
    /// `None` for ACE types without a plain SID after the mask.
    pub sid: Option<Sid>,
}

/// `INHERIT_ONLY_ACE`: the ACE does not apply to the object itself.
pub const INHERIT_ONLY: u8 = 0x08;

/// The access-mask bits that let a holder read a file's data.
pub const READ_BITS: u32 = 0x0000_0001 | 0x8000_0000 | 0x1000_0000;

/// The parts of a descriptor the checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    pub control: u16,
    pub owner: Option<Sid>,
    /// `None`: no DACL, or a NULL DACL: everyone has full access.
    pub dacl: Option<Vec<Ace>>,
}

/// Why bytes are not a descriptor, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for SdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "security descriptor: {} at offset {}",
            self.what, self.offset
        )
    }
}

impl std::error::Error for SdError {}

fn bytes<const N: usize>(b: &[u8], at: usize, what: &'static str) -> Result<[u8; N], SdError> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(SdError { offset: at, what })
}

fn u16_at(b: &[u8], at: usize, what: &'static str) -> Result<u16, SdError> {
    bytes::<2>(b, at, what).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, SdError> {
    bytes::<4>(b, at, what).map(u32::from_le_bytes)
}

/// A SID at `at`, within `b`.
pub fn parse_sid(b: &[u8], at: usize) -> Result<(Sid, usize), SdError> {
    let [rev, count] = bytes::<2>(b, at, "SID header")?;
    if rev != 1 || count > 15 {
        return Err(SdError {
            offset: at,
            what: "SID revision or sub-authority count",
        });
    }
    let auth = bytes::<6>(b, at + 2, "SID authority")?;
    let authority = auth.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
    let mut subs = Vec::with_capacity(usize::from(count));
    for i in 0..usize::from(count) {
        subs.push(u32_at(b, at + 8 + 4 * i, "SID sub-authority")?);
    }
    Ok((Sid { authority, subs }, 8 + 4 * usize::from(count)))
}

fn parse_acl(b: &[u8], at: usize) -> Result<Vec<Ace>, SdError> {
    let size = usize::from(u16_at(b, at + 2, "ACL size")?);
    let count = u16_at(b, at + 4, "ACE count")?;
    let end = at.saturating_add(size).min(b.len());
    let mut aces = Vec::new();
    let mut pos = at + 8;
    for _ in 0..count {
        let [kind, flags] = bytes::<2>(b, pos, "ACE header")?;
        let ace_size = usize::from(u16_at(b, pos + 2, "ACE size")?);
        if ace_size < 8 || pos + ace_size > end {
            return Err(SdError {
                offset: pos,
                what: "ACE size",
            });
        }
        let body = &b[..pos + ace_size];
        let mask = u32_at(body, pos + 4, "ACE mask")?;
        let (kind, sid) = match kind {
            0 => (AceKind::Allow, Some(parse_sid(body, pos + 8)?.0)),
            1 => (AceKind::Deny, Some(parse_sid(body, pos + 8)?.0)),
            k => (AceKind::Other(k), None),
        };
        aces.push(Ace {
            kind,
            flags,
            mask,
            sid,
        });
        pos += ace_size;
    }
    Ok(aces)
}

/// Parses a self-relative descriptor.
pub fn parse(b: &[u8]) -> Result<SecurityDescriptor, SdError> {
    let [rev, _] = bytes::<2>(b, 0, "header")?;
    if rev != 1 || b.len() < HEADER {
        return Err(SdError {
            offset: 0,
            what: "revision or length",
        });
    }
    let control = u16_at(b, 2, "control")?;
    let owner_at = u32_at(b, 4, "owner offset")? as usize;
    let dacl_at = u32_at(b, 16, "DACL offset")? as usize;
    let owner = match owner_at {
        0 => None,
        o => Some(parse_sid(b, o)?.0),
    };
    let dacl = match (control & DACL_PRESENT != 0, dacl_at) {
        (true, o) if o != 0 => Some(parse_acl(b, o)?),
        _ => None,
    };
    Ok(SecurityDescriptor {
        control,
        owner,
        dacl,
    })
}

impl SecurityDescriptor {
    /// The ACEs that apply to the object itself (not inherit-only).
    pub fn effective(&self) -> impl Iterator<Item = &Ace> {
        self.dacl
            .iter()
            .flatten()
            .filter(|a| a.flags & INHERIT_ONLY == 0)
    }

    /// Whether a token holding `sids` can read the data: a deny of a read
    /// bit wins; else some allow grants one. No DACL: everyone can.
    pub fn can_read(&self, sids: &[&str]) -> bool {
        if self.dacl.is_none() {
            return true;
        }
        let holds = |a: &Ace| a.sid.as_ref().is_some_and(|s| sids.iter().any(|x| s.is(x)));
        let hits = |k| {
            self.effective()
                .any(|a| a.kind == k && a.mask & READ_BITS != 0 && holds(a))
        };
        !hits(AceKind::Deny) && hits(AceKind::Allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid_bytes(s: &str) -> Vec<u8> {
        let sid = Sid::parse_str(s).unwrap();
        let mut v = vec![1, sid.subs.len() as u8];
        v.extend_from_slice(&sid.authority.to_be_bytes()[2..]);
        for x in sid.subs {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    }

    /// A descriptor built by hand, as [MS-DTYP] lays it out.
    fn sd(aces: &[(u8, u8, u32, &str)]) -> Vec<u8> {
        let mut acl = Vec::new();
        for (kind, flags, mask, sid) in aces {
            let s = sid_bytes(sid);
            acl.push(*kind);
            acl.push(*flags);
            acl.extend_from_slice(&((8 + s.len()) as u16).to_le_bytes());
            acl.extend_from_slice(&mask.to_le_bytes());
            acl.extend_from_slice(&s);
        }
        let mut out = vec![1, 0];
        out.extend_from_slice(&(0x8004u16).to_le_bytes());
        let owner = sid_bytes("S-1-5-32-544");
        out.extend_from_slice(&20u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&((20 + owner.len()) as u32).to_le_bytes());
        out.extend_from_slice(&owner);
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&((8 + acl.len()) as u16).to_le_bytes());
        out.extend_from_slice(&(aces.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&acl);
        out
    }

    #[test]
    fn a_dacl_is_read_and_evaluated() {
        let b = sd(&[(0, 0, 0x1f01ff, "S-1-5-18"), (0, 0, 0x120089, "S-1-5-20")]);
        let d = parse(&b).unwrap();
        assert_eq!(d.owner.as_ref().unwrap().to_string(), "S-1-5-32-544");
        assert_eq!(d.dacl.as_ref().unwrap().len(), 2);
        assert!(d.can_read(&["S-1-5-20"]));
        assert!(!d.can_read(&["S-1-5-19"]));
        let denied = parse(&sd(&[(1, 0, 0x1, "S-1-1-0"), (0, 0, 0x120089, "S-1-5-20")])).unwrap();
        assert!(!denied.can_read(&["S-1-5-20", "S-1-1-0"]));
        let inherit_only = parse(&sd(&[(0, INHERIT_ONLY, 0x120089, "S-1-5-20")])).unwrap();
        assert!(!inherit_only.can_read(&["S-1-5-20"]));
    }

    /// The fuzz seeds: descriptors ntfs-3g wrote on a real volume (mode 0600,
    /// and Microsoft's reset written through `system.ntfs_acl` and read back).
    #[test]
    fn descriptors_from_ntfs_3g_parse() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/host_secdesc");
        let read = |n: &str| std::fs::read(dir.join(n)).expect("seed");
        let owner_only = parse(&read("ntfs3g_mode0600")).unwrap();
        assert_eq!(owner_only.dacl.as_ref().map(Vec::len), Some(5));
        assert!(!owner_only.can_read(&["S-1-5-20", "S-1-1-0"]));
        let reset = parse(&read("microsoft_reset")).unwrap();
        assert!(reset.can_read(&["S-1-5-20"]));
        assert_eq!(reset.owner.unwrap().to_string(), "S-1-5-32-544");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = sd(&[(0, 0, 0x1f01ff, "S-1-5-18"), (0, 0, 1, "S-1-5-20")]);
        for n in 0..b.len() {
            assert!(parse(&b[..n]).is_err(), "{n}");
        }
        let mut bad = b.clone();
        bad[20 + 16 + 8 + 2] = 0xff; // first ACE's size beyond the ACL
        assert!(parse(&bad).is_err());
    }
}
