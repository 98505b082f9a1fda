//! X.224 Connection Request / Confirm with RDP negotiation ([MS-RDPBCGR]
//! 2.2.1.1-2.2.1.2), on top of IronRDP's PDU types. No I/O.

use ironrdp_pdu::nego::{
    ConnectionConfirm, ConnectionRequest, NegoRequestData, RequestFlags, SecurityProtocol,
};
use ironrdp_pdu::x224::X224;
use serde::Serialize;

/// The security protocols a client can request, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    /// Standard RDP Security (no bit).
    Rdp,
    /// PROTOCOL_SSL: TLS.
    Tls,
    /// PROTOCOL_HYBRID: TLS + CredSSP (NLA).
    Hybrid,
    /// PROTOCOL_RDSTLS.
    Rdstls,
    /// PROTOCOL_HYBRID_EX: CredSSP + Early User Authorization Result.
    HybridEx,
}

impl Protocol {
    /// Every protocol, in the order they are probed.
    pub const ALL: [Protocol; 5] = [
        Protocol::Rdp,
        Protocol::Tls,
        Protocol::Hybrid,
        Protocol::HybridEx,
        Protocol::Rdstls,
    ];

    /// The bit in requestedProtocols.
    pub fn bits(self) -> u32 {
        match self {
            Protocol::Rdp => 0,
            Protocol::Tls => 1,
            Protocol::Hybrid => 2,
            Protocol::Rdstls => 4,
            Protocol::HybridEx => 8,
        }
    }

    /// The specification's name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rdp => "PROTOCOL_RDP",
            Protocol::Tls => "PROTOCOL_SSL",
            Protocol::Hybrid => "PROTOCOL_HYBRID",
            Protocol::Rdstls => "PROTOCOL_RDSTLS",
            Protocol::HybridEx => "PROTOCOL_HYBRID_EX",
        }
    }

    /// Whether this protocol runs TLS after the X.224 exchange.
    pub fn uses_tls(self) -> bool {
        !matches!(self, Protocol::Rdp)
    }

    /// The protocol named by a selectedProtocol value, if it is one bit we know.
    pub fn from_selected(bits: u32) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.bits() == bits)
    }
}

/// Encodes a Connection Request (TPKT + X.224 CR + cookie + RDP_NEG_REQ)
/// asking for `protocols` (an empty slice asks for Standard RDP Security).
pub fn connection_request(protocols: &[Protocol], cookie: &str) -> Vec<u8> {
    let bits = protocols.iter().fold(0u32, |acc, p| acc | p.bits());
    let request = ConnectionRequest {
        nego_data: Some(NegoRequestData::cookie(cookie.to_string())),
        flags: RequestFlags::empty(),
        protocol: SecurityProtocol::from_bits_retain(bits),
        correlation_info: None,
    };
    // Encoding a request we build ourselves cannot fail: the sizes are fixed.
    ironrdp_core::encode_vec(&X224(request)).unwrap_or_default()
}

/// What the server answered to one Connection Request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Confirm {
    /// RDP_NEG_RSP: the protocol the server selected, and its flags.
    Selected { protocol: u32, flags: u8 },
    /// RDP_NEG_FAILURE with its code.
    Failure { code: u32 },
    /// A Connection Confirm without negotiation data: a legacy server that
    /// only speaks Standard RDP Security.
    Legacy,
}

/// Why the server's bytes are not a Connection Confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WireError {
    pub message: String,
    /// The first bytes received, hex, for the report.
    pub first_bytes: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (first bytes: {})", self.message, self.first_bytes)
    }
}

/// Hex of the first bytes of `data`, for evidence.
pub fn hex_prefix(data: &[u8], n: usize) -> String {
    let mut s: String = data.iter().take(n).map(|b| format!("{b:02x} ")).collect();
    s.pop();
    if data.len() > n {
        s.push_str(" …");
    }
    s
}

/// The length of the TPKT frame starting at `data`, once its 4-byte header
/// is there. `Err` when the bytes are not TPKT (version 3).
pub fn tpkt_frame_len(data: &[u8]) -> Result<Option<usize>, WireError> {
    if data.is_empty() {
        return Ok(None);
    }
    if data[0] != 3 {
        return Err(WireError {
            message: format!(
                "not a TPKT frame (version byte 0x{:02x}, expected 0x03)",
                data[0]
            ),
            first_bytes: hex_prefix(data, 16),
        });
    }
    if data.len() < 4 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if len < 7 {
        return Err(WireError {
            message: format!("TPKT length {len} is too short for an X.224 PDU"),
            first_bytes: hex_prefix(data, 16),
        });
    }
    Ok(Some(len))
}

/// Decodes the server's answer to a Connection Request.
pub fn parse_confirm(frame: &[u8]) -> Result<Confirm, WireError> {
    let err = |message: String| WireError {
        message,
        first_bytes: hex_prefix(frame, 16),
    };
    // X.224 Disconnect Request (code 0x80): the server refused at the transport layer.
    if frame.len() >= 7 && frame[5] & 0xF0 == 0x80 {
        return Err(err(
            "X.224 Disconnect Request instead of a Connection Confirm".into(),
        ));
    }
    // The variable part length is the TPDU length indicator minus the fixed 6 bytes.
    let has_nego = frame.len() >= 5 && frame[4] > 6;
    match ironrdp_core::decode::<X224<ConnectionConfirm>>(frame) {
        Ok(X224(ConnectionConfirm::Response { flags, protocol })) => {
            if has_nego {
                Ok(Confirm::Selected {
                    protocol: protocol.bits(),
                    flags: flags.bits(),
                })
            } else {
                Ok(Confirm::Legacy)
            }
        }
        Ok(X224(ConnectionConfirm::Failure { code })) => Ok(Confirm::Failure {
            code: u32::from(code),
        }),
        Err(e) => Err(err(format!("not an X.224 Connection Confirm: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_follow_the_spec() {
        let req = connection_request(&[Protocol::Tls, Protocol::Hybrid], "probe");
        // TPKT v3, length; X.224 CR code 0xE0; cookie; RDP_NEG_REQ type 1, length 8, protocols 3.
        assert_eq!(&req[..2], &[3, 0]);
        assert_eq!(usize::from(u16::from_be_bytes([req[2], req[3]])), req.len());
        assert_eq!(req[5], 0xE0);
        assert!(req.windows(24).any(|w| w == b"Cookie: mstshash=probe\r\n"));
        assert_eq!(&req[req.len() - 8..], &[1, 0, 8, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn confirms() {
        // From the spec's examples: RDP_NEG_RSP selecting TLS, RDP_NEG_FAILURE code 5.
        let rsp = [
            3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 0x1F, 8, 0, 1, 0, 0, 0,
        ];
        assert_eq!(
            parse_confirm(&rsp),
            Ok(Confirm::Selected {
                protocol: 1,
                flags: 0x1F
            })
        );
        let fail = [
            3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 3, 0, 8, 0, 5, 0, 0, 0,
        ];
        assert_eq!(parse_confirm(&fail), Ok(Confirm::Failure { code: 5 }));
        let legacy = [3, 0, 0, 11, 6, 0xD0, 0, 0, 0x12, 0x34, 0];
        assert_eq!(parse_confirm(&legacy), Ok(Confirm::Legacy));
        // xrdp's disconnect on a broken key (PEERS.md).
        let dr = [3, 0, 0, 9, 2, 0xF0, 0x80, 0x21, 0x80];
        assert!(parse_confirm(&dr).is_err());
        assert!(parse_confirm(b"HTTP/1.1 400 Bad Request\r\n").is_err());
    }

    #[test]
    fn tpkt_lengths() {
        assert_eq!(tpkt_frame_len(&[]), Ok(None));
        assert_eq!(tpkt_frame_len(&[3, 0]), Ok(None));
        assert_eq!(tpkt_frame_len(&[3, 0, 0, 19]), Ok(Some(19)));
        assert!(tpkt_frame_len(&[3, 0, 0, 2]).is_err());
        assert!(tpkt_frame_len(b"SSH-2.0").is_err());
    }
}
