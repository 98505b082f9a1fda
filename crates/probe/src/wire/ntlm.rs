//! What an RDP server tells about itself before any credentials: the NTLM
//! CHALLENGE it sends in answer to a CredSSP TSRequest carrying an NTLM
//! NEGOTIATE ([MS-CSSP] 2.2.1, [MS-NLMP] 2.2.1.1-2.2.1.2, 2.2.2.1). No I/O.

use serde::Serialize;

pub use super::der::frame_len as der_frame_len;
use super::der::{encode as der, read as read_tlv};

/// NEGOTIATE flags: UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN,
/// EXTENDED_SESSIONSECURITY, VERSION, 128, KEY_EXCH, 56.
const NEGOTIATE_FLAGS: u32 = 0xE208_8205;

/// The NTLM NEGOTIATE_MESSAGE (no domain or workstation, with a version).
pub fn ntlm_negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(b"NTLMSSP\0");
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&NEGOTIATE_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // DomainNameFields, WorkstationFields: empty
    m.extend_from_slice(&[10, 0, 0x61, 0x4A, 0, 0, 0, 15]); // version 10.0.19041, NTLMSSP revision 15
    m
}

/// A CredSSP TSRequest (version 6) carrying one SPNEGO-less NTLM token.
pub fn ts_request_negotiate() -> Vec<u8> {
    let token = der(0xA0, &der(0x04, &ntlm_negotiate())); // [0] negoToken OCTET STRING
    let nego_data = der(0x30, &der(0x30, &token)); // SEQUENCE OF SEQUENCE
    let mut body = der(0xA0, &der(0x02, &[6])); // [0] version INTEGER 6
    body.extend(der(0xA1, &nego_data)); // [1] negoTokens
    der(0x30, &body)
}

/// Facts from the server's NTLM CHALLENGE.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NtlmInfo {
    pub target_name: Option<String>,
    pub netbios_computer: Option<String>,
    pub netbios_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_tree: Option<String>,
    /// Windows version from the CHALLENGE, e.g. "10.0.20348".
    pub os_version: Option<String>,
    /// Server time from the timestamp AV pair (seconds since the Unix epoch).
    pub server_time_unix: Option<i64>,
    /// CredSSP version the server speaks.
    pub credssp_version: Option<u32>,
}

fn utf16(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

fn field(msg: &[u8], at: usize) -> Option<&[u8]> {
    let len = usize::from(u16::from_le_bytes([*msg.get(at)?, *msg.get(at + 1)?]));
    let off = u32::from_le_bytes(msg.get(at + 4..at + 8)?.try_into().ok()?) as usize;
    msg.get(off..off.checked_add(len)?)
}

/// Parses an NTLM CHALLENGE_MESSAGE.
pub fn parse_challenge(msg: &[u8]) -> Result<NtlmInfo, String> {
    if msg.len() < 32 || &msg[..8] != b"NTLMSSP\0" {
        return Err("not an NTLM message (no NTLMSSP signature)".into());
    }
    let kind = u32::from_le_bytes([msg[8], msg[9], msg[10], msg[11]]);
    if kind != 2 {
        return Err(format!("NTLM message type {kind}, expected 2 (CHALLENGE)"));
    }
    let mut info = NtlmInfo {
        target_name: field(msg, 12).map(utf16).filter(|s| !s.is_empty()),
        ..NtlmInfo::default()
    };
    let flags = u32::from_le_bytes([msg[20], msg[21], msg[22], msg[23]]);
    if flags & 0x0200_0000 != 0 && msg.len() >= 56 {
        let build = u16::from_le_bytes([msg[50], msg[51]]);
        info.os_version = Some(format!("{}.{}.{build}", msg[48], msg[49]));
    }
    if let Some(mut av) = field(msg, 40) {
        // AV pairs: id u16, length u16, value; bounded by the field itself.
        while av.len() >= 4 {
            let id = u16::from_le_bytes([av[0], av[1]]);
            let len = usize::from(u16::from_le_bytes([av[2], av[3]]));
            let Some(value) = av.get(4..4 + len) else {
                return Err(format!(
                    "NTLM AV pair {id} of {len} bytes overruns the target info"
                ));
            };
            match id {
                0 => break,
                1 => info.netbios_computer = Some(utf16(value)),
                2 => info.netbios_domain = Some(utf16(value)),
                3 => info.dns_computer = Some(utf16(value)),
                4 => info.dns_domain = Some(utf16(value)),
                5 => info.dns_tree = Some(utf16(value)),
                7 if len == 8 => {
                    let filetime = u64::from_le_bytes(value.try_into().unwrap_or([0; 8]));
                    info.server_time_unix = Some((filetime / 10_000_000) as i64 - 11_644_473_600);
                }
                _ => {}
            }
            av = &av[4 + len..];
        }
    }
    Ok(info)
}

/// Extracts the NTLM token from the server's TSRequest and parses it.
pub fn parse_ts_request(data: &[u8]) -> Result<NtlmInfo, String> {
    let outer = read_tlv(data)?;
    if outer.tag != 0x30 {
        return Err(format!(
            "TSRequest: tag 0x{:02x}, expected SEQUENCE",
            outer.tag
        ));
    }
    let mut rest = outer.content;
    let mut version = None;
    let mut token: Option<&[u8]> = None;
    let mut error_code = None;
    while !rest.is_empty() {
        let el = read_tlv(rest)?;
        rest = el.rest;
        match el.tag {
            0xA0 => {
                let int = read_tlv(el.content)?;
                version = Some(
                    int.content
                        .iter()
                        .fold(0u32, |a, &b| (a << 8) | u32::from(b)),
                );
            }
            0xA1 => {
                let seq_of = read_tlv(el.content)?;
                let seq = read_tlv(seq_of.content)?;
                let tagged = read_tlv(seq.content)?;
                let octets = read_tlv(tagged.content)?;
                token = Some(octets.content);
            }
            0xA4 => {
                let int = read_tlv(el.content)?;
                error_code = Some(
                    int.content
                        .iter()
                        .fold(0u32, |a, &b| (a << 8) | u32::from(b)),
                );
            }
            _ => {}
        }
    }
    if let Some(code) = error_code {
        return Err(format!("TSRequest carries errorCode 0x{code:08X}"));
    }
    let token = token.ok_or("TSRequest has no negoToken")?;
    let mut info = parse_challenge(token)?;
    info.credssp_version = version;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> Vec<u8> {
        let name: Vec<u8> = "DOM".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let host: Vec<u8> = "HOST1".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut av = Vec::new();
        for (id, v) in [(1u16, &host), (2, &name), (3, &host)] {
            av.extend(id.to_le_bytes());
            av.extend((v.len() as u16).to_le_bytes());
            av.extend(v.iter());
        }
        av.extend([7, 0, 8, 0]);
        av.extend(133_000_000_000_000_000u64.to_le_bytes());
        av.extend([0, 0, 0, 0]);
        let mut m = b"NTLMSSP\0".to_vec();
        m.extend(2u32.to_le_bytes());
        m.extend((name.len() as u16).to_le_bytes());
        m.extend((name.len() as u16).to_le_bytes());
        m.extend(56u32.to_le_bytes());
        m.extend(0x0282_8215u32.to_le_bytes());
        m.extend([0x11; 8]);
        m.extend([0; 8]);
        m.extend((av.len() as u16).to_le_bytes());
        m.extend((av.len() as u16).to_le_bytes());
        m.extend((56 + name.len() as u32).to_le_bytes());
        m.extend([10, 0, 0x7C, 0x4F, 0, 0, 0, 15]); // 10.0.20348
        m.extend(&name);
        m.extend(&av);
        m
    }

    #[test]
    fn parses_a_challenge_inside_a_ts_request() {
        let token = der(0xA0, &der(0x04, &challenge()));
        let mut body = der(0xA0, &der(0x02, &[6]));
        body.extend(der(0xA1, &der(0x30, &der(0x30, &token))));
        let ts = der(0x30, &body);
        assert_eq!(der_frame_len(&ts), Some(ts.len()));
        let info = parse_ts_request(&ts).unwrap();
        assert_eq!(info.netbios_computer.as_deref(), Some("HOST1"));
        assert_eq!(info.netbios_domain.as_deref(), Some("DOM"));
        assert_eq!(info.target_name.as_deref(), Some("DOM"));
        assert_eq!(info.os_version.as_deref(), Some("10.0.20348"));
        assert_eq!(info.credssp_version, Some(6));
        assert_eq!(info.server_time_unix, Some(1_655_526_400));
    }

    #[test]
    fn negotiate_is_well_formed() {
        let ts = ts_request_negotiate();
        assert_eq!(der_frame_len(&ts), Some(ts.len()));
        let neg = ntlm_negotiate();
        assert_eq!(&neg[..8], b"NTLMSSP\0");
        assert_eq!(neg.len(), 40);
    }

    #[test]
    fn truncated_and_hostile_input() {
        let c = challenge();
        for cut in 0..c.len() {
            let _ = parse_challenge(&c[..cut]);
        }
        assert!(parse_ts_request(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(parse_ts_request(&[]).is_err());
        let mut bad = c.clone();
        bad[44..48].copy_from_slice(&u32::MAX.to_le_bytes()); // target info offset far away
        assert!(parse_challenge(&bad).unwrap().netbios_computer.is_none());
    }
}
