//! The catalog of root causes a code can point at, each with the check that
//! confirms it (an rdp-doctor command first) and the fix.
//!
//! Hand-kept: the causes and fixes come from the Microsoft troubleshooting
//! articles named in `source`; the ranking per code is this tool's reading.

use serde::Serialize;

use crate::layer::Layer;
use crate::table::Namespace;

pub use rdp_doctor_model::CauseId;

/// One cause with its check and fix.
#[derive(Debug, Clone, Serialize)]
pub struct Cause {
    pub id: CauseId,
    pub title: &'static str,
    pub layer: Layer,
    /// Commands (rdp-doctor first) that confirm or rule out the cause.
    pub checks: &'static [&'static str],
    /// What fixes it; commands are copy-paste ready.
    pub fixes: &'static [&'static str],
    pub source: &'static str,
}

const MS_GENERAL: &str = "https://learn.microsoft.com/en-us/troubleshoot/windows-server/remote/rdp-error-general-troubleshooting";
const MS_AZURE_GENERAL: &str = "https://learn.microsoft.com/en-us/troubleshoot/azure/virtual-machines/windows/troubleshoot-rdp-general-error";
const MS_INTERNAL_ERROR: &str = "https://learn.microsoft.com/en-us/troubleshoot/azure/virtual-machines/windows/troubleshoot-rdp-internal-error";
const MS_EVENT_IDS: &str = "https://learn.microsoft.com/en-us/troubleshoot/azure/virtual-machines/windows/event-id-troubleshoot-vm-rdp-connecton";

/// The whole catalog.
pub const CAUSES: &[Cause] = &[
    Cause {
        id: CauseId::NameResolution,
        title: "The host name does not resolve (or resolves to the wrong address)",
        layer: Layer::Dns,
        checks: &["rdp-doctor probe HOST   (DNS phase: every address returned)", "Resolve-DnsName HOST"],
        fixes: &["Correct the DNS record or connect by IP address; check the client's DNS suffix and VPN split-DNS."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::NetworkPath,
        title: "The network path drops or stalls the connection (packet loss, VPN, MTU black hole, middlebox reset)",
        layer: Layer::Network,
        checks: &[
            "rdp-doctor diagnose HOST   (TCP_INFO retransmits, repeated handshakes, stall and small-MSS tests)",
            "Test-NetConnection HOST -Port 3389",
        ],
        fixes: &[
            "Fix the path: lower the VPN/tunnel MTU or clamp MSS on the VPN gateway; remove the middlebox that resets RDP.",
            "Workaround for flaky UDP: force TCP (client policy fClientDisableUDP=1, see the UDP cause).",
        ],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::FirewallOrPort,
        title: "A firewall blocks the RDP port, or the listener uses another port",
        layer: Layer::Network,
        checks: &[
            "rdp-doctor probe HOST   (TCP: refused = nothing listens or REJECT; timeout = filtered)",
            "rdp-doctor host check --system SYSTEM   (PortNumber and the firewall rules for it)",
        ],
        fixes: &[
            "Allow TCP 3389 (or the configured PortNumber) in the host firewall, NSG / security group and on-path firewalls.",
            "PowerShell on the host: Enable-NetFirewallRule -DisplayGroup 'Remote Desktop'",
        ],
        source: MS_AZURE_GENERAL,
    },
    Cause {
        id: CauseId::RemoteDesktopDisabled,
        title: "Remote Desktop is turned off on the host (fDenyTSConnections=1, possibly by Group Policy)",
        layer: Layer::Network,
        checks: &["rdp-doctor host check --system SYSTEM --software SOFTWARE   (fDenyTSConnections and its policy copy)"],
        fixes: &[
            "Offline disk: set SYSTEM\\ControlSet00N\\Control\\Terminal Server\\fDenyTSConnections to 0 (reg load HKLM\\OFFLINE SYSTEM, then reg add)",
            "PowerShell on the host: Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' fDenyTSConnections 0",
            "If the policy value is set: change the GPO 'Allow users to connect remotely by using Remote Desktop Services' (gpresult /H report.html shows which).",
        ],
        source: MS_AZURE_GENERAL,
    },
    Cause {
        id: CauseId::ServiceOrListenerDown,
        title: "TermService is stopped or disabled, or the RDP-Tcp listener is disabled or bound to a missing adapter",
        layer: Layer::Network,
        checks: &[
            "rdp-doctor host check --system SYSTEM   (TermService Start, fEnableWinStation, LanAdapter)",
            "qwinsta   (on the host: is rdp-tcp listening?)",
        ],
        fixes: &[
            "Offline disk: set SYSTEM\\ControlSet00N\\Services\\TermService\\Start to 3 and the listener's fEnableWinStation to 1",
            "PowerShell on the host: Set-Service TermService -StartupType Manual; Start-Service TermService",
        ],
        source: MS_AZURE_GENERAL,
    },
    Cause {
        id: CauseId::CertificateOrKey,
        title: "The listener's certificate or its private key is broken, unreadable or expired (MachineKeys)",
        layer: Layer::Security,
        checks: &[
            "rdp-doctor diagnose HOST   (TLS fails right after X.224 succeeds; certificate dates)",
            "rdp-doctor logs C:\\Windows\\System32\\winevt\\Logs   (TermService 1057/1058, Schannel 36870)",
            "rdp-doctor host check --system SYSTEM --software SOFTWARE --windows WINDIR   (Remote Desktop store, SSLCertificateSHA1Hash, MachineKeys file)",
        ],
        fixes: &[
            "Reset the MachineKeys ACL: icacls C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys /t /c /grant \"NT AUTHORITY\\System:(F)\" \"NT AUTHORITY\\NETWORK SERVICE:(R)\" \"BUILTIN\\Administrators:(F)\"",
            "Delete the certificate so it is regenerated: Get-ChildItem 'Cert:\\LocalMachine\\Remote Desktop' | Remove-Item; Restart-Service TermService -Force",
            "If SSLCertificateSHA1Hash names a missing certificate, delete that value: Remove-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp' SSLCertificateSHA1Hash",
        ],
        source: MS_EVENT_IDS,
    },
    Cause {
        id: CauseId::TlsSettings,
        title: "TLS is unusable: protocol versions or cipher suites disabled under SCHANNEL (no common version or cipher)",
        layer: Layer::Security,
        checks: &[
            "rdp-doctor probe HOST   (TLS phase: version, cipher, alert)",
            "rdp-doctor logs ...   (Schannel 36871 state 10013, 36874, 36887/36888 alert codes)",
        ],
        fixes: &[
            "Re-enable TLS 1.2 under HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server (Enabled=1, DisabledByDefault=0) and reboot.",
        ],
        source: MS_INTERNAL_ERROR,
    },
    Cause {
        id: CauseId::SecurityLayerMismatch,
        title: "Security layer / NLA mismatch between client and listener (SecurityLayer, UserAuthentication, MinEncryptionLevel)",
        layer: Layer::Negotiation,
        checks: &[
            "rdp-doctor probe HOST   (X.224: which of RDP, TLS, CredSSP the server accepts; RDP_NEG_FAILURE code)",
            "rdp-doctor host check --system SYSTEM --software SOFTWARE   (SecurityLayer, UserAuthentication, MinEncryptionLevel and policy copies)",
            "rdp-doctor rdpfile lint FILE   (authentication level, enablecredsspsupport, negotiate security layer)",
        ],
        fixes: &[
            "Make the client offer what the listener requires (enable NLA/CredSSP on the client), or set the listener to Negotiate: SecurityLayer=1.",
            "Lowering SecurityLayer or turning NLA off is a security downgrade: do it only knowingly, and only as long as needed.",
        ],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::CredsspPolicy,
        title: "CredSSP encryption-oracle policy blocks the connection (patched and unpatched ends)",
        layer: Layer::Authentication,
        checks: &["rdp-doctor logs ...   (LsaSrv 6041)", "rdp-doctor host check --software SOFTWARE   (AllowEncryptionOracle)"],
        fixes: &["Patch both ends (CVE-2018-0886 updates); AllowEncryptionOracle=2 only as a temporary, insecure workaround."],
        source: "https://learn.microsoft.com/en-us/troubleshoot/azure/virtual-machines/windows/credssp-encryption-oracle-remediation",
    },
    Cause {
        id: CauseId::ConnectionLimit,
        title: "The host refuses new connections: too many incomplete connections (MaxOutstandingConnections) or sessions (MaxInstanceCount)",
        layer: Layer::Session,
        checks: &[
            "rdp-doctor logs ...   (TermService 1006 'large number of incomplete connections')",
            "rdp-doctor host check --system SYSTEM   (MaxOutstandingConnections, MaxInstanceCount, fSingleSessionPerUser)",
            "rdp-doctor diagnose HOST   (repeated handshakes: refused/timed-out share)",
        ],
        fixes: &[
            "Raise the limit: Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' MaxOutstandingConnections 10000 (then restart TermService).",
            "Block the flood source (scanners, brute force) at the firewall; log off stale sessions (query session / logoff ID).",
        ],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::DrainOrLogonsDisabled,
        title: "The server is in drain mode or logons are disabled",
        layer: Layer::Session,
        checks: &["rdp-doctor host check --system SYSTEM   (TSServerDrainMode, fLogonDisabled)", "rdp-doctor logs ...   (RCM 1070/1071)"],
        fixes: &["On the host: change logon /enable (or chglogon /enable)"],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::Credentials,
        title: "Wrong, expired or locked credentials",
        layer: Layer::Authentication,
        checks: &[
            "rdp-doctor probe HOST --user USER   (full connection with credentials; logon status code)",
            "rdp-doctor logs ...   (Security 4625 Status / Sub Status)",
        ],
        fixes: &["Use the right account (DOMAIN\\user or .\\user for local), reset or unlock it, change an expired password."],
        source: "https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/auditing/event-4625",
    },
    Cause {
        id: CauseId::NoRemoteLogonRight,
        title: "The account may not log on through Remote Desktop (Remote Desktop Users, user right assignment)",
        layer: Layer::Authentication,
        checks: &["rdp-doctor logs ...   (4625 with 0xC000015B; ERRINFO 0x9)"],
        fixes: &["Add the account to Remote Desktop Users: Add-LocalGroupMember -Group 'Remote Desktop Users' -Member USER; check 'Allow log on through Remote Desktop Services'."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::Licensing,
        title: "RD licensing: no license server, grace period over, or client license store unusable",
        layer: Layer::Licensing,
        checks: &["rdp-doctor logs ...   (RCM licensing events)", "rdp-doctor host check --software SOFTWARE   (LicensingMode, LicenseServers)"],
        fixes: &["Configure LicensingMode/LicenseServers (policy) or install RD Licensing; on the client, delete HKLM\\SOFTWARE\\Microsoft\\MSLicensing once as admin."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::SessionEndedByPolicyOrAdmin,
        title: "Not a fault: an administrator, a time limit or another connection ended the session",
        layer: Layer::Session,
        checks: &["rdp-doctor logs ...   (LSM 40 reason, 24/25)"],
        fixes: &["Nothing to repair; adjust session time limits (policy) if they are too short."],
        source: "https://learn.microsoft.com/en-us/windows/win32/termserv/extendeddisconnectreasoncode",
    },
    Cause {
        id: CauseId::ServerResources,
        title: "The server ran out of resources (memory, session creation failed)",
        layer: Layer::Session,
        checks: &["rdp-doctor logs ...   (RCM 1036, System errors)"],
        fixes: &["Free memory or restart the host; look for a service leaking memory."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::ProtocolOrGraphics,
        title: "A protocol or graphics error inside the RDP stream (client or server bug, driver, codec)",
        layer: Layer::Protocol,
        checks: &["rdp-doctor logs ...   (RdpCoreTS errors around the disconnect)"],
        fixes: &["Update the client; on the client disable bitmap caching / GFX (use a clean .rdp file), update the server's display driver."],
        source: "https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rdpbcgr/a21a1bd9-2303-49c1-90ec-3932435c248c",
    },
    Cause {
        id: CauseId::Gateway,
        title: "RD Gateway refused or could not reach the host",
        layer: Layer::Gateway,
        checks: &["rdp-doctor rdpfile lint FILE   (gateway settings)", "rdp-doctor logs ...   (RD Gateway events)"],
        fixes: &["Check the gateway's RAP/CAP policies, its certificate and that it can reach the host on the RDP port."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::CorruptRdpFile,
        title: "The .rdp file is corrupted or carries conflicting settings",
        layer: Layer::Client,
        checks: &["rdp-doctor rdpfile lint FILE"],
        fixes: &["rdp-doctor rdpfile clean FILE -o clean.rdp   (a minimal, clean file), or rdp-doctor rdpfile new --host HOST"],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::UdpTransport,
        title: "The UDP transport is flaky; TCP alone works",
        layer: Layer::Network,
        checks: &["Connect with UDP off once: it works => this cause."],
        fixes: &["Client policy: Set-ItemProperty 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services\\Client' fClientDisableUDP 1 (create the key first)."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::SmartCard,
        title: "Smart-card subsystem or reader problem on the client",
        layer: Layer::Client,
        checks: &["certutil -scinfo   (on the client)"],
        fixes: &["Restart the Smart Card service (SCardSvr) and reinsert the card; update the reader driver."],
        source: MS_GENERAL,
    },
    Cause {
        id: CauseId::DomainController,
        title: "No domain controller (KDC) can be reached, or the clocks differ too much for Kerberos",
        layer: Layer::Authentication,
        checks: &[
            "nltest /dsgetdc:DOMAIN   (on the client and on the host: is a DC found?)",
            "Resolve-DnsName -Type SRV _kerberos._tcp.DOMAIN   (the DC's DNS records)",
            "w32tm /stripchart /computer:DC /samples:3   (clock offset; Kerberos allows 5 minutes)",
            "rdp-doctor logs ...   (4625 with 0xC000005E / 0xC0000133, Kerberos and NETLOGON errors)",
        ],
        fixes: &[
            "Point the client's DNS at the domain's DNS servers (VPN split-DNS) so the DC and its SRV records resolve.",
            "Sync the clocks: w32tm /resync (domain members follow the DC hierarchy).",
            "Outside the domain (no DC reachable), connect with NTLM: use the host's IP address or a local account (.\\user).",
        ],
        source: "https://learn.microsoft.com/en-us/troubleshoot/windows-server/remote/rdp-error-general-troubleshooting",
    },
    Cause {
        id: CauseId::TargetName,
        title: "The name connected to does not match the server's SPN or certificate (wrong principal)",
        layer: Layer::Authentication,
        checks: &[
            "setspn -Q TERMSRV/HOST   (which computer owns the SPN of the name used)",
            "Resolve-DnsName HOST   (does the name lead to the computer that owns the SPN? stale DNS, CNAME, load balancer)",
            "rdp-doctor probe HOST   (TLS phase: the certificate's subject and names)",
        ],
        fixes: &[
            "Connect by the computer's own name (the name in its SPN and certificate), or by IP address so NTLM is used.",
            "Fix the DNS record or the duplicate SPN (setspn -X lists duplicates); add an alias name with netdom computername HOST /add:ALIAS.",
        ],
        source: "https://learn.microsoft.com/en-us/windows/win32/secauthn/sspi-status-codes",
    },
    Cause {
        id: CauseId::AccountRestriction,
        title: "An account restriction forbids this logon (blank password, logon hours, allowed workstations, authentication policy)",
        layer: Layer::Authentication,
        checks: &[
            "rdp-doctor logs ...   (4625 Status / Sub Status 0xC000006E, 0xC000006F, 0xC0000070, 0xC0000413)",
            "net user USER   (on the host or with /domain: logon hours, workstations, password required)",
        ],
        fixes: &[
            "Give the account a password: an account with a blank password may not log on over the network (policy 'Limit local account use of blank passwords to console logon only').",
            "Widen the account's logon hours or 'Log On To' workstation list, or the authentication policy that blocks it.",
        ],
        source: "https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-10/security/threat-protection/auditing/event-4625",
    },
];

/// The catalog entry of `id`.
pub fn cause(id: CauseId) -> &'static Cause {
    // Every CauseId has a catalog row; `catalog_is_complete` tests it.
    CAUSES.iter().find(|c| c.id == id).unwrap_or(&CAUSES[0])
}

use CauseId::*;

/// Ranked causes for one decoded code, most likely first.
pub fn causes_for(namespace: Namespace, code: u32, name: &str) -> Vec<CauseId> {
    match namespace {
        Namespace::DisconnectReason => disc_causes(code),
        Namespace::ExtendedReason | Namespace::ErrInfo => errinfo_causes(code),
        Namespace::ErrConnect => errconnect_causes(name),
        Namespace::SecurityStatus => crate::logon_causes::sspi_causes(name),
        Namespace::NtStatus => crate::logon_causes::ntstatus_causes(code),
        Namespace::NegFailure => match code {
            3 => vec![CertificateOrKey],
            _ => vec![SecurityLayerMismatch],
        },
        Namespace::LogonError
        | Namespace::LogonNotificationType
        | Namespace::LogonNotificationData => {
            vec![Credentials]
        }
        Namespace::EarlyUserAuthorization if code == 5 => vec![NoRemoteLogonRight],
        Namespace::Gateway => gateway_causes(code),
        _ => Vec::new(),
    }
}

/// Causes for an RD Gateway error code: the gateway's own refusals point at its
/// policies; Win32 / Winsock errors at the path from the gateway to the host.
fn gateway_causes(code: u32) -> Vec<CauseId> {
    let entry = crate::table::tables()
        .lookup(Namespace::Gateway, code)
        .next();
    let name = entry.map(|e| e.name.as_str()).unwrap_or("");
    match name {
        "WSAECONNREFUSED" | "ERROR_CONNECTION_REFUSED" | "ERROR_PORT_UNREACHABLE" => vec![
            RemoteDesktopDisabled,
            ServiceOrListenerDown,
            FirewallOrPort,
            Gateway,
        ],
        "WSAETIMEDOUT" | "WSAEHOSTDOWN" => vec![FirewallOrPort, NetworkPath, Gateway],
        "SEC_E_LOGON_DENIED" => vec![Credentials, Gateway],
        _ => match entry.map(crate::table::layer_of) {
            Some(Layer::Dns) => vec![NameResolution, Gateway],
            Some(Layer::Network) => vec![NetworkPath, FirewallOrPort, Gateway],
            Some(Layer::Gateway) => vec![Gateway],
            _ => Vec::new(),
        },
    }
}

fn disc_causes(code: u32) -> Vec<CauseId> {
    let d = crate::compose::DiscReason(code);
    match d.facility() {
        0x03 => return vec![Gateway, CorruptRdpFile],
        0x02 => return vec![CorruptRdpFile],
        _ => {}
    }
    match code {
        0x104 | 0x604 | 0x208 | 0x804 => vec![NameResolution],
        0x204 => vec![
            RemoteDesktopDisabled,
            ServiceOrListenerDown,
            FirewallOrPort,
            NetworkPath,
        ],
        0x108 | 0x704 => vec![FirewallOrPort, NetworkPath, ConnectionLimit],
        0x304 | 0x404 | 0x904 => vec![
            NetworkPath,
            ConnectionLimit,
            CertificateOrKey,
            SecurityLayerMismatch,
            CorruptRdpFile,
            UdpTransport,
        ],
        0x808 | 0x908 => vec![Licensing],
        0xB09 => vec![SecurityLayerMismatch],
        _ => match d.category() {
            0x03 => Vec::new(), // the extended code carries the reason
            0x04 => vec![NetworkPath, FirewallOrPort],
            0x06 => vec![CertificateOrKey, TlsSettings, SecurityLayerMismatch],
            0x07 => vec![Credentials, CredsspPolicy, SecurityLayerMismatch],
            0x08 => vec![NetworkPath, CorruptRdpFile],
            0x09 => vec![SecurityLayerMismatch, Credentials],
            0x0A => vec![SmartCard],
            _ => Vec::new(),
        },
    }
}

fn errinfo_causes(code: u32) -> Vec<CauseId> {
    match code {
        1 | 2 | 3 | 4 | 5 | 0x0B | 0x0C | 0x19 | 0x1A => vec![SessionEndedByPolicyOrAdmin],
        6 => vec![ServerResources],
        7 => vec![
            CertificateOrKey,
            TlsSettings,
            SecurityLayerMismatch,
            ConnectionLimit,
            DrainOrLogonsDisabled,
            RemoteDesktopDisabled,
            NetworkPath,
        ],
        8 => vec![SecurityLayerMismatch],
        9 => vec![NoRemoteLogonRight],
        0x0A => vec![Credentials],
        0x100..=0x10B => vec![Licensing],
        0x300 => vec![Credentials],
        0x400..=0x412 => vec![DrainOrLogonsDisabled, ServerResources],
        0x1000..=0x7FFF => vec![ProtocolOrGraphics, CorruptRdpFile],
        _ => Vec::new(),
    }
}

fn errconnect_causes(name: &str) -> Vec<CauseId> {
    let n = name.to_ascii_uppercase();
    if n.contains("DNS") {
        vec![NameResolution]
    } else if n.contains("TLS") {
        vec![CertificateOrKey, TlsSettings]
    } else if n.contains("SECURITY_NEGO") {
        vec![SecurityLayerMismatch]
    } else if n.contains("NO_OR_MISSING_CREDENTIALS")
        || n.contains("PASSWORD")
        || n.contains("LOGON")
        || n.contains("ACCOUNT")
        || n.contains("AUTHENTICATION")
    {
        vec![Credentials, NoRemoteLogonRight]
    } else if n.contains("INSUFFICIENT_PRIVILEGES") || n.contains("ACCESS_DENIED") {
        vec![NoRemoteLogonRight, Credentials]
    } else if n.contains("LICENS") {
        vec![Licensing]
    } else if n.contains("CONNECT_TRANSPORT")
        || n.contains("CONNECT_FAILED")
        || n.contains("CONNECT_UNDEFINED")
    {
        vec![FirewallOrPort, RemoteDesktopDisabled, NetworkPath]
    } else if n.contains("MCS") || n.contains("ACTIVATION") || n.contains("POST_CONNECT") {
        vec![ServerResources, ProtocolOrGraphics]
    } else {
        Vec::new()
    }
}

/// Causes of a layer, for a code no rule names causes for: the answer still
/// says where to look and what to run.
pub fn layer_causes(layer: Layer) -> Vec<CauseId> {
    match layer {
        Layer::Dns => vec![NameResolution],
        Layer::Network | Layer::Client => vec![
            RemoteDesktopDisabled,
            ServiceOrListenerDown,
            FirewallOrPort,
            NetworkPath,
        ],
        Layer::Negotiation => vec![SecurityLayerMismatch],
        Layer::Security => vec![CertificateOrKey, TlsSettings],
        Layer::Authentication => vec![Credentials, CredsspPolicy, NoRemoteLogonRight],
        Layer::Licensing => vec![Licensing],
        Layer::Session => vec![ServerResources, ConnectionLimit, DrainOrLogonsDisabled],
        Layer::Protocol => vec![ProtocolOrGraphics],
        Layer::Gateway => vec![Gateway],
        Layer::RemoteApp => vec![CorruptRdpFile],
        Layer::None => Vec::new(),
    }
}

/// Ranked causes for an event ID (and one of its field values, if given).
pub fn causes_for_event(event_id: u32) -> Vec<CauseId> {
    match event_id {
        1057 | 1058 | 36870 | 1051..=1055 => vec![CertificateOrKey],
        36871 | 36874 | 36887 | 36888 => vec![TlsSettings, CertificateOrKey],
        1006 => vec![ConnectionLimit],
        4625 | 4771 | 4776 => vec![Credentials, NoRemoteLogonRight],
        6041 => vec![CredsspPolicy],
        1070 | 1071 => vec![DrainOrLogonsDisabled],
        50 | 56 => vec![NetworkPath, SecurityLayerMismatch],
        1050 => vec![SecurityLayerMismatch],
        139 | 140 => vec![Credentials, TlsSettings],
        1036 => vec![ServerResources],
        7022..=7024 => vec![ServiceOrListenerDown],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_complete() {
        let all = CauseId::ALL;
        for id in all {
            assert_eq!(cause(id).id, id, "{id:?} has no catalog row");
        }
        assert_eq!(CAUSES.len(), all.len());
    }

    #[test]
    fn every_cause_names_a_check_and_a_fix() {
        for c in CAUSES {
            assert!(!c.checks.is_empty() && !c.fixes.is_empty(), "{:?}", c.id);
            assert!(c.source.starts_with("https://"), "{:?}", c.id);
        }
    }
}
