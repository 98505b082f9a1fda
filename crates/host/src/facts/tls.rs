//! Schannel's server protocols, the cipher-suite policy and the FIPS policy:
//! what TLS the listener can speak.

use rdp_doctor_regf::Data;

use super::{ccs, Reading};
use crate::registry::{Registry, Root};
use crate::Error;

/// Under `HKLM\SYSTEM\CurrentControlSet`.
pub const PROTOCOLS: &str = "Control\\SecurityProviders\\SCHANNEL\\Protocols";
pub const FIPS_POLICY: &str = "Control\\Lsa\\FipsAlgorithmPolicy";
/// Under `HKLM\SOFTWARE`: the "SSL Cipher Suite Order" policy.
pub const CIPHER_POLICY: &str = "Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002";
/// Under `HKLM\SOFTWARE`: the Windows build, for Schannel's defaults.
pub const CURRENT_VERSION: &str = "Microsoft\\Windows NT\\CurrentVersion";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 4] = [
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The key name under `Protocols` ("TLS 1.2").
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }

    /// Whether Schannel's server side has it on when the registry says
    /// nothing, on Windows build `build`. Sources: Microsoft's "Protocols in
    /// TLS/SSL (Schannel SSP)" table (learn.microsoft.com/windows/win32/secauthn/
    /// protocols-in-tls-ssl--schannel-ssp-: Windows 7 / 2008 R2 SP1 ship TLS 1.1
    /// and 1.2 off, Windows 8 / 2012 and later on) and "TLS 1.0 and TLS 1.1 soon
    /// to be disabled in Windows" (Windows IT Pro Blog, 2023-08-01: off for
    /// client and server in OS releases after September 2023, that is Windows 11
    /// 24H2 and Server 2025, build 26100). Unknown build: a Windows 8 / Server
    /// 2012 to Windows 10 / Server 2019 host, the versions most hives come from.
    pub fn on_by_default(self, build: Option<u32>) -> bool {
        match (self, build) {
            // Windows 7 / Server 2008 R2 ship TLS 1.1 and 1.2 off for the server.
            (TlsVersion::Tls12, Some(b)) => b >= 9200,
            // TLS 1.0 and 1.1: off by default from Windows 11 24H2 / Server 2025 (build 26100).
            (TlsVersion::Tls11, Some(b)) => (9200..26100).contains(&b),
            (TlsVersion::Tls10, Some(b)) => b < 26100,
            (TlsVersion::Tls10 | TlsVersion::Tls11 | TlsVersion::Tls12, None) => true,
            // Server 2022 (20348) and Windows 11 (22000) and later.
            (TlsVersion::Tls13, Some(b)) => b >= 20348,
            (TlsVersion::Tls13, None) => false,
        }
    }
}

/// One protocol's `Server` key.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerProtocol {
    pub version: TlsVersion,
    pub enabled: Reading,
    pub disabled_by_default: Reading,
}

impl ServerProtocol {
    /// Whether the listener can use it: not disabled, and not left out of the
    /// default set (TermService asks Schannel for the default protocols).
    pub fn on(&self, build: Option<u32>) -> bool {
        let enabled = self.enabled.dword().map(|v| v != 0);
        let by_default = self.disabled_by_default.dword().map(|v| v == 0);
        let default = self.version.on_by_default(build);
        enabled.unwrap_or(default) && by_default.unwrap_or(default)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFacts {
    pub protocols: Vec<ServerProtocol>,
    /// The policy's `Functions` (a comma-separated list, or a multi-string);
    /// `None` without SOFTWARE.
    pub cipher_policy: Option<Reading>,
    pub fips: Reading,
    /// `CurrentBuildNumber` (SOFTWARE); `None` when unknown.
    pub build: Option<u32>,
}

impl TlsFacts {
    pub fn protocol(&self, v: TlsVersion) -> Option<&ServerProtocol> {
        self.protocols.iter().find(|p| p.version == v)
    }

    /// The protocols the server can speak.
    pub fn on(&self) -> Vec<TlsVersion> {
        self.protocols
            .iter()
            .filter(|p| p.on(self.build))
            .map(|p| p.version)
            .collect()
    }

    /// The suites the policy lists; `None` when no policy is set.
    pub fn policy_suites(&self) -> Option<Vec<String>> {
        let r = self.cipher_policy.as_ref()?;
        let list: Vec<String> = match r.value.as_ref()? {
            Data::String(s) | Data::ExpandString(s) => s.split(',').map(str::to_string).collect(),
            Data::MultiString(v) => v.clone(),
            _ => return None,
        };
        Some(
            list.into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
}

/// Reads the server side of every TLS version, the policy and FIPS.
pub fn read(reg: &dyn Registry) -> Result<TlsFacts, Error> {
    let mut protocols = Vec::new();
    for version in TlsVersion::ALL {
        let key = ccs(&format!("{PROTOCOLS}\\{}\\Server", version.name()));
        protocols.push(ServerProtocol {
            version,
            enabled: Reading::read(reg, Root::System, &key, "Enabled")?,
            disabled_by_default: Reading::read(reg, Root::System, &key, "DisabledByDefault")?,
        });
    }
    let (cipher_policy, build) = if reg.has_root(Root::Software) {
        let build = reg
            .value(Root::Software, CURRENT_VERSION, "CurrentBuildNumber")?
            .and_then(|d| d.as_str().and_then(|s| s.trim().parse().ok()));
        (
            Some(Reading::read(
                reg,
                Root::Software,
                CIPHER_POLICY,
                "Functions",
            )?),
            build,
        )
    } else {
        (None, None)
    };
    Ok(TlsFacts {
        protocols,
        cipher_policy,
        fips: Reading::read(reg, Root::System, &ccs(FIPS_POLICY), "Enabled")?,
        build,
    })
}
