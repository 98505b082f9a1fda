//! A certificate written by python `cryptography` (tests/data/make_certs.py), read
//! by the one certificate parser; the expected values are openssl's reading of it.

use rdp_doctor_model::cert::{parse_cert, rfc3339};

const EC_SAN: &[u8] = include_bytes!("../data/ec_san.der");

#[test]
fn every_fact_of_a_real_certificate() {
    let c = parse_cert(EC_SAN).unwrap();
    assert_eq!(c.subject, "CN=rdp.example");
    assert_eq!(c.issuer, "CN=Test CA");
    assert!(!c.self_signed);
    assert_eq!(
        c.subject_alt_names,
        ["rdp.example", "*.corp.example", "127.0.0.1", "::1"]
    );
    assert_eq!(c.serial, "0a:0b:0c");
    assert_eq!(c.not_before_unix, 1_740_832_200);
    assert_eq!(c.not_after_unix, 1_898_553_600);
    assert_eq!(c.not_before, "2025-03-01T12:30:00Z");
    assert_eq!(c.not_after, "2030-03-01T00:00:00Z");
    assert_eq!(c.key_type, "EC");
    assert_eq!(c.key_bits, Some(256));
    assert_eq!(c.signature_algorithm, "ecdsa-with-SHA384");
    assert_eq!(
        c.sha1_thumbprint,
        "C555B691762D7D4E818DCCB42E6976B650EDB52A"
    );
    assert_eq!(
        c.sha256_fingerprint,
        "E5FB89F2491E27710F8B509B60BC1F680F610681621FCA1FA6994EAE303DD29E"
    );
}

#[test]
fn the_dates_are_one_representation() {
    let c = parse_cert(EC_SAN).unwrap();
    assert_eq!(c.not_before, rfc3339(c.not_before_unix));
    assert_eq!(c.not_after, rfc3339(c.not_after_unix));
}

#[test]
fn every_cut_and_flip_of_a_real_certificate_is_read_or_refused() {
    for len in 0..EC_SAN.len() {
        assert!(parse_cert(&EC_SAN[..len]).is_err(), "cut at {len} parses");
    }
    for at in 0..EC_SAN.len() {
        let mut b = EC_SAN.to_vec();
        b[at] ^= 0xFF;
        if let Ok(c) = parse_cert(&b) {
            assert_eq!(c.sha1_thumbprint.len(), 40);
        }
    }
}
