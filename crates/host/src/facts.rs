//! What the rules read: the host's settings as typed facts, read once through
//! the [`Registry`] (and, for key files, the Windows volume).
//!
//! Every value keeps where it was read ([`Reading`]), so a finding can cite it
//! as evidence and a remedy can change exactly that value.

use std::path::{Path, PathBuf};

use rdp_doctor_model::{Evidence, RegistryOrigin};
use rdp_doctor_regf::Data;

pub mod credssp;
pub mod keyacl;
pub mod licensing;
pub mod tls;

pub use keyacl::KeyAcl;
pub use licensing::LicensingFacts;
pub use tls::{TlsFacts, TlsVersion};

use crate::cert::{self, Entry};
use crate::registry::{Action, Registry, Root};
use crate::Error;

/// Under `HKLM\SYSTEM\CurrentControlSet`.
pub const TS: &str = "Control\\Terminal Server";
pub const RDP_TCP: &str = "Control\\Terminal Server\\WinStations\\RDP-Tcp";
/// Under `HKLM\SOFTWARE`.
pub const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";
pub const FIREWALL: &str = "Services\\SharedAccess\\Parameters\\FirewallPolicy";
pub const RDP_CERT_STORE: &str = "Microsoft\\SystemCertificates\\Remote Desktop\\Certificates";
pub const MY_CERT_STORE: &str = "Microsoft\\SystemCertificates\\My\\Certificates";
pub const NETWORK_PROFILES: &str = "Microsoft\\Windows NT\\CurrentVersion\\NetworkList\\Profiles";

/// `CurrentControlSet\key`: the path a rule reads under [`Root::System`].
pub fn ccs(key: &str) -> String {
    format!("CurrentControlSet\\{key}")
}

/// One value as read: where, and what (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub root: Root,
    /// Relative to the root, as the actions name it (`CurrentControlSet\…`).
    pub key: String,
    pub name: String,
    pub value: Option<Data>,
    pub origin: RegistryOrigin,
}

impl Reading {
    /// A reading built by hand (tests, other sources).
    pub fn new(root: Root, key: &str, name: &str, value: Option<Data>) -> Self {
        Reading {
            root,
            key: key.into(),
            name: name.into(),
            value,
            origin: RegistryOrigin::Live,
        }
    }

    pub(crate) fn read(
        reg: &dyn Registry,
        root: Root,
        key: &str,
        name: &str,
    ) -> Result<Self, Error> {
        Ok(Reading {
            root,
            key: key.into(),
            name: name.into(),
            value: reg.value(root, key, name)?,
            origin: reg.origin(root),
        })
    }

    /// `HKLM\ROOT\key\name`.
    pub fn path(&self) -> String {
        format!("HKLM\\{}\\{}\\{}", self.root.name(), self.key, self.name)
    }

    /// The value as shown ("absent" when not set).
    pub fn shown(&self) -> String {
        self.value
            .as_ref()
            .map_or_else(|| "absent".into(), Data::to_string)
    }

    pub fn dword(&self) -> Option<u64> {
        self.value.as_ref().and_then(Data::as_u64)
    }

    pub fn evidence(&self) -> Evidence {
        Evidence::Registry {
            path: self.path(),
            value: self.shown(),
            origin: self.origin.clone(),
        }
    }

    /// The action that sets this value to the DWORD `v`.
    pub fn set_dword(&self, v: u32) -> Action {
        Action::SetValue {
            root: self.root,
            key: self.key.clone(),
            name: self.name.clone(),
            data: Data::Dword(v),
        }
    }

    pub fn delete(&self) -> Action {
        Action::DeleteValue {
            root: self.root,
            key: self.key.clone(),
            name: self.name.clone(),
        }
    }
}

/// A setting Group Policy can override: the policy copy wins when it is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub local: Reading,
    /// `None` when SOFTWARE was not read.
    pub policy: Option<Reading>,
}

impl Setting {
    /// The reading that applies, and whether it is the policy's.
    pub fn effective(&self) -> (&Reading, bool) {
        match &self.policy {
            Some(p) if p.value.is_some() => (p, true),
            _ => (&self.local, false),
        }
    }

    pub fn dword(&self) -> Option<u64> {
        self.effective().0.dword()
    }

    pub fn by_policy(&self) -> bool {
        self.effective().1
    }

    /// The actions that make the setting read `v`: the policy copy when there
    /// is one (it wins), and the local value when it is set to something else.
    pub fn set_to(&self, v: u32) -> Vec<Action> {
        let want = Some(u64::from(v));
        let policy = self.policy.as_ref().filter(|p| p.value.is_some());
        let mut out: Vec<Action> = policy.iter().map(|p| p.set_dword(v)).collect();
        let local_differs = self.local.dword() != want;
        if (policy.is_none() && local_differs)
            || (policy.is_some() && self.local.value.is_some() && local_differs)
        {
            out.push(self.local.set_dword(v));
        }
        out
    }
}

/// A hive not closed cleanly (offline only).
#[derive(Debug, Clone, PartialEq)]
pub struct DirtyHive {
    pub root: Root,
    pub primary: u32,
    pub secondary: u32,
    pub origin: RegistryOrigin,
}

/// Firewall profiles, as rules and the network list name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Profile {
    Domain,
    Private,
    Public,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Domain, Profile::Private, Profile::Public];

    /// The name in rule strings (`Profile=Public`) and cmdlets.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Domain => "Domain",
            Profile::Private => "Private",
            Profile::Public => "Public",
        }
    }

    /// The key under FirewallPolicy (Private is "StandardProfile").
    pub fn key(self) -> &'static str {
        match self {
            Profile::Domain => "DomainProfile",
            Profile::Private => "StandardProfile",
            Profile::Public => "PublicProfile",
        }
    }

    /// A network's `Category`: 0 Public, 1 Private, 2 Domain.
    pub fn from_category(c: u64) -> Option<Profile> {
        match c {
            0 => Some(Profile::Public),
            1 => Some(Profile::Private),
            2 => Some(Profile::Domain),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FirewallFacts {
    /// `EnableFirewall` of each profile.
    pub enabled: Vec<(Profile, Reading)>,
    /// The FirewallRules key (relative, under SYSTEM) and its values.
    pub rules_key: String,
    pub rules: Vec<(String, Data)>,
    /// The profiles of the networks the host knows (SOFTWARE's NetworkList);
    /// `None` when SOFTWARE was not read or lists no network.
    pub network_profiles: Option<Vec<Profile>>,
    /// The connection-security (IPsec) rules: their key and values.
    pub consec_key: String,
    pub consec: Vec<(String, Data)>,
}

/// One certificate of the Remote Desktop store and, with `--windows`, its key file.
#[derive(Debug, Clone)]
pub struct CertFacts {
    pub entry: Entry,
    pub key_file: Option<KeyFileState>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyFileState {
    Found {
        path: PathBuf,
        size: u64,
    },
    /// Searched in `dir`, not found.
    Missing {
        dir: PathBuf,
    },
}

/// The TSSecKeySet1 container file: `None` size when missing.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineKey {
    pub path: PathBuf,
    pub size: Option<u64>,
    /// Its security descriptor, when the volume keeps NTFS ones.
    pub acl: Option<KeyAcl>,
}

/// Everything the rules read.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub control_set: String,
    pub dirty: Vec<DirtyHive>,
    pub has_software: bool,
    pub deny_ts: Setting,
    pub listener_enabled: Reading,
    pub port: Reading,
    pub lan_adapter: Reading,
    pub security_layer: Setting,
    pub nla: Setting,
    pub min_encryption: Setting,
    pub drain: Reading,
    pub logons_disabled: Reading,
    pub max_outstanding: Reading,
    pub max_instances: Setting,
    pub single_session: Setting,
    /// `Start` of TermService, UmRdpService, SessionEnv.
    pub services: Vec<(&'static str, Reading)>,
    pub firewall: FirewallFacts,
    pub pinned: Pinned,
    pub transport_policy: Option<Reading>,
    /// `None` without SOFTWARE.
    pub certs: Option<Vec<CertFacts>>,
    pub cert_store_path: String,
    pub machine_key: Option<MachineKey>,
    /// The Windows volume was given (key files were looked for).
    pub volume_given: bool,
    /// Unix seconds, for certificate validity and the licensing grace period.
    pub now: i64,
    pub tls: TlsFacts,
    /// `AllowEncryptionOracle`; `None` without SOFTWARE.
    pub credssp_oracle: Option<Reading>,
    pub licensing: LicensingFacts,
}

/// The certificate the listener is pinned to.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub reading: Reading,
    /// Uppercase hex, when a binary hash is set.
    pub thumbprint: Option<String>,
    /// In the Remote Desktop or My store; `None` without SOFTWARE.
    pub in_store: Option<bool>,
    /// The certificate itself, when found.
    pub cert: Option<Entry>,
}

impl HostFacts {
    /// The listener's port (3389 when unset or invalid).
    pub fn port_number(&self) -> u16 {
        self.port
            .dword()
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0)
            .unwrap_or(3389)
    }
}

fn setting(reg: &dyn Registry, key: &str, name: &str) -> Result<Setting, Error> {
    let policy = if reg.has_root(Root::Software) {
        Some(Reading::read(reg, Root::Software, POLICY, name)?)
    } else {
        None
    };
    Ok(Setting {
        local: Reading::read(reg, Root::System, &ccs(key), name)?,
        policy,
    })
}

fn sys(reg: &dyn Registry, key: &str, name: &str) -> Result<Reading, Error> {
    Reading::read(reg, Root::System, &ccs(key), name)
}

/// Reads every fact the rules need. `windows` is the Windows volume's root
/// (for MachineKeys); `now` the Unix time certificates are judged at.
pub fn read(reg: &dyn Registry, windows: Option<&Path>, now: i64) -> Result<HostFacts, Error> {
    let has_software = reg.has_root(Root::Software);
    let dirty = [Root::System, Root::Software]
        .into_iter()
        .filter_map(|root| {
            reg.dirty(root).map(|(primary, secondary)| DirtyHive {
                root,
                primary,
                secondary,
                origin: reg.origin(root),
            })
        })
        .collect();
    let mut services = Vec::new();
    for svc in ["TermService", "UmRdpService", "SessionEnv"] {
        services.push((svc, sys(reg, &format!("Services\\{svc}"), "Start")?));
    }
    let certs = if has_software {
        Some(read_certs(reg, windows)?)
    } else {
        None
    };
    Ok(HostFacts {
        control_set: reg.current_control_set(),
        dirty,
        has_software,
        deny_ts: setting(reg, TS, "fDenyTSConnections")?,
        listener_enabled: sys(reg, RDP_TCP, "fEnableWinStation")?,
        port: sys(reg, RDP_TCP, "PortNumber")?,
        lan_adapter: sys(reg, RDP_TCP, "LanAdapter")?,
        security_layer: setting(reg, RDP_TCP, "SecurityLayer")?,
        nla: setting(reg, RDP_TCP, "UserAuthentication")?,
        min_encryption: setting(reg, RDP_TCP, "MinEncryptionLevel")?,
        drain: sys(reg, TS, "TSServerDrainMode")?,
        logons_disabled: sys(reg, TS, "WinStationsDisabled")?,
        max_outstanding: sys(reg, TS, "MaxOutstandingConnections")?,
        max_instances: setting(reg, RDP_TCP, "MaxInstanceCount")?,
        single_session: setting(reg, TS, "fSingleSessionPerUser")?,
        services,
        firewall: read_firewall(reg)?,
        pinned: read_pinned(reg, certs.as_deref())?,
        transport_policy: match has_software {
            true => Some(Reading::read(
                reg,
                Root::Software,
                POLICY,
                "SelectTransport",
            )?)
            .filter(|r| r.value.is_some()),
            false => None,
        },
        certs,
        cert_store_path: format!("HKLM\\SOFTWARE\\{RDP_CERT_STORE}"),
        machine_key: read_machine_key(reg, windows)?,
        volume_given: windows.is_some(),
        now,
        tls: tls::read(reg)?,
        credssp_oracle: credssp::read(reg)?,
        licensing: licensing::read(reg)?,
    })
}

fn read_firewall(reg: &dyn Registry) -> Result<FirewallFacts, Error> {
    let fw = ccs(FIREWALL);
    let mut enabled = Vec::new();
    for p in Profile::ALL {
        let r = Reading::read(
            reg,
            Root::System,
            &format!("{fw}\\{}", p.key()),
            "EnableFirewall",
        )?;
        enabled.push((p, r));
    }
    let rules_key = format!("{fw}\\FirewallRules");
    let rules = reg.values(Root::System, &rules_key)?;
    let network_profiles = if reg.has_root(Root::Software) {
        let mut seen = Vec::new();
        for net in reg.subkeys(Root::Software, NETWORK_PROFILES)? {
            let c = reg.value(
                Root::Software,
                &format!("{NETWORK_PROFILES}\\{net}"),
                "Category",
            )?;
            if let Some(p) = c
                .as_ref()
                .and_then(Data::as_u64)
                .and_then(Profile::from_category)
            {
                if !seen.contains(&p) {
                    seen.push(p);
                }
            }
        }
        Some(seen).filter(|s| !s.is_empty())
    } else {
        None
    };
    let consec_key = format!("{fw}\\ConSecRules");
    let consec = reg.values(Root::System, &consec_key)?;
    Ok(FirewallFacts {
        enabled,
        rules_key,
        rules,
        network_profiles,
        consec_key,
        consec,
    })
}

fn read_pinned(reg: &dyn Registry, certs: Option<&[CertFacts]>) -> Result<Pinned, Error> {
    let reading = sys(reg, RDP_TCP, "SSLCertificateSHA1Hash")?;
    let thumbprint = match &reading.value {
        Some(Data::Binary(h)) => Some(h.iter().map(|b| format!("{b:02X}")).collect::<String>()),
        _ => None,
    };
    let (mut in_store, mut cert) = (None, None);
    if let (Some(t), true) = (&thumbprint, reg.has_root(Root::Software)) {
        in_store = Some(
            reg.key_exists(Root::Software, &format!("{RDP_CERT_STORE}\\{t}"))?
                || reg.key_exists(Root::Software, &format!("{MY_CERT_STORE}\\{t}"))?,
        );
        cert = certs
            .into_iter()
            .flatten()
            .map(|c| &c.entry)
            .find(|e| e.thumbprint.eq_ignore_ascii_case(t))
            .cloned();
        if cert.is_none() {
            cert = cert::read_my_cert(reg, t)?;
        }
    }
    Ok(Pinned {
        reading,
        thumbprint,
        in_store,
        cert,
    })
}

fn read_certs(reg: &dyn Registry, windows: Option<&Path>) -> Result<Vec<CertFacts>, Error> {
    Ok(cert::read_store(reg)?
        .into_iter()
        .map(|entry| {
            let key = entry.cert.as_ref().ok().and_then(|c| c.key.clone());
            let key_file = match (windows, key) {
                (Some(w), Some(k)) => Some(match cert::find_key_file(w, &k) {
                    Some(f) => KeyFileState::Found {
                        path: f.path,
                        size: f.size,
                    },
                    None => KeyFileState::Missing {
                        dir: w.join(cert::key_dir(&k)),
                    },
                }),
                _ => None,
            };
            CertFacts { entry, key_file }
        })
        .collect())
}

fn read_machine_key(
    reg: &dyn Registry,
    windows: Option<&Path>,
) -> Result<Option<MachineKey>, Error> {
    let Some(dir) = windows else { return Ok(None) };
    if !reg.has_root(Root::Software) {
        return Ok(None);
    }
    let guid = reg
        .value(Root::Software, "Microsoft\\Cryptography", "MachineGuid")?
        .and_then(|d| d.as_str().map(str::to_string));
    Ok(guid.map(|g| {
        let path = dir
            .join(cert::MACHINE_KEYS)
            .join(format!("{}_{g}", cert::TS_KEY_CONTAINER_FILE));
        let size = std::fs::metadata(&path).ok().map(|m| m.len());
        let acl = size.and_then(|_| keyacl::read(&path));
        MachineKey { path, size, acl }
    }))
}
