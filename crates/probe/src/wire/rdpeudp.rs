//! RDP over UDP ([MS-RDPEUDP]) connection setup: the SYN datagram a client
//! sends and the SYN+ACK a server answers with. No I/O.
//!
//! Layout (all fields big-endian, section 2.2.2): RDPUDP_FEC_HEADER
//! (snSourceAck u32, uReceiveWindowSize u16, uFlags u16), then in SYN and
//! SYN+ACK the RDPUDP_SYNDATA_PAYLOAD (snInitialSequenceNumber u32,
//! uUpStreamMtu u16, uDownStreamMtu u16), the RDPUDP_CORRELATION_ID_PAYLOAD
//! (16-byte id + 16 reserved) when RDPUDP_FLAG_CORRELATION_ID is set, and the
//! RDPUDP_SYNDATAEX_PAYLOAD (uSynExFlags u16, uUdpVer u16, and a 32-byte
//! cookieHash for version 3 in a SYN) when RDPUDP_FLAG_SYNEX is set. The SYN
//! is zero-padded to 1232 bytes (section 3.1.5.1.1).

use serde::Serialize;

/// Every SYN and SYN+ACK is padded to this size.
pub const SYN_DATAGRAM_LEN: usize = 1232;
/// The MTU range both MTU fields must fall in.
pub const MTU_RANGE: std::ops::RangeInclusive<u16> = 1132..=1232;

pub const FLAG_SYN: u16 = 0x0001;
pub const FLAG_FIN: u16 = 0x0002;
pub const FLAG_ACK: u16 = 0x0004;
pub const FLAG_DATA: u16 = 0x0008;
pub const FLAG_FEC: u16 = 0x0010;
pub const FLAG_SYNLOSSY: u16 = 0x0200;
pub const FLAG_CORRELATION_ID: u16 = 0x0800;
pub const FLAG_SYNEX: u16 = 0x1000;

/// uSynExFlags: the uUdpVer field is valid.
pub const SYNEX_VERSION_INFO_VALID: u16 = 0x0001;

const HEADER_LEN: usize = 8;
const SYNDATA_LEN: usize = 8;
const CORRELATION_LEN: usize = 32;
const SYNEX_LEN: usize = 4;
const COOKIE_HASH_LEN: usize = 32;

/// uUdpVer: the RDP-UDP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UdpVersion {
    V1,
    V2,
    /// RDPUDP_PROTOCOL_VERSION_3 (0x0101): RDP-UDP2 after the handshake.
    V3,
    /// A value the specification does not define.
    Other(u16),
}

impl UdpVersion {
    pub fn from_wire(v: u16) -> Self {
        match v {
            0x0001 => UdpVersion::V1,
            0x0002 => UdpVersion::V2,
            0x0101 => UdpVersion::V3,
            other => UdpVersion::Other(other),
        }
    }

    pub fn to_wire(self) -> u16 {
        match self {
            UdpVersion::V1 => 0x0001,
            UdpVersion::V2 => 0x0002,
            UdpVersion::V3 => 0x0101,
            UdpVersion::Other(v) => v,
        }
    }
}

/// RDPUDP_SYNDATAEX_PAYLOAD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynEx {
    pub flags: u16,
    pub version: UdpVersion,
    /// SHA-256 of the multitransport security cookie (version 3 SYN only).
    pub cookie_hash: Option<[u8; 32]>,
}

/// What the probe sends: a SYN datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syn {
    pub receive_window: u16,
    pub initial_sequence: u32,
    pub upstream_mtu: u16,
    pub downstream_mtu: u16,
    /// Asks for RDP-UDP-L (lossy) instead of RDP-UDP-R.
    pub lossy: bool,
    pub correlation_id: Option<[u8; 16]>,
    pub synex: Option<SynEx>,
}

impl Syn {
    /// A SYN as mstsc sends one: window 64, MTUs 1232, a correlation id and
    /// version 2 (no cookie is known outside an RDP connection, so not version 3).
    pub fn like_mstsc(initial_sequence: u32, correlation_id: [u8; 16]) -> Self {
        Syn {
            receive_window: 64,
            initial_sequence,
            upstream_mtu: 1232,
            downstream_mtu: 1232,
            lossy: false,
            correlation_id: Some(correlation_id),
            synex: Some(SynEx {
                flags: SYNEX_VERSION_INFO_VALID,
                version: UdpVersion::V2,
                cookie_hash: None,
            }),
        }
    }

    /// The datagram, padded with zeros to [`SYN_DATAGRAM_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut flags = FLAG_SYN;
        if self.lossy {
            flags |= FLAG_SYNLOSSY;
        }
        if self.correlation_id.is_some() {
            flags |= FLAG_CORRELATION_ID;
        }
        if self.synex.is_some() {
            flags |= FLAG_SYNEX;
        }
        let mut out = Vec::with_capacity(SYN_DATAGRAM_LEN);
        out.extend_from_slice(&u32::MAX.to_be_bytes()); // snSourceAck: -1 in a SYN
        out.extend_from_slice(&self.receive_window.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&self.initial_sequence.to_be_bytes());
        out.extend_from_slice(&self.upstream_mtu.to_be_bytes());
        out.extend_from_slice(&self.downstream_mtu.to_be_bytes());
        if let Some(id) = &self.correlation_id {
            out.extend_from_slice(id);
            out.extend_from_slice(&[0; 16]);
        }
        if let Some(ex) = &self.synex {
            out.extend_from_slice(&ex.flags.to_be_bytes());
            out.extend_from_slice(&ex.version.to_wire().to_be_bytes());
            if let (UdpVersion::V3, Some(hash)) = (ex.version, &ex.cookie_hash) {
                out.extend_from_slice(hash);
            }
        }
        out.resize(SYN_DATAGRAM_LEN, 0);
        out
    }
}

/// A decoded SYN or SYN+ACK datagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynDatagram {
    pub source_ack: u32,
    pub receive_window: u16,
    pub flags: u16,
    pub initial_sequence: u32,
    pub upstream_mtu: u16,
    pub downstream_mtu: u16,
    pub correlation_id: Option<[u8; 16]>,
    pub synex: Option<SynEx>,
    /// The datagram's length (1232 when padded as the specification requires).
    pub len: usize,
}

impl SynDatagram {
    pub fn is_syn_ack(&self) -> bool {
        self.flags & (FLAG_SYN | FLAG_ACK) == FLAG_SYN | FLAG_ACK
    }

    /// Both MTUs are in the range the specification allows.
    pub fn mtus_valid(&self) -> bool {
        MTU_RANGE.contains(&self.upstream_mtu) && MTU_RANGE.contains(&self.downstream_mtu)
    }

    /// The version both ends use: version 1 when the answer names none.
    pub fn version(&self) -> UdpVersion {
        self.synex
            .as_ref()
            .filter(|ex| ex.flags & SYNEX_VERSION_INFO_VALID != 0)
            .map_or(UdpVersion::V1, |ex| ex.version)
    }
}

/// Why bytes are not a SYN or SYN+ACK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecodeError {
    #[error("{len} bytes end inside the {what} at offset {offset}")]
    Truncated {
        what: &'static str,
        offset: usize,
        len: usize,
    },
    #[error("flags 0x{flags:04X} have no SYN")]
    NotSyn { flags: u16 },
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(DecodeError::Truncated {
                what,
                offset: self.at,
                len: self.bytes.len(),
            });
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
}

/// Decodes a SYN or SYN+ACK datagram (padding after the payloads is ignored).
pub fn decode_syn(bytes: &[u8]) -> Result<SynDatagram, DecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let source_ack = r.u32("RDPUDP_FEC_HEADER")?;
    let receive_window = r.u16("RDPUDP_FEC_HEADER")?;
    let flags = r.u16("RDPUDP_FEC_HEADER")?;
    if flags & FLAG_SYN == 0 {
        return Err(DecodeError::NotSyn { flags });
    }
    let initial_sequence = r.u32("RDPUDP_SYNDATA_PAYLOAD")?;
    let upstream_mtu = r.u16("RDPUDP_SYNDATA_PAYLOAD")?;
    let downstream_mtu = r.u16("RDPUDP_SYNDATA_PAYLOAD")?;
    let correlation_id = if flags & FLAG_CORRELATION_ID != 0 {
        let id = r.array::<16>("RDPUDP_CORRELATION_ID_PAYLOAD")?;
        r.take(16, "RDPUDP_CORRELATION_ID_PAYLOAD")?;
        Some(id)
    } else {
        None
    };
    let synex = if flags & FLAG_SYNEX != 0 {
        let ex_flags = r.u16("RDPUDP_SYNDATAEX_PAYLOAD")?;
        let version = UdpVersion::from_wire(r.u16("RDPUDP_SYNDATAEX_PAYLOAD")?);
        // Only a client's SYN carries the cookie hash.
        let cookie_hash = if version == UdpVersion::V3 && flags & FLAG_ACK == 0 {
            Some(r.array::<COOKIE_HASH_LEN>("cookieHash")?)
        } else {
            None
        };
        Some(SynEx {
            flags: ex_flags,
            version,
            cookie_hash,
        })
    } else {
        None
    };
    Ok(SynDatagram {
        source_ack,
        receive_window,
        flags,
        initial_sequence,
        upstream_mtu,
        downstream_mtu,
        correlation_id,
        synex,
        len: bytes.len(),
    })
}

/// The length of the payloads a SYN with these flags carries before padding.
pub fn syn_payload_len(flags: u16, version: Option<UdpVersion>) -> usize {
    let mut n = HEADER_LEN + SYNDATA_LEN;
    if flags & FLAG_CORRELATION_ID != 0 {
        n += CORRELATION_LEN;
    }
    if flags & FLAG_SYNEX != 0 {
        n += SYNEX_LEN;
        if version == Some(UdpVersion::V3) && flags & FLAG_ACK == 0 {
            n += COOKIE_HASH_LEN;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_syn_is_padded_and_decodes_back() {
        let syn = Syn::like_mstsc(0x0102_0304, [0x42; 16]);
        let bytes = syn.encode();
        assert_eq!(bytes.len(), SYN_DATAGRAM_LEN);
        assert_eq!(&bytes[..8], &[0xff, 0xff, 0xff, 0xff, 0, 64, 0x18, 0x01]);
        let d = decode_syn(&bytes).expect("decodes");
        assert_eq!(d.initial_sequence, 0x0102_0304);
        assert_eq!(d.correlation_id, Some([0x42; 16]));
        assert_eq!(d.version(), UdpVersion::V2);
        assert!(!d.is_syn_ack());
        assert!(d.mtus_valid());
        assert!(bytes[syn_payload_len(d.flags, Some(d.version()))..]
            .iter()
            .all(|&b| b == 0));
    }

    #[test]
    fn version_3_syn_carries_the_cookie_hash() {
        let mut syn = Syn::like_mstsc(7, [1; 16]);
        syn.synex = Some(SynEx {
            flags: SYNEX_VERSION_INFO_VALID,
            version: UdpVersion::V3,
            cookie_hash: Some([0xAB; 32]),
        });
        let d = decode_syn(&syn.encode()).expect("decodes");
        assert_eq!(d.synex.and_then(|e| e.cookie_hash), Some([0xAB; 32]));
    }

    #[test]
    fn every_truncation_is_an_error_naming_the_place() {
        let bytes = Syn::like_mstsc(1, [2; 16]).encode();
        for n in 0..52 {
            assert!(
                matches!(decode_syn(&bytes[..n]), Err(DecodeError::Truncated { .. })),
                "{n}"
            );
        }
        assert!(decode_syn(&bytes[..52]).is_ok());
    }

    #[test]
    fn a_datagram_without_syn_is_refused() {
        let mut bytes = Syn::like_mstsc(1, [2; 16]).encode();
        bytes[7] = 0x04; // ACK only
        assert_eq!(
            decode_syn(&bytes),
            Err(DecodeError::NotSyn { flags: 0x1804 })
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_mutated_syns_decode_or_fail(flip in 0usize..60, byte: u8, data: Vec<u8>) {
            let _ = decode_syn(&data);
            let mut syn = Syn::like_mstsc(1, [2; 16]).encode();
            syn[flip] = byte;
            if let Ok(d) = decode_syn(&syn) {
                proptest::prop_assert_eq!(d.len, SYN_DATAGRAM_LEN);
            }
        }
    }
}
