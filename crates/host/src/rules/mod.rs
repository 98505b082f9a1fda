//! The rules: small pure functions from [`HostFacts`] to findings, or to the
//! record that a check passed (evidence against a cause for the diagnosis).

mod certs;
mod credssp;
mod firewall;
mod keyacl;
mod licensing;
mod listener;
mod scope;
mod security;
mod tls;

use rdp_doctor_model::{Finding, FindingId, Severity};

use crate::facts::{HostFacts, Reading};
use crate::report::Passed;

pub use firewall::uncovered_profiles;
pub use listener::MAX_OUTSTANDING;

/// What one rule concluded.
#[derive(Debug, Clone)]
pub enum Outcome {
    Found(Finding),
    Passed(Passed),
}

/// A passed check citing `r`.
fn passed(id: FindingId, r: &Reading, message: impl Into<String>) -> Outcome {
    Outcome::Passed(Passed {
        id,
        path: r.path(),
        value: r.shown(),
        message: message.into(),
    })
}

/// A finding citing `r`.
fn found(id: FindingId, severity: Severity, r: &Reading, title: impl Into<String>) -> Finding {
    Finding::new(id, severity, title).evidence(r.evidence())
}

/// Every rule, in report order.
pub fn all(f: &HostFacts) -> Vec<Outcome> {
    let mut out = Vec::new();
    out.extend(listener::dirty_hives(f));
    out.push(listener::remote_desktop(f));
    out.push(listener::listener_enabled(f));
    out.push(listener::port(f));
    out.extend(listener::lan_adapter(f));
    out.push(security::security_layer(f));
    out.push(security::nla(f));
    out.extend(security::fips(f));
    out.extend(certs::pinned(f));
    out.extend(listener::drain(f));
    out.push(listener::outstanding(f));
    out.push(listener::instances(f));
    out.extend(listener::single_session(f));
    out.extend(listener::services(f));
    out.push(firewall::firewall(f));
    out.extend(certs::transport_policy(f));
    out.extend(certs::store(f));
    out.extend(certs::machine_key(f));
    out.extend(keyacl::key_acl(f));
    out.push(tls::protocols(f));
    out.extend(tls::cipher_policy(f));
    out.extend(tls::fips(f));
    out.extend(credssp::oracle(f));
    out.push(licensing::licensing(f));
    out.push(scope::ipsec(f));
    out.push(scope::remote_scope(f));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use rdp_doctor_model::{Data, Root};

    use crate::facts::*;

    fn sys(key: &str, name: &str, v: Option<u32>) -> Reading {
        Reading::new(Root::System, &ccs(key), name, v.map(Data::Dword))
    }

    fn setting(key: &str, name: &str, v: Option<u32>) -> Setting {
        Setting {
            local: sys(key, name, v),
            policy: Some(Reading::new(Root::Software, POLICY, name, None)),
        }
    }

    /// A healthy host's facts, for rules to be tested on one change at a time.
    pub fn facts() -> HostFacts {
        HostFacts {
            control_set: "ControlSet001".into(),
            dirty: Vec::new(),
            has_software: true,
            deny_ts: setting(TS, "fDenyTSConnections", Some(0)),
            listener_enabled: sys(RDP_TCP, "fEnableWinStation", Some(1)),
            port: sys(RDP_TCP, "PortNumber", Some(3389)),
            lan_adapter: sys(RDP_TCP, "LanAdapter", Some(0)),
            security_layer: setting(RDP_TCP, "SecurityLayer", Some(2)),
            nla: setting(RDP_TCP, "UserAuthentication", Some(1)),
            min_encryption: setting(RDP_TCP, "MinEncryptionLevel", Some(2)),
            drain: sys(TS, "TSServerDrainMode", None),
            logons_disabled: sys(TS, "WinStationsDisabled", Some(0)),
            max_outstanding: sys(TS, "MaxOutstandingConnections", None),
            max_instances: setting(RDP_TCP, "MaxInstanceCount", Some(u32::MAX)),
            single_session: setting(TS, "fSingleSessionPerUser", Some(1)),
            services: ["TermService", "UmRdpService", "SessionEnv"]
                .into_iter()
                .map(|s| (s, sys(&format!("Services\\{s}"), "Start", Some(3))))
                .collect(),
            firewall: FirewallFacts {
                enabled: Profile::ALL
                    .into_iter()
                    .map(|p| {
                        (
                            p,
                            sys(
                                &format!("{FIREWALL}\\{}", p.key()),
                                "EnableFirewall",
                                Some(1),
                            ),
                        )
                    })
                    .collect(),
                rules_key: ccs(&format!("{FIREWALL}\\FirewallRules")),
                rules: vec![(
                    "RemoteDesktop-UserMode-In-TCP".into(),
                    Data::String(
                        "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|".into(),
                    ),
                )],
                network_profiles: None,
                consec_key: ccs(&format!("{FIREWALL}\\ConSecRules")),
                consec: Vec::new(),
            },
            pinned: Pinned {
                reading: sys(RDP_TCP, "SSLCertificateSHA1Hash", None),
                thumbprint: None,
                in_store: None,
                cert: None,
            },
            transport_policy: None,
            certs: Some(Vec::new()),
            cert_store_path: String::new(),
            machine_key: None,
            volume_given: false,
            now: 1_800_000_000,
            tls: tls_facts(),
            credssp_oracle: Some(Reading::new(
                Root::Software,
                credssp::CREDSSP_POLICY,
                "AllowEncryptionOracle",
                None,
            )),
            licensing: LicensingFacts {
                app_compat: sys(licensing::TS, "TSAppCompat", None),
                mode_local: sys(licensing::LICENSING_CORE, "LicensingMode", Some(5)),
                mode_policy: Some(Reading::new(Root::Software, POLICY, "LicensingMode", None)),
                servers_policy: Some(Reading::new(Root::Software, POLICY, "LicenseServers", None)),
                servers_local: Vec::new(),
                timebomb: sys(licensing::GRACE_PERIOD, licensing::TIMEBOMB, None),
            },
        }
    }

    /// Schannel as Windows 10 leaves it: no keys, a build with TLS 1.0-1.2 on.
    fn tls_facts() -> TlsFacts {
        let key = |v: TlsVersion| format!("{}\\{}\\Server", tls::PROTOCOLS, v.name());
        TlsFacts {
            protocols: TlsVersion::ALL
                .into_iter()
                .map(|version| tls::ServerProtocol {
                    version,
                    enabled: sys(&key(version), "Enabled", None),
                    disabled_by_default: sys(&key(version), "DisabledByDefault", None),
                })
                .collect(),
            cipher_policy: Some(Reading::new(
                Root::Software,
                tls::CIPHER_POLICY,
                "Functions",
                None,
            )),
            fips: sys(tls::FIPS_POLICY, "Enabled", None),
            build: Some(19045),
        }
    }

    #[test]
    fn a_healthy_host_has_no_problem_and_passes_host001() {
        let out = super::all(&facts());
        assert!(out.iter().all(|o| match o {
            super::Outcome::Found(f) => !f.severity.is_problem(),
            super::Outcome::Passed(_) => true,
        }));
        assert!(out.iter().any(|o| matches!(o, super::Outcome::Passed(p) if p.id == rdp_doctor_model::FindingId::RemoteDesktopOff)));
    }

    #[test]
    fn remote_desktop_off_by_policy_changes_the_policy_copy() {
        let mut f = facts();
        if let Some(p) = f.deny_ts.policy.as_mut() {
            p.value = Some(Data::Dword(1));
        }
        let super::Outcome::Found(x) = super::listener::remote_desktop(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, rdp_doctor_model::Severity::Error);
        assert!(x.title.contains("Group Policy"));
        let a = &x.remedies[0].actions;
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].root(), Some(Root::Software));
    }
}
