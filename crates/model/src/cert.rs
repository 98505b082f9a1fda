//! What an X.509 certificate says about itself, read from DER: the facts the
//! probe reports for the certificate a server sent and the host checks for a
//! certificate of its store. One parser for both. No I/O, no clock.

use serde::Serialize;
use sha1::Digest;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

/// One certificate's facts. The serialised field names are documented in docs/json.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub subject_alt_names: Vec<String>,
    pub serial: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// RFC 3339, UTC (`2026-12-01T21:30:00Z`): [`rfc3339`] of `not_before_unix`.
    pub not_before: String,
    /// RFC 3339, UTC: [`rfc3339`] of `not_after_unix`.
    pub not_after: String,
    /// "RSA", "EC", …
    pub key_type: String,
    pub key_bits: Option<u32>,
    pub signature_algorithm: String,
    /// Uppercase hex SHA-1 of the DER: the value Windows stores in SSLCertificateSHA1Hash
    /// and names a certificate store entry by.
    pub sha1_thumbprint: String,
    pub sha256_fingerprint: String,
    /// Subject equals issuer.
    pub self_signed: bool,
}

impl CertInfo {
    /// Past its end at the Unix time `unix`.
    pub fn expired_at(&self, unix: i64) -> bool {
        unix > self.not_after_unix
    }

    /// Before its start at the Unix time `unix`.
    pub fn not_yet_valid_at(&self, unix: i64) -> bool {
        unix < self.not_before_unix
    }
}

/// Parses one DER certificate; the error says why it does not parse.
pub fn parse_cert(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let validity = tbs.validity();
    let (key_type, key_bits) = key_of(tbs.public_key());
    let (not_before_unix, not_after_unix) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    Ok(CertInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        subject_alt_names: alt_names(tbs),
        serial: tbs.raw_serial_as_string(),
        not_before_unix,
        not_after_unix,
        not_before: rfc3339(not_before_unix),
        not_after: rfc3339(not_after_unix),
        key_type,
        key_bits,
        signature_algorithm: x509_parser::objects::oid2sn(
            &cert.signature_algorithm.algorithm,
            x509_parser::objects::oid_registry(),
        )
        .map(str::to_string)
        .unwrap_or_else(|_| cert.signature_algorithm.algorithm.to_id_string()),
        sha1_thumbprint: hex_upper(&sha1::Sha1::digest(der)),
        sha256_fingerprint: hex_upper(&sha2::Sha256::digest(der)),
        self_signed: tbs.subject().as_raw() == tbs.issuer().as_raw(),
    })
}

/// The DNS names and IP addresses of the subjectAltName extension, in order.
fn alt_names(tbs: &TbsCertificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = tbs.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(ip) => ip_text(ip),
            _ => None,
        })
        .collect()
}

fn ip_text(ip: &[u8]) -> Option<String> {
    if let Ok(v4) = <[u8; 4]>::try_from(ip) {
        return Some(std::net::Ipv4Addr::from(v4).to_string());
    }
    <[u8; 16]>::try_from(ip)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).to_string())
}

/// The public key's algorithm and size in bits, when known.
fn key_of(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    let bits = |n: usize| u32::try_from(n).ok();
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA".into(), bits(rsa.key_size())),
        Ok(PublicKey::EC(ec)) => ("EC".into(), bits(ec.key_size())),
        // The variant's name: "DSA", "GostR3410", "Unknown", …
        Ok(other) => (
            format!("{other:?}")
                .split('(')
                .next()
                .unwrap_or("other")
                .to_string(),
            None,
        ),
        Err(_) => (spki.algorithm.algorithm.to_id_string(), None),
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `2026-12-01T21:30:00Z` for a Unix time (proleptic Gregorian, UTC).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_798_752_600), "2026-12-31T21:30:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_cert(&[0x30, 0x03, 1, 2, 3]).is_err());
        assert!(parse_cert(&[]).is_err());
    }

    #[test]
    fn validity_is_compared_with_the_given_time() {
        let Ok(c) = parse_cert(include_bytes!("../tests/data/ec_san.der")) else {
            panic!("the test certificate parses");
        };
        assert!(!c.expired_at(c.not_after_unix));
        assert!(c.expired_at(c.not_after_unix + 1));
        assert!(!c.not_yet_valid_at(c.not_before_unix));
        assert!(c.not_yet_valid_at(c.not_before_unix - 1));
    }
}
