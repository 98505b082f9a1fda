//! Codes the server sends (Set Error Info, MCS reasons, NTSTATUS, licensing
//! errors), decoded with the codes tables.

use std::fmt;

use rdp_doctor_codes::Namespace;
use serde::Serialize;

use super::report::ConnectOutcome;
use crate::wire::errinfo::{self, ServerStop};

/// A code the server sent, decoded with the codes tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    /// The numbering it belongs to, as `rdp-doctor explain --as` names it
    /// (`errinfo`, `ntstatus`, `sspi`, `mcs-disconnect`, `early-authz`), or
    /// `license-error`.
    pub namespace: String,
    pub value: u32,
    /// `0x7`, `0xC000006D`.
    pub hex: String,
    /// As Windows prints it (negative for NTSTATUS and HRESULT failures).
    pub dec: i64,
    /// Symbolic name, or `unknown`.
    pub name: String,
    pub meaning: String,
}

impl Code {
    /// "ERRINFO_SERVER_DENIED_CONNECTION 0x7 (7)".
    pub fn display(&self) -> String {
        format!("{} {} ({})", self.name, self.hex, self.dec)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

pub(super) fn signed(value: u32) -> i64 {
    if value & 0x8000_0000 != 0 {
        i64::from(value as i32)
    } else {
        i64::from(value)
    }
}

/// Decodes `value` in the first of `namespaces` whose table knows it; the
/// symbolic name is taken from the first row that has one (the NTSTATUS rows
/// of the event tables are named by number only).
pub fn decode_code(namespaces: &[Namespace], value: u32) -> Code {
    let readings: Vec<_> = namespaces
        .iter()
        .filter_map(|ns| rdp_doctor_codes::decode(*ns, value))
        .collect();
    let first = readings.first();
    let name = readings
        .iter()
        .map(|r| r.name.as_str())
        .find(|n| !n.starts_with("NTSTATUS 0x"))
        .or(first.map(|r| r.name.as_str()))
        .unwrap_or("unknown")
        .to_string();
    let meaning = readings
        .iter()
        .map(|r| r.meaning.as_str())
        .find(|m| !m.is_empty())
        .unwrap_or_default()
        .to_string();
    Code {
        namespace: first
            .map(|r| r.namespace)
            .or(namespaces.first().copied())
            .map(|ns| ns.key().to_string())
            .unwrap_or_default(),
        value,
        hex: format!("0x{value:X}"),
        dec: signed(value),
        name,
        meaning,
    }
}

/// An NTSTATUS or SSPI status from CredSSP.
pub fn decode_status(value: u32) -> Code {
    decode_code(
        &[
            Namespace::NtStatus,
            Namespace::LogonError,
            Namespace::SecurityStatus,
        ],
        value,
    )
}

pub(super) fn license_code(code: u32) -> Code {
    Code {
        namespace: "license-error".into(),
        value: code,
        hex: format!("0x{code:X}"),
        dec: signed(code),
        name: errinfo::license_error_name(code)
            .unwrap_or("unknown")
            .to_string(),
        meaning: "Licensing Error Message dwErrorCode ([MS-RDPBCGR] 2.2.1.12.1.3)".into(),
    }
}

/// A frame told why the server stops: the outcome it means.
pub(super) fn stop_outcome(stop: ServerStop) -> Option<ConnectOutcome> {
    Some(match stop {
        ServerStop::SetErrorInfo(0) => return None,
        ServerStop::SetErrorInfo(code) => ConnectOutcome::ServerDenied {
            code: decode_code(&[Namespace::ErrInfo, Namespace::ExtendedReason], code),
        },
        ServerStop::McsDisconnect(reason) => ConnectOutcome::McsDisconnect {
            reason: decode_code(&[Namespace::McsDisconnectReason], u32::from(reason)),
        },
        ServerStop::LicenseError {
            code,
            state_transition,
        } => ConnectOutcome::LicensingFailed {
            code: license_code(code),
            state_transition,
            state_transition_name: errinfo::license_state_name(state_transition)
                .unwrap_or("unknown")
                .to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn codes_are_decoded_with_the_tables() {
        let c = decode_code(&[Namespace::ErrInfo], 7);
        assert_eq!(c.name, "ERRINFO_SERVER_DENIED_CONNECTION");
        assert_eq!((c.hex.as_str(), c.dec), ("0x7", 7));
        let s = decode_status(0xC000_006D);
        assert_eq!(s.name, "STATUS_LOGON_FAILURE");
        assert_eq!((s.hex.as_str(), s.dec), ("0xC000006D", -1_073_741_715));
        assert_eq!(s.namespace, "ntstatus");
        assert!(!s.meaning.is_empty());
        let s = decode_status(0x8009_030C);
        assert_eq!(s.name, "SEC_E_LOGON_DENIED");
        let m = decode_code(&[Namespace::McsDisconnectReason], 1);
        assert_eq!(m.name, "rn-provider-initiated");
        let unknown = decode_code(&[Namespace::ErrInfo], 0x7777_7777);
        assert_eq!(unknown.name, "unknown");
    }

    #[test]
    pub(super) fn stops_become_outcomes() {
        assert_eq!(stop_outcome(ServerStop::SetErrorInfo(0)), None);
        match stop_outcome(ServerStop::SetErrorInfo(7)) {
            Some(ConnectOutcome::ServerDenied { code }) => assert_eq!(code.value, 7),
            other => panic!("{other:?}"),
        }
        match stop_outcome(ServerStop::LicenseError {
            code: 2,
            state_transition: 1,
        }) {
            Some(ConnectOutcome::LicensingFailed {
                code,
                state_transition_name,
                ..
            }) => {
                assert_eq!(code.name, "ERR_NO_LICENSE");
                assert_eq!(state_transition_name, "ST_TOTAL_ABORT");
            }
            other => panic!("{other:?}"),
        }
    }
}
