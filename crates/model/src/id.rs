//! Finding IDs: one enum, one registry.
//!
//! Every finding rdp-doctor reports has a stable ID (`NET002`, `HOST001`, …).
//! They are declared once here, with the source that reports them, their
//! meaning and the cause they point at; the finding tables in the crates'
//! READMEs are generated from this registry (see [`FindingId::table`]).

use serde::{Deserialize, Serialize};

use crate::cause::CauseId;

/// Which evidence source reports a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The network probe from the client side (`probe`, `diagnose HOST`).
    Probe,
    /// The host's configuration: offline hives or the live registry (`host check`).
    Host,
    /// Exported event logs (`logs`).
    Events,
    /// A .rdp file (`rdpfile lint`).
    RdpFile,
    /// A code the user saw in an error dialog or a client log (`explain`, `diagnose --code`).
    Code,
    /// The client's configuration: its SOFTWARE hive and NTUSER.DAT, or its live registry (`client check`).
    Client,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Probe => "probe",
            Source::Host => "host",
            Source::Events => "events",
            Source::RdpFile => "rdp_file",
            Source::Code => "code",
            Source::Client => "client",
        }
    }
}

/// The registry row of one finding ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingInfo {
    pub id: FindingId,
    /// The stable code (`NET002`).
    pub code: &'static str,
    pub source: Source,
    /// The severities it is reported with, as the README shows them.
    pub severity: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// The cause it points at, when it points at one cause.
    pub cause: Option<CauseId>,
}

macro_rules! finding_ids {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $source:ident, $sev:literal, $cause:expr, $meaning:literal; )*) => {
        /// Every finding rdp-doctor reports (JSON: the code, e.g. `"NET002"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingId {
            $( $(#[$doc])* $variant, )*
        }

        /// The registry: one row per finding ID, in code order within each source.
        pub const REGISTRY: &[FindingInfo] = &[
            $( FindingInfo {
                id: FindingId::$variant,
                code: $code,
                source: Source::$source,
                severity: $sev,
                meaning: $meaning,
                cause: $cause,
            }, )*
        ];

        impl FindingId {
            /// The stable code (`NET002`).
            pub fn code(self) -> &'static str {
                match self { $( FindingId::$variant => $code, )* }
            }
        }
    };
}

use CauseId::*;

finding_ids! {
    // ---- the network probe ----
    NameDoesNotResolve = "NET001", Probe, "error", Some(NameResolution), "the host name does not resolve";
    PortRefused = "NET002", Probe, "error", Some(FirewallOrPort), "TCP refused: nothing listens on the port, or a firewall rejects";
    PortFiltered = "NET003", Probe, "error", Some(FirewallOrPort), "TCP filtered: no answer to SYN";
    TcpUnreachable = "NET004", Probe, "error", Some(NetworkPath), "TCP reset, unreachable, or dropped while sending";
    StallAtPhase = "NET005", Probe, "error", Some(NetworkPath), "stall at a named phase (X.224, TLS, CredSSP): bytes were sent and nothing (or only part of an answer) came back before the deadline";
    ResetDuringSecurity = "NET006", Probe, "error", Some(NetworkPath), "the connection was reset or closed during TLS (after the server began its TLS answer) or CredSSP";
    SlowOrLossyPath = "PATH001", Probe, "warning", Some(NetworkPath), "retransmissions during the probe, or RTT above 300 ms";
    IntermittentHandshakes = "PATH002", Probe, "error/warning", Some(NetworkPath), "intermittent failures: some of the `--repeat` handshakes failed (error below 90 % success)";
    HighJitter = "PATH003", Probe, "warning", Some(NetworkPath), "high jitter: consecutive `--repeat` handshakes differ by more than 30 ms (and 10 % of the median) on average";
    PacketLoss = "PATH004", Probe, "warning", Some(NetworkPath), "packet loss: retransmissions or timeouts during the `--repeat` handshakes";
    MtuBlackHole = "PATH005", Probe, "error", Some(NetworkPath), "MTU black hole, confirmed by a small-MSS retry: TLS stalls after the ClientHello, and completes with MSS 536";
    ClosedWithoutAnswer = "RDP001", Probe, "error", Some(ConnectionLimit), "the port accepts TCP, then closes without answering (connection limit, or not a listener)";
    NotRdp = "RDP002", Probe, "error", Some(FirewallOrPort), "the service on the port does not speak RDP";
    ConcurrentConnectionsRefused = "RDP003", Probe, "warning", Some(ConnectionLimit), "connection limit: the server answered one connection while the concurrent ones were refused or closed";
    NoCertificateOnServer = "NEG001", Probe, "error", Some(CertificateOrKey), "RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER: no usable certificate";
    NlaRequired = "NEG002", Probe, "warning/error", Some(SecurityLayerMismatch), "the server requires NLA (HYBRID_REQUIRED_BY_SERVER)";
    NegotiationRefused = "NEG003", Probe, "warning/error", Some(SecurityLayerMismatch), "the server refuses mstsc's request for another reason";
    LegacyServer = "NEG004", Probe, "warning", Some(SecurityLayerMismatch), "legacy server without negotiation (RDP security only)";
    StandardSecurityOnly = "NEG005", Probe, "warning", Some(SecurityLayerMismatch), "the server only offers Standard RDP Security";
    NlaNotOffered = "NEG006", Probe, "info", Some(SecurityLayerMismatch), "NLA is not offered";
    TlsFailsAfterX224 = "CERT001", Probe, "error", Some(CertificateOrKey), "TLS fails right after X.224 agreed to it: the certificate / key-store signature";
    CertificateExpired = "CERT002", Probe, "warning", Some(CertificateOrKey), "the certificate has expired";
    CertificateNameMismatch = "CERT003", Probe, "info", Some(CertificateOrKey), "the certificate does not name the host asked for";
    CertificateNotYetValid = "CERT004", Probe, "warning", Some(CertificateOrKey), "the certificate is not valid yet (clock)";
    NoCommonTls = "TLS001", Probe, "error", Some(TlsSettings), "no common TLS version or cipher";
    ServerIdentity = "INFO001", Probe, "info", None, "the server's NTLM identity (domain, computer, OS version)";
    BudgetExhausted = "PROBE001", Probe, "warning", Some(NetworkPath), "the time budget ran out before every phase was done";
    ConnectionCompletes = "CONN000", Probe, "info", None, "with credentials: the full connection completes (CredSSP, MCS, licensing, capabilities, finalization), with the time of each step";
    SetErrorInfo = "CONN001", Probe, "error", None, "the server ends the connection with a Set Error Info PDU (e.g. ERRINFO_SERVER_DENIED_CONNECTION 0x7); cause from the codes catalog";
    McsDisconnect = "CONN002", Probe, "error", None, "the server sends an MCS Disconnect Provider Ultimatum during the connection sequence, with its reason";
    ConnectionFailsAtSubPhase = "CONN003", Probe, "error", None, "the credentialed connection closes, stalls or fails during a named sub-phase";
    CannotGoFurther = "CONN004", Probe, "info", Some(SecurityLayerMismatch), "the probe cannot go further: Standard RDP Security with encryption, or a redirection to another server";
    LogonRefused = "AUTH001", Probe, "error", Some(Credentials), "the server refuses the logon with a status code (CredSSP errorCode NTSTATUS, or Early User Authorization ACCESS_DENIED)";
    CredsspFailsWithoutCode = "AUTH002", Probe, "error", Some(Credentials), "CredSSP fails without a code: the server closes right after the NTLM AUTHENTICATE, or the client rejects the exchange";
    LicensingError = "LIC001", Probe, "error", Some(Licensing), "a Licensing Error Message other than STATUS_VALID_CLIENT (ERR_NO_LICENSE_SERVER, …)";
    UdpBlocked = "UDP001", Probe, "warning", Some(UdpTransport), "UDP transport blocked or off: no answer to the RDP-UDP SYN, or ICMP port unreachable; clients fall back to TCP, and if they stall, force TCP (client policy fClientDisableUDP=1)";
    UdpAnswers = "UDP002", Probe, "info", None, "UDP transport answers: the server sent an RDP-UDP SYN+ACK (version, MTUs)";
    UdpNotRdp = "UDP003", Probe, "warning", Some(UdpTransport), "something answers on the UDP port, but not with an RDP-UDP SYN+ACK";
    GatewayCertificate = "GW001", Probe, "error/warning", Some(Gateway), "the RD Gateway's TLS certificate: the handshake fails, or the certificate expired, is not valid yet, or does not name the gateway";
    GatewayNotReachable = "GW002", Probe, "error", Some(Gateway), "the RD Gateway's HTTPS port does not answer: TCP refused, filtered, or the connection fails before an HTTP answer";
    GatewayNoHttpTransport = "GW003", Probe, "error", Some(Gateway), "the server does not answer RDG_OUT_DATA on /remoteDesktopGateway/ as an RD Gateway (404, another web server, or not HTTP)";
    GatewayAuthSchemes = "GW004", Probe, "info/warning", Some(Gateway), "the authentication schemes the RD Gateway offers (WWW-Authenticate); warning when only Basic, or none mstsc uses";
    GatewayRefusesRequest = "GW005", Probe, "error", Some(Gateway), "the RD Gateway refuses with an HTTP status or an E_PROXY_* code, decoded";
    GatewayWebsocket = "GW006", Probe, "info", None, "whether the RD Gateway accepts the websocket upgrade of the HTTP transport before authentication";
    OldTlsOnly = "TLS002", Probe, "error", Some(TlsSettings), "the server accepts only TLS 1.0/1.1 (found with the probe's own ClientHello): current clients refuse it (FreeRDP with OpenSSL 3, mstsc on Windows 11)";
    TlsCipherMismatch = "TLS003", Probe, "error", Some(TlsSettings), "the server speaks TLS 1.2 but only with cipher suites current clients do not offer (found with the probe's own ClientHello)";
    McsRefused = "MCS001", Probe, "error", Some(SecurityLayerMismatch), "after TLS the server refuses or does not understand the MCS Connect Initial (an MCS Disconnect, or an answer that is not a Connect Response)";
    ClockSkew = "TIME001", Probe, "warning/info", Some(DomainController), "the server's clock (NTLM CHALLENGE timestamp) differs from this machine's by more than 5 minutes: Kerberos fails (info: a smaller skew)";
    ClientsCannotConnect = "COMPAT001", Probe, "warning", Some(TlsSettings), "some common clients cannot connect to this server with their defaults (the client compatibility table says which and why)";

    // ---- the host's configuration ----
    HiveDirty = "HOST000", Host, "info/warning", None, "the hive was not closed cleanly: its .LOG1/.LOG2 were replayed in memory (info), or are missing (warning)";
    RemoteDesktopOff = "HOST001", Host, "error", Some(RemoteDesktopDisabled), "fDenyTSConnections (or its policy copy) is 1: Remote Desktop is off";
    ListenerDisabled = "HOST002", Host, "error", Some(ServiceOrListenerDown), "RDP-Tcp fEnableWinStation is 0: the listener is disabled";
    NonDefaultPort = "HOST003", Host, "info", Some(FirewallOrPort), "RDP-Tcp PortNumber is not 3389";
    ServiceDisabled = "HOST004", Host, "error", Some(ServiceOrListenerDown), "TermService, UmRdpService or SessionEnv is disabled (Start 4), or TermService is missing";
    DrainMode = "HOST005", Host, "error", Some(DrainOrLogonsDisabled), "drain mode or logons disabled (TSServerDrainMode, WinStationsDisabled)";
    FirewallBlocks = "HOST006", Host, "error/warning", Some(FirewallOrPort), "the firewall is on and no active inbound rule allows TCP to the listener's port in a profile the host's networks use (warning: an enabled profile is not covered and, without SOFTWARE, the networks' profiles are unknown)";
    FewOutstandingConnections = "HOST007", Host, "warning", Some(ConnectionLimit), "MaxOutstandingConnections below 10";
    FewInstances = "HOST008", Host, "warning", Some(ConnectionLimit), "RDP-Tcp MaxInstanceCount (or its policy) allows 2 or fewer connections";
    BoundToOneAdapter = "HOST009", Host, "warning", Some(ServiceOrListenerDown), "RDP-Tcp LanAdapter binds the listener to one adapter";
    RdpSecurityOnly = "HOST010", Host, "warning", Some(SecurityLayerMismatch), "SecurityLayer 0: RDP security only";
    NlaSetting = "HOST011", Host, "error/info", Some(SecurityLayerMismatch), "NLA required with SecurityLayer 0 (contradiction), or NLA off (info)";
    FipsEncryption = "HOST012", Host, "info", Some(SecurityLayerMismatch), "MinEncryptionLevel 4: FIPS";
    PinnedCertificateMissing = "HOST013", Host, "error/info", Some(CertificateOrKey), "the pinned SSLCertificateSHA1Hash is in no certificate store, or it expired (info: a certificate is pinned and SOFTWARE was not given)";
    SingleSessionPerUser = "HOST014", Host, "info", None, "fSingleSessionPerUser";
    TransportPolicy = "HOST015", Host, "info", Some(UdpTransport), "policy SelectTransport";
    RemoteDesktopCertificates = "HOST016", Host, "info", None, "the Remote Desktop certificate store's thumbprints";
    MachineKeyFile = "HOST017", Host, "error/warning", Some(CertificateOrKey), "the listener's MachineKeys file is missing or empty";
    ServiceState = "HOST018", Host, "warning/info", Some(ServiceOrListenerDown), "the Service Control Manager's view of TermService, UmRdpService, SessionEnv (live only)";
    CertificateBlob = "HOST020", Host, "warning", Some(CertificateOrKey), "a Remote Desktop certificate is unreadable, misnamed, expired or not yet valid";
    CertificateKeyFile = "HOST021", Host, "error/warning", Some(CertificateOrKey), "the certificate's private key file is missing, empty or unreadable";
    RemoteLogonDenied = "HOST022", Host, "error", Some(NoRemoteLogonRight), "SeDenyRemoteInteractiveLogonRight (\"Deny log on through Remote Desktop Services\") is held by a group every Remote Desktop logon holds (Everyone, Authenticated Users, Local account, Users, Remote Desktop Users, Administrators) or by the account checked, often left behind by a removed Group Policy (SECURITY hive)";
    RemoteLogonNotGranted = "HOST023", Host, "error/warning", Some(NoRemoteLogonRight), "SeRemoteInteractiveLogonRight is held by none of the groups of the account checked (`--user`), or not by Remote Desktop Users or Administrators (SECURITY, SAM)";
    NetworkLogonDenied = "HOST024", Host, "error/warning", Some(NoRemoteLogonRight), "the NLA (CredSSP) network logon is refused: SeDenyNetworkLogonRight on a group of the logon, or SeNetworkLogonRight held by none (SECURITY)";
    AccountDisabled = "HOST025", Host, "error", Some(AccountRestriction), "the account checked (`--user`) is disabled or expired (SAM F value)";
    AccountLockedOrPasswordChange = "HOST026", Host, "error", Some(Credentials), "the account checked is locked out, or must change its password at the next logon, which NLA cannot do (SAM F value)";
    RemoteDesktopGroups = "HOST027", Host, "info/warning", None, "the members of Remote Desktop Users and Administrators (info); the account checked is not in SAM (warning: a domain account?)";
    TlsServerProtocols = "HOST028", Host, "error/warning", Some(TlsSettings), "SCHANNEL: TLS 1.2 is disabled for the server (Enabled=0 or DisabledByDefault=1 under Protocols\\TLS 1.2\\Server) and only older protocols, or none, are left";
    CipherSuitePolicy = "HOST029", Host, "error/warning", Some(TlsSettings), "the cipher-suite policy (SSL\\00010002 Functions) lists no suite current clients offer (ECDHE with AES-GCM, or TLS 1.3's)";
    FipsAlgorithmPolicy = "HOST030", Host, "info", Some(TlsSettings), "Lsa\\FipsAlgorithmPolicy Enabled=1: Schannel offers only FIPS-approved suites";
    CredsspOracle = "HOST031", Host, "warning/info", Some(CredsspPolicy), "CredSSP AllowEncryptionOracle: 2 (Vulnerable) accepts unpatched clients (warning); 0 (Force Updated Clients) refuses them (info)";
    LicensingSetup = "HOST032", Host, "error/warning/info", Some(Licensing), "RD Session Host licensing: no licensing mode or license server configured, or the grace period expired (or ends soon)";
    IpsecRequiredForRdp = "HOST033", Host, "warning", Some(FirewallOrPort), "an active connection-security (IPsec) rule requires authentication for the listener's port: clients without a matching IPsec policy cannot connect";
    FirewallRemoteScope = "HOST034", Host, "info/warning", Some(FirewallOrPort), "the rules that allow the listener's port are limited to some remote addresses (RA4/RA6): clients elsewhere are blocked (warning when every allowing rule is limited)";
    KeyFileAcl = "HOST035", Host, "error/warning", Some(CertificateOrKey), "the ACL of the listener's MachineKeys key file: NETWORK SERVICE cannot read it (error), or it grants access beyond SYSTEM, Administrators and NETWORK SERVICE (warning)";

    // ---- event logs ----
    ListenerKeyUnusable = "EVT001", Events, "error", Some(CertificateOrKey), "the listener cannot create or use its certificate's private key (TermService 1057/1058, Schannel 36870)";
    TlsHandshakesFail = "EVT002", Events, "warning", Some(TlsSettings), "TLS handshakes fail (Schannel 36871, 36874, 36887/36888 with alert codes)";
    BruteForce = "EVT003", Events, "warning", Some(Credentials), "brute force: failed logons (4625, RdpCoreTS 140) from one address, or from one workstation against one account when no address is logged; a successful logon that followed is shown";
    ConnectionFlood = "EVT004", Events, "error/warning", Some(ConnectionLimit), "TermService refused connections (1006), or a connection flood (RdpCoreTS 131, RD Gateway 312) from one address";
    NoRemoteDesktopRight = "EVT005", Events, "error", Some(NoRemoteLogonRight), "logons denied for lack of the Remote Desktop right (4825, or 4625 with 0xC000015B)";
    FailedLogons = "EVT006", Events, "info", Some(Credentials), "failed logons, by decoded status";
    ListenerErrors = "EVT007", Events, "warning", Some(ServiceOrListenerDown), "listener or protocol driver errors (RCM 1050-1055, TermDD 50/56)";
    NeverAuthenticated = "EVT008", Events, "warning", Some(NetworkPath), "an address reached the server at least 3 times and never authenticated (failure in TLS/CredSSP, or scans)";
    ClientDisconnects = "EVT009", Events, "info/warning", None, "the client's own disconnect reasons (1026), warning when any is an error reason";
    GatewayNoCap = "EVT010", Events, "error", Some(Gateway), "the RD Gateway refused users: no RD CAP admits them (201, or 204 health policy)";
    GatewayNoRap = "EVT011", Events, "error", Some(Gateway), "the RD Gateway refused resources: no RD RAP lets the user reach them (301)";
    GatewayCannotReachHost = "EVT012", Events, "error", Some(Gateway), "the RD Gateway authorized the connection but could not reach the host (304)";
    GatewayRefused = "EVT013", Events, "warning", Some(Gateway), "the RD Gateway did not let users in: connection limit (203), authentication method (305), tunnel (306)";
    LogTruncated = "EVT014", Events, "warning", None, "a log file is cut short (ends inside a 64 KiB chunk, or holds fewer chunks than its header counts): only its complete chunks are read";

    // ---- .rdp files ----
    BinaryGarbage = "RDPF001", RdpFile, "error", Some(CorruptRdpFile), "binary garbage (control characters) in a line";
    BrokenEncoding = "RDPF002", RdpFile, "error", Some(CorruptRdpFile), "broken encoding (invalid UTF-8, unpaired UTF-16 surrogate, odd UTF-16 length, big-endian BOM)";
    MalformedLine = "RDPF003", RdpFile, "error", Some(CorruptRdpFile), "a line that is not `name:type:value` (truncated, corrupted, or two lines run together)";
    UnknownType = "RDPF004", RdpFile, "error", Some(CorruptRdpFile), "a type other than `s`, `i`, `b`";
    WrongType = "RDPF005", RdpFile, "error", Some(CorruptRdpFile), "the type differs from the documented one";
    NotAnInteger = "RDPF006", RdpFile, "error", Some(CorruptRdpFile), "an `i` value that is not a 32-bit integer";
    ValueOutOfRange = "RDPF007", RdpFile, "error", Some(CorruptRdpFile), "a value outside the documented values or range (`server port`: 1-65535)";
    ConflictingDuplicate = "RDPF008", RdpFile, "warning", Some(CorruptRdpFile), "the same property set several times with different values (FreeRDP uses the last)";
    RepeatedProperty = "RDPF009", RdpFile, "info", None, "the same property repeated with the same value";
    UnknownProperty = "RDPF010", RdpFile, "warning", None, "a property not in the catalog (kept)";
    NoFullAddress = "RDPF011", RdpFile, "error", Some(CorruptRdpFile), "no `full address`, or an empty one";
    MalformedFullAddress = "RDPF012", RdpFile, "error", Some(CorruptRdpFile), "a malformed `full address` (spaces, bad port, not a host or address)";
    MalformedGateway = "RDPF013", RdpFile, "error", Some(Gateway), "a gateway is to be used but `gatewayhostname` is empty or malformed";
    SavedPassword = "RDPF014", RdpFile, "warning", None, "a saved password blob (`password 51:b:`)";
    WeakSecuritySettings = "RDPF015", RdpFile, "warning", Some(SecurityLayerMismatch), "conflicting or weakening security settings (CredSSP without negotiation, NLA off, authentication level 0)";
    SignatureProblem = "RDPF016", RdpFile, "error/info", Some(CorruptRdpFile), "signed files: signscope without signature or the reverse, signed properties missing or repeated, a signature blob that is not rdpsign's layout (the cryptographic signature itself is not verified)";
    NotMstscEncoding = "RDPF017", RdpFile, "info", None, "not mstsc's encoding (both are read)";
    PortConflict = "RDPF018", RdpFile, "warning", Some(FirewallOrPort), "`server port` differs from the port in `full address`";
    TrailingSpaces = "RDPF019", RdpFile, "warning", Some(CorruptRdpFile), "a string value with trailing spaces";

    // ---- codes the user reported ----
    ReportedCode = "CODE001", Code, "error", None, "a code from an error dialog or a client log, decoded, with the causes it points at";

    // ---- the client's configuration ----
    ClientTransportPolicy = "CLIENT001", Client, "info", Some(UdpTransport), "the transport policies: the client's fClientDisableUDP (1: TCP only, the workaround for flaky UDP), and SelectTransport when the SOFTWARE hive is also a host's";
    ClientCredsspPolicy = "CLIENT002", Client, "warning/info", Some(CredsspPolicy), "the client's CredSSP AllowEncryptionOracle: 2 Vulnerable (warning), 0 Force Updated refuses unpatched servers (info: \"CredSSP encryption oracle remediation\", 0x80090302)";
    ClientServerHistory = "CLIENT003", Client, "info", None, "the client's server list (MRU), user name hints and pinned certificate thumbprints (NTUSER.DAT `Terminal Server Client`)";
    ClientDisconnectCodes = "CLIENT004", Client, "info/warning", None, "the RDPClient/Operational log's disconnect events (1026), each code decoded as `explain` does (warning when any is an error)";
    ClientNoDefaultRdp = "CLIENT005", Client, "info", None, "no Default.rdp was found in the user folder given";
}

impl FindingId {
    /// The registry row of this ID.
    pub fn info(self) -> &'static FindingInfo {
        // The registry lists every variant in declaration order.
        &REGISTRY[self as usize]
    }

    pub fn source(self) -> Source {
        self.info().source
    }

    /// The ID whose code is `code` (case-insensitive).
    pub fn from_code(code: &str) -> Option<FindingId> {
        REGISTRY
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code.trim()))
            .map(|r| r.id)
    }

    /// The Markdown table of `source`'s findings, as the crates' READMEs show it.
    pub fn table(source: Source) -> String {
        let mut t = String::from("| id | severity | meaning | cause |\n|---|---|---|---|\n");
        for r in REGISTRY.iter().filter(|r| r.source == source) {
            let cause = r.cause.map_or("—", CauseId::name);
            t.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                r.code, r.severity, r.meaning, cause
            ));
        }
        t
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for FindingId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for FindingId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        FindingId::from_code(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown finding ID {code}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_in_declaration_order_and_codes_are_unique() {
        for (i, r) in REGISTRY.iter().enumerate() {
            assert_eq!(r.id as usize, i, "{}", r.code);
            assert_eq!(r.id.info().code, r.code);
        }
        let mut codes: Vec<_> = REGISTRY.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), REGISTRY.len());
    }

    #[test]
    fn codes_round_trip() {
        for r in REGISTRY {
            assert_eq!(FindingId::from_code(&r.code.to_lowercase()), Some(r.id));
            let json = serde_json::to_string(&r.id).expect("serialises");
            assert_eq!(json, format!("\"{}\"", r.code));
        }
        assert_eq!(FindingId::from_code("HOST999"), None);
    }
}
