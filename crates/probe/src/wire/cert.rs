//! Facts about the server's certificate chain, from DER. No I/O.

use serde::Serialize;
use sha1::Digest;
use x509_parser::prelude::*;

/// One certificate of the chain the server sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub subject_alt_names: Vec<String>,
    pub serial: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub not_before: String,
    pub not_after: String,
    /// "RSA", "EC", …
    pub key_type: String,
    pub key_bits: Option<u32>,
    pub signature_algorithm: String,
    /// Uppercase hex SHA-1 of the DER: the value Windows stores in SSLCertificateSHA1Hash.
    pub sha1_thumbprint: String,
    pub sha256_fingerprint: String,
    /// Subject equals issuer.
    pub self_signed: bool,
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Parses one DER certificate.
pub fn parse_cert(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("certificate does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = tbs.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => sans.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        sans.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let spki = tbs.public_key();
    let (key_type, key_bits) = match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            ("RSA".to_string(), Some(rsa.key_size() as u32))
        }
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            ("EC".to_string(), Some(ec.key_size() as u32))
        }
        Ok(other) => (
            format!("{other:?}")
                .split('(')
                .next()
                .unwrap_or("other")
                .to_string(),
            None,
        ),
        Err(_) => (spki.algorithm.algorithm.to_id_string(), None),
    };
    let validity = tbs.validity();
    Ok(CertInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        subject_alt_names: sans,
        serial: tbs.raw_serial_as_string(),
        not_before_unix: validity.not_before.timestamp(),
        not_after_unix: validity.not_after.timestamp(),
        not_before: validity.not_before.to_string(),
        not_after: validity.not_after.to_string(),
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

/// The subject's common name, if any.
fn common_names(subject: &str) -> Vec<String> {
    subject
        .split(", ")
        .filter_map(|part| part.strip_prefix("CN="))
        .map(str::to_string)
        .collect()
}

/// Whether `host` matches the certificate's names (SAN first; CN only when there is no SAN).
pub fn name_matches(cert: &CertInfo, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let names = if cert.subject_alt_names.is_empty() {
        common_names(&cert.subject)
    } else {
        cert.subject_alt_names.clone()
    };
    names.iter().any(|n| {
        let n = n.to_ascii_lowercase();
        match n.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => n == host,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(subject: &str, sans: &[&str]) -> CertInfo {
        CertInfo {
            subject: subject.into(),
            issuer: subject.into(),
            subject_alt_names: sans.iter().map(|s| s.to_string()).collect(),
            serial: String::new(),
            not_before_unix: 0,
            not_after_unix: 0,
            not_before: String::new(),
            not_after: String::new(),
            key_type: "RSA".into(),
            key_bits: Some(2048),
            signature_algorithm: String::new(),
            sha1_thumbprint: String::new(),
            sha256_fingerprint: String::new(),
            self_signed: true,
        }
    }

    #[test]
    fn names() {
        assert!(name_matches(&info("CN=host1", &[]), "HOST1"));
        assert!(!name_matches(&info("CN=host1", &["other"]), "host1"));
        assert!(name_matches(
            &info("CN=x", &["*.corp.example"]),
            "a.corp.example"
        ));
        assert!(!name_matches(
            &info("CN=x", &["*.corp.example"]),
            "a.b.corp.example"
        ));
        assert!(name_matches(&info("CN=x", &["127.0.0.1"]), "127.0.0.1"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_cert(&[0x30, 0x03, 1, 2, 3]).is_err());
        assert!(parse_cert(&[]).is_err());
    }
}
