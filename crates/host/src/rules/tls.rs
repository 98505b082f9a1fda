//! HOST028-030: the TLS the listener can speak (Schannel's server protocols,
//! the cipher-suite policy, FIPS).

use rdp_doctor_model::{FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::{HostFacts, TlsVersion};

fn names(v: &[TlsVersion]) -> String {
    match v.is_empty() {
        true => "none".into(),
        false => v.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
    }
}

/// HOST028: TLS 1.2 off for the server; only old protocols, or none, left.
pub fn protocols(f: &HostFacts) -> Outcome {
    let t = &f.tls;
    let Some(p12) = t.protocol(TlsVersion::Tls12) else {
        return passed(Id::TlsServerProtocols, &f.tls.fips, "TLS 1.2 not read");
    };
    let on = t.on();
    if on.contains(&TlsVersion::Tls12) {
        return passed(
            Id::TlsServerProtocols,
            &p12.enabled,
            format!("TLS 1.2 is on for the server (on: {})", names(&on)),
        );
    }
    let (severity, title) = if on.is_empty() {
        (Severity::Error, "no TLS version is enabled for the server: every TLS and NLA connection fails (the probe: TLS001)".to_string())
    } else if on.contains(&TlsVersion::Tls13) {
        (
            Severity::Warning,
            format!(
                "TLS 1.2 is disabled for the server (on: {}): clients without TLS 1.3 fail",
                names(&on)
            ),
        )
    } else {
        (Severity::Error, format!("TLS 1.2 is disabled for the server and only {} is left: current clients, which no longer offer TLS 1.0/1.1, fail (the probe: TLS001)", names(&on)))
    };
    let mut actions = Vec::new();
    if p12.enabled.dword().is_none_or(|v| v == 0) {
        actions.push(p12.enabled.set_dword(1));
    }
    if p12.disabled_by_default.dword() != Some(0) {
        actions.push(p12.disabled_by_default.set_dword(0));
    }
    let remedy = Remedy::new(
        "Enable TLS 1.2 for the server (Enabled=1, DisabledByDefault=0)",
        "Schannel reads the protocols at boot: restart the host after the change. Windows 7 / Server 2008 R2 also need the update that lets RDP use TLS 1.2 (KB3080079).",
    )
    .actions(actions);
    Outcome::Found(
        found(Id::TlsServerProtocols, severity, &p12.enabled, title)
            .evidence(p12.disabled_by_default.evidence())
            .remedy(remedy),
    )
}

/// Suite names current clients (Windows 10/11, FreeRDP on OpenSSL 3) offer:
/// ECDHE with AES-GCM, and TLS 1.3's.
const MODERN_SUITES: [&str; 6] = [
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
];

/// Whether a policy entry is one of them. Before Windows 10 entries carry the
/// curve (`…_SHA256_P256`), which names the same suite.
fn modern(suite: &str) -> bool {
    let base = suite
        .strip_suffix("_P256")
        .or_else(|| suite.strip_suffix("_P384"))
        .or_else(|| suite.strip_suffix("_P521"))
        .unwrap_or(suite);
    MODERN_SUITES.iter().any(|m| m.eq_ignore_ascii_case(base))
}

/// HOST029: a suite-order policy without any suite current clients offer.
pub fn cipher_policy(f: &HostFacts) -> Option<Outcome> {
    let r = f.tls.cipher_policy.as_ref()?;
    let Some(suites) = f.tls.policy_suites() else {
        return Some(passed(
            Id::CipherSuitePolicy,
            r,
            "no cipher-suite order policy: Schannel's defaults",
        ));
    };
    if suites.iter().any(|s| modern(s)) {
        return Some(passed(
            Id::CipherSuitePolicy,
            r,
            format!("{} suites, current ones among them", suites.len()),
        ));
    }
    let remedy = Remedy::new(
        "Remove the cipher-suite order policy, or add ECDHE AES-GCM suites to it",
        "Edit the GPO \"SSL Cipher Suite Order\" (Computer Configuration > Administrative Templates > Network > SSL Configuration Settings); deleting the value locally lasts until Group Policy applies it again. Restart the host after the change.",
    )
    .actions(vec![r.delete()]);
    Some(Outcome::Found(
        found(Id::CipherSuitePolicy, Severity::Error, r, format!("the cipher-suite policy lists {} suite(s), none of which current clients offer (ECDHE with AES-GCM): the TLS handshake fails (the probe: TLS001)", suites.len()))
            .remedy(remedy),
    ))
}

/// HOST030: FIPS mode.
pub fn fips(f: &HostFacts) -> Option<Outcome> {
    let r = &f.tls.fips;
    (r.dword().is_some_and(|v| v != 0)).then(|| {
        Outcome::Found(found(
            Id::FipsAlgorithmPolicy,
            Severity::Info,
            r,
            "FIPS mode is on: Schannel offers only FIPS-approved suites, and clients that offer none of them fail",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::{Action, Data};

    fn set(f: &mut HostFacts, v: TlsVersion, enabled: Option<u32>, dbd: Option<u32>) {
        let p = f.tls.protocols.iter_mut().find(|p| p.version == v).unwrap();
        p.enabled.value = enabled.map(Data::Dword);
        p.disabled_by_default.value = dbd.map(Data::Dword);
    }

    #[test]
    fn tls12_off_with_only_tls10_left_is_an_error_fixed_by_enabling_tls12() {
        let mut f = facts();
        assert!(matches!(protocols(&f), Outcome::Passed(_)));
        set(&mut f, TlsVersion::Tls12, Some(0), None);
        set(&mut f, TlsVersion::Tls11, Some(0), Some(1));
        let Outcome::Found(x) = protocols(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Error);
        assert!(x.title.contains("only TLS 1.0"), "{}", x.title);
        let a = &x.remedies[0].actions;
        assert!(
            matches!(&a[0], Action::SetValue { name, data: Data::Dword(1), .. } if name == "Enabled")
        );
        assert!(
            matches!(&a[1], Action::SetValue { name, data: Data::Dword(0), .. } if name == "DisabledByDefault")
        );
        // DisabledByDefault=1 alone also takes TLS 1.2 out of what TermService uses.
        set(&mut f, TlsVersion::Tls12, None, Some(1));
        assert!(matches!(protocols(&f), Outcome::Found(_)));
    }

    #[test]
    fn defaults_follow_the_windows_build() {
        let mut f = facts();
        f.tls.build = Some(7601);
        // Server 2008 R2 without keys: TLS 1.2 off by default, TLS 1.0 on.
        let Outcome::Found(x) = protocols(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Error);
        f.tls.build = Some(26100);
        assert!(matches!(protocols(&f), Outcome::Passed(_)));
        set(&mut f, TlsVersion::Tls12, Some(0), None);
        // Server 2025: TLS 1.3 is still on.
        let Outcome::Found(x) = protocols(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        set(&mut f, TlsVersion::Tls13, Some(0), None);
        let Outcome::Found(x) = protocols(&f) else {
            panic!("passed")
        };
        assert!(x.title.contains("no TLS version"), "{}", x.title);
    }

    #[test]
    fn a_cipher_policy_without_modern_suites_is_an_error() {
        let mut f = facts();
        assert!(matches!(cipher_policy(&f), Some(Outcome::Passed(_))));
        let r = f.tls.cipher_policy.as_mut().unwrap();
        r.value = Some(Data::String(
            "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_RSA_WITH_3DES_EDE_CBC_SHA".into(),
        ));
        let Some(Outcome::Found(x)) = cipher_policy(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Error);
        assert!(
            matches!(&x.remedies[0].actions[0], Action::DeleteValue { name, .. } if name == "Functions")
        );
        let r = f.tls.cipher_policy.as_mut().unwrap();
        r.value = Some(Data::String(
            "TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256_P256".into(),
        ));
        assert!(matches!(cipher_policy(&f), Some(Outcome::Passed(_))));
    }
}
