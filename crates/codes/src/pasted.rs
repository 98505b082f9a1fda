//! Reading codes the way users paste them: `0x904, 0x7`, `Error code: 0x904,
//! Extended error code: 0x7`, a whole mstsc dialog, FreeRDP's `[0x0002000D]`,
//! a constant name, or one bare number.
//!
//! Pure: no I/O, and any text gives codes or an error, never a panic.

use serde::Serialize;

use crate::query::{self, QueryError};
use crate::table::{self, Namespace};

/// FreeRDP packs its last error as `class << 16 | index`.
const FREERDP_CLASS_ERRINFO: u32 = 0x0001;
const FREERDP_CLASS_CONNECT: u32 = 0x0002;

/// The numbering a reported code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// The mstsc dialog's "Error code" (disconnect reason).
    Dialog,
    /// The mstsc dialog's "Extended error code" (the server's ERRINFO).
    Extended,
    /// FreeRDP's connect error (`0x0002xxxx`, `ERRCONNECT_*`).
    ErrConnect,
    /// A server ERRINFO, as FreeRDP reports it (`0x0001xxxx`) or by name.
    ErrInfo,
    /// An SSPI status (`0x8009xxxx`, `SEC_E_*`).
    Sspi,
    /// An NTSTATUS (`0xC000xxxx`, `STATUS_*`).
    NtStatus,
    /// A lone code with nothing saying which numbering it is in.
    Unknown,
}

impl CodeKind {
    /// The table the code is read in; `None` reads it in every default table.
    pub fn namespace(self) -> Option<Namespace> {
        match self {
            CodeKind::Dialog => Some(Namespace::DisconnectReason),
            CodeKind::Extended => Some(Namespace::ExtendedReason),
            CodeKind::ErrConnect => Some(Namespace::ErrConnect),
            CodeKind::ErrInfo => Some(Namespace::ErrInfo),
            CodeKind::Sspi => Some(Namespace::SecurityStatus),
            CodeKind::NtStatus => Some(Namespace::NtStatus),
            CodeKind::Unknown => None,
        }
    }

    fn of_namespace(ns: Namespace) -> CodeKind {
        match ns {
            Namespace::DisconnectReason => CodeKind::Dialog,
            Namespace::ExtendedReason => CodeKind::Extended,
            Namespace::ErrConnect => CodeKind::ErrConnect,
            Namespace::ErrInfo => CodeKind::ErrInfo,
            Namespace::SecurityStatus => CodeKind::Sspi,
            Namespace::NtStatus => CodeKind::NtStatus,
            _ => CodeKind::Unknown,
        }
    }
}

/// One code read from the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedCode {
    pub kind: CodeKind,
    /// The value in its table (for FreeRDP's packed codes: the index).
    pub value: u32,
    /// The code as written in the text.
    pub text: String,
}

impl ReportedCode {
    /// True when the text names the code (`ERRCONNECT_DNS_ERROR`) rather than numbers it.
    pub fn is_name(&self) -> bool {
        query::parse_number(&self.text).is_none()
    }
}

/// The codes a pasted text reports: the main one and mstsc's extended code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedCodes {
    pub main: ReportedCode,
    pub extended: Option<ReportedCode>,
}

/// Reads the codes in pasted text.
pub fn parse_reported(text: &str) -> Result<ReportedCodes, QueryError> {
    if let Some(found) = labeled(text) {
        return Ok(found);
    }
    let tokens = tokens(text);
    if let Some(code) = tokens.iter().find_map(|t| freerdp_packed(t)) {
        return Ok(single(code));
    }
    let trimmed = text.trim();
    if !trimmed.is_empty() && !trimmed.contains(|c: char| c.is_whitespace() || c == ',') {
        return one_term(trimmed).map(single);
    }
    // In running text only constant-like words (with `_`) are taken for names.
    if let Some(code) = tokens
        .iter()
        .filter(|t| t.contains('_'))
        .find_map(|t| by_name(t))
    {
        return Ok(single(code));
    }
    let numbers: Vec<(&str, u32)> = tokens
        .iter()
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
        .filter_map(|t| query::parse_number(t).map(|n| (*t, n)))
        .collect();
    match numbers.as_slice() {
        [(t, n)] => Ok(single(bare(t, *n))),
        [(t1, n1), (t2, n2)] => Ok(ReportedCodes {
            main: code(CodeKind::Dialog, *n1, t1),
            extended: Some(code(CodeKind::Extended, *n2, t2)),
        }),
        [] => Err(QueryError(format!(
            "no code found in '{}': paste the Error code (and Extended error code), e.g. \
             0x904 0x7, a FreeRDP code such as [0x0002000D], or a name such as \
             ERRINFO_SERVER_DENIED_CONNECTION",
            clip(text)
        ))),
        _ => Err(QueryError(format!(
            "more than two numbers in '{}': give the Error code and the Extended error code \
             (e.g. \"Error code: 0x904 Extended error code: 0x7\")",
            clip(text)
        ))),
    }
}

fn code(kind: CodeKind, value: u32, text: &str) -> ReportedCode {
    ReportedCode {
        kind,
        value,
        text: text.to_string(),
    }
}

fn single(main: ReportedCode) -> ReportedCodes {
    ReportedCodes {
        main,
        extended: None,
    }
}

/// The start of the text, for error messages.
fn clip(text: &str) -> String {
    let t: String = text.trim().chars().take(60).collect();
    if t.len() < text.trim().len() {
        format!("{t}...")
    } else {
        t
    }
}

/// Words of the text that may be codes: runs of letters, digits, `_` and `-`.
/// A leading minus is kept when a digit follows: it makes a negative decimal.
fn tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map(|raw| {
            let negative =
                raw.starts_with('-') && raw[1..].starts_with(|c: char| c.is_ascii_digit());
            if negative {
                raw.trim_end_matches('-')
            } else {
                raw.trim_matches('-')
            }
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// "Error code: 0x904" / "Extended error code: 0x7", as the mstsc dialog and
/// users write them.
fn labeled(text: &str) -> Option<ReportedCodes> {
    // ASCII lowercasing keeps byte offsets, so indices found in `lower` cut `text` cleanly.
    let lower = text.to_ascii_lowercase();
    let mut main = None;
    let mut extended = None;
    for (at, label) in lower.match_indices("error code") {
        let Some((token, value)) = value_after(&text[at + label.len()..]) else {
            continue;
        };
        let is_extended = lower[..at].trim_end().ends_with("extended");
        let slot = if is_extended {
            &mut extended
        } else {
            &mut main
        };
        if slot.is_none() {
            let kind = if is_extended {
                CodeKind::Extended
            } else {
                CodeKind::Dialog
            };
            *slot = Some(code(kind, value, token));
        }
    }
    match (main, extended) {
        (Some(main), extended) => Some(ReportedCodes { main, extended }),
        (None, Some(ext)) => Some(single(ext)),
        (None, None) => None,
    }
}

/// The number right after a label: `: 0x904`, ` = 2308`, ` 0x7`.
fn value_after(rest: &str) -> Option<(&str, u32)> {
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '#'));
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    let token = &rest[..end];
    query::parse_number(token).map(|n| (token, n))
}

/// FreeRDP's `0x0002000D` (ERRCONNECT class) or `0x00010009` (ERRINFO class).
fn freerdp_packed(token: &str) -> Option<ReportedCode> {
    let hex = token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))?;
    if hex.len() != 8 {
        return None;
    }
    let packed = u32::from_str_radix(hex, 16).ok()?;
    let (class, index) = (packed >> 16, packed & 0xFFFF);
    let tables = table::tables();
    match class {
        FREERDP_CLASS_CONNECT => Some(code(CodeKind::ErrConnect, index, token)),
        FREERDP_CLASS_ERRINFO if tables.lookup(Namespace::ErrInfo, index).next().is_some() => {
            Some(code(CodeKind::ErrInfo, index, token))
        }
        _ => None,
    }
}

/// A constant name any table knows (`ERRCONNECT_DNS_ERROR`, `SEC_E_LOGON_DENIED`).
fn by_name(token: &str) -> Option<ReportedCode> {
    let mut rows: Vec<_> = table::tables().lookup_name(token).collect();
    // A row whose own name matches beats one that only has it as an alias.
    rows.sort_by_key(|e| !e.name.eq_ignore_ascii_case(token));
    let row = rows.first()?;
    Some(code(CodeKind::of_namespace(row.namespace), row.code, token))
}

/// The text is one term: a number or a name, as `explain CODE` reads it.
fn one_term(term: &str) -> Result<ReportedCode, QueryError> {
    match query::parse_term(term)? {
        query::Term::Number(n) => Ok(bare(term, n)),
        query::Term::Name(name) => by_name(&name).ok_or_else(|| {
            QueryError(format!(
                "'{name}' is not a symbolic name in any table (names look like \
                 ERRINFO_SERVER_DENIED_CONNECTION, disconnectReasonAtClientWinsockFDCLOSE, \
                 SEC_E_NO_CREDENTIALS, ERRCONNECT_TLS_CONNECT_FAILED, HYBRID_REQUIRED_BY_SERVER, \
                 E_PROXY_NAP_ACCESSDENIED)"
            ))
        }),
    }
}

/// A lone number: its top bits say SSPI or NTSTATUS when a table knows it.
fn bare(token: &str, value: u32) -> ReportedCode {
    let tables = table::tables();
    let known = |ns| tables.lookup(ns, value).next().is_some();
    let kind = if value >> 16 == 0x8009 && known(Namespace::SecurityStatus) {
        CodeKind::Sspi
    } else if value >> 30 == 0b11 && known(Namespace::NtStatus) {
        CodeKind::NtStatus
    } else {
        CodeKind::Unknown
    };
    code(kind, value, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ReportedCodes {
        parse_reported(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn pair(text: &str) -> (CodeKind, u32, Option<(CodeKind, u32)>) {
        let r = read(text);
        (
            r.main.kind,
            r.main.value,
            r.extended.map(|e| (e.kind, e.value)),
        )
    }

    #[test]
    fn the_mstsc_pair_in_every_spelling() {
        let want = (CodeKind::Dialog, 0x904, Some((CodeKind::Extended, 7)));
        assert_eq!(pair("0x904 0x7"), want);
        assert_eq!(pair("0x904, 0x7"), want);
        assert_eq!(pair("Error code: 0x904, Extended error code: 0x7"), want);
        assert_eq!(pair("error code 0x904 extended error code 0x7"), want);
        assert_eq!(pair("Extended error code: 0x7\nError code: 0x904"), want);
        assert_eq!(pair("2308 7"), want);
    }

    #[test]
    fn a_whole_mstsc_dialog() {
        let dialog = "Remote Desktop can't connect to the remote computer for one of these \
            reasons:\n1) Remote access to the server is not enabled\n2) The remote computer is \
            turned off\n3) The remote computer is not available on the network\n\nMake sure the \
            remote computer is turned on and connected to the network, and that remote access is \
            enabled.\n\nError code: 0x204\nExtended error code: 0x0\nTimestamp (UTC): \
            2024-05-06 07:08:09 AM";
        assert_eq!(
            pair(dialog),
            (CodeKind::Dialog, 0x204, Some((CodeKind::Extended, 0)))
        );
        let one_line = "Remote Desktop can't connect to the remote computer for one of these \
            reasons: ... Error code: 0x904 Extended error code: 0x7 Timestamp (UTC): 2024-05-06";
        assert_eq!(
            pair(one_line),
            (CodeKind::Dialog, 0x904, Some((CodeKind::Extended, 7)))
        );
    }

    #[test]
    fn a_dialog_code_alone() {
        assert_eq!(pair("Error code: 0x516"), (CodeKind::Dialog, 0x516, None));
    }

    #[test]
    fn freerdp_packed_codes() {
        let r = read("[0x0002000D]");
        assert_eq!((r.main.kind, r.main.value), (CodeKind::ErrConnect, 0x0D));
        assert_eq!(r.main.text, "0x0002000D");
        assert_eq!(pair("0x0002000D"), (CodeKind::ErrConnect, 0x0D, None));
        let log = "[12:00:01:123] [4242:4243] [ERROR][com.freerdp.core] - \
            freerdp_set_last_error_ex ERRCONNECT_CONNECT_TRANSPORT_FAILED [0x0002000D]";
        assert_eq!(pair(log), (CodeKind::ErrConnect, 0x0D, None));
        // ERRINFO class: 9 is ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES.
        assert_eq!(pair("[0x00010009]"), (CodeKind::ErrInfo, 9, None));
        // An ERRINFO index no table knows is a plain number.
        assert_eq!(pair("0x0001FFFE").0, CodeKind::Unknown);
    }

    #[test]
    fn names_and_bare_numbers() {
        assert_eq!(
            pair("ERRCONNECT_DNS_NAME_NOT_FOUND"),
            (CodeKind::ErrConnect, 5, None)
        );
        assert_eq!(pair("SEC_E_LOGON_DENIED").0, CodeKind::Sspi);
        assert_eq!(pair("0x80090302"), (CodeKind::Sspi, 0x8009_0302, None));
        assert_eq!(pair("-2146893054"), (CodeKind::Sspi, 0x8009_0302, None));
        assert_eq!(pair("0xC000006E"), (CodeKind::NtStatus, 0xC000_006E, None));
        assert_eq!(pair("7"), (CodeKind::Unknown, 7, None));
        assert_eq!(read("-2146893054").main.text, "-2146893054");
    }

    #[test]
    fn words_are_not_codes() {
        // "each" and "ah" are hex digits with an h suffix; only tokens starting with a digit count.
        assert_eq!(pair("each ah 0x904"), (CodeKind::Unknown, 0x904, None));
        assert!(parse_reported("").is_err());
        assert!(parse_reported("nothing here").is_err());
        assert!(parse_reported("1 2 3").is_err());
        assert!(parse_reported("Error code:").is_err());
        assert!(parse_reported("\u{0}\u{FFFF}-- - -x").is_err());
        let lone = parse_reported("0xZZ").expect_err("not a code");
        assert!(lone.0.contains("neither a code"), "{lone}");
        assert!(parse_reported("NO_SUCH_NAME").is_err());
    }
}
