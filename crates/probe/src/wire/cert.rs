//! Facts about the server's certificate chain: the model's one DER parser
//! and whether the certificate names the host. No I/O.

pub use rdp_doctor_model::cert::{parse_cert, CertInfo};

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
}
