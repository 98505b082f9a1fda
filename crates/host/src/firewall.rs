//! Windows Firewall rule strings (`v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|…`).

use rdp_doctor_regf::Data;
use serde::Serialize;

use crate::facts::Profile;
use crate::registry::{Action, Root};
use rdp_doctor_model::Remedy;

/// The built-in rule "Remote Desktop - User Mode (TCP-In)" (Windows 8 and later).
pub const BUILTIN_TCP_RULE: &str = "RemoteDesktop-UserMode-In-TCP";
/// Its name on Windows 7 / Server 2008 R2 ("Remote Desktop (TCP-In)").
pub const BUILTIN_TCP_RULE_WIN7: &str = "RemoteDesktop-In-TCP";

/// The fields of one rule that matter for reaching the RDP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub allow: bool,
    pub inbound: bool,
    /// IANA protocol number (6 = TCP); None = any.
    pub protocol: Option<u32>,
    /// LPort values as written ("3389", "RPC", "1000-2000").
    pub local_ports: Vec<String>,
    /// Profiles (Domain, Private, Public); empty = all.
    pub profiles: Vec<String>,
    /// The program, package or service (other than TermService) the rule is limited to, if any.
    pub app: Option<String>,
    /// The remote addresses it is limited to (`RA4=`, `RA6=`); empty = any.
    pub remote_addresses: Vec<String>,
}

/// Parses one rule string; None when it is not a v2 rule.
pub fn parse_rule(id: &str, text: &str) -> Option<Rule> {
    let mut parts = text.split('|');
    let version = parts.next()?;
    if !version.starts_with("v2.") {
        return None;
    }
    let mut rule = Rule {
        id: id.to_string(),
        name: String::new(),
        active: false,
        allow: false,
        inbound: false,
        protocol: None,
        local_ports: Vec::new(),
        profiles: Vec::new(),
        app: None,
        remote_addresses: Vec::new(),
    };
    for field in parts.filter(|p| !p.is_empty()) {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        match k {
            "Action" => rule.allow = v.eq_ignore_ascii_case("Allow"),
            "Active" => rule.active = v.eq_ignore_ascii_case("TRUE"),
            "Dir" => rule.inbound = v.eq_ignore_ascii_case("In"),
            "Protocol" => rule.protocol = v.parse().ok(),
            "LPort" => rule.local_ports.push(v.to_string()),
            "Profile" => rule.profiles.push(v.to_string()),
            "Name" => rule.name = v.to_string(),
            "App" => rule.app = Some(v.to_string()),
            k if k.starts_with("RA4") || k.starts_with("RA6") => {
                rule.remote_addresses.push(v.to_string())
            }
            // Store-app and service scoping limit a rule as a program path does;
            // a rule scoped to TermService is the RDP rule itself.
            "AppPkgId" => rule.app = Some(format!("package {v}")),
            "Svc" if !v.eq_ignore_ascii_case("termservice") => {
                rule.app = Some(format!("service {v}"))
            }
            _ => {}
        }
    }
    Some(rule)
}

impl Rule {
    /// Whether the rule lets inbound TCP reach `port` on the RDP listener: it
    /// names the port, or covers every port without being limited to a program
    /// (a rule for some other program does not open TermService's port).
    pub fn allows_tcp_port(&self, port: u32) -> bool {
        let names_port = self.local_ports.iter().any(|p| match p.split_once('-') {
            Some((a, b)) => a
                .parse::<u32>()
                .ok()
                .zip(b.parse::<u32>().ok())
                .is_some_and(|(a, b)| (a..=b).contains(&port)),
            None => p.parse::<u32>().ok() == Some(port),
        });
        let any_port_any_app = self.local_ports.is_empty() && self.app.is_none();
        self.active
            && self.allow
            && self.inbound
            && self.protocol.is_none_or(|p| p == 6)
            && (names_port || any_port_any_app)
    }
}

impl Rule {
    /// Whether the rule applies in `profile` (no Profile field: every profile).
    pub fn covers(&self, profile: Profile) -> bool {
        self.profiles.is_empty()
            || self.profiles.iter().any(|p| {
                p.eq_ignore_ascii_case(profile.name())
                    || (profile == Profile::Private && p.eq_ignore_ascii_case("Standard"))
            })
    }
}

/// `text` with the field `Active` set to TRUE (added when absent).
fn activated(text: &str) -> String {
    let mut fields: Vec<String> = text.split('|').map(str::to_string).collect();
    match fields
        .iter_mut()
        .find(|f| f.split_once('=').is_some_and(|(k, _)| k == "Active"))
    {
        Some(f) => *f = "Active=TRUE".into(),
        None => fields.insert(1.min(fields.len()), "Active=TRUE".into()),
    }
    fields.join("|")
}

/// The rule `host fix` adds when no rule can be enabled for `port`.
pub fn new_rule(port: u16) -> (String, String) {
    (
        format!("RdpDoctor-RemoteDesktop-In-TCP-{port}"),
        format!(
            "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort={port}|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=Remote Desktop (TCP-In, port {port})|Desc=Inbound rule for the Remote Desktop listener on TCP {port}|"
        ),
    )
}

/// How to let TCP `port` in where `missing` profiles are not covered: enable
/// an inactive built-in Remote Desktop rule (or its per-profile copy, such as
/// `RemoteDesktop-In-TCP_1`) when it covers the port and a missing profile,
/// else add a rule for TermService on the port in every profile.
/// `rules` are the values of `key` (the FirewallRules key, under SYSTEM).
pub fn fix_for_port(rules: &[(String, Data)], port: u16, key: &str, missing: &[Profile]) -> Remedy {
    let is_builtin = |name: &str| {
        [BUILTIN_TCP_RULE, BUILTIN_TCP_RULE_WIN7].iter().any(|b| {
            name.len() >= b.len()
                && name[..b.len()].eq_ignore_ascii_case(b)
                && (name.len() == b.len() || name[b.len()..].starts_with('_'))
        })
    };
    let inactive = rules.iter().find_map(|(name, data)| {
        let text = data.as_str()?;
        let r = parse_rule(name, text)?;
        let mut enabled = r.clone();
        enabled.active = true;
        let useful = !r.active
            && is_builtin(name)
            && enabled.allows_tcp_port(u32::from(port))
            && (missing.is_empty() || missing.iter().any(|p| r.covers(*p)));
        useful.then(|| (name.clone(), text.to_string()))
    });
    if let Some((name, text)) = inactive {
        return Remedy::new(
            format!("Enable the built-in firewall rule {name} (Remote Desktop TCP-In)"),
            format!("The rule exists but is inactive (Active=FALSE); what Enable-NetFirewallRule -Name {name} does. The firewall stays on."),
        )
        .action(Action::SetValue {
            root: Root::System,
            key: key.into(),
            name,
            data: Data::String(activated(&text)),
        });
    }
    let (name, text) = new_rule(port);
    Remedy::new(
        format!("Add an inbound firewall rule allowing TCP {port} to TermService"),
        format!("No rule that could be enabled covers TCP {port} (the built-in rule covers 3389 only); the new rule is limited to the TermService service on that port, in every profile. The firewall stays on."),
    )
    .action(Action::SetValue {
        root: Root::System,
        key: key.into(),
        name,
        data: Data::String(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let r = parse_rule("RemoteDesktop-UserMode-In-TCP", "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=@FirewallAPI.dll,-28775|Desc=@FirewallAPI.dll,-28756|EmbedCtxt=@FirewallAPI.dll,-28752|").unwrap();
        assert!(r.allows_tcp_port(3389));
        assert!(!r.allows_tcp_port(3390));
        let off = parse_rule(
            "x",
            "v2.10|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=3389|",
        )
        .unwrap();
        assert!(!off.allows_tcp_port(3389));
        let range = parse_rule(
            "y",
            "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3000-4000|",
        )
        .unwrap();
        assert!(range.allows_tcp_port(3389));
        assert!(parse_rule("z", "garbage").is_none());
        let other_app = parse_rule(
            "w",
            "v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|App=C:\\x.exe|",
        )
        .unwrap();
        assert!(!other_app.allows_tcp_port(3389));
    }

    #[test]
    fn fixes_enable_the_builtin_rule_or_add_one() {
        let key =
            "CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules";
        let off = "v2.26|Action=Allow|Active=FALSE|Dir=In|Protocol=6|LPort=3389|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=@FirewallAPI.dll,-28775|";
        let rules = vec![(BUILTIN_TCP_RULE.to_string(), Data::String(off.into()))];
        let f = fix_for_port(&rules, 3389, key, &[]);
        let Action::SetValue { name, data, .. } = &f.actions[0] else {
            panic!("{f:?}")
        };
        assert_eq!(name, BUILTIN_TCP_RULE);
        let text = data.as_str().unwrap();
        assert_eq!(text, off.replace("Active=FALSE", "Active=TRUE"));
        assert!(parse_rule(name, text).unwrap().allows_tcp_port(3389));
        // Another port: the built-in rule does not cover it, a new one is added.
        let f = fix_for_port(&rules, 3390, key, &[]);
        let Action::SetValue { name, data, .. } = &f.actions[0] else {
            panic!("{f:?}")
        };
        assert_eq!(name, "RdpDoctor-RemoteDesktop-In-TCP-3390");
        let r = parse_rule(name, data.as_str().unwrap()).unwrap();
        assert!(r.allows_tcp_port(3390) && !r.allows_tcp_port(3389));
        assert!(!f.downgrade);
    }
}

/// A connection-security (IPsec) rule: the fields that decide whether it
/// demands authentication from clients of the RDP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConSecRule {
    pub id: String,
    pub name: String,
    pub active: bool,
    /// `RequireInRequireOut`, `RequireInClearOut`, `RequestInRequestOut`, …
    pub action: String,
    pub protocol: Option<u32>,
    /// Ports of either endpoint (`LPort`, `EP1Port`, `EP2Port`); empty = any.
    pub ports: Vec<String>,
}

/// Parses one ConSecRules string; `None` when it is not a v2 rule.
pub fn parse_consec(id: &str, text: &str) -> Option<ConSecRule> {
    let mut parts = text.split('|');
    if !parts.next()?.starts_with("v2.") {
        return None;
    }
    let mut r = ConSecRule {
        id: id.to_string(),
        name: String::new(),
        active: false,
        action: String::new(),
        protocol: None,
        ports: Vec::new(),
    };
    for (k, v) in parts.filter_map(|p| p.split_once('=')) {
        match k {
            "Action" => r.action = v.to_string(),
            "Active" => r.active = v.eq_ignore_ascii_case("TRUE"),
            "Name" => r.name = v.to_string(),
            "Protocol" => r.protocol = v.parse().ok(),
            "LPort" | "EP1Port" | "EP2Port" => r.ports.push(v.to_string()),
            _ => {}
        }
    }
    Some(r)
}

fn port_listed(ports: &[String], port: u32) -> bool {
    ports.iter().any(|p| match p.split_once('-') {
        Some((a, b)) => a
            .parse::<u32>()
            .ok()
            .zip(b.parse::<u32>().ok())
            .is_some_and(|(a, b)| (a..=b).contains(&port)),
        None => p.parse::<u32>().ok() == Some(port),
    })
}

impl ConSecRule {
    /// Active, demanding authentication inbound, and covering TCP `port`.
    pub fn requires_auth_for(&self, port: u32) -> bool {
        self.active
            && self.action.starts_with("RequireIn")
            && self.protocol.is_none_or(|p| p == 6)
            && (self.ports.is_empty() || port_listed(&self.ports, port))
    }
}
