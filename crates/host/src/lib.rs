//! The Windows host's Remote Desktop configuration, read through a
//! [`Registry`] (offline from the SYSTEM and SOFTWARE hives of a rescued disk,
//! or live), and checked by rules.
//!
//! Each check reports the registry path and value it read, so a finding can
//! be verified by hand. Group Policy copies of a value win over the local
//! value, as on Windows.

pub mod apply;
pub mod cert;
pub mod firewall;
pub mod fix;
pub mod live;
pub mod registry;
pub mod render;

use std::path::Path;

use rdp_doctor_codes::CauseId;
use rdp_doctor_regf::{Data, Hive};
use serde::Serialize;

pub use fix::Fix;
pub use registry::{Action, OfflineHives, Registry, Root};

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
    /// The remedy in one line, for people.
    pub fix: Option<String>,
    /// The remedies as registry changes, most advisable first (see [`fix`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<Fix>,
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

struct Ctx<'r> {
    reg: &'r dyn Registry,
    checks: Vec<Check>,
}

/// Under `HKLM\SYSTEM\CurrentControlSet`.
const TS: &str = "Control\\Terminal Server";
const RDP_TCP: &str = "Control\\Terminal Server\\WinStations\\RDP-Tcp";
/// Under `HKLM\SOFTWARE`.
const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";
const FIREWALL: &str = "Services\\SharedAccess\\Parameters\\FirewallPolicy";
const RDP_CERT_STORE: &str = "Microsoft\\SystemCertificates\\Remote Desktop\\Certificates";
const MY_CERT_STORE: &str = "Microsoft\\SystemCertificates\\My\\Certificates";

/// `CurrentControlSet\key`: the path a rule reads under [`Root::System`].
fn ccs(key: &str) -> String {
    format!("CurrentControlSet\\{key}")
}

impl Ctx<'_> {
    fn sys_value(&self, key: &str, name: &str) -> Result<(String, Option<Data>), Error> {
        let v = self.reg.value(Root::System, &ccs(key), name)?;
        Ok((format!("HKLM\\SYSTEM\\CurrentControlSet\\{key}\\{name}"), v))
    }

    fn policy_value(&self, name: &str) -> Result<Option<(String, Data)>, Error> {
        if !self.reg.has_root(Root::Software) {
            return Ok(None);
        }
        let v = self.reg.value(Root::Software, POLICY, name)?;
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
            fixes: Vec::new(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn push_fixes(
        &mut self,
        id: &'static str,
        status: Status,
        path: String,
        value: String,
        message: impl Into<String>,
        cause: Option<CauseId>,
        fix: Option<String>,
        fixes: Vec<Fix>,
    ) {
        self.push(id, status, path, value, message, cause, fix);
        if let Some(last) = self.checks.last_mut() {
            last.fixes = fixes;
        }
    }

    /// The actions that make `name` read `v`: the policy copy when there is one
    /// (it wins), and the local value when it is set to something else.
    fn set_effective(&self, key: &str, name: &str, v: u32) -> Result<Vec<Action>, Error> {
        let mut out = Vec::new();
        let policy = self.policy_value(name)?;
        if policy.is_some() {
            out.push(Action::SetValue {
                root: Root::Software,
                key: POLICY.into(),
                name: name.into(),
                data: Data::Dword(v),
            });
        }
        let (_, local) = self.sys_value(key, name)?;
        if (policy.is_none() && dword(&local) != Some(u64::from(v)))
            || (policy.is_some() && local.is_some() && dword(&local) != Some(u64::from(v)))
        {
            out.push(set_dword(key, name, v));
        }
        Ok(out)
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

/// Runs every check on the hives of a rescued disk.
pub fn check(
    system: &Hive,
    software: Option<&Hive>,
    windows: Option<&Path>,
) -> Result<Report, Error> {
    let reg = OfflineHives::new(system, software)?;
    check_registry(&reg, windows)
}

fn set_dword(key: &str, name: &str, v: u32) -> Action {
    Action::SetValue {
        root: Root::System,
        key: ccs(key),
        name: name.into(),
        data: Data::Dword(v),
    }
}

/// Runs every check on a registry, offline or live. `windows` is the Windows
/// volume's root, for the files the registry points at (MachineKeys).
pub fn check_registry(reg: &dyn Registry, windows: Option<&Path>) -> Result<Report, Error> {
    let mut c = Ctx {
        reg,
        checks: Vec::new(),
    };

    for root in [Root::System, Root::Software] {
        if let Some((primary, secondary)) = reg.dirty(root) {
            let name = root.name();
            c.push("HOST000", Status::Warn, format!("{name} hive base block"), format!("sequence {primary} / {secondary}"),
                format!("the {name} hive was not closed cleanly: its last changes are in {name}.LOG1/.LOG2, not replayed here; values below may be stale"), None,
                Some("host fix --apply replays the logs found beside the hive first; or boot the disk once".into()));
        }
    }

    // Remote Desktop on/off: the policy copy wins.
    let (path, deny, by_policy) = c.effective(TS, "fDenyTSConnections")?;
    if dword(&deny) == Some(1) {
        let actions = c.set_effective(TS, "fDenyTSConnections", 0)?;
        let fix = if by_policy {
            Fix::new("Allow Remote Desktop connections in the policy copy of fDenyTSConnections (0)",
                "Group Policy set fDenyTSConnections=1 under SOFTWARE\\Policies, and the policy copy wins over the local value, so the policy value is the one changed. \
                 On a domain member the GPO 'Allow users to connect remotely by using Remote Desktop Services' writes it back at the next policy refresh: change the GPO too.")
        } else {
            Fix::new("Allow Remote Desktop connections (fDenyTSConnections=0)", "System Properties > Remote > 'Allow remote connections to this computer' stores this value.")
        };
        c.push_fixes("HOST001", Status::Fail, path, show(&deny), if by_policy { "Remote Desktop is turned off by Group Policy" } else { "Remote Desktop is turned off (Allow remote connections = off)" },
            Some(CauseId::RemoteDesktopDisabled), Some(if by_policy { "Change the GPO 'Allow users to connect remotely by using Remote Desktop Services' (a local change is overwritten)".into() } else { "Set fDenyTSConnections to 0: Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' fDenyTSConnections 0".into() }),
            vec![fix.actions(actions)]);
    } else {
        c.push(
            "HOST001",
            Status::Ok,
            path,
            show(&deny),
            "Remote Desktop connections are allowed",
            None,
            None,
        );
    }

    let (path, v) = c.sys_value(RDP_TCP, "fEnableWinStation")?;
    if dword(&v) == Some(0) {
        c.push_fixes(
            "HOST002",
            Status::Fail,
            path,
            show(&v),
            "the RDP-Tcp listener is disabled",
            Some(CauseId::ServiceOrListenerDown),
            Some("Set fEnableWinStation to 1 on the RDP-Tcp listener".into()),
            vec![Fix::new(
                "Enable the RDP-Tcp listener (fEnableWinStation=1)",
                "TermService creates the listener at start when this value is 1.",
            )
            .action(set_dword(RDP_TCP, "fEnableWinStation", 1))],
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
    let port = dword(&v)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
        .unwrap_or(3389);
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
        c.push_fixes("HOST009", Status::Warn, path, show(&v), "the listener is bound to one network adapter: if that adapter changed (a cloud VM moved or resized), nothing listens", Some(CauseId::ServiceOrListenerDown), Some("Set LanAdapter to 0 (all adapters)".into()),
            vec![Fix::new("Listen on every network adapter (LanAdapter=0)", "A listener bound to an adapter that no longer exists does not start; 0 binds all adapters.")
                .action(set_dword(RDP_TCP, "LanAdapter", 0))]);
    }
    let (path, layer, by_policy) = c.effective(RDP_TCP, "SecurityLayer")?;
    let (npath, nla, _) = c.effective(RDP_TCP, "UserAuthentication")?;
    let layer_n = dword(&layer);
    let nla_n = dword(&nla);
    if layer_n == Some(0) {
        // Raise to TLS when NLA is required (NLA needs it), else to Negotiate, which old clients still pass.
        let to = if nla_n == Some(1) { 2 } else { 1 };
        let actions = c.set_effective(RDP_TCP, "SecurityLayer", to)?;
        c.push_fixes("HOST010", Status::Warn, path, show(&layer), format!("security layer RDP only (no TLS){}: clients that require server authentication or NLA fail", if by_policy { ", set by policy" } else { "" }), Some(CauseId::SecurityLayerMismatch), Some("SecurityLayer=1 (Negotiate) or 2 (TLS)".into()),
            vec![Fix::new(format!("Raise SecurityLayer to {to} ({})", if to == 2 { "TLS" } else { "Negotiate" }),
                format!("TLS protects the logon; {}. It needs a usable certificate: TermService makes a self-signed one when none is configured.{}", if to == 2 { "NLA (UserAuthentication=1) requires it" } else { "Negotiate still lets RDP-security-only clients in" }, if by_policy { " The value is set by Group Policy, so the policy copy is changed; change the GPO too." } else { "" }))
                .actions(actions)]);
    } else {
        c.push(
            "HOST010",
            Status::Ok,
            path,
            show(&layer),
            "security layer negotiate or TLS",
            None,
            None,
        );
    }
    if nla_n == Some(1) && layer_n == Some(0) {
        let raise = c.set_effective(RDP_TCP, "SecurityLayer", 2)?;
        let nla_off = c.set_effective(RDP_TCP, "UserAuthentication", 0)?;
        c.push_fixes("HOST011", Status::Fail, npath, show(&nla), "NLA is required but the security layer is RDP only: the two settings contradict each other (RCM event 1050)", Some(CauseId::SecurityLayerMismatch), Some("SecurityLayer=2 with UserAuthentication=1".into()),
            vec![
                Fix::new("Raise SecurityLayer to 2 (TLS), which NLA requires", "Keeps NLA; needs a usable certificate (TermService makes a self-signed one when none is configured).").actions(raise),
                Fix::new("Turn NLA off (UserAuthentication=0): a security downgrade", "Anyone who reaches the port gets a logon screen without authenticating first; use it only to get in, then restore NLA.").actions(nla_off).downgrade(),
            ]);
    } else if nla_n == Some(0) {
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

    let certs = if reg.has_root(Root::Software) {
        Some(cert::read_store(reg)?)
    } else {
        None
    };
    let (cert_path, v) = c.sys_value(RDP_TCP, "SSLCertificateSHA1Hash")?;
    let pinned = match &v {
        Some(Data::Binary(hash)) => {
            Some(hash.iter().map(|b| format!("{b:02X}")).collect::<String>())
        }
        _ => None,
    };
    if let Some(thumb) = &pinned {
        let delete_hash = || {
            Fix::new("Delete SSLCertificateSHA1Hash so TermService uses (and if need be regenerates) its self-signed certificate",
                "The listener is pinned to a certificate it cannot use; without the value, TermService takes the self-signed certificate of the Remote Desktop store and creates a new one when that is missing or expired. Clients that trusted the pinned certificate will see a new one.")
                .action(Action::DeleteValue { root: Root::System, key: ccs(RDP_TCP), name: "SSLCertificateSHA1Hash".into() })
        };
        let present = if reg.has_root(Root::Software) {
            Some(
                reg.key_exists(Root::Software, &format!("{RDP_CERT_STORE}\\{thumb}"))?
                    || reg.key_exists(Root::Software, &format!("{MY_CERT_STORE}\\{thumb}"))?,
            )
        } else {
            None
        };
        let my_cert = cert::read_my_cert(reg, thumb)?;
        let expired = certs
            .iter()
            .flatten()
            .chain(my_cert.iter())
            .find(|e| e.thumbprint.eq_ignore_ascii_case(thumb))
            .and_then(|e| e.cert.as_ref().ok())
            .filter(|ce| ce.expired());
        match (present, expired) {
            (Some(false), _) => c.push_fixes("HOST013", Status::Fail, cert_path, thumb.clone(), "the listener is configured for a certificate that is not in the machine's stores", Some(CauseId::CertificateOrKey), Some("Delete SSLCertificateSHA1Hash so the self-signed certificate is used, or install the certificate".into()), vec![delete_hash()]),
            (_, Some(ce)) => c.push_fixes("HOST013", Status::Fail, cert_path, thumb.clone(), format!("the listener is configured for a certificate that expired on {}", ce.not_after), Some(CauseId::CertificateOrKey), Some("Install a renewed certificate, or delete SSLCertificateSHA1Hash so the self-signed one is used".into()), vec![delete_hash()]),
            (Some(true), None) => c.push("HOST013", Status::Ok, cert_path, thumb.clone(), "the configured certificate is in the machine's store", None, None),
            (None, _) => c.push("HOST013", Status::Info, cert_path, thumb.clone(), "a specific certificate is configured (give --software to check that it exists)", None, None),
        }
    }

    let (path, v) = c.sys_value(TS, "TSServerDrainMode")?;
    if dword(&v).is_some_and(|n| n != 0) {
        c.push_fixes("HOST005", Status::Fail, path, show(&v), "the server is in drain mode: new logons are refused", Some(CauseId::DrainOrLogonsDisabled), Some("change logon /enable".into()),
            vec![Fix::new("Leave drain mode (TSServerDrainMode=0)", "What 'change logon /enable' does; in a farm, the broker may put the server back in drain mode.").action(set_dword(TS, "TSServerDrainMode", 0))]);
    }
    let (path, v) = c.sys_value(TS, "WinStationsDisabled")?;
    if dword(&v) == Some(1) {
        c.push_fixes(
            "HOST005",
            Status::Fail,
            path,
            show(&v),
            "logons are disabled (change logon /disable)",
            Some(CauseId::DrainOrLogonsDisabled),
            Some("change logon /enable".into()),
            vec![Fix::new(
                "Enable logons (WinStationsDisabled=0)",
                "What 'change logon /enable' does.",
            )
            .action(set_dword(TS, "WinStationsDisabled", 0))],
        );
    }
    let (path, v) = c.sys_value(TS, "MaxOutstandingConnections")?;
    match dword(&v) {
        Some(n) if n < 10 => c.push_fixes("HOST007", Status::Warn, path, show(&v), format!("only {n} incomplete connections allowed: a few scanners lock everyone out (TermService 1006)"), Some(CauseId::ConnectionLimit), Some("Raise MaxOutstandingConnections (e.g. 10000)".into()),
            vec![Fix::new(format!("Raise MaxOutstandingConnections to {MAX_OUTSTANDING}"), "Connections still in their handshake count against this limit; scanners and brute force fill a small one. Restricting who reaches the port is the lasting remedy.")
                .action(set_dword(TS, "MaxOutstandingConnections", MAX_OUTSTANDING))]),
        Some(_) => c.push("HOST007", Status::Ok, path, show(&v), "incomplete-connection limit set", None, None),
        None => c.push("HOST007", Status::Info, path, "absent".into(), "incomplete-connection limit at the built-in default", None, None),
    }
    // "Limit number of connections": unlimited is 0xFFFFFFFF (what Azure's reset script writes).
    let (path, v, by_policy) = c.effective(RDP_TCP, "MaxInstanceCount")?;
    match dword(&v) {
        Some(n) if n <= 2 => {
            let fix = if by_policy {
                Fix::new("Remove the 'Limit number of connections' policy value", "The policy copy wins over the listener's own value; a domain GPO writes it again at its next refresh, so change the GPO too.")
                    .action(Action::DeleteValue { root: Root::Software, key: POLICY.into(), name: "MaxInstanceCount".into() })
            } else {
                Fix::new("Allow unlimited concurrent connections on the listener (MaxInstanceCount=0xFFFFFFFF)", "The value Windows and Azure's RDP reset use; session limits belong in the session-host policies.")
                    .action(set_dword(RDP_TCP, "MaxInstanceCount", u32::MAX))
            };
            c.push_fixes("HOST008", Status::Warn, path, show(&v), format!("the listener takes only {n} concurrent connection(s){}: the next client is refused (often 0x904 / extended 0x7)", if by_policy { ", set by policy" } else { "" }), Some(CauseId::ConnectionLimit), Some("Raise MaxInstanceCount (0xFFFFFFFF = unlimited)".into()), vec![fix]);
        }
        _ => c.push(
            "HOST008",
            Status::Ok,
            path,
            show(&v),
            "no tight limit on concurrent connections",
            None,
            None,
        ),
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
        let key = format!("Services\\{svc}");
        let (path, v) = c.sys_value(&key, "Start")?;
        match dword(&v) {
            Some(4) => c.push_fixes("HOST004", if essential { Status::Fail } else { Status::Warn }, path, show(&v), format!("{svc} is disabled"), Some(CauseId::ServiceOrListenerDown), Some(format!("Set-Service {svc} -StartupType Manual (offline: Start=3)")),
                vec![Fix::new(format!("Set {svc} to start on demand (Start=3, manual), its default"), "Windows starts it when a connection comes (TermService) or a session needs it.").action(set_dword(&key, "Start", 3))]),
            None if essential => c.push_fixes("HOST004", Status::Fail, path, "absent".into(), format!("{svc} is not installed"), Some(CauseId::ServiceOrListenerDown), None,
                vec![Fix::new("Repair the Remote Desktop Services installation", "The service's key is missing; a registry value cannot bring it back: run 'sfc /scannow' or 'DISM /Online /Cleanup-Image /RestoreHealth' on the booted host.")]),
            _ => c.push("HOST004", Status::Ok, path, show(&v), format!("{svc} can start"), None, None),
        }
    }

    // Firewall.
    let fw = ccs(FIREWALL);
    let mut enabled_profiles = Vec::new();
    for profile in ["DomainProfile", "StandardProfile", "PublicProfile"] {
        let on = reg.value(Root::System, &format!("{fw}\\{profile}"), "EnableFirewall")?;
        if dword(&on) == Some(1) {
            enabled_profiles.push(profile);
        }
    }
    let rules_path = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules".to_string();
    let rules = reg.values(Root::System, &format!("{fw}\\FirewallRules"))?;
    let allowing: Vec<firewall::Rule> = rules
        .iter()
        .filter_map(|(name, data)| data.as_str().and_then(|s| firewall::parse_rule(name, s)))
        .filter(|r| r.allows_tcp_port(u32::from(port)))
        .collect();
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
        c.push_fixes(
            "HOST006",
            Status::Fail,
            rules_path,
            format!("enabled: {}", enabled_profiles.join(", ")),
            format!("the firewall is on and no active inbound rule allows TCP {port}"),
            Some(CauseId::FirewallOrPort),
            Some(format!(
                "Enable-NetFirewallRule -DisplayGroup 'Remote Desktop' (or allow TCP {port})"
            )),
            vec![firewall::fix_for_port(
                &rules,
                port,
                &format!("{fw}\\FirewallRules"),
            )],
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
    if let Some(certs) = &certs {
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
        let names: Vec<&str> = certs.iter().map(|e| e.thumbprint.as_str()).collect();
        c.push("HOST016", Status::Info, format!("HKLM\\SOFTWARE\\{RDP_CERT_STORE}"), if names.is_empty() { "none".into() } else { names.join(", ") },
            if names.is_empty() { "no certificate in the Remote Desktop store: Windows creates one when TermService starts" } else { "certificate(s) in the Remote Desktop store" }, None, None);
        let machine_guid = reg
            .value(Root::Software, "Microsoft\\Cryptography", "MachineGuid")?
            .and_then(|d| d.as_str().map(str::to_string));
        for e in certs {
            cert::check_entry(&mut c, e, pinned.as_deref(), windows);
        }
        if let (Some(dir), Some(guid)) = (windows, &machine_guid) {
            let key_file = dir
                .join(cert::MACHINE_KEYS)
                .join(format!("{}_{guid}", cert::TS_KEY_CONTAINER_FILE));
            let shown = key_file.display().to_string();
            let tls_used = layer_n != Some(0);
            // The workaround when the key cannot be repaired now: RDP security, which does not use this key.
            let workaround = || -> Result<Fix, Error> {
                let mut actions = c.set_effective(RDP_TCP, "SecurityLayer", 0)?;
                actions.extend(c.set_effective(RDP_TCP, "UserAuthentication", 0)?);
                Ok(Fix::new("Use RDP security instead of TLS (SecurityLayer=0, UserAuthentication=0): a security downgrade",
                    "Gets you in while the key is broken: no TLS and no NLA, so the server is not authenticated and anyone who reaches the port gets a logon screen. Repair the key, then restore SecurityLayer=2 and UserAuthentication=1.")
                    .actions(actions).downgrade())
            };
            let recreate = Fix::new("Delete the key container and the Remote Desktop certificate; TermService recreates both",
                format!("On the host (or on this volume): delete {shown} and the certificate under HKLM\\SOFTWARE\\{RDP_CERT_STORE}, then start TermService (Remove-Item 'Cert:\\LocalMachine\\Remote Desktop\\*'; Restart-Service TermService -Force)."));
            match std::fs::metadata(&key_file) {
                Ok(m) if m.len() > 0 => c.push("HOST017", Status::Ok, shown, format!("{} bytes", m.len()), "the RDP key container (TSSecKeySet1) exists", None, None),
                Ok(_) if tls_used => { let w = workaround()?; c.push_fixes("HOST017", Status::Fail, shown, "0 bytes".into(), "the RDP key container is empty: TLS to the listener fails (Schannel 36870)", Some(CauseId::CertificateOrKey), Some("Delete it and the Remote Desktop certificate; TermService recreates both".into()), vec![recreate, w]) }
                Ok(_) => c.push_fixes("HOST017", Status::Warn, shown, "0 bytes".into(), "the RDP key container is empty (unused while SecurityLayer is 0)", Some(CauseId::CertificateOrKey), Some("Delete it and the Remote Desktop certificate; TermService recreates both".into()), vec![recreate]),
                Err(_) => c.push_fixes("HOST017", Status::Warn, shown, "missing".into(), "the RDP key container is missing: a certificate that points at it cannot be used", Some(CauseId::CertificateOrKey), Some("Delete the Remote Desktop certificate so TermService recreates certificate and key".into()), vec![recreate]),
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
        current_control_set: reg.current_control_set(),
        system_dirty: reg.dirty(Root::System).is_some(),
        checks: c.checks,
    })
}

/// What `host fix` raises a too-small `MaxOutstandingConnections` to.
pub const MAX_OUTSTANDING: u32 = 10_000;
