//! HOST033-034: what else decides who reaches the port once a rule allows
//! it: IPsec connection-security rules, and rules limited to some addresses.

use rdp_doctor_model::{Evidence, FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::{HostFacts, Reading};
use crate::firewall::{self, parse_consec};
use crate::registry::Root;

fn key_reading(f: &HostFacts, key: &str, name: &str, shown: String) -> Reading {
    let origin = f.firewall.enabled.first().map(|(_, r)| r.origin.clone());
    Reading {
        root: Root::System,
        key: key.into(),
        name: name.into(),
        value: Some(rdp_doctor_model::Data::String(shown)),
        origin: origin.unwrap_or(rdp_doctor_model::RegistryOrigin::Live),
    }
}

/// HOST033: an active IPsec rule that requires authentication for the port.
pub fn ipsec(f: &HostFacts) -> Outcome {
    let port = u32::from(f.port_number());
    let requiring: Vec<_> = f
        .firewall
        .consec
        .iter()
        .filter_map(|(id, d)| d.as_str().and_then(|s| parse_consec(id, s)))
        .filter(|r| r.requires_auth_for(port))
        .collect();
    let Some(first) = requiring.first() else {
        let r = key_reading(
            f,
            &f.firewall.consec_key,
            "",
            format!(
                "{} rule(s), none requires authentication for TCP {port}",
                f.firewall.consec.len()
            ),
        );
        return passed(
            Id::IpsecRequiredForRdp,
            &r,
            "no connection-security rule requires IPsec for the port",
        );
    };
    let mut finding = found(
        Id::IpsecRequiredForRdp,
        Severity::Warning,
        &key_reading(f, &f.firewall.consec_key, &first.id, first.action.clone()),
        format!("{} connection-security rule(s) require IPsec authentication for TCP {port} ({}): clients without a matching IPsec policy (outside the domain, or not in the rule's endpoints) time out at TCP", requiring.len(), requiring.iter().map(|r| if r.name.is_empty() { r.id.as_str() } else { r.name.as_str() }).collect::<Vec<_>>().join(", ")),
    );
    for r in requiring.iter().skip(1).take(4) {
        finding = finding.evidence(Evidence::Registry {
            path: format!("HKLM\\SYSTEM\\{}\\{}", f.firewall.consec_key, r.id),
            value: r.action.clone(),
            origin: f
                .firewall
                .enabled
                .first()
                .map(|(_, x)| x.origin.clone())
                .unwrap_or(rdp_doctor_model::RegistryOrigin::Live),
        });
    }
    Outcome::Found(finding.remedy(Remedy::new(
        "Give the clients the matching IPsec policy, or exempt the RDP port from the rule",
        "Connection-security rules usually come from Group Policy (Windows Defender Firewall with Advanced Security > Connection Security Rules): change them there, or check the client's Main Mode / Quick Mode security associations (Get-NetIPsecMainModeSA).",
    )))
}

/// HOST034: allow rules for the port limited to remote addresses.
pub fn remote_scope(f: &HostFacts) -> Outcome {
    let port = f.port_number();
    let (_, allowing) = super::uncovered_profiles(&f.firewall, port);
    let scoped: Vec<&firewall::Rule> = allowing
        .iter()
        .filter(|r| !r.remote_addresses.is_empty())
        .collect();
    let summary = |r: &firewall::Rule| format!("{}: {}", r.id, r.remote_addresses.join(", "));
    let Some(first) = scoped.first() else {
        let r = key_reading(
            f,
            &f.firewall.rules_key,
            "",
            format!(
                "{} allowing rule(s), none limited to addresses",
                allowing.len()
            ),
        );
        return passed(
            Id::FirewallRemoteScope,
            &r,
            "the rules that allow the port accept any remote address",
        );
    };
    let all = scoped.len() == allowing.len();
    let severity = if all {
        Severity::Warning
    } else {
        Severity::Info
    };
    let title = if all {
        format!("every rule that allows TCP {port} is limited to some remote addresses ({}): clients elsewhere are blocked", summary(first))
    } else {
        format!(
            "{} of the {} rules that allow TCP {port} are limited to some remote addresses ({})",
            scoped.len(),
            allowing.len(),
            summary(first)
        )
    };
    let mut finding = found(
        Id::FirewallRemoteScope,
        severity,
        &key_reading(
            f,
            &f.firewall.rules_key,
            &first.id,
            first.remote_addresses.join(","),
        ),
        title,
    );
    for r in scoped.iter().skip(1).take(4) {
        finding = finding.evidence(Evidence::Registry {
            path: format!("HKLM\\SYSTEM\\{}\\{}", f.firewall.rules_key, r.id),
            value: r.remote_addresses.join(","),
            origin: rdp_doctor_model::RegistryOrigin::Live,
        });
    }
    Outcome::Found(finding.remedy(Remedy::new(
        "Check that the client's address is in the rule's remote addresses",
        "Windows Defender Firewall with Advanced Security > the rule > Scope > Remote IP address. A client behind NAT or a VPN shows the gateway's address.",
    )))
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::Data;

    #[test]
    fn an_ipsec_rule_requiring_auth_for_3389_warns() {
        let mut f = facts();
        assert!(matches!(ipsec(&f), Outcome::Passed(_)));
        f.firewall.consec = vec![
            (
                "{a}".into(),
                Data::String("v2.10|Action=RequestInRequestOut|Active=TRUE|Name=Request|".into()),
            ),
            (
                "{b}".into(),
                Data::String(
                    "v2.10|Action=RequireInRequireOut|Active=FALSE|Protocol=6|EP2Port=3389|".into(),
                ),
            ),
        ];
        assert!(matches!(ipsec(&f), Outcome::Passed(_)));
        f.firewall.consec.push(("{c}".into(), Data::String("v2.10|Action=RequireInClearOut|Active=TRUE|Protocol=6|EP1Port=3389|Name=RDP needs IPsec|".into())));
        let Outcome::Found(x) = ipsec(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        assert!(x.title.contains("RDP needs IPsec"), "{}", x.title);
        f.firewall.consec[2].1 = Data::String(
            "v2.10|Action=RequireInClearOut|Active=TRUE|Protocol=6|EP1Port=445|".into(),
        );
        assert!(matches!(ipsec(&f), Outcome::Passed(_)));
    }

    #[test]
    fn rules_limited_to_addresses_are_reported_with_their_scope() {
        let mut f = facts();
        assert!(matches!(remote_scope(&f), Outcome::Passed(_)));
        f.firewall.rules[0].1 = Data::String("v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|RA4=10.0.0.0/255.0.0.0|RA6=LocalSubnet|".into());
        let Outcome::Found(x) = remote_scope(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        assert!(
            x.title.contains("10.0.0.0/255.0.0.0, LocalSubnet"),
            "{}",
            x.title
        );
        f.firewall.rules.push((
            "Any".into(),
            Data::String("v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|".into()),
        ));
        let Outcome::Found(x) = remote_scope(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Info);
    }
}
