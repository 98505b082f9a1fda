//! How a server says "no" once credentials are in play: the Set Error Info
//! PDU ([MS-RDPBCGR] 2.2.5.1.1), the MCS Disconnect Provider Ultimatum
//! (T.125), the Licensing Error Message ([MS-RDPBCGR] 2.2.1.12.1.3,
//! [MS-RDPELE] 2.2.2.7), the CredSSP TSRequest `errorCode` ([MS-CSSP] 2.2.1)
//! and the Early User Authorization Result ([MS-RDPBCGR] 2.2.10.2). No I/O.
//!
//! A connection library sees most of these only as "cannot decode the PDU I
//! expected"; the probe reads every server frame with these functions first,
//! so the code the server sent is what the report shows.

use crate::wire::mcs;

/// TPKT + X.224 Data TPDU header length.
const X224_DATA_HEADER: usize = 7;
/// MCS DomainMCSPDU choice of Send Data Indication (26 << 2).
const MCS_SEND_DATA_INDICATION: u8 = 0x68;
/// Basic security header flag: a licensing PDU follows.
const SEC_LICENSE_PKT: u16 = 0x0080;
/// Basic security header flag: the rest is encrypted (Standard RDP Security).
const SEC_ENCRYPT: u16 = 0x0008;
/// Licensing preamble bMsgType of a Licensing Error Message.
const LICENSE_ERROR_ALERT: u8 = 0xFF;
/// Share Control Header pduType of a Data PDU (low 4 bits).
const PDUTYPE_DATAPDU: u16 = 0x7;
/// Share Data Header pduType2 of a Set Error Info PDU.
const PDUTYPE2_SET_ERROR_INFO_PDU: u8 = 0x2F;
/// Licensing error code the server sends when no licensing is needed.
pub const STATUS_VALID_CLIENT: u32 = 0x7;

/// Why a server ends a connection, read from one of its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStop {
    /// A Set Error Info PDU with its `errorInfo` (an ERRINFO_* code; 0 is
    /// ERRINFO_NONE, sent by some servers without an error).
    SetErrorInfo(u32),
    /// An MCS Disconnect Provider Ultimatum with its reason (0..=4).
    McsDisconnect(u8),
    /// A Licensing Error Message other than STATUS_VALID_CLIENT.
    LicenseError { code: u32, state_transition: u32 },
}

/// The user data of an MCS Send Data Indication in a TPKT frame.
fn send_data_indication(frame: &[u8]) -> Option<&[u8]> {
    if frame.len() < X224_DATA_HEADER + 6 || frame[0] != 3 || frame[4] != 2 || frame[5] != 0xF0 {
        return None;
    }
    let tpkt_len = usize::from(u16::from_be_bytes([frame[2], frame[3]]));
    let frame = frame.get(..tpkt_len)?;
    let mcs = frame.get(X224_DATA_HEADER..)?;
    if mcs.first()? & 0xFC != MCS_SEND_DATA_INDICATION {
        return None;
    }
    // initiator (2), channelId (2), dataPriority + segmentation (1), PER length.
    let len_byte = *mcs.get(6)?;
    let (len, at): (usize, usize) = if len_byte & 0x80 == 0 {
        (usize::from(len_byte), 7)
    } else if len_byte & 0xC0 == 0x80 {
        (
            (usize::from(len_byte & 0x3F) << 8) | usize::from(*mcs.get(7)?),
            8,
        )
    } else {
        return None; // fragmented PER length: never used for RDP PDUs
    };
    mcs.get(at..at.checked_add(len)?)
}

fn u16_le(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(data.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// A Set Error Info PDU in the user data of a Send Data Indication (no
/// security header: TLS / CredSSP, or Standard RDP Security without encryption).
fn set_error_info(user: &[u8]) -> Option<u32> {
    // Share Control Header: totalLength, pduType (version 1 in the high bits), pduSource.
    let total = usize::from(u16_le(user, 0)?);
    let pdu_type = u16_le(user, 2)?;
    if total != user.len() || pdu_type & 0x0F != PDUTYPE_DATAPDU || pdu_type & 0xFFF0 != 0x0010 {
        return None;
    }
    // Share Data Header: shareId (4), pad1, streamId, uncompressedLength (2), pduType2, ...
    if *user.get(14)? != PDUTYPE2_SET_ERROR_INFO_PDU {
        return None;
    }
    u32_le(user, 18)
}

/// A Licensing Error Message in the user data of a Send Data Indication.
fn license_error(user: &[u8]) -> Option<(u32, u32)> {
    let flags = u16_le(user, 0)?;
    if flags & SEC_LICENSE_PKT == 0 || flags & SEC_ENCRYPT != 0 {
        return None;
    }
    // Preamble after the 4-byte basic security header: bMsgType, flags, wMsgSize.
    let msg = user.get(4..)?;
    if *msg.first()? != LICENSE_ERROR_ALERT || usize::from(u16_le(msg, 2)?) != msg.len() {
        return None;
    }
    Some((u32_le(msg, 4)?, u32_le(msg, 8)?))
}

/// Reads why the server ends the connection, if `frame` (one whole TPKT
/// frame) says so: a Set Error Info PDU, an MCS Disconnect Provider
/// Ultimatum, or a Licensing Error Message other than STATUS_VALID_CLIENT.
/// Fast-path frames and encrypted PDUs give `None`.
pub fn server_stop(frame: &[u8]) -> Option<ServerStop> {
    if let Some(reason) = mcs::disconnect_ultimatum_reason(frame) {
        return Some(ServerStop::McsDisconnect(reason));
    }
    let user = send_data_indication(frame)?;
    if let Some(code) = set_error_info(user) {
        return Some(ServerStop::SetErrorInfo(code));
    }
    match license_error(user) {
        Some((STATUS_VALID_CLIENT, _)) | None => None,
        Some((code, state_transition)) => Some(ServerStop::LicenseError {
            code,
            state_transition,
        }),
    }
}

/// The specification's name of a licensing error code ([MS-RDPBCGR] 2.2.1.12.1.3).
pub fn license_error_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x01 => "ERR_INVALID_SERVER_CERTIFICATE",
        0x02 => "ERR_NO_LICENSE",
        0x03 => "ERR_INVALID_MAC",
        0x04 => "ERR_INVALID_SCOPE",
        0x06 => "ERR_NO_LICENSE_SERVER",
        0x07 => "STATUS_VALID_CLIENT",
        0x08 => "ERR_INVALID_CLIENT",
        0x0B => "ERR_INVALID_PRODUCTID",
        0x0C => "ERR_INVALID_MESSAGE_LEN",
        _ => return None,
    })
}

/// The specification's name of a licensing state transition ([MS-RDPBCGR] 2.2.1.12.1.3).
pub fn license_state_name(state: u32) -> Option<&'static str> {
    Some(match state {
        1 => "ST_TOTAL_ABORT",
        2 => "ST_NO_TRANSITION",
        3 => "ST_RESET_PHASE_TO_START",
        4 => "ST_RESEND_LAST_MESSAGE",
        _ => return None,
    })
}

/// One DER element: tag, content and what follows.
fn der(data: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    super::der::read(data).map(|t| (t.tag, t.content, t.rest))
}

/// A DER INTEGER of at most 32 significant bits, as the u32 Windows prints in
/// hex (NTSTATUS and HRESULT values are negative as signed integers).
fn der_u32(content: &[u8]) -> Result<u32, String> {
    if content.is_empty() || content.len() > 5 || (content.len() == 5 && content[0] != 0) {
        return Err(format!("INTEGER of {} bytes", content.len()));
    }
    let negative = content[0] & 0x80 != 0;
    let init: i64 = if negative { -1 } else { 0 };
    let value = content
        .iter()
        .fold(init, |acc, &b| (acc << 8) | i64::from(b));
    Ok(value as u32)
}

/// The `errorCode` of a CredSSP TSRequest ([MS-CSSP] 2.2.1, version 3 and
/// later): an NTSTATUS (or SSPI status) telling why the server ended
/// authentication. `Ok(None)` when the TSRequest carries none.
pub fn ts_request_error_code(data: &[u8]) -> Result<Option<u32>, String> {
    let (tag, mut rest, _) = der(data)?;
    if tag != 0x30 {
        return Err(format!("TSRequest: tag 0x{tag:02x}, expected SEQUENCE"));
    }
    while !rest.is_empty() {
        let (tag, content, after) = der(rest)?;
        rest = after;
        if tag == 0xA4 {
            let (inner, int, _) = der(content)?;
            if inner != 0x02 {
                return Err(format!(
                    "TSRequest errorCode: tag 0x{inner:02x}, expected INTEGER"
                ));
            }
            return der_u32(int).map(Some);
        }
    }
    Ok(None)
}

/// An Early User Authorization Result PDU ([MS-RDPBCGR] 2.2.10.2): 0 is
/// AUTHZ_SUCCESS, 5 AUTHZ_ACCESS_DENIED.
pub fn early_user_auth_result(data: &[u8]) -> Option<u32> {
    (data.len() == 4).then(|| u32::from_le_bytes([data[0], data[1], data[2], data[3]]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// TPKT + X.224 Data + MCS Send Data Indication around `user`.
    pub(crate) fn sdin(channel: u16, user: &[u8]) -> Vec<u8> {
        let mut mcs = vec![MCS_SEND_DATA_INDICATION, 0x00, 0x06];
        mcs.extend(channel.to_be_bytes());
        mcs.push(0x70);
        if user.len() < 0x80 {
            mcs.push(user.len() as u8);
        } else {
            mcs.extend(((user.len() as u16) | 0x8000).to_be_bytes());
        }
        mcs.extend(user);
        let total = (X224_DATA_HEADER + mcs.len()) as u16;
        let mut frame = vec![3, 0];
        frame.extend(total.to_be_bytes());
        frame.extend([2, 0xF0, 0x80]);
        frame.extend(mcs);
        frame
    }

    /// A Set Error Info PDU as a server sends it over TLS.
    pub(crate) fn set_error_info_frame(code: u32) -> Vec<u8> {
        let mut user = Vec::new();
        user.extend(22u16.to_le_bytes()); // totalLength
        user.extend(0x0017u16.to_le_bytes()); // pduType: version 1, PDUTYPE_DATAPDU
        user.extend(1002u16.to_le_bytes()); // pduSource
        user.extend(0x0001_03EAu32.to_le_bytes()); // shareId
        user.extend([0, 1]); // pad1, streamId (STREAM_LOW)
        user.extend(8u16.to_le_bytes()); // uncompressedLength
        user.extend([PDUTYPE2_SET_ERROR_INFO_PDU, 0]);
        user.extend(0u16.to_le_bytes());
        user.extend(code.to_le_bytes());
        sdin(1003, &user)
    }

    /// A Licensing Error Message.
    pub(crate) fn license_error_frame(code: u32, state: u32) -> Vec<u8> {
        let mut user = Vec::new();
        user.extend(SEC_LICENSE_PKT.to_le_bytes());
        user.extend(0u16.to_le_bytes());
        user.extend([LICENSE_ERROR_ALERT, 0x03]);
        user.extend(16u16.to_le_bytes()); // wMsgSize: preamble + code + state + empty blob
        user.extend(code.to_le_bytes());
        user.extend(state.to_le_bytes());
        user.extend([4, 0, 0, 0]); // bbErrorInfo: BB_ERROR_BLOB, length 0
        sdin(1003, &user)
    }

    #[test]
    fn set_error_info_server_denied() {
        let frame = set_error_info_frame(7);
        assert_eq!(server_stop(&frame), Some(ServerStop::SetErrorInfo(7)));
        // A ERRINFO_NONE is reported as such; the caller decides it is no error.
        assert_eq!(
            server_stop(&set_error_info_frame(0)),
            Some(ServerStop::SetErrorInfo(0))
        );
        // Not a Set Error Info: another pduType2 (Synchronize = 0x1F).
        let mut other = frame.clone();
        other[7 + 7 + 14] = 0x1F;
        assert_eq!(server_stop(&other), None);
        for cut in 0..frame.len() {
            assert_eq!(server_stop(&frame[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn licensing_errors() {
        assert_eq!(
            server_stop(&license_error_frame(STATUS_VALID_CLIENT, 2)),
            None
        );
        assert_eq!(
            server_stop(&license_error_frame(0x06, 1)),
            Some(ServerStop::LicenseError {
                code: 6,
                state_transition: 1
            })
        );
        assert_eq!(license_error_name(6), Some("ERR_NO_LICENSE_SERVER"));
        assert_eq!(license_state_name(1), Some("ST_TOTAL_ABORT"));
        assert_eq!(license_error_name(0x99), None);
    }

    #[test]
    fn mcs_disconnect() {
        let frame = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
        assert_eq!(server_stop(&frame), Some(ServerStop::McsDisconnect(3)));
    }

    #[test]
    fn ts_request_error_codes() {
        // version 6, errorCode 0xC000006D (STATUS_LOGON_FAILURE) as a negative INTEGER.
        let ts = [
            0x30, 0x0B, 0xA0, 0x03, 0x02, 0x01, 0x06, 0xA4, 0x04, 0x02, 0x04, 0xC0, 0x00, 0x00,
        ];
        assert!(ts_request_error_code(&ts).is_err(), "truncated INTEGER");
        let ts = [
            0x30, 0x0D, 0xA0, 0x03, 0x02, 0x01, 0x06, 0xA4, 0x06, 0x02, 0x04, 0xC0, 0x00, 0x00,
            0x6D,
        ];
        assert_eq!(ts_request_error_code(&ts), Ok(Some(0xC000_006D)));
        // The same value with a leading zero byte (unsigned encoding).
        let ts = [
            0x30, 0x0E, 0xA0, 0x03, 0x02, 0x01, 0x06, 0xA4, 0x07, 0x02, 0x05, 0x00, 0xC0, 0x00,
            0x00, 0x6D,
        ];
        assert_eq!(ts_request_error_code(&ts), Ok(Some(0xC000_006D)));
        // SEC_E_LOGON_DENIED
        let ts = [0x30, 0x08, 0xA4, 0x06, 0x02, 0x04, 0x80, 0x09, 0x03, 0x0C];
        assert_eq!(ts_request_error_code(&ts), Ok(Some(0x8009_030C)));
        // No errorCode.
        let ts = [0x30, 0x05, 0xA0, 0x03, 0x02, 0x01, 0x06];
        assert_eq!(ts_request_error_code(&ts), Ok(None));
        assert!(ts_request_error_code(&[0x02, 0x01, 0x00]).is_err());
        assert!(ts_request_error_code(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(ts_request_error_code(&[0x30, 0x04, 0xA4, 0x02, 0x02, 0x00]).is_err());
    }

    #[test]
    fn early_user_authorization() {
        assert_eq!(early_user_auth_result(&[5, 0, 0, 0]), Some(5));
        assert_eq!(early_user_auth_result(&[0, 0, 0]), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data: Vec<u8>) {
            let _ = server_stop(&data);
            let _ = ts_request_error_code(&data);
            let _ = early_user_auth_result(&data);
        }
    }
}
