//! A TLS ClientHello the probe builds itself (TLS 1.0, 1.1 or 1.2, with a
//! chosen cipher list), and the server's first answer: a ServerHello (the
//! version and cipher suite it picked) or an Alert ([RFC 5246] 7.4.1,
//! [RFC 2246], [RFC 4346]). rustls speaks TLS 1.2 and 1.3 with modern suites
//! only; these hellos tell a server limited to TLS 1.0/1.1 from one whose
//! suites no current client offers. No I/O.

use serde::Serialize;

/// A TLS version the probe's own hello can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TlsVersion {
    #[serde(rename = "TLS 1.0")]
    Tls10,
    #[serde(rename = "TLS 1.1")]
    Tls11,
    #[serde(rename = "TLS 1.2")]
    Tls12,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 3] = [TlsVersion::Tls12, TlsVersion::Tls11, TlsVersion::Tls10];

    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
        }
    }

    pub fn from_wire(v: u16) -> Option<Self> {
        match v {
            0x0301 => Some(TlsVersion::Tls10),
            0x0302 => Some(TlsVersion::Tls11),
            0x0303 => Some(TlsVersion::Tls12),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
        }
    }
}

/// The TLS 1.2 suites rustls (and so this probe's main handshake) offers:
/// ECDHE with AES-GCM or ChaCha20-Poly1305.
pub const MODERN_SUITES: [u16; 6] = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8];

/// Older suites servers still use: RSA key exchange, CBC, DHE, 3DES.
pub const LEGACY_SUITES: [u16; 16] = [
    0xC013, 0xC014, 0xC027, 0xC028, 0xC009, 0xC00A, 0x009C, 0x009D, 0x002F, 0x0035, 0x003C, 0x003D,
    0x009E, 0x009F, 0x0033, 0x000A,
];

/// The IANA name of a suite this module offers (hex otherwise).
pub fn suite_name(id: u16) -> String {
    let name = match id {
        0xC02B => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02F => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC02C => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xC013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xC009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC00A => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0x009C => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x002F => "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035 => "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x003C => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003D => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x009E => "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009F => "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x0033 => "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x000A => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        _ => return format!("0x{id:04X}"),
    };
    name.to_string()
}

fn u16be(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes()
}

fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut e = kind.to_be_bytes().to_vec();
    e.extend(u16be(body.len()));
    e.extend(body);
    e
}

fn extensions(version: TlsVersion) -> Vec<u8> {
    // supported_groups: x25519, secp256r1, secp384r1; ec_point_formats: uncompressed.
    let mut ext = extension(0x000A, &[0, 6, 0, 0x1D, 0, 0x17, 0, 0x18]);
    ext.extend(extension(0x000B, &[1, 0]));
    // renegotiation_info (empty): servers that require secure renegotiation answer.
    ext.extend(extension(0xFF01, &[0]));
    if version == TlsVersion::Tls12 {
        // signature_algorithms: RSA-PSS, RSA-PKCS1 and ECDSA with SHA-256/384/512, then SHA-1.
        let algs: [u16; 10] = [
            0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0201, 0x0203,
        ];
        let mut body = u16be(algs.len() * 2).to_vec();
        body.extend(algs.iter().flat_map(|a| a.to_be_bytes()));
        ext.extend(extension(0x000D, &body));
    }
    ext
}

/// One TLS record carrying a ClientHello that offers at most `version` and
/// exactly `suites`. `random` is the client random (the caller's entropy).
pub fn client_hello(version: TlsVersion, suites: &[u16], random: [u8; 32]) -> Vec<u8> {
    let mut body = version.wire().to_be_bytes().to_vec();
    body.extend(random);
    body.push(0); // no session ID
    body.extend(u16be(suites.len() * 2));
    body.extend(suites.iter().flat_map(|s| s.to_be_bytes()));
    body.extend([1, 0]); // compression: null only
    let ext = extensions(version);
    body.extend(u16be(ext.len()));
    body.extend(ext);
    let len = u32::try_from(body.len()).unwrap_or(0).to_be_bytes();
    let mut handshake = vec![1, len[1], len[2], len[3]];
    handshake.extend(body);
    // The record layer says TLS 1.0, as clients do for compatibility.
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16be(handshake.len()));
    record.extend(handshake);
    record
}

/// The server's first answer to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HelloAnswer {
    /// The server picked this version and suite.
    ServerHello { version: u16, suite: u16 },
    /// A TLS alert (level 2 fatal; 40 handshake_failure, 70 protocol_version, 71 insufficient_security).
    Alert { level: u8, description: u8 },
}

/// Length of the first TLS record in `data` when its header is complete.
pub fn record_len(data: &[u8]) -> Option<usize> {
    let h = data.get(..5)?;
    Some(5 + usize::from(u16::from_be_bytes([h[3], h[4]])))
}

/// Parses the first record of the server's answer (a complete record).
pub fn parse_answer(record: &[u8]) -> Result<HelloAnswer, String> {
    let len = record_len(record).ok_or("shorter than a TLS record header")?;
    let body = record
        .get(5..len)
        .ok_or_else(|| format!("TLS record of {len} bytes cut at {}", record.len()))?;
    match record[0] {
        0x15 => match body {
            [level, description, ..] => Ok(HelloAnswer::Alert {
                level: *level,
                description: *description,
            }),
            _ => Err("TLS alert record shorter than 2 bytes".into()),
        },
        0x16 => parse_server_hello(body),
        other => Err(format!(
            "record type 0x{other:02X} is not a TLS handshake or alert"
        )),
    }
}

fn parse_server_hello(body: &[u8]) -> Result<HelloAnswer, String> {
    if body.first() != Some(&2) {
        return Err(format!(
            "handshake message type {:?}, expected 2 (ServerHello)",
            body.first()
        ));
    }
    let version = body
        .get(4..6)
        .map(|v| u16::from_be_bytes([v[0], v[1]]))
        .ok_or("ServerHello cut before its version")?;
    // version (2) + random (32), then the session ID with its length byte.
    let sid_len = usize::from(
        *body
            .get(38)
            .ok_or("ServerHello cut before its session ID")?,
    );
    let at = 39 + sid_len;
    let suite = body
        .get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or("ServerHello cut before its cipher suite")?;
    Ok(HelloAnswer::ServerHello { version, suite })
}

/// One hello the probe sent and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelloAttempt {
    /// The highest version offered.
    pub offered: TlsVersion,
    /// How many suites were offered.
    pub suites_offered: usize,
    /// The answer, or why there was none (for people).
    pub answer: Result<HelloAnswer, String>,
}

/// What the probe's own hellos found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TlsScan {
    /// Versions the server accepted, highest first.
    pub versions: Vec<TlsVersion>,
    /// Suites the server accepted, per version, in the order it picked them.
    pub suites: Vec<(TlsVersion, Vec<u16>)>,
    pub attempts: Vec<HelloAttempt>,
}

impl TlsScan {
    /// The suites accepted with `version`.
    pub fn suites_for(&self, version: TlsVersion) -> &[u16] {
        self.suites
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&[])
    }

    /// The server accepts TLS 1.0 or 1.1 and not 1.2.
    pub fn old_versions_only(&self) -> bool {
        !self.versions.is_empty() && !self.versions.contains(&TlsVersion::Tls12)
    }

    /// The server accepts TLS 1.2, but none of the suites rustls offers.
    pub fn legacy_suites_only(&self) -> bool {
        let v12 = self.suites_for(TlsVersion::Tls12);
        !v12.is_empty() && !v12.iter().any(|s| MODERN_SUITES.contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_one_record_with_the_suites() {
        let h = client_hello(TlsVersion::Tls11, &[0x002F, 0x0035], [7; 32]);
        assert_eq!(record_len(&h), Some(h.len()));
        assert_eq!(&h[..3], &[0x16, 3, 1]);
        assert_eq!(h[5], 1); // ClientHello
        assert_eq!(&h[9..11], &[3, 2]); // offers TLS 1.1
        assert_eq!(&h[44..50], &[0, 4, 0, 0x2F, 0, 0x35]);
    }

    fn server_hello(version: u16, sid: &[u8], suite: u16) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend([9; 32]);
        body.push(sid.len() as u8);
        body.extend(sid);
        body.extend(suite.to_be_bytes());
        body.push(0);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut r = vec![0x16, 3, 1, 0, hs.len() as u8];
        r.extend(hs);
        r
    }

    #[test]
    fn server_hello_and_alert() {
        let r = server_hello(0x0301, &[1; 32], 0x0035);
        assert_eq!(
            parse_answer(&r),
            Ok(HelloAnswer::ServerHello {
                version: 0x0301,
                suite: 0x0035
            })
        );
        assert_eq!(
            parse_answer(&[0x15, 3, 1, 0, 2, 2, 70]),
            Ok(HelloAnswer::Alert {
                level: 2,
                description: 70
            })
        );
        for cut in 0..r.len() {
            assert!(parse_answer(&r[..cut]).is_err(), "{cut}");
        }
        assert!(parse_answer(&[0x03, 0, 0, 9, 2, 0xF0, 0x80, 0x21, 0x80]).is_err());
    }

    #[test]
    fn scan_verdicts() {
        let old = TlsScan {
            versions: vec![TlsVersion::Tls11, TlsVersion::Tls10],
            suites: vec![(TlsVersion::Tls10, vec![0x0035])],
            attempts: Vec::new(),
        };
        assert!(old.old_versions_only() && !old.legacy_suites_only());
        let legacy = TlsScan {
            versions: vec![TlsVersion::Tls12],
            suites: vec![(TlsVersion::Tls12, vec![0x009C, 0x002F])],
            attempts: Vec::new(),
        };
        assert!(!legacy.old_versions_only() && legacy.legacy_suites_only());
        assert_eq!(suite_name(0x002F), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(suite_name(0x1301), "0x1301");
    }
}
