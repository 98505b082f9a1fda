//! Actions as the commands a person copies: the same action reads differently
//! for a rescued disk's hives (edit the files, never this machine's registry),
//! for the live host (PowerShell) and for the client.

use rdp_doctor_regf::Data;

use crate::action::{Action, Machine, Root};
use crate::id::FindingId;

/// Where the registry an action changes lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// The hives of a rescued disk, as given on the command line.
    Offline {
        system: String,
        software: Option<String>,
    },
    /// The host's live registry (PowerShell run on the host).
    #[default]
    Live,
}

/// The commands that carry out `action`, for the finding `id`, one per line.
pub fn lines(action: &Action, id: FindingId, target: &Target) -> Vec<String> {
    match (action, target) {
        (
            Action::SetValue { .. } | Action::DeleteValue { .. },
            Target::Offline { system, software },
        ) if id.source() != crate::id::Source::Host => {
            // Only host checks have a `host fix` plan; other findings' changes are made by hand.
            vec![reg_load(action, system, software.as_deref())]
        }
        (
            Action::SetValue { .. } | Action::DeleteValue { .. },
            Target::Offline { system, software },
        ) => {
            let mut fix = format!("rdp-doctor host fix --system {}", quote(system));
            if let Some(sw) = software {
                fix.push_str(&format!(" --software {}", quote(sw)));
            }
            fix.push_str(&format!(" --only {} --apply", id.code()));
            vec![
                fix,
                format!(
                    "or by hand: {}",
                    reg_load(action, system, software.as_deref())
                ),
            ]
        }
        (Action::SetValue { .. } | Action::DeleteValue { .. }, Target::Live) => {
            let cmd = firewall_cmdlet(action).unwrap_or_else(|| powershell(action));
            vec![format!("on the host: {cmd}")]
        }
        (Action::ClientPolicy { .. }, _) => vec![format!("on the client: {}", powershell(action))],
        (Action::WriteCleanRdpFile { file }, _) => vec![format!(
            "rdp-doctor rdpfile clean {} -o clean.rdp",
            quote(file.as_deref().unwrap_or("FILE.rdp"))
        )],
        (Action::Run { on, command }, _) => vec![match on {
            Machine::Host => format!("on the host: {command}"),
            Machine::Client => format!("on the client: {command}"),
            Machine::Elsewhere => command.clone(),
        }],
    }
}

/// Shell quoting for a path shown in a command.
fn quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:\\".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `reg load` of the hive under a temporary name, the change, `reg unload` (run on a Windows rescue machine).
fn reg_load(action: &Action, system: &str, software: Option<&str>) -> String {
    let (mount, file) = match action.root() {
        Some(Root::Software) => ("OFFLINE_SOFTWARE", software.unwrap_or("SOFTWARE")),
        _ => ("OFFLINE_SYSTEM", system),
    };
    // Offline there is no CurrentControlSet: the hive's Select\Current names it.
    let key = action.key().replace("CurrentControlSet", "ControlSet001");
    let change = match action {
        Action::SetValue { name, data, .. } => format!(
            "reg add \"HKLM\\{mount}\\{key}\" /v {} /t {} /d {} /f",
            value_name(name),
            data.type_name(),
            reg_data(data)
        ),
        _ => format!(
            "reg delete \"HKLM\\{mount}\\{key}\" /v {} /f",
            value_name(action.name())
        ),
    };
    format!("reg load HKLM\\{mount} {file} && {change} && reg unload HKLM\\{mount}")
}

fn value_name(name: &str) -> String {
    if name.contains(' ') {
        format!("\"{name}\"")
    } else {
        name.to_string()
    }
}

fn reg_data(data: &Data) -> String {
    match data {
        Data::Dword(v) | Data::DwordBigEndian(v) => v.to_string(),
        Data::Qword(v) => v.to_string(),
        Data::String(s) | Data::ExpandString(s) => format!("\"{s}\""),
        Data::MultiString(v) => format!("\"{}\"", v.join("\\0")),
        other => format!("\"{other}\""),
    }
}

/// The prefix of the firewall rules rdp-doctor adds (any other rule it sets already exists and is enabled).
pub const OWN_RULE_PREFIX: &str = "RdpDoctor-";

fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A firewall rule action (a `v2.x|…` string set under `…\FirewallRules`) as
/// the NetSecurity cmdlet that does the same on a running host:
/// `Enable-NetFirewallRule` for an existing rule, `New-NetFirewallRule` for a
/// rule rdp-doctor adds. `None` for every other action.
pub fn firewall_cmdlet(action: &Action) -> Option<String> {
    let Action::SetValue {
        key,
        name,
        data: Data::String(text),
        ..
    } = action
    else {
        return None;
    };
    let in_rules = key
        .rsplit('\\')
        .next()
        .is_some_and(|k| k.eq_ignore_ascii_case("FirewallRules"));
    if !in_rules || !text.starts_with("v2.") {
        return None;
    }
    if !name.starts_with(OWN_RULE_PREFIX) {
        return Some(format!("Enable-NetFirewallRule -Name {}", ps_quote(name)));
    }
    let field = |k: &str| -> Vec<&str> {
        text.split('|')
            .filter_map(|f| f.split_once('='))
            .filter(|(fk, _)| *fk == k)
            .map(|(_, v)| v)
            .collect()
    };
    let mut cmd = format!(
        "New-NetFirewallRule -Name {} -DisplayName {} -Direction Inbound -Action Allow",
        ps_quote(name),
        ps_quote(field("Name").first().copied().unwrap_or(name))
    );
    match field("Protocol").first().copied() {
        Some("6") => cmd.push_str(" -Protocol TCP"),
        Some("17") => cmd.push_str(" -Protocol UDP"),
        Some(p) => cmd.push_str(&format!(" -Protocol {p}")),
        None => {}
    }
    let ports = field("LPort");
    if !ports.is_empty() {
        cmd.push_str(&format!(" -LocalPort {}", ports.join(",")));
    }
    let profiles = field("Profile");
    if !profiles.is_empty() {
        cmd.push_str(&format!(" -Profile {}", profiles.join(",")));
    }
    if let Some(svc) = field("Svc").first() {
        cmd.push_str(&format!(" -Service {}", ps_quote(svc)));
    }
    if let Some(app) = field("App").first() {
        cmd.push_str(&format!(" -Program {}", ps_quote(app)));
    }
    Some(cmd)
}

/// One PowerShell command for a registry action on the machine it runs on.
pub fn powershell(action: &Action) -> String {
    let (root, key) = match action {
        Action::ClientPolicy { key, .. } => ("SOFTWARE", key.as_str()),
        _ => (action.root().map_or("SYSTEM", Root::name), action.key()),
    };
    let path = format!("HKLM:\\{root}\\{key}");
    match action {
        Action::SetValue { name, data, .. } | Action::ClientPolicy { name, data, .. } => {
            let (ty, value) = match data {
                Data::Dword(v) | Data::DwordBigEndian(v) => ("DWord", v.to_string()),
                Data::Qword(v) => ("QWord", v.to_string()),
                Data::ExpandString(s) => ("ExpandString", format!("'{}'", s.replace('\'', "''"))),
                Data::MultiString(v) => (
                    "MultiString",
                    format!(
                        "@({})",
                        v.iter()
                            .map(|s| format!("'{}'", s.replace('\'', "''")))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ),
                other => (
                    "String",
                    format!("'{}'", other.to_string().replace('\'', "''")),
                ),
            };
            format!(
                "New-Item -Path '{path}' -Force | Out-Null; Set-ItemProperty -Path '{path}' -Name '{name}' -Type {ty} -Value {value}"
            )
        }
        _ => format!(
            "Remove-ItemProperty -Path '{path}' -Name '{}' -ErrorAction SilentlyContinue",
            action.name()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny_off() -> Action {
        Action::SetValue {
            root: Root::System,
            key: "CurrentControlSet\\Control\\Terminal Server".into(),
            name: "fDenyTSConnections".into(),
            data: Data::Dword(0),
        }
    }

    #[test]
    fn offline_hives_get_host_fix_and_reg_load_never_live_powershell() {
        let t = Target::Offline {
            system: "/mnt/Windows/System32/config/SYSTEM".into(),
            software: None,
        };
        let l = lines(&deny_off(), FindingId::RemoteDesktopOff, &t);
        assert_eq!(
            l[0],
            "rdp-doctor host fix --system /mnt/Windows/System32/config/SYSTEM --only HOST001 --apply"
        );
        assert!(l[1].contains("reg load HKLM\\OFFLINE_SYSTEM"), "{}", l[1]);
        assert!(
            l[1].contains(
                "ControlSet001\\Control\\Terminal Server\" /v fDenyTSConnections /t REG_DWORD /d 0"
            ),
            "{}",
            l[1]
        );
        assert!(l.iter().all(|x| !x.contains("HKLM:")), "{l:?}");
    }

    #[test]
    fn firewall_rules_become_cmdlets() {
        let key =
            "CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules";
        let enable = Action::SetValue {
            root: Root::System,
            key: key.into(),
            name: "RemoteDesktop-UserMode-In-TCP".into(),
            data: Data::String(
                "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|".into(),
            ),
        };
        assert_eq!(
            firewall_cmdlet(&enable).as_deref(),
            Some("Enable-NetFirewallRule -Name 'RemoteDesktop-UserMode-In-TCP'")
        );
        let l = lines(&enable, FindingId::FirewallBlocks, &Target::Live);
        assert_eq!(
            l,
            vec![
                "on the host: Enable-NetFirewallRule -Name 'RemoteDesktop-UserMode-In-TCP'"
                    .to_string()
            ]
        );
        let add = Action::SetValue { root: Root::System, key: key.into(), name: "RdpDoctor-RemoteDesktop-In-TCP-3390".into(), data: Data::String("v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3390|App=%SystemRoot%\\system32\\svchost.exe|Svc=termservice|Name=Remote Desktop (TCP-In, port 3390)|".into()) };
        let c = firewall_cmdlet(&add).expect("a cmdlet");
        assert!(c.starts_with("New-NetFirewallRule -Name 'RdpDoctor-RemoteDesktop-In-TCP-3390' -DisplayName 'Remote Desktop (TCP-In, port 3390)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3390"), "{c}");
        assert!(c.contains("-Service 'termservice'"), "{c}");
        assert_eq!(firewall_cmdlet(&deny_off()), None);
    }

    #[test]
    fn live_host_gets_powershell() {
        let l = lines(&deny_off(), FindingId::RemoteDesktopOff, &Target::Live);
        assert!(l[0].starts_with("on the host: New-Item -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server'"), "{}", l[0]);
        assert!(
            l[0].contains("-Name 'fDenyTSConnections' -Type DWord -Value 0"),
            "{}",
            l[0]
        );
    }
}
