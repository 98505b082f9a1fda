//! HOST006: does an active inbound rule let TCP reach the listener in every
//! profile the host uses?

use rdp_doctor_model::{Evidence, FindingId as Id, Severity};

use super::{passed, Outcome};
use crate::facts::{FirewallFacts, HostFacts, Profile, Reading};
use crate::firewall::{self, Rule};
use rdp_doctor_model::{Finding, Root};

/// The profiles the firewall filters in and the host uses (the networks'
/// categories when known) that no active rule for `port` covers, and the
/// rules that do allow it.
pub fn uncovered_profiles(fw: &FirewallFacts, port: u16) -> (Vec<Profile>, Vec<Rule>) {
    let allowing: Vec<Rule> = fw
        .rules
        .iter()
        .filter_map(|(name, data)| data.as_str().and_then(|s| firewall::parse_rule(name, s)))
        .filter(|r| r.allows_tcp_port(u32::from(port)))
        .collect();
    let uncovered = fw
        .enabled
        .iter()
        .filter(|(_, r)| r.dword() == Some(1))
        .map(|(p, _)| *p)
        .filter(|p| {
            fw.network_profiles
                .as_ref()
                .is_none_or(|used| used.contains(p))
        })
        .filter(|p| !allowing.iter().any(|r| r.covers(*p)))
        .collect();
    (uncovered, allowing)
}

fn rules_reading(fw: &FirewallFacts, value: Option<String>) -> Reading {
    let any = fw.enabled.first().map(|(_, r)| r.origin.clone());
    Reading {
        root: Root::System,
        key: fw.rules_key.clone(),
        name: String::new(),
        value: value.map(rdp_doctor_model::Data::String),
        origin: any.unwrap_or(rdp_doctor_model::RegistryOrigin::Live),
    }
}

fn names(ps: &[Profile]) -> String {
    ps.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
}

pub fn firewall(f: &HostFacts) -> Outcome {
    let fw = &f.firewall;
    let port = f.port_number();
    let on: Vec<Profile> = fw
        .enabled
        .iter()
        .filter(|(_, r)| r.dword() == Some(1))
        .map(|(p, _)| *p)
        .collect();
    let (uncovered, allowing) = uncovered_profiles(fw, port);
    let shown: Vec<String> = allowing.iter().take(5).map(|r| r.id.clone()).collect();
    let listed = match shown.is_empty() {
        true => format!("no active rule allows TCP {port}"),
        false => shown.join(", "),
    };
    let mut r = rules_reading(fw, Some(listed));
    r.key = fw.rules_key.trim_end_matches("\\FirewallRules").to_string();
    r.name = "FirewallRules".into();
    if on.is_empty() {
        r.value = Some(rdp_doctor_model::Data::String(
            "firewall off in every profile".into(),
        ));
        return passed(Id::FirewallBlocks, &r, "the host firewall does not filter");
    }
    if uncovered.is_empty() {
        return passed(
            Id::FirewallBlocks,
            &r,
            format!(
                "{} active rule(s) allow TCP {port} in every profile in use ({})",
                allowing.len(),
                names(&on)
            ),
        );
    }
    let (severity, title) = if allowing.is_empty() {
        (
            Severity::Error,
            format!("the firewall is on and no active inbound rule allows TCP {port}"),
        )
    } else if fw.network_profiles.is_some() {
        (Severity::Error, format!("no active inbound rule allows TCP {port} in the {} profile, which this host's network uses", names(&uncovered)))
    } else {
        (Severity::Warning, format!("no active inbound rule allows TCP {port} in the {} profile: connections fail while the host's network is in it (give --software to read the network's profile)", names(&uncovered)))
    };
    let mut finding = Finding::new(Id::FirewallBlocks, severity, title).evidence(r.evidence());
    for (p, e) in fw.enabled.iter().filter(|(p, _)| uncovered.contains(p)) {
        finding = finding.evidence(Evidence::Registry {
            path: e.path(),
            value: format!("{} ({} profile)", e.shown(), p.name()),
            origin: e.origin.clone(),
        });
    }
    Outcome::Found(finding.remedy(firewall::fix_for_port(
        &fw.rules,
        port,
        &fw.rules_key,
        &uncovered,
    )))
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::Data;

    fn rule(s: &str) -> Data {
        Data::String(s.into())
    }

    #[test]
    fn a_rule_missing_the_public_profile_warns_unless_the_network_is_not_public() {
        let mut f = facts();
        assert!(matches!(firewall(&f), Outcome::Passed(_)));
        f.firewall.rules = vec![
            ("RemoteDesktop-In-TCP".into(), rule("v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|Profile=Domain|Profile=Private|LPort=3389|App=System|")),
            ("RemoteDesktop-In-TCP_1".into(), rule("v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|Profile=Public|LPort=3389|App=System|")),
        ];
        let Outcome::Found(w) = firewall(&f) else {
            panic!("passed")
        };
        assert_eq!(w.severity, Severity::Warning);
        assert!(w.title.contains("Public"), "{}", w.title);
        // The fix enables the inactive Public rule.
        assert_eq!(w.remedies[0].actions[0].name(), "RemoteDesktop-In-TCP_1");
        f.firewall.network_profiles = Some(vec![Profile::Domain]);
        assert!(matches!(firewall(&f), Outcome::Passed(_)));
        f.firewall.network_profiles = Some(vec![Profile::Public]);
        let Outcome::Found(e) = firewall(&f) else {
            panic!("passed")
        };
        assert_eq!(e.severity, Severity::Error);
    }

    #[test]
    fn no_rule_at_all_is_an_error_and_firewall_off_passes() {
        let mut f = facts();
        f.firewall.rules.clear();
        let Outcome::Found(e) = firewall(&f) else {
            panic!("passed")
        };
        assert_eq!(e.severity, Severity::Error);
        for (_, r) in f.firewall.enabled.iter_mut() {
            r.value = Some(Data::Dword(0));
        }
        assert!(matches!(firewall(&f), Outcome::Passed(_)));
    }
}
