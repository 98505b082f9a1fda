//! Small pure rules from the client's facts to findings.

use rdp_doctor_model::{Action, Data, Evidence, Finding, FindingId, Machine, Remedy, Severity};

use crate::facts::{ClientFacts, Read};
use crate::{CLIENT_POLICY_KEY, CREDSSP_KEY, DISABLE_UDP, ORACLE, TSC_KEY};

/// The CredSSP levels of `AllowEncryptionOracle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Oracle {
    /// 0: never falls back to insecure CredSSP; as a server, refuses unpatched clients.
    ForceUpdated = 0,
    /// 1: never falls back; as a server, accepts unpatched clients (the default since May 2018).
    Mitigated = 1,
    /// 2: falls back to insecure CredSSP with unpatched servers.
    Vulnerable = 2,
}

impl Oracle {
    pub fn from_value(n: u64) -> Option<Oracle> {
        match n {
            0 => Some(Oracle::ForceUpdated),
            1 => Some(Oracle::Mitigated),
            2 => Some(Oracle::Vulnerable),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Oracle::ForceUpdated => "Force Updated Clients",
            Oracle::Mitigated => "Mitigated",
            Oracle::Vulnerable => "Vulnerable",
        }
    }

    /// What the level does against patched and unpatched servers.
    pub fn effect(self) -> &'static str {
        match self {
            Oracle::ForceUpdated => "connects to patched servers; refuses unpatched ones (\"CredSSP encryption oracle remediation\", 0x80090302 SEC_E_UNSUPPORTED_FUNCTION); as a server it also refuses unpatched clients",
            Oracle::Mitigated => "connects to patched servers; refuses unpatched ones (\"CredSSP encryption oracle remediation\", 0x80090302 SEC_E_UNSUPPORTED_FUNCTION); as a server it accepts unpatched clients",
            Oracle::Vulnerable => "connects to patched and unpatched servers, falling back to the insecure CredSSP (CVE-2018-0886) with unpatched ones",
        }
    }

    /// The policy value that sets this level.
    pub fn action(self) -> Action {
        Action::ClientPolicy {
            key: CREDSSP_KEY.into(),
            name: ORACLE.into(),
            data: Data::Dword(self as u32),
        }
    }
}

/// The level in effect: the policy's, or Mitigated (Windows' default since the May 2018 updates).
pub fn oracle_in_effect(r: &Read) -> Oracle {
    r.number()
        .and_then(Oracle::from_value)
        .unwrap_or(Oracle::Mitigated)
}

/// The policy action that turns UDP off on the client (TCP only).
pub fn tcp_only_action() -> Action {
    Action::ClientPolicy {
        key: CLIENT_POLICY_KEY.into(),
        name: DISABLE_UDP.into(),
        data: Data::Dword(1),
    }
}

/// The command that removes the TCP-only policy by hand on the client.
pub fn udp_on_command() -> String {
    format!(
        "Remove-ItemProperty -Path 'HKLM:\\SOFTWARE\\{CLIENT_POLICY_KEY}' -Name '{DISABLE_UDP}'"
    )
}

fn select_transport_words(n: Option<u64>) -> &'static str {
    match n {
        Some(0) => "the host uses UDP and TCP",
        Some(1) => "the host uses TCP only",
        Some(2) => "the host uses UDP or TCP, whichever the client offers",
        _ => "an undocumented value",
    }
}

/// CLIENT001: the transport policies.
pub fn transport(f: &ClientFacts) -> Option<Finding> {
    if !f.software {
        return None;
    }
    let udp_off = f.disable_udp.number() == Some(1);
    let title = match f.disable_udp.number() {
        Some(1) => "the client policy turns UDP off: connections use TCP only (the workaround for flaky UDP)",
        Some(0) => "the client policy allows UDP (fClientDisableUDP 0)",
        Some(_) => "the client's fClientDisableUDP holds an undocumented value: only 1 turns UDP off",
        None => "no client transport policy: the client uses UDP when the server offers it",
    };
    let mut finding = Finding::new(FindingId::ClientTransportPolicy, Severity::Info, title)
        .evidence(f.disable_udp.evidence());
    if let Some(st) = &f.select_transport {
        finding = finding.evidence(st.evidence()).evidence(Evidence::File {
            path: st.path.clone(),
            detail: format!(
                "this SOFTWARE hive is also a host's: {}",
                select_transport_words(st.number())
            ),
        });
    }
    let remedy = if udp_off {
        Remedy::new(
            "Turn UDP back on once the network carries it (remove the client policy)",
            "rdp-doctor client fix --udp-on --apply removes it with a backup.",
        )
        .action(Action::run(Machine::Client, udp_on_command()))
    } else {
        Remedy::new(
            "Use TCP only on this client when UDP is flaky (freezes, black screens, drops after connecting)",
            "rdp-doctor client fix --tcp-only --apply sets it with a backup; client undo reverses it.",
        )
        .action(tcp_only_action())
    };
    Some(finding.remedy(remedy))
}

/// CLIENT002: the CredSSP encryption oracle policy.
pub fn credssp(f: &ClientFacts) -> Option<Finding> {
    if !f.software {
        return None;
    }
    let set = f.oracle.number();
    let level = oracle_in_effect(&f.oracle);
    let how = match set {
        Some(n) if Oracle::from_value(n).is_none() => {
            format!("AllowEncryptionOracle is {n}, not a documented level: Windows treats it as Mitigated")
        }
        Some(_) => format!(
            "AllowEncryptionOracle is {} ({})",
            level as u32,
            level.name()
        ),
        None => {
            "AllowEncryptionOracle is not set: Mitigated, Windows' default since May 2018".into()
        }
    };
    let severity = if level == Oracle::Vulnerable {
        Severity::Warning
    } else {
        Severity::Info
    };
    let finding = Finding::new(
        FindingId::ClientCredsspPolicy,
        severity,
        format!("{how}: {}", level.effect()),
    )
    .evidence(f.oracle.evidence());
    Some(match level {
        Oracle::Vulnerable => finding
            .remedy(
                Remedy::new(
                    "Set the client to Mitigated (1) once the servers it uses are patched",
                    "Vulnerable lets a man in the middle relay the user's credentials to unpatched servers (CVE-2018-0886). rdp-doctor client fix --credssp mitigated --apply.",
                )
                .action(Oracle::Mitigated.action()),
            ),
        Oracle::ForceUpdated | Oracle::Mitigated => finding.remedy(
            Remedy::new(
                "For the \"CredSSP encryption oracle remediation\" error: update the server (CredSSP updates of May 2018 or later)",
                "The error means the server is unpatched. Only if it cannot be updated soon: client fix --credssp vulnerable --allow-downgrade, and back with client undo.",
            ),
        ),
    })
}

/// CLIENT003: the server list and the certificates the user accepted.
pub fn history(f: &ClientFacts) -> Option<Finding> {
    if !f.user {
        return None;
    }
    let pinned = f.servers.iter().filter(|s| s.cert_hash.is_some()).count();
    let title = format!(
        "the client's list: {} recent server(s), {} server(s) with a saved user name or certificate, {pinned} pinned certificate(s)",
        f.recent.len(),
        f.servers.len()
    );
    let reg = |path: String, value: String| Evidence::Registry {
        path,
        value,
        origin: f.user_origin.clone(),
    };
    let mut finding = Finding::new(FindingId::ClientServerHistory, Severity::Info, title);
    for (i, s) in f.recent.iter().enumerate() {
        finding = finding.evidence(reg(format!("HKCU\\{TSC_KEY}\\Default\\MRU{i}"), s.clone()));
    }
    for s in &f.servers {
        let key = format!("HKCU\\{TSC_KEY}\\Servers\\{}", s.host);
        if let Some(u) = &s.username_hint {
            finding = finding.evidence(reg(format!("{key}\\UsernameHint"), u.clone()));
        }
        if let Some(c) = &s.cert_hash {
            finding = finding.evidence(reg(format!("{key}\\CertHash"), c.clone()));
        }
    }
    Some(finding.remedy(Remedy::advice(
        "A pinned thumbprint that differs from the server's certificate makes mstsc warn again: compare it with rdp-doctor probe HOST",
    )))
}

/// Every registry rule.
pub fn all(f: &ClientFacts) -> Vec<Finding> {
    [transport(f), credssp(f), history(f)]
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_doctor_model::RegistryOrigin;

    fn read(path: &str, v: Option<u32>) -> Read {
        Read {
            path: path.into(),
            value: v.map(Data::Dword),
            origin: RegistryOrigin::Live,
        }
    }

    fn facts(udp: Option<u32>, oracle: Option<u32>) -> ClientFacts {
        ClientFacts {
            software: true,
            user: false,
            disable_udp: read("udp", udp),
            select_transport: None,
            oracle: read("oracle", oracle),
            recent: Vec::new(),
            servers: Vec::new(),
            user_origin: RegistryOrigin::Live,
        }
    }

    #[test]
    fn tcp_only_is_reported_with_the_way_back() {
        let f = transport(&facts(Some(1), None)).expect("finding");
        assert!(f.title.contains("TCP only"), "{}", f.title);
        assert!(
            matches!(&f.remedies[0].actions[0], Action::Run { command, .. } if command.contains("Remove-ItemProperty"))
        );
        let f = transport(&facts(None, None)).expect("finding");
        assert_eq!(f.remedies[0].actions, vec![tcp_only_action()]);
    }

    #[test]
    fn vulnerable_is_a_warning_and_the_others_information() {
        let sev = |v| credssp(&facts(None, v)).map(|f| f.severity);
        assert_eq!(sev(Some(2)), Some(Severity::Warning));
        assert_eq!(sev(Some(0)), Some(Severity::Info));
        assert_eq!(sev(Some(1)), Some(Severity::Info));
        assert_eq!(sev(None), Some(Severity::Info));
        let f = credssp(&facts(None, Some(7))).expect("finding");
        assert!(f.title.contains("not a documented level"), "{}", f.title);
    }

    #[test]
    fn nothing_is_said_about_a_hive_not_given() {
        let mut f = facts(None, None);
        f.software = false;
        assert!(all(&f).is_empty());
    }
}
