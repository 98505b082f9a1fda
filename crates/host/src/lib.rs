//! The Windows host's Remote Desktop configuration, read offline from the
//! SYSTEM and SOFTWARE hives of a rescued disk, and checked by rules.
//!
//! Each check reports the registry path and value it read, so a finding can
//! be verified by hand. Group Policy copies of a value win over the local
//! value, as on Windows.

pub mod firewall;

use std::path::Path;

use rdp_doctor_codes::CauseId;
use rdp_doctor_regf::{Data, Hive, Key};
use serde::Serialize;

/// Version of the JSON document `host check --json` prints.
pub const SCHEMA: &str = "rdp-doctor.host-check/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Fail,
    Warn,
    Ok,
    Info,
}

/// One check: what was read where, and what it means.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable identifier (documented in the crate README).
    pub id: &'static str,
    pub status: Status,
    /// Registry path of the value (HKLM\...), or the file checked.
    pub path: String,
    /// The value as read ("absent" when not set).
    pub value: String,
    pub message: String,
    pub cause: Option<CauseId>,
    pub fix: Option<String>,
}

/// The result of `host check`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub verdict: String,
    pub current_control_set: String,
    pub system_dirty: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count()
    }
}

/// Why the check could not run.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<rdp_doctor_regf::Error> for Error {
    fn from(e: rdp_doctor_regf::Error) -> Self {
        Error(format!("hive: {e}"))
    }
}

fn show(d: &Option<Data>) -> String {
    d.as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "absent".into())
}

fn dword(d: &Option<Data>) -> Option<u64> {
    d.as_ref().and_then(Data::as_u64)
}

struct Ctx<'a, 'h> {
    system: Key<'h, 'a>,
    software: Option<Key<'h, 'a>>,
    ccs: String,
    checks: Vec<Check>,
}

const TS: &str = "Control\\Terminal Server";
const RDP_TCP: &str = "Control\\Terminal Server\\WinStations\\RDP-Tcp";
const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";

impl<'a, 'h> Ctx<'a, 'h> {
    fn sys_value(&self, key: &str, name: &str) -> Result<(String, Option<Data>), Error> {
        let path = format!("{}\\{key}", self.ccs);
        let v = match self.system.path(&path)? {
            Some(k) => k.value(name)?,
            None => None,
        };
        Ok((format!("HKLM\\SYSTEM\\CurrentControlSet\\{key}\\{name}"), v))
    }

    fn policy_value(&self, name: &str) -> Result<Option<(String, Data)>, Error> {
        let Some(sw) = self.software else {
            return Ok(None);
        };
        let v = match sw.path(POLICY)? {
            Some(k) => k.value(name)?,
            None => None,
        };
        Ok(v.map(|d| (format!("HKLM\\SOFTWARE\\{POLICY}\\{name}"), d)))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        id: &'static str,
        status: Status,
        path: String,
        value: String,
        message: impl Into<String>,
        cause: Option<CauseId>,
        fix: Option<String>,
    ) {
        self.checks.push(Check {
            id,
            status,
            path,
            value,
            message: message.into(),
            cause,
            fix,
        });
    }

    /// A value whose policy copy wins: returns (path, data) of the effective one.
    fn effective(&self, key: &str, name: &str) -> Result<(String, Option<Data>, bool), Error> {
        if let Some((p, d)) = self.policy_value(name)? {
            return Ok((p, Some(d), true));
        }
        let (p, d) = self.sys_value(key, name)?;
        Ok((p, d, false))
    }
}

/// Runs every check on the hives.
pub fn check(
    system: &Hive,
    software: Option<&Hive>,
    windows: Option<&Path>,
) -> Result<Report, Error> {
    let sys_root = system.root()?;
    let current = sys_root
        .path("Select")?
        .and_then(|k| k.value("Current").ok().flatten())
        .and_then(|d| d.as_u64())
        .ok_or_else(|| {
            Error("SYSTEM hive has no Select\\Current: is this a SYSTEM hive?".into())
        })?;
    let ccs = format!("ControlSet{current:03}");
    if sys_root.path(&ccs)?.is_none() {
        return Err(Error(format!(
            "Select\\Current names {ccs}, which the hive does not have"
        )));
    }
    let sw_root = match software {
        Some(h) => Some(h.root()?),
        None => None,
    };
    let mut c = Ctx {
        system: sys_root,
        software: sw_root,
        ccs: ccs.clone(),
        checks: Vec::new(),
    };

    if system.base.is_dirty() {
        c.push("HOST000", Status::Warn, "SYSTEM hive base block".into(), format!("sequence {} / {}", system.base.primary_sequence, system.base.secondary_sequence),
            "the hive was not closed cleanly: its last changes are in SYSTEM.LOG1/.LOG2, which this version does not replay; values below may be stale", None,
            Some("Boot the disk once, or replay the logs with a tool that does, before trusting these values".into()));
    }

    // Remote Desktop on/off: the policy copy wins.
    let (path, deny, by_policy) = c.effective(TS, "fDenyTSConnections")?;
    match dword(&deny) {
        Some(1) => c.push("HOST001", Status::Fail, path, show(&deny), if by_policy { "Remote Desktop is turned off by Group Policy" } else { "Remote Desktop is turned off (Allow remote connections = off)" },
            Some(CauseId::RemoteDesktopDisabled), Some(if by_policy { "Change the GPO 'Allow users to connect remotely by using Remote Desktop Services' (a local change is overwritten)".into() } else { "Set fDenyTSConnections to 0: Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' fDenyTSConnections 0".into() })),
        _ => c.push("HOST001", Status::Ok, path, show(&deny), "Remote Desktop connections are allowed", None, None),
    }

    let (path, v) = c.sys_value(RDP_TCP, "fEnableWinStation")?;
    if dword(&v) == Some(0) {
        c.push(
            "HOST002",
            Status::Fail,
            path,
            show(&v),
            "the RDP-Tcp listener is disabled",
            Some(CauseId::ServiceOrListenerDown),
            Some("Set fEnableWinStation to 1 on the RDP-Tcp listener".into()),
        );
    } else {
        c.push(
            "HOST002",
            Status::Ok,
            path,
            show(&v),
            "the RDP-Tcp listener is enabled",
            None,
            None,
        );
    }
    let (path, v) = c.sys_value(RDP_TCP, "PortNumber")?;
    let port = dword(&v).unwrap_or(3389) as u32;
    if port != 3389 {
        c.push(
            "HOST003",
            Status::Info,
            path,
            show(&v),
            format!("the listener uses port {port}: clients must connect to HOST:{port}"),
            Some(CauseId::FirewallOrPort),
            None,
        );
    } else {
        c.push(
            "HOST003",
            Status::Ok,
            path,
            show(&v),
            "the listener uses port 3389",
            None,
            None,
        );
    }
    let (path, v) = c.sys_value(RDP_TCP, "LanAdapter")?;
    if dword(&v).is_some_and(|n| n != 0) {
        c.push("HOST009", Status::Warn, path, show(&v), "the listener is bound to one network adapter: if that adapter changed (a cloud VM moved or resized), nothing listens", Some(CauseId::ServiceOrListenerDown), Some("Set LanAdapter to 0 (all adapters)".into()));
    }
    let (path, layer, by_policy) = c.effective(RDP_TCP, "SecurityLayer")?;
    let (npath, nla, _) = c.effective(RDP_TCP, "UserAuthentication")?;
    match dword(&layer) {
        Some(0) => c.push("HOST010", Status::Warn, path, show(&layer), format!("security layer RDP only (no TLS){}: clients that require server authentication or NLA fail", if by_policy { ", set by policy" } else { "" }), Some(CauseId::SecurityLayerMismatch), Some("SecurityLayer=1 (Negotiate) or 2 (TLS)".into())),
        _ => c.push("HOST010", Status::Ok, path, show(&layer), "security layer negotiate or TLS", None, None),
    }
    if dword(&nla) == Some(1) && dword(&layer) == Some(0) {
        c.push("HOST011", Status::Fail, npath, show(&nla), "NLA is required but the security layer is RDP only: the two settings contradict each other (RCM event 1050)", Some(CauseId::SecurityLayerMismatch), Some("SecurityLayer=2 with UserAuthentication=1".into()));
    } else if dword(&nla) == Some(0) {
        c.push(
            "HOST011",
            Status::Info,
            npath,
            show(&nla),
            "NLA is not required: anyone who reaches the port gets a logon screen",
            Some(CauseId::SecurityLayerMismatch),
            None,
        );
    } else {
        c.push(
            "HOST011",
            Status::Ok,
            npath,
            show(&nla),
            "NLA is required",
            None,
            None,
        );
    }
    let (path, v, _) = c.effective(RDP_TCP, "MinEncryptionLevel")?;
    if dword(&v) == Some(4) {
        c.push(
            "HOST012",
            Status::Info,
            path,
            show(&v),
            "FIPS encryption is required: older clients are refused (extended code 0x8)",
            Some(CauseId::SecurityLayerMismatch),
            None,
        );
    }
    let (path, v) = c.sys_value(RDP_TCP, "SSLCertificateSHA1Hash")?;
    if let Some(Data::Binary(hash)) = &v {
        let thumb: String = hash.iter().map(|b| format!("{b:02X}")).collect();
        let present = match c.software {
            Some(sw) => Some(
                sw.path(&format!(
                    "Microsoft\\SystemCertificates\\Remote Desktop\\Certificates\\{thumb}"
                ))?
                .is_some()
                    || sw
                        .path(&format!(
                            "Microsoft\\SystemCertificates\\My\\Certificates\\{thumb}"
                        ))?
                        .is_some(),
            ),
            None => None,
        };
        match present {
            Some(false) => c.push("HOST013", Status::Fail, path, thumb, "the listener is configured for a certificate that is not in the machine's stores", Some(CauseId::CertificateOrKey), Some("Delete SSLCertificateSHA1Hash so the self-signed certificate is used, or install the certificate".into())),
            Some(true) => c.push("HOST013", Status::Ok, path, thumb, "the configured certificate is in the machine's store", None, None),
            None => c.push("HOST013", Status::Info, path, thumb, "a specific certificate is configured (give --software to check that it exists)", None, None),
        }
    }

    let (path, v) = c.sys_value(TS, "TSServerDrainMode")?;
    if dword(&v).is_some_and(|n| n != 0) {
        c.push(
            "HOST005",
            Status::Fail,
            path,
            show(&v),
            "the server is in drain mode: new logons are refused",
            Some(CauseId::DrainOrLogonsDisabled),
            Some("change logon /enable".into()),
        );
    }
    let (path, v) = c.sys_value(TS, "WinStationsDisabled")?;
    if dword(&v) == Some(1) {
        c.push(
            "HOST005",
            Status::Fail,
            path,
            show(&v),
            "logons are disabled (change logon /disable)",
            Some(CauseId::DrainOrLogonsDisabled),
            Some("change logon /enable".into()),
        );
    }
    let (path, v) = c.sys_value(TS, "MaxOutstandingConnections")?;
    match dword(&v) {
        Some(n) if n < 10 => c.push("HOST007", Status::Warn, path, show(&v), format!("only {n} incomplete connections allowed: a few scanners lock everyone out (TermService 1006)"), Some(CauseId::ConnectionLimit), Some("Raise MaxOutstandingConnections (e.g. 10000)".into())),
        Some(_) => c.push("HOST007", Status::Ok, path, show(&v), "incomplete-connection limit set", None, None),
        None => c.push("HOST007", Status::Info, path, "absent".into(), "incomplete-connection limit at the built-in default", None, None),
    }
    let (path, v, _) = c.effective(TS, "fSingleSessionPerUser")?;
    if dword(&v) == Some(1) {
        c.push(
            "HOST014",
            Status::Info,
            path,
            show(&v),
            "one session per user: a second connection takes over the first",
            None,
            None,
        );
    }

    // Services.
    for (svc, essential) in [
        ("TermService", true),
        ("UmRdpService", false),
        ("SessionEnv", false),
    ] {
        let (path, v) = c.sys_value(&format!("Services\\{svc}"), "Start")?;
        match dword(&v) {
            Some(4) => c.push(
                "HOST004",
                if essential {
                    Status::Fail
                } else {
                    Status::Warn
                },
                path,
                show(&v),
                format!("{svc} is disabled"),
                Some(CauseId::ServiceOrListenerDown),
                Some(format!(
                    "Set-Service {svc} -StartupType Manual (offline: Start=3)"
                )),
            ),
            None if essential => c.push(
                "HOST004",
                Status::Fail,
                path,
                "absent".into(),
                format!("{svc} is not installed"),
                Some(CauseId::ServiceOrListenerDown),
                None,
            ),
            _ => c.push(
                "HOST004",
                Status::Ok,
                path,
                show(&v),
                format!("{svc} can start"),
                None,
                None,
            ),
        }
    }

    // Firewall.
    let fw = format!(
        "{}\\Services\\SharedAccess\\Parameters\\FirewallPolicy",
        c.ccs
    );
    let mut enabled_profiles = Vec::new();
    for profile in ["DomainProfile", "StandardProfile", "PublicProfile"] {
        if let Some(k) = c.system.path(&format!("{fw}\\{profile}"))? {
            if k.value("EnableFirewall")?.and_then(|d| d.as_u64()) == Some(1) {
                enabled_profiles.push(profile);
            }
        }
    }
    let rules_path = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules".to_string();
    let allowing: Vec<firewall::Rule> = match c.system.path(&format!("{fw}\\FirewallRules"))? {
        Some(k) => k
            .values()?
            .into_iter()
            .filter_map(|v| {
                v.data
                    .as_str()
                    .and_then(|s| firewall::parse_rule(&v.name, s))
            })
            .filter(|r| r.allows_tcp_port(port))
            .collect(),
        None => Vec::new(),
    };
    if enabled_profiles.is_empty() {
        c.push(
            "HOST006",
            Status::Ok,
            rules_path,
            "firewall off in every profile".into(),
            "the host firewall does not filter",
            None,
            None,
        );
    } else if allowing.is_empty() {
        c.push(
            "HOST006",
            Status::Fail,
            rules_path,
            format!("enabled: {}", enabled_profiles.join(", ")),
            format!("the firewall is on and no active inbound rule allows TCP {port}"),
            Some(CauseId::FirewallOrPort),
            Some(format!(
                "Enable-NetFirewallRule -DisplayGroup 'Remote Desktop' (or allow TCP {port})"
            )),
        );
    } else {
        c.push(
            "HOST006",
            Status::Ok,
            rules_path,
            allowing
                .iter()
                .take(5)
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
                .join(", "),
            format!("{} active rule(s) allow TCP {port}", allowing.len()),
            None,
            None,
        );
    }

    // Transport policy and the certificate store (SOFTWARE).
    if let Some(sw) = c.software {
        if let Some((path, d)) = c.policy_value("SelectTransport")? {
            let v = d.as_u64();
            c.push(
                "HOST015",
                Status::Info,
                path,
                d.to_string(),
                match v {
                    Some(1) => "transport policy: TCP only",
                    Some(0) => "transport policy: UDP and TCP",
                    _ => "transport policy set",
                },
                None,
                None,
            );
        }
        let store = sw.path("Microsoft\\SystemCertificates\\Remote Desktop\\Certificates")?;
        let certs: Vec<String> = match store {
            Some(k) => k.subkeys()?.iter().map(|k| k.name()).collect(),
            None => Vec::new(),
        };
        c.push("HOST016", Status::Info, "HKLM\\SOFTWARE\\Microsoft\\SystemCertificates\\Remote Desktop\\Certificates".into(), if certs.is_empty() { "none".into() } else { certs.join(", ") },
            if certs.is_empty() { "no certificate in the Remote Desktop store: Windows creates one when TermService starts" } else { "certificate(s) in the Remote Desktop store" }, None, None);
        if let Some(dir) = windows {
            let guid = sw
                .path("Microsoft\\Cryptography")?
                .and_then(|k| k.value("MachineGuid").ok().flatten())
                .and_then(|d| d.as_str().map(str::to_string));
            if let Some(guid) = guid {
                let key_file = dir
                    .join("ProgramData/Microsoft/Crypto/RSA/MachineKeys")
                    .join(format!("f686aace6942fb7f7ceb231212eef4a4_{guid}"));
                let shown = key_file.display().to_string();
                match std::fs::metadata(&key_file) {
                    Ok(m) if m.len() > 0 => c.push("HOST017", Status::Ok, shown, format!("{} bytes", m.len()), "the RDP key container (TSSecKeySet1) exists", None, None),
                    Ok(_) => c.push("HOST017", Status::Fail, shown, "0 bytes".into(), "the RDP key container is empty", Some(CauseId::CertificateOrKey), Some("Delete it and the Remote Desktop certificate; TermService recreates both".into())),
                    Err(_) => c.push("HOST017", Status::Warn, shown, "missing".into(), "the RDP key container is missing: a certificate that points at it cannot be used", Some(CauseId::CertificateOrKey), Some("Delete the Remote Desktop certificate so TermService recreates certificate and key".into())),
                }
            }
        }
    }

    c.checks.sort_by_key(|ch| ch.status);
    let fails: Vec<&Check> = c
        .checks
        .iter()
        .filter(|ch| ch.status == Status::Fail)
        .collect();
    let verdict = match fails.first() {
        Some(f) => format!(
            "{} problem(s) on this host would stop Remote Desktop; first: {}",
            fails.len(),
            f.message
        ),
        None => format!(
            "no setting in these hives stops Remote Desktop ({} warning(s))",
            c.checks
                .iter()
                .filter(|ch| ch.status == Status::Warn)
                .count()
        ),
    };
    Ok(Report {
        schema: SCHEMA,
        verdict,
        current_control_set: ccs,
        system_dirty: system.base.is_dirty(),
        checks: c.checks,
    })
}
