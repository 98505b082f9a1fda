//! The embedded code tables, parsed once on first use.
//!
//! The CSV files under `data/` are the single source of truth; this module
//! only maps their columns onto [`Entry`] and [`EventEntry`].

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Serialize;

use crate::layer::Layer;

/// Which numbering a code belongs to. The same number means different things
/// in different namespaces (7 is "server denied connection" as an extended
/// code, "connection timed out" nowhere, and a TLS alert elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Namespace {
    /// mstsc "Error code": ActiveX `discReason`.
    DisconnectReason,
    /// ActiveX `OnLogonError` codes.
    LogonError,
    /// mstsc "Extended error code": `ExtendedDisconnectReasonCode`.
    ExtendedReason,
    /// Set Error Info PDU `errorInfo` ([MS-RDPBCGR] 2.2.5.1.1).
    ErrInfo,
    /// FreeRDP client-side connect errors (`ERRCONNECT_*`).
    ErrConnect,
    /// SSPI `SECURITY_STATUS` (`SEC_E_*`, `SEC_I_*`).
    SecurityStatus,
    /// NTSTATUS values seen as Security 4625 Status / Sub Status.
    NtStatus,
    /// RDP_NEG_FAILURE `failureCode`.
    NegFailure,
    /// RDP_NEG_REQ `requestedProtocols` / RDP_NEG_RSP `selectedProtocol` bits.
    NegProtocol,
    /// RDP_NEG_RSP flags.
    NegResponseFlag,
    /// Type byte of the negotiation structure.
    NegStructureType,
    /// Early User Authorization Result PDU.
    EarlyUserAuthorization,
    /// MCS Disconnect Provider Ultimatum reason (T.125).
    McsDisconnectReason,
    /// Server Status Info PDU status code.
    StatusInfo,
    /// TS_LOGON_ERRORS_INFO ErrorNotificationType.
    LogonNotificationType,
    /// TS_LOGON_ERRORS_INFO ErrorNotificationData.
    LogonNotificationData,
    /// RD Gateway error codes ([MS-TSGU] return codes: E_PROXY_*, Win32, Winsock), as
    /// the gateway writes them in its events' ErrorCode (HRESULT_CODE, decimal).
    Gateway,
}

impl Namespace {
    /// Every namespace, in the order readings of a bare number are listed.
    pub const ALL: [Namespace; 17] = [
        Namespace::DisconnectReason,
        Namespace::ExtendedReason,
        Namespace::ErrInfo,
        Namespace::ErrConnect,
        Namespace::SecurityStatus,
        Namespace::NtStatus,
        Namespace::NegFailure,
        Namespace::Gateway,
        Namespace::LogonError,
        Namespace::NegProtocol,
        Namespace::NegResponseFlag,
        Namespace::NegStructureType,
        Namespace::EarlyUserAuthorization,
        Namespace::McsDisconnectReason,
        Namespace::StatusInfo,
        Namespace::LogonNotificationType,
        Namespace::LogonNotificationData,
    ];

    /// Where a user meets codes of this namespace.
    pub fn label(self) -> &'static str {
        match self {
            Namespace::DisconnectReason => "mstsc \"Error code\" (disconnect reason)",
            Namespace::LogonError => "ActiveX OnLogonError code",
            Namespace::ExtendedReason => "mstsc \"Extended error code\" (ExtendedDisconnectReason)",
            Namespace::ErrInfo => "ERRINFO (server Set Error Info PDU)",
            Namespace::ErrConnect => "FreeRDP client connect error (ERRCONNECT)",
            Namespace::SecurityStatus => "SSPI security status (SEC_E / SEC_I)",
            Namespace::NtStatus => "NTSTATUS (logon status, Security 4625)",
            Namespace::NegFailure => "RDP_NEG_FAILURE code (X.224 negotiation)",
            Namespace::NegProtocol => "RDP negotiation protocol bit",
            Namespace::NegResponseFlag => "RDP_NEG_RSP flag",
            Namespace::NegStructureType => "RDP negotiation structure type",
            Namespace::EarlyUserAuthorization => "Early User Authorization result",
            Namespace::McsDisconnectReason => "MCS Disconnect Provider Ultimatum reason",
            Namespace::StatusInfo => "Server Status Info PDU status code",
            Namespace::LogonNotificationType => "TS_LOGON_ERRORS_INFO notification type",
            Namespace::LogonNotificationData => "TS_LOGON_ERRORS_INFO notification data",
            Namespace::Gateway => "RD Gateway error code (ErrorCode of its events, [MS-TSGU])",
        }
    }

    /// Short name accepted by `--as`.
    pub fn key(self) -> &'static str {
        match self {
            Namespace::DisconnectReason => "disconnect",
            Namespace::LogonError => "logon-error",
            Namespace::ExtendedReason => "extended",
            Namespace::ErrInfo => "errinfo",
            Namespace::ErrConnect => "errconnect",
            Namespace::SecurityStatus => "sspi",
            Namespace::NtStatus => "ntstatus",
            Namespace::NegFailure => "neg-failure",
            Namespace::NegProtocol => "neg-protocol",
            Namespace::NegResponseFlag => "neg-flag",
            Namespace::NegStructureType => "neg-type",
            Namespace::EarlyUserAuthorization => "early-authz",
            Namespace::McsDisconnectReason => "mcs-disconnect",
            Namespace::StatusInfo => "status-info",
            Namespace::LogonNotificationType => "logon-notification-type",
            Namespace::LogonNotificationData => "logon-notification-data",
            Namespace::Gateway => "gateway",
        }
    }

    /// Parses a `--as` key.
    pub fn from_key(key: &str) -> Option<Namespace> {
        Namespace::ALL
            .into_iter()
            .find(|ns| ns.key().eq_ignore_ascii_case(key))
    }

    /// Namespaces a bare number is tried in. Small enumerations (negotiation
    /// flags, MCS reasons) are left out: every small number would match them,
    /// so they are only read when asked for with `--as`.
    pub fn is_searched_by_default(self) -> bool {
        matches!(
            self,
            Namespace::DisconnectReason
                | Namespace::ExtendedReason
                | Namespace::ErrInfo
                | Namespace::ErrConnect
                | Namespace::SecurityStatus
                | Namespace::NtStatus
                | Namespace::NegFailure
                | Namespace::Gateway
        )
    }
}

/// One decoded code, as a table row gives it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub namespace: Namespace,
    pub code: u32,
    /// Primary symbolic name (never empty: rows without one get a descriptive name).
    pub name: String,
    /// Other spellings of the name (FreeRDP, rdesktop, IronRDP, ERRINFO equivalent).
    pub aliases: Vec<String>,
    /// What the code means, from the API or spec text.
    pub meaning: String,
    /// The text the user sees, where the source gives one.
    pub message: Option<String>,
    /// Troubleshooting reading of the code (guidance, medium confidence unless the row says otherwise).
    pub hint: Option<String>,
    /// The table's category / group column, verbatim.
    pub group: Option<String>,
    pub confidence: String,
    pub source: String,
    /// The layer the table row names, for tables that have a `layer` column
    /// (the others derive it from the namespace and the code).
    pub layer: Option<Layer>,
}

/// One row of the event table: an event ID, or one value of a field of it.
#[derive(Debug, Clone, Serialize)]
pub struct EventEntry {
    pub log: String,
    pub provider: String,
    pub event_id: u32,
    /// The 32-bit provider metadata ID of classic events (e.g. 3221226529 for 1057).
    pub provider_metadata_id: Option<u64>,
    /// For sub-code rows: the field (e.g. "reason code", "Logon Type").
    pub sub_code_field: Option<String>,
    /// For sub-code rows: the field's value, verbatim (e.g. "7", "0xC000006D").
    pub sub_code: Option<String>,
    pub message: String,
    pub meaning: Option<String>,
    pub confidence: String,
    pub source: String,
}

impl EventEntry {
    /// The sub-code parsed as a number, when it is one.
    pub fn sub_code_value(&self) -> Option<u32> {
        self.sub_code
            .as_deref()
            .and_then(crate::query::parse_number)
    }
}

/// All tables, indexed.
pub struct Tables {
    pub entries: Vec<Entry>,
    pub events: Vec<EventEntry>,
    by_code: HashMap<(Namespace, u32), Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Tables {
    /// Rows of `namespace` with value `code`.
    ///
    /// Gateway codes are also found by their HRESULT: the E_PROXY_* HRESULTs and
    /// HRESULT_FROM_WIN32 values are 0x8007xxxx, and the gateway logs the low 16 bits
    /// (0x800759DB is logged as 23003 = 0x59DB); the rows found then carry the logged value.
    pub fn lookup(&self, namespace: Namespace, code: u32) -> impl Iterator<Item = &Entry> {
        let key = match (namespace, self.by_code.contains_key(&(namespace, code))) {
            (Namespace::Gateway, false) => crate::compose::win32_of_hresult(code).unwrap_or(code),
            _ => code,
        };
        self.by_code
            .get(&(namespace, key))
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
    }

    /// Rows whose name or alias equals `name` (ASCII case-insensitive).
    pub fn lookup_name(&self, name: &str) -> impl Iterator<Item = &Entry> {
        self.by_name
            .get(&normalize_name(name))
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
    }

    /// Event rows for `event_id` (all providers), main rows first.
    pub fn lookup_event(&self, event_id: u32) -> Vec<&EventEntry> {
        let mut rows: Vec<&EventEntry> = self
            .events
            .iter()
            .filter(|e| {
                e.event_id == event_id
                    || e.provider_metadata_id.map(|m| m & 0xFFFF) == Some(u64::from(event_id))
                        && e.sub_code.is_none()
            })
            .collect();
        rows.sort_by_key(|e| e.sub_code.is_some());
        rows
    }
}

fn normalize_name(name: &str) -> String {
    name.trim().to_ascii_uppercase()
}

/// The tables, parsed on first use.
pub fn tables() -> &'static Tables {
    static TABLES: LazyLock<Tables> = LazyLock::new(load);
    &TABLES
}

const DISCONNECT_REASONS: &str = include_str!("../data/disconnect_reasons.csv");
const EXTENDED_REASONS: &str = include_str!("../data/extended_reasons.csv");
const ERRINFO: &str = include_str!("../data/errinfo.csv");
const NEG_FAILURE: &str = include_str!("../data/neg_failure.csv");
const EVENT_IDS: &str = include_str!("../data/event_ids.csv");
const GATEWAY: &str = include_str!("../data/gateway.csv");
const NTSTATUS: &str = include_str!("../data/ntstatus.csv");

type Row = HashMap<String, String>;

/// Reads an embedded CSV into maps of column -> value. The data is compiled
/// in and checked by tests, so a malformed row is skipped rather than fatal.
fn rows(text: &str) -> Vec<Row> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(_) => return Vec::new(),
    };
    reader
        .records()
        .filter_map(Result::ok)
        .map(|rec| {
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.trim().to_string()))
                .collect()
        })
        .collect()
}

fn col<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

fn opt(row: &Row, name: &str) -> Option<String> {
    let v = col(row, name);
    (!v.is_empty()).then(|| v.to_string())
}

/// Numeric value of a row: `code_dec` (may be negative: two's complement) or `code_hex`.
fn code_of(row: &Row) -> Option<u32> {
    let dec = col(row, "code_dec");
    if let Ok(v) = dec.parse::<i64>() {
        if (i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&v) {
            return Some(v as u32);
        }
    }
    crate::query::parse_number(col(row, "code_hex"))
}

fn aliases(row: &Row, columns: &[&str], primary: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in columns {
        for part in col(row, c).split(['/', ';']) {
            let part = part.trim();
            let looks_like_name = !part.is_empty()
                && !part.contains(' ')
                && part != "-"
                && !part.eq_ignore_ascii_case("none")
                && !part.eq_ignore_ascii_case(primary);
            if looks_like_name && !out.iter().any(|a| a.eq_ignore_ascii_case(part)) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// A reading of a self-describing constant name, for rows without a
/// description (the SSPI rows): `SEC_E_INVALID_TOKEN` -> "Error: invalid token".
fn meaning_from_name(name: &str) -> String {
    let (kind, rest) = match name.split_at_checked(6) {
        Some(("SEC_E_", rest)) => ("Error", rest),
        Some(("SEC_I_", rest)) => ("Information (not an error)", rest),
        _ => ("Code", name),
    };
    format!(
        "{kind}: {} (reading of the constant name)",
        rest.to_ascii_lowercase().replace('_', " ")
    )
}

fn load() -> Tables {
    let mut entries = Vec::new();

    for row in rows(DISCONNECT_REASONS) {
        let Some(code) = code_of(&row) else { continue };
        let namespace = if col(&row, "namespace").starts_with("lError") {
            Namespace::LogonError
        } else {
            Namespace::DisconnectReason
        };
        let mut name = col(&row, "symbolic_name").to_string();
        if name.is_empty() {
            name = match col(&row, "facility") {
                "0x03" => format!("RD Gateway error {}", col(&row, "code_hex")),
                "0x02" => format!("RemoteApp error {}", col(&row, "code_hex")),
                _ => format!("disconnect reason {}", col(&row, "code_hex")),
            };
        }
        let meaning = opt(&row, "api_description")
            .or_else(|| opt(&row, "client_message"))
            .unwrap_or_default();
        entries.push(Entry {
            namespace,
            code,
            name,
            aliases: Vec::new(),
            meaning,
            message: opt(&row, "client_message"),
            hint: opt(&row, "diagnosis_hint"),
            group: opt(&row, "category_inferred"),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: None,
        });
    }

    for row in rows(EXTENDED_REASONS) {
        let Some(code) = code_of(&row) else { continue };
        let name = col(&row, "exdisc_name").to_string();
        let name = if name.is_empty() {
            opt(&row, "errinfo_equivalent")
                .unwrap_or_else(|| format!("extended reason {}", col(&row, "code_hex")))
        } else {
            name
        };
        let hint = match (opt(&row, "diagnosis_hint"), opt(&row, "notes")) {
            (Some(h), Some(n)) => Some(format!("{h} ({n})")),
            (h, n) => h.or(n),
        };
        entries.push(Entry {
            namespace: Namespace::ExtendedReason,
            code,
            aliases: aliases(&row, &["errinfo_equivalent"], &name),
            name,
            meaning: opt(&row, "api_description")
                .or_else(|| opt(&row, "rdweb_sample_message"))
                .unwrap_or_default(),
            message: opt(&row, "rdweb_sample_message"),
            hint,
            group: opt(&row, "origin"),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: None,
        });
    }

    for row in rows(ERRINFO) {
        let Some(code) = code_of(&row) else { continue };
        let ns = col(&row, "namespace");
        let namespace = if ns.starts_with("FreeRDP ERRCONNECT") {
            Namespace::ErrConnect
        } else if ns.starts_with("SSPI") {
            Namespace::SecurityStatus
        } else {
            Namespace::ErrInfo
        };
        let name = col(&row, "name").to_string();
        let meaning = match col(&row, "description") {
            "" => meaning_from_name(&name),
            d => d.to_string(),
        };
        entries.push(Entry {
            namespace,
            code,
            aliases: aliases(
                &row,
                &["freerdp_name", "ironrdp_variant", "rdesktop_name"],
                &name,
            ),
            name,
            meaning,
            message: opt(&row, "message"),
            hint: opt(&row, "notes"),
            group: opt(&row, "group"),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: None,
        });
    }

    for row in rows(NEG_FAILURE) {
        let Some(code) = code_of(&row) else { continue };
        let ns = col(&row, "namespace");
        let namespace = if ns.starts_with("RDP_NEG_FAILURE") {
            Namespace::NegFailure
        } else if ns.starts_with("RDP negotiation structure") {
            Namespace::NegStructureType
        } else if ns.starts_with("RDP_NEG_REQ") {
            Namespace::NegProtocol
        } else if ns.starts_with("RDP_NEG_RSP.flags") {
            Namespace::NegResponseFlag
        } else if ns.starts_with("Early User") {
            Namespace::EarlyUserAuthorization
        } else if ns.starts_with("MCS") {
            Namespace::McsDisconnectReason
        } else if ns.starts_with("Server Status") {
            Namespace::StatusInfo
        } else if ns.contains("ErrorNotificationType") {
            Namespace::LogonNotificationType
        } else {
            Namespace::LogonNotificationData
        };
        let cause = opt(&row, "likely_server_side_cause");
        let visible = opt(&row, "client_visible_result");
        let hint = match (cause, visible) {
            (Some(c), Some(v)) => Some(format!("{c}. Client side: {v}")),
            (c, v) => c.or(v),
        };
        entries.push(Entry {
            namespace,
            code,
            name: col(&row, "name").trim().to_string(),
            aliases: Vec::new(),
            meaning: col(&row, "meaning").to_string(),
            message: None,
            hint,
            group: None,
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: None,
        });
    }

    for row in rows(GATEWAY) {
        let Some(code) = code_of(&row) else { continue };
        let name = col(&row, "name").to_string();
        entries.push(Entry {
            namespace: Namespace::Gateway,
            code,
            aliases: aliases(&row, &["aliases"], &name),
            name,
            meaning: col(&row, "meaning").to_string(),
            message: opt(&row, "message"),
            hint: opt(&row, "hint"),
            group: opt(&row, "kind"),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: Layer::from_name(col(&row, "layer")),
        });
    }

    for row in rows(NTSTATUS) {
        let Some(code) = code_of(&row) else { continue };
        let name = col(&row, "name").to_string();
        entries.push(Entry {
            namespace: Namespace::NtStatus,
            code,
            name,
            aliases: Vec::new(),
            meaning: col(&row, "meaning").to_string(),
            message: opt(&row, "message"),
            hint: opt(&row, "hint"),
            group: Some("NTSTATUS (Security 4625 Status / Sub Status, logon results)".to_string()),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
            layer: None,
        });
    }

    let mut events = Vec::new();
    for row in rows(EVENT_IDS) {
        let Ok(event_id) = col(&row, "event_id").parse::<u32>() else {
            continue;
        };
        let ev = EventEntry {
            log: col(&row, "log").to_string(),
            provider: col(&row, "provider").to_string(),
            event_id,
            provider_metadata_id: col(&row, "provider_metadata_id").parse().ok(),
            sub_code_field: opt(&row, "sub_code_field"),
            sub_code: opt(&row, "sub_code"),
            message: col(&row, "message_or_name").to_string(),
            meaning: opt(&row, "meaning_diagnosis"),
            confidence: col(&row, "confidence").to_string(),
            source: col(&row, "source").to_string(),
        };
        events.push(ev);
    }

    let mut by_code: HashMap<(Namespace, u32), Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_code.entry((e.namespace, e.code)).or_default().push(i);
        for n in std::iter::once(&e.name).chain(&e.aliases) {
            let key = normalize_name(n);
            let slot = by_name.entry(key).or_default();
            if !slot.contains(&i) {
                slot.push(i);
            }
        }
    }
    Tables {
        entries,
        events,
        by_code,
        by_name,
    }
}

/// The layer a table row points at, from its namespace and category.
pub fn layer_of(entry: &Entry) -> Layer {
    match entry.namespace {
        Namespace::DisconnectReason => crate::compose::DiscReason(entry.code).layer(),
        Namespace::LogonError | Namespace::NtStatus => Layer::Authentication,
        Namespace::ExtendedReason | Namespace::ErrInfo => crate::compose::errinfo_layer(entry.code),
        Namespace::ErrConnect => crate::compose::errconnect_layer(&entry.name),
        Namespace::SecurityStatus => crate::compose::sspi_layer(&entry.name),
        Namespace::NegFailure
        | Namespace::NegProtocol
        | Namespace::NegResponseFlag
        | Namespace::NegStructureType => Layer::Negotiation,
        Namespace::EarlyUserAuthorization => Layer::Authentication,
        Namespace::McsDisconnectReason => Layer::Session,
        Namespace::StatusInfo => Layer::Session,
        Namespace::LogonNotificationType | Namespace::LogonNotificationData => {
            Layer::Authentication
        }
        Namespace::Gateway => entry.layer.unwrap_or(Layer::Gateway),
    }
}
