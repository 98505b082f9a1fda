//! Client compatibility: from one probe report, which common clients connect
//! with their defaults, and why not. One table of client profiles, each
//! limit with the URL it comes from; one pure function over the facts.

use serde::Serialize;

use crate::report::*;
use crate::wire::cert::CertInfo;
use crate::wire::client_hello::{TlsVersion, MODERN_SUITES};
use crate::wire::x224::Protocol;

const OPENSSL3_OLD_TLS: &str = super::old_tls::OPENSSL3_OLD_TLS;
const FREERDP_SECLEVEL: &str =
    "https://github.com/FreeRDP/FreeRDP/wiki/CommandLineInterface-(1.x-and-2.x)";
/// FreeRDP verifies the certificate itself (its own callback and store), so
/// OpenSSL's key-size and signature limits of the security level do not apply
/// to the chain (xfreerdp 2.11 connects to a 768-bit RSA key).
const FREERDP_OWN_VERIFY: &str =
    "https://github.com/FreeRDP/FreeRDP/blob/stable-2.0/libfreerdp/crypto/tls.c";
const WINDOWS_OLD_TLS: &str = super::old_tls::WINDOWS_OLD_TLS;
const SCHANNEL_VERSIONS: &str =
    "https://learn.microsoft.com/windows/win32/secauthn/protocols-in-tls-ssl--schannel-ssp-";
const WINDOWS_RSA_1024: &str = "https://support.microsoft.com/kb/2661254";
const IRONRDP: &str = "https://github.com/Devolutions/IronRDP";
const RUSTLS_SUITES: &str = "https://docs.rs/rustls/latest/rustls/#cipher-suites";
const RING_RSA: &str = "https://docs.rs/ring/latest/ring/signature/index.html";
const GUACAMOLE: &str =
    "https://guacamole.apache.org/doc/gug/configuring-guacamole.html#rdp-authentication-and-security";
const APPLE_CERTS: &str = "https://support.apple.com/en-us/103769";
const APPLE_OLD_TLS: &str = "https://developer.apple.com/news/?id=12102021";

/// What one client accepts with its defaults.
#[derive(Debug, Clone, Copy)]
struct Profile {
    name: &'static str,
    /// Lowest TLS version it speaks, and why.
    min_tls: (TlsVersion, &'static str),
    /// Smallest RSA key it accepts on the server's certificate, and why.
    min_rsa_bits: (u32, &'static str),
    /// It refuses SHA-1 signatures on a certificate that is not self-signed, and why.
    refuses_sha1: Option<&'static str>,
    /// It needs ECDHE with AES-GCM or ChaCha20 in TLS 1.2, and why.
    modern_suites_only: Option<&'static str>,
    /// It can fall back to Standard RDP Security, or (None) why not.
    rdp_security: Option<&'static str>,
}

const PROFILES: [Profile; 7] = [
    Profile {
        name: "mstsc (Windows 10)",
        min_tls: (TlsVersion::Tls10, SCHANNEL_VERSIONS),
        min_rsa_bits: (1024, WINDOWS_RSA_1024),
        refuses_sha1: None,
        modern_suites_only: None,
        rdp_security: Some(SCHANNEL_VERSIONS),
    },
    Profile {
        name: "mstsc (Windows 11)",
        min_tls: (TlsVersion::Tls12, WINDOWS_OLD_TLS),
        min_rsa_bits: (1024, WINDOWS_RSA_1024),
        refuses_sha1: None,
        modern_suites_only: None,
        rdp_security: Some(SCHANNEL_VERSIONS),
    },
    Profile {
        name: "FreeRDP 2 (OpenSSL 3, /tls-seclevel:1 default)",
        min_tls: (TlsVersion::Tls12, OPENSSL3_OLD_TLS),
        min_rsa_bits: (0, FREERDP_OWN_VERIFY),
        refuses_sha1: None,
        modern_suites_only: None,
        rdp_security: Some(FREERDP_SECLEVEL),
    },
    Profile {
        name: "FreeRDP 3 (OpenSSL 3, /tls:seclevel:1 default)",
        min_tls: (TlsVersion::Tls12, OPENSSL3_OLD_TLS),
        min_rsa_bits: (0, FREERDP_OWN_VERIFY),
        refuses_sha1: None,
        modern_suites_only: None,
        rdp_security: Some(FREERDP_SECLEVEL),
    },
    Profile {
        name: "IronRDP",
        min_tls: (TlsVersion::Tls12, RUSTLS_SUITES),
        min_rsa_bits: (2048, RING_RSA),
        refuses_sha1: None,
        modern_suites_only: Some(RUSTLS_SUITES),
        rdp_security: None,
    },
    Profile {
        name: "Apache Guacamole (FreeRDP 2)",
        min_tls: (TlsVersion::Tls12, OPENSSL3_OLD_TLS),
        min_rsa_bits: (0, FREERDP_OWN_VERIFY),
        refuses_sha1: None,
        modern_suites_only: None,
        rdp_security: Some(GUACAMOLE),
    },
    Profile {
        name: "Windows App (macOS)",
        min_tls: (TlsVersion::Tls12, APPLE_OLD_TLS),
        min_rsa_bits: (2048, APPLE_CERTS),
        refuses_sha1: Some(APPLE_CERTS),
        modern_suites_only: None,
        rdp_security: None,
    },
];

/// One row of the table: a client, whether it connects, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientVerdict {
    pub client: &'static str,
    /// None: the report does not tell (TLS was not reached).
    pub connects: Option<bool>,
    /// Why it does not connect, one reason a line.
    pub reasons: Vec<String>,
    /// Where each limit comes from.
    pub sources: Vec<&'static str>,
}

/// The facts the table reads.
struct Facts<'a> {
    tls_offered: bool,
    rdp_only: bool,
    versions: Vec<TlsVersion>,
    modern_suite: Option<bool>,
    leaf: Option<&'a CertInfo>,
}

fn facts(r: &ProbeReport) -> Facts<'_> {
    let supported = r.supported();
    let selected = match r.negotiated.as_ref().map(|n| &n.outcome) {
        Some(NegotiationOutcome::Selected { selected, .. }) => Protocol::from_selected(*selected),
        _ => None,
    };
    let tls_offered =
        selected.is_some_and(|p| p.uses_tls()) || supported.iter().any(|p| p.uses_tls());
    let rdp_only = !tls_offered
        && (selected == Some(Protocol::Rdp)
            || matches!(
                r.negotiated.as_ref().map(|n| &n.outcome),
                Some(NegotiationOutcome::Legacy)
            ));
    let tls = r.tls.as_ref().filter(|t| t.failure.is_none());
    let (versions, modern_suite) = match (tls, &r.tls_scan) {
        // rustls speaks TLS 1.2 and 1.3 with modern suites only.
        (Some(t), _) => {
            let v = if t.version.as_deref() == Some("TLSv1.3") {
                Vec::new()
            } else {
                vec![TlsVersion::Tls12]
            };
            (v, Some(true))
        }
        (None, Some(scan)) => {
            let modern = scan
                .suites
                .iter()
                .any(|(_, s)| s.iter().any(|c| MODERN_SUITES.contains(c)));
            (scan.versions.clone(), Some(modern))
        }
        (None, None) => (Vec::new(), None),
    };
    Facts {
        tls_offered,
        rdp_only,
        versions,
        modern_suite,
        leaf: r.tls.as_ref().and_then(|t| t.chain.first()),
    }
}

fn sha1_signed(c: &CertInfo) -> bool {
    let s = c.signature_algorithm.to_ascii_lowercase();
    s.contains("sha1") || s.contains("sha-1")
}

/// The reasons `p` does not connect to a TLS listener with these facts.
fn tls_reasons(p: &Profile, f: &Facts, tls13: bool, out: &mut ClientVerdict) {
    let too_old = !tls13 && !f.versions.is_empty() && f.versions.iter().all(|v| *v < p.min_tls.0);
    if too_old {
        out.reasons.push(format!(
            "refuses {} (needs {} or later)",
            f.versions
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join("/"),
            p.min_tls.0.name()
        ));
        out.sources.push(p.min_tls.1);
    }
    if let (Some(src), Some(false)) = (p.modern_suites_only, f.modern_suite) {
        out.reasons.push(
            "offers no cipher suite the server accepts (ECDHE with AES-GCM or ChaCha20 only)"
                .into(),
        );
        out.sources.push(src);
    }
    let Some(leaf) = f.leaf else { return };
    if let Some(bits) = leaf
        .key_bits
        .filter(|b| leaf.key_type == "RSA" && *b < p.min_rsa_bits.0)
    {
        out.reasons.push(format!(
            "refuses the certificate's {bits}-bit RSA key (needs {} bits)",
            p.min_rsa_bits.0
        ));
        out.sources.push(p.min_rsa_bits.1);
    }
    // The signature of a self-signed certificate is not judged (nothing vouches for it).
    if let Some(src) = p
        .refuses_sha1
        .filter(|_| sha1_signed(leaf) && !leaf.self_signed)
    {
        out.reasons.push(format!(
            "refuses the certificate's SHA-1 signature ({})",
            leaf.signature_algorithm
        ));
        out.sources.push(src);
    }
}

fn verdict(p: &Profile, f: &Facts, tls13: bool) -> ClientVerdict {
    let mut out = ClientVerdict {
        client: p.name,
        connects: None,
        reasons: Vec::new(),
        sources: Vec::new(),
    };
    if f.rdp_only {
        match p.rdp_security {
            Some(src) => out.sources.push(src),
            None => {
                out.reasons
                    .push("the server offers only Standard RDP Security, which this client does not speak".into());
                out.sources.push(IRONRDP);
            }
        }
        out.connects = Some(out.reasons.is_empty());
        return out;
    }
    if !f.tls_offered || (f.versions.is_empty() && !tls13) {
        return out;
    }
    tls_reasons(p, f, tls13, &mut out);
    out.connects = Some(out.reasons.is_empty());
    out
}

/// The table for one report: every client profile, in a fixed order.
pub fn table(r: &ProbeReport) -> Vec<ClientVerdict> {
    let f = facts(r);
    let tls13 = r
        .tls
        .as_ref()
        .is_some_and(|t| t.failure.is_none() && t.version.as_deref() == Some("TLSv1.3"));
    PROFILES.iter().map(|p| verdict(p, &f, tls13)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_reports::report;
    use crate::wire::client_hello::TlsScan;

    fn selected(r: &mut ProbeReport, p: Protocol) {
        r.negotiated = Some(ProtocolProbe {
            requested: vec![Protocol::Tls, Protocol::Hybrid],
            outcome: NegotiationOutcome::Selected {
                selected: p.bits(),
                selected_name: p.name().into(),
                flags: 0,
            },
            accepted: true,
            duration_ms: 1.0,
        });
    }

    fn with_leaf(r: &mut ProbeReport, version: &str, bits: u32, sig: &str, self_signed: bool) {
        let mut t = TlsFacts::empty();
        t.version = Some(version.into());
        t.chain.push(CertInfo {
            subject: "CN=x".into(),
            issuer: "CN=ca".into(),
            subject_alt_names: Vec::new(),
            serial: String::new(),
            not_before_unix: 0,
            not_after_unix: 0,
            not_before: String::new(),
            not_after: String::new(),
            key_type: "RSA".into(),
            key_bits: Some(bits),
            signature_algorithm: sig.into(),
            sha1_thumbprint: String::new(),
            sha256_fingerprint: String::new(),
            self_signed,
        });
        r.tls = Some(t);
    }

    fn connects(t: &[ClientVerdict], name: &str) -> Option<bool> {
        t.iter()
            .find(|v| v.client.starts_with(name))
            .and_then(|v| v.connects)
    }

    #[test]
    fn modern_tls_with_a_2048_bit_key_suits_everyone() {
        let mut r = report();
        selected(&mut r, Protocol::Tls);
        with_leaf(&mut r, "TLSv1.3", 2048, "sha256WithRSAEncryption", true);
        let t = table(&r);
        assert_eq!(t.len(), PROFILES.len());
        assert!(t.iter().all(|v| v.connects == Some(true)), "{t:#?}");
    }

    #[test]
    fn small_keys_sha1_and_old_tls_have_their_reasons_and_sources() {
        let mut r = report();
        selected(&mut r, Protocol::Tls);
        with_leaf(&mut r, "TLSv1.2", 1024, "sha1WithRSAEncryption", false);
        let t = table(&r);
        assert_eq!(connects(&t, "mstsc (Windows 10)"), Some(true));
        // FreeRDP verifies the certificate itself: no key-size or SHA-1 limit.
        assert_eq!(connects(&t, "FreeRDP 2"), Some(true));
        assert_eq!(connects(&t, "IronRDP"), Some(false));
        let mac = t
            .iter()
            .find(|v| v.client.starts_with("Windows App"))
            .expect("row");
        assert_eq!(mac.connects, Some(false));
        assert_eq!(mac.reasons.len(), 2, "{mac:?}");
        let ironrdp = t.iter().find(|v| v.client == "IronRDP").expect("row");
        assert!(ironrdp.reasons[0].contains("1024-bit"), "{ironrdp:?}");
        assert!(ironrdp.sources.iter().all(|s| s.starts_with("https://")));
        // Self-signed: its own signature is not judged.
        with_leaf(&mut r, "TLSv1.2", 2048, "sha1WithRSAEncryption", true);
        assert_eq!(connects(&table(&r), "Windows App"), Some(true));

        let mut old = report();
        selected(&mut old, Protocol::Tls);
        let mut failed = TlsFacts::empty();
        failed.failure = Some(TlsFailure::NoCommonVersionOrCipher);
        old.tls = Some(failed);
        old.tls_scan = Some(TlsScan {
            versions: vec![TlsVersion::Tls10],
            suites: vec![(TlsVersion::Tls10, vec![0xC013])],
            attempts: Vec::new(),
        });
        let t = table(&old);
        assert_eq!(connects(&t, "mstsc (Windows 10)"), Some(true));
        assert_eq!(connects(&t, "mstsc (Windows 11)"), Some(false));
        assert_eq!(connects(&t, "FreeRDP 3"), Some(false));
    }

    #[test]
    fn standard_rdp_security_only_and_an_unreached_tls() {
        let mut r = report();
        selected(&mut r, Protocol::Rdp);
        let t = table(&r);
        assert_eq!(connects(&t, "FreeRDP 2"), Some(true));
        assert_eq!(connects(&t, "IronRDP"), Some(false));
        let unknown = table(&report());
        assert!(unknown.iter().all(|v| v.connects.is_none()));
    }
}
