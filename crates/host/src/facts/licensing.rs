//! RD Session Host licensing: the role, the licensing mode, the license
//! servers and the grace period's timebomb.

use rdp_doctor_regf::Data;

use super::{ccs, Reading, POLICY};
use crate::registry::{Registry, Root};
use crate::Error;

/// Under `HKLM\SYSTEM\CurrentControlSet`.
pub const TS: &str = "Control\\Terminal Server";
pub const LICENSING_CORE: &str = "Control\\Terminal Server\\RCM\\Licensing Core";
pub const GRACE_PERIOD: &str = "Control\\Terminal Server\\RCM\\GracePeriod";
pub const SPECIFIED_SERVERS: &str =
    "Services\\TermService\\Parameters\\LicenseServers\\SpecifiedLicenseServers";
/// The grace period's value: the end of the 120 days, as a FILETIME.
pub const TIMEBOMB: &str = "L$RTMTIMEBOMB_1320153D-8DA3-4e8e-B27B-0D888223A588";

/// Seconds between 1601-01-01 (FILETIME) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;

/// The licensing mode: 2 per device, 4 per user, 5 not configured (remote administration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicensingMode {
    PerDevice,
    PerUser,
    NotConfigured,
    Other(u64),
}

impl LicensingMode {
    pub fn from_value(v: u64) -> Self {
        match v {
            2 => LicensingMode::PerDevice,
            4 => LicensingMode::PerUser,
            5 => LicensingMode::NotConfigured,
            n => LicensingMode::Other(n),
        }
    }

    pub fn is_configured(self) -> bool {
        matches!(self, LicensingMode::PerDevice | LicensingMode::PerUser)
    }
}

/// The grace period's end, decoded from the timebomb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraceEnd {
    /// Unix seconds.
    At(i64),
    /// Present but not a FILETIME between 2000 and 2200.
    Unreadable,
}

/// Decodes the timebomb: its first 8 bytes as a little-endian FILETIME.
pub fn grace_end(raw: &[u8]) -> GraceEnd {
    let Some(b) = raw.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        return GraceEnd::Unreadable;
    };
    let secs = i64::try_from(u64::from_le_bytes(b) / 10_000_000)
        .ok()
        .map(|s| s - FILETIME_UNIX_OFFSET);
    // 2000-01-01 .. 2200-01-01
    match secs {
        Some(s) if (946_684_800..7_258_118_400).contains(&s) => GraceEnd::At(s),
        _ => GraceEnd::Unreadable,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LicensingFacts {
    /// `TSAppCompat`: 1 when the RD Session Host role is installed.
    pub app_compat: Reading,
    /// `RCM\Licensing Core\LicensingMode` and, with SOFTWARE, the policy copy.
    pub mode_local: Reading,
    pub mode_policy: Option<Reading>,
    /// Policy `LicenseServers` (comma-separated) and the local `SpecifiedLicenseServers` key's value names.
    pub servers_policy: Option<Reading>,
    pub servers_local: Vec<String>,
    /// The timebomb value (`None` value: absent).
    pub timebomb: Reading,
}

impl LicensingFacts {
    /// The role is installed: application-server mode, or a per-user or per-device mode set.
    pub fn session_host(&self) -> bool {
        self.app_compat.dword() == Some(1) || self.mode().0.is_some_and(|m| m.is_configured())
    }

    /// The mode that applies (the policy's when set) and the reading it came from.
    pub fn mode(&self) -> (Option<LicensingMode>, &Reading) {
        let r = match &self.mode_policy {
            Some(p) if p.value.is_some() => p,
            _ => &self.mode_local,
        };
        (r.dword().map(LicensingMode::from_value), r)
    }

    /// The license servers named, policy first.
    pub fn servers(&self) -> Vec<String> {
        let from_policy = self
            .servers_policy
            .as_ref()
            .and_then(|r| r.value.as_ref())
            .and_then(Data::as_str)
            .map(|s| {
                s.split([',', ';'])
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if from_policy.is_empty() {
            self.servers_local.clone()
        } else {
            from_policy
        }
    }

    /// The grace period's end; `None` when no timebomb is set.
    pub fn grace_end(&self) -> Option<GraceEnd> {
        match self.timebomb.value.as_ref()? {
            Data::Binary(b) | Data::Other(_, b) => Some(grace_end(b)),
            _ => Some(GraceEnd::Unreadable),
        }
    }
}

pub fn read(reg: &dyn Registry) -> Result<LicensingFacts, Error> {
    let sw = reg.has_root(Root::Software);
    let policy = |name: &str| -> Result<Option<Reading>, Error> {
        match sw {
            true => Ok(Some(Reading::read(reg, Root::Software, POLICY, name)?)),
            false => Ok(None),
        }
    };
    let servers_local = reg
        .subkeys(Root::System, &ccs(SPECIFIED_SERVERS))?
        .into_iter()
        .chain(
            reg.values(Root::System, &ccs(SPECIFIED_SERVERS))?
                .into_iter()
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty()),
        )
        .collect();
    Ok(LicensingFacts {
        app_compat: Reading::read(reg, Root::System, &ccs(TS), "TSAppCompat")?,
        mode_local: Reading::read(reg, Root::System, &ccs(LICENSING_CORE), "LicensingMode")?,
        mode_policy: policy("LicensingMode")?,
        servers_policy: policy("LicenseServers")?,
        servers_local,
        timebomb: Reading::read(reg, Root::System, &ccs(GRACE_PERIOD), TIMEBOMB)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timebomb_is_a_filetime() {
        // 2026-01-01T00:00:00Z = 1767225600.
        let ft = (1_767_225_600u64 + 11_644_473_600) * 10_000_000;
        assert_eq!(grace_end(&ft.to_le_bytes()), GraceEnd::At(1_767_225_600));
        assert_eq!(grace_end(&[1, 2, 3]), GraceEnd::Unreadable);
        assert_eq!(grace_end(&[0xff; 16]), GraceEnd::Unreadable);
        assert_eq!(grace_end(&[0; 8]), GraceEnd::Unreadable);
    }
}
