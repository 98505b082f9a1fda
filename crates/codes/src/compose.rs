//! What the composition rules say about a number, known or not.
//!
//! mstsc's disconnect reason is `[facility:8][subcode:16][category:8]`
//! (Microsoft's sample code takes `code & 0xFF` as the major reason); the
//! category names are inferred from the documented constants (see
//! `data/README.md` and the reference notes). ERRINFO values fall in documented
//! ranges; SSPI, NTSTATUS and HRESULT values carry their facility in the top bits.

use serde::Serialize;

use crate::layer::Layer;

/// A disconnect reason split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscReason(pub u32);

impl DiscReason {
    /// Low byte: the major reason / category.
    pub fn category(self) -> u8 {
        (self.0 & 0xFF) as u8
    }
    /// Bits 8..24: the index within the category.
    pub fn subcode(self) -> u16 {
        ((self.0 >> 8) & 0xFFFF) as u16
    }
    /// High byte: 0x02 RemoteApp, 0x03 RD Gateway.
    pub fn facility(self) -> u8 {
        (self.0 >> 24) as u8
    }

    /// The layer this reason points at, by the composition rule.
    pub fn layer(self) -> Layer {
        match self.facility() {
            0x02 => return Layer::RemoteApp,
            0x03 => return Layer::Gateway,
            _ => {}
        }
        match (self.category(), self.0) {
            (_, 0x208) | (_, 0x104) | (_, 0x604) => Layer::Dns,
            (_, 0x108) => Layer::Network,
            (_, 0x808) | (_, 0x908) => Layer::Licensing,
            (0x00..=0x02, _) => Layer::None,
            (0x03, _) => Layer::Session,
            (0x04, _) => Layer::Network,
            (0x06, _) => Layer::Security,
            (0x07, _) | (0x09, _) => Layer::Authentication,
            (0x08, _) | (0x0A, _) => Layer::Client,
            _ => Layer::Client,
        }
    }

    /// The inferred meaning of the category byte (None when no documented code uses it).
    pub fn category_meaning(self) -> Option<&'static str> {
        Some(match self.category() {
            0x00 => "no information",
            0x01 => "local disconnect, not an error",
            0x02 => "remote disconnect by the user, not an error",
            0x03 => "disconnected by the server (read the extended code)",
            0x04 => "network / transport layer (DNS, connect, send, receive, socket closed, timeouts)",
            0x06 => "security layer (Standard RDP Security / TLS channel, certificates, encryption)",
            0x07 => "authentication results (CredSSP / NLA / Kerberos / NTLM, the SSL_ERR_* family)",
            0x08 => "client core / UI (timeouts, name errors, licensing, decompression, session state)",
            0x09 => "security capability / credential negotiation (NLA, credential UI, restricted admin)",
            0x0A => "smart-card subsystem",
            _ => return None,
        })
    }

    /// The meaning of the facility byte.
    pub fn facility_meaning(self) -> &'static str {
        match self.facility() {
            0x00 => "mstsc core",
            0x02 => "RemoteApp",
            0x03 => "RD Gateway (TSG); the rest of the code is the gateway error index",
            _ => "no documented code uses this facility",
        }
    }

    /// The composition as structured output.
    pub fn composition(self) -> Composition {
        Composition {
            category: format!("0x{:02X}", self.category()),
            category_meaning: self
                .category_meaning()
                .unwrap_or("no documented code has this category")
                .to_string(),
            subcode: format!("0x{:X}", self.subcode()),
            facility: format!("0x{:02X}", self.facility()),
            facility_meaning: self.facility_meaning().to_string(),
            layer: self.layer(),
            inferred: true,
        }
    }
}

/// A disconnect reason split by the composition rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Composition {
    pub category: String,
    pub category_meaning: String,
    pub subcode: String,
    pub facility: String,
    pub facility_meaning: String,
    pub layer: Layer,
    /// The category names are a reading of the documented constants, not Microsoft's words.
    pub inferred: bool,
}

/// The layer of an ERRINFO / extended disconnect reason value, by range.
pub fn errinfo_layer(code: u32) -> Layer {
    match code {
        0 => Layer::None,
        1..=0x0C | 0x19 | 0x1A => Layer::Session,
        0x100..=0x10B => Layer::Licensing,
        0x300 => Layer::Authentication,
        0x400..=0x412 => Layer::Session,
        0x1000..=0x7FFF => Layer::Protocol,
        _ => Layer::Client,
    }
}

/// What the documented ranges say about an ERRINFO / extended value.
pub fn errinfo_range(code: u32) -> &'static str {
    match code {
        0 => "no error (ERRINFO_NONE)",
        1..=0xFF => "protocol-independent codes (1-255): session and server state",
        0x100..=0x1FF => "protocol-independent licensing codes (0x100-0x10A documented)",
        0x200..=0x3FF => "client-side extended codes (267, 768 documented)",
        0x400..=0x4FF => "Connection Broker codes (0x400-0x412 documented)",
        0x1000..=0x7FFF => {
            "protocol range (4096-32767): RDP-specific protocol errors (0x10C9-0x1195 documented); \
             Microsoft's sample prints 'internal protocol error' for these"
        }
        0xFFFF_FFFF => "FreeRDP's ERRINFO_NONE sentinel (no error info received)",
        _ => "outside every documented ERRINFO range",
    }
}

/// Layer of an SSPI status, from its name.
pub fn sspi_layer(name: &str) -> Layer {
    let n = name.to_ascii_uppercase();
    let channel_words = [
        "CERT",
        "NO_CREDENTIALS",
        "KEYSET",
        "ALGORITHM",
        "UNSUPPORTED",
        "ILLEGAL_MESSAGE",
    ];
    if channel_words.iter().any(|w| n.contains(w)) {
        Layer::Security
    } else {
        Layer::Authentication
    }
}

/// Layer of a FreeRDP ERRCONNECT code, from its name.
pub fn errconnect_layer(name: &str) -> Layer {
    let n = name.to_ascii_uppercase();
    if n.contains("DNS") {
        Layer::Dns
    } else if n.contains("TLS") {
        Layer::Security
    } else if n.contains("SECURITY_NEGO") {
        Layer::Negotiation
    } else if n.contains("LOGON")
        || n.contains("PASSWORD")
        || n.contains("ACCOUNT")
        || n.contains("AUTHENTICATION")
        || n.contains("CREDENTIAL")
    {
        Layer::Authentication
    } else if n.contains("LICENS") {
        Layer::Licensing
    } else if n.contains("MCS") || n.contains("ACTIVATION") || n.contains("POST_CONNECT") {
        Layer::Session
    } else if n.contains("CANCEL") {
        Layer::None
    } else {
        Layer::Network
    }
}

/// The Win32 error an HRESULT_FROM_WIN32-shaped value (0x8007xxxx: failure, FACILITY_WIN32)
/// wraps. The RD Gateway's E_PROXY_* HRESULTs have this shape too, and its events log the
/// low 16 bits ([MS-TSGU] 2.2.6 writes them as HRESULT_CODE(E_PROXY_...)).
pub fn win32_of_hresult(code: u32) -> Option<u32> {
    (code >> 16 == 0x8007).then_some(code & 0xFFFF)
}

/// What the top bits of a 32-bit value say when no table knows it.
pub fn family_of_unknown(code: u32) -> Option<String> {
    let hi = code >> 16;
    let low = code & 0xFFFF;
    if code >> 28 == 0xC {
        return Some(format!(
            "NTSTATUS error (severity bits 11): facility 0x{:03X}, code 0x{low:04X}",
            (code >> 16) & 0xFFF
        ));
    }
    if hi == 0x8009 {
        return Some(format!(
            "HRESULT of FACILITY_SECURITY (SSPI / Schannel / crypto): code 0x{low:04X}; not in the SSPI table"
        ));
    }
    if hi == 0x8007 {
        return Some(format!(
            "HRESULT wrapping Win32 error {low} (0x{low:X}); look it up with `net helpmsg {low}`"
        ));
    }
    if code >> 31 == 1 {
        return Some(format!(
            "HRESULT failure: facility 0x{:03X}, code 0x{low:04X}",
            (code >> 16) & 0x7FF
        ));
    }
    if hi == 0x0002 {
        return Some(format!(
            "FreeRDP connect error class (0x0002xxxx): ERRCONNECT index 0x{low:X}; not in the ERRCONNECT table"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_0x904() {
        let d = DiscReason(0x904);
        assert_eq!(
            (d.category(), d.subcode(), d.facility()),
            (0x04, 0x09, 0x00)
        );
        assert_eq!(d.layer(), Layer::Network);
    }

    #[test]
    fn gateway_facility() {
        let d = DiscReason(0x3000008);
        assert_eq!(d.facility(), 3);
        assert_eq!(d.layer(), Layer::Gateway);
    }

    #[test]
    fn unknown_families() {
        assert!(family_of_unknown(0xC0000999)
            .unwrap()
            .starts_with("NTSTATUS"));
        assert!(family_of_unknown(0x8009FFFF).unwrap().contains("SECURITY"));
        assert!(family_of_unknown(0x80070005)
            .unwrap()
            .contains("Win32 error 5"));
        assert_eq!(family_of_unknown(0x904), None);
    }
}
