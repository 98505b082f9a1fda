//! The plan `client fix` makes: the client policies to set or remove, and
//! those held back because they lower security.

use rdp_doctor_model::{Action, Data, FindingId, Machine, Remedy, Root};
use serde::Serialize;

use crate::facts::ClientFacts;
use crate::rules::{oracle_in_effect, tcp_only_action, udp_on_command, Oracle};
use crate::{Branch, CLIENT_POLICY_KEY, CREDSSP_KEY, DISABLE_UDP, ORACLE};

/// Version of the JSON document `client fix --json` prints.
pub const SCHEMA: &str = "rdp-doctor.client-fix/v1";

/// The transport the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `--tcp-only`: set fClientDisableUDP 1.
    TcpOnly,
    /// `--udp-on`: remove the policy.
    UdpOn,
}

/// What to change.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub transport: Option<Transport>,
    /// `--credssp LEVEL`; without it a Vulnerable client is set to Mitigated.
    pub credssp: Option<Oracle>,
    pub allow_downgrade: bool,
}

/// A change to one value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    Set {
        #[serde(serialize_with = "show")]
        data: Data,
    },
    Remove,
}

fn show<S: serde::Serializer>(d: &Data, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{} {}", d.type_name(), d))
}

/// One value the plan changes (under `HKLM\SOFTWARE`).
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub finding: FindingId,
    pub key: String,
    pub name: String,
    /// `HKLM\SOFTWARE\key\name`.
    pub path: String,
    /// The value now ("absent" when not set).
    pub before: String,
    #[serde(flatten)]
    pub op: Op,
    pub remedy: Remedy,
}

impl Change {
    /// The same change as a host registry action under `HKLM\SOFTWARE`, for the appliers.
    pub fn registry_action(&self) -> Action {
        match &self.op {
            Op::Set { data } => Action::SetValue {
                root: Root::Software,
                key: self.key.clone(),
                name: self.name.clone(),
                data: data.clone(),
            },
            Op::Remove => Action::DeleteValue {
                root: Root::Software,
                key: self.key.clone(),
                name: self.name.clone(),
            },
        }
    }
}

/// What `client fix` does.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub changes: Vec<Change>,
    /// Changes that lower security, held back without `--allow-downgrade`.
    pub held: Vec<Change>,
    /// Values already as asked.
    pub unchanged: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

fn transport_change(f: &ClientFacts, t: Transport) -> Option<Change> {
    let now = f.disable_udp.value.clone();
    let (op, remedy) = match t {
        Transport::TcpOnly => (
            Op::Set {
                data: Data::Dword(1),
            },
            Remedy::new(
                "Use TCP only on this client (client policy fClientDisableUDP 1)",
                "The workaround for flaky UDP; undo it with rdp-doctor client undo BACKUP, or client fix --udp-on.",
            )
            .action(tcp_only_action()),
        ),
        Transport::UdpOn => (
            Op::Remove,
            Remedy::new(
                "Let the client use UDP again (remove fClientDisableUDP)",
                "Without the policy mstsc uses UDP when the server offers it.",
            )
            .action(Action::run(Machine::Client, udp_on_command())),
        ),
    };
    let already = match (&op, &now) {
        (Op::Set { data }, Some(n)) => n == data,
        (Op::Remove, None) => true,
        _ => false,
    };
    (!already).then(|| Change {
        finding: FindingId::ClientTransportPolicy,
        key: CLIENT_POLICY_KEY.into(),
        name: DISABLE_UDP.into(),
        path: Branch::Software.path(CLIENT_POLICY_KEY, DISABLE_UDP),
        before: f.disable_udp.shown(),
        op,
        remedy,
    })
}

/// The CredSSP change and whether it lowers security.
fn credssp_change(f: &ClientFacts, want: Oracle) -> Option<(Change, bool)> {
    if f.oracle.number() == Some(want as u64) {
        return None;
    }
    // Absent means Mitigated: writing 1 changes nothing in effect but records the choice.
    let downgrade = want > oracle_in_effect(&f.oracle);
    let mut remedy = Remedy::new(
        format!(
            "Set the client's CredSSP policy to {} ({})",
            want.name(),
            want as u32
        ),
        want.effect(),
    )
    .action(want.action());
    if downgrade {
        remedy = remedy.downgrade();
    }
    Some((
        Change {
            finding: FindingId::ClientCredsspPolicy,
            key: CREDSSP_KEY.into(),
            name: ORACLE.into(),
            path: Branch::Software.path(CREDSSP_KEY, ORACLE),
            before: f.oracle.shown(),
            op: Op::Set {
                data: Data::Dword(want as u32),
            },
            remedy,
        },
        downgrade,
    ))
}

/// The plan for `opts` on these facts.
pub fn plan(f: &ClientFacts, opts: &Options) -> Plan {
    let mut p = Plan {
        schema: SCHEMA,
        changes: Vec::new(),
        held: Vec::new(),
        unchanged: Vec::new(),
    };
    if let Some(t) = opts.transport {
        match transport_change(f, t) {
            Some(c) => p.changes.push(c),
            None => p.unchanged.push(f.disable_udp.path.clone()),
        }
    }
    // Without a level asked for, only a Vulnerable client is changed.
    let want = opts.credssp.or_else(|| {
        (f.oracle.number() == Some(Oracle::Vulnerable as u64)).then_some(Oracle::Mitigated)
    });
    if let Some(want) = want {
        match credssp_change(f, want) {
            Some((c, true)) if !opts.allow_downgrade => p.held.push(c),
            Some((c, _)) => p.changes.push(c),
            None => p.unchanged.push(f.oracle.path.clone()),
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Read;
    use rdp_doctor_model::RegistryOrigin;

    fn facts(udp: Option<u32>, oracle: Option<u32>) -> ClientFacts {
        let read = |v: Option<u32>| Read {
            path: "p".into(),
            value: v.map(Data::Dword),
            origin: RegistryOrigin::Live,
        };
        ClientFacts {
            software: true,
            user: false,
            disable_udp: read(udp),
            select_transport: None,
            oracle: read(oracle),
            recent: Vec::new(),
            servers: Vec::new(),
            user_origin: RegistryOrigin::Live,
        }
    }

    fn opts(credssp: Option<Oracle>, allow: bool) -> Options {
        Options {
            transport: None,
            credssp,
            allow_downgrade: allow,
        }
    }

    #[test]
    fn mitigated_is_a_downgrade_only_from_force_updated() {
        let p = plan(&facts(None, Some(0)), &opts(Some(Oracle::Mitigated), false));
        assert!(p.changes.is_empty());
        assert_eq!(p.held.len(), 1);
        let p = plan(&facts(None, Some(0)), &opts(Some(Oracle::Mitigated), true));
        assert_eq!(p.changes.len(), 1);
        assert!(p.changes[0].remedy.downgrade);
        let p = plan(&facts(None, Some(2)), &opts(Some(Oracle::Mitigated), false));
        assert_eq!(p.changes.len(), 1);
        assert!(!p.changes[0].remedy.downgrade);
        let p = plan(&facts(None, None), &opts(Some(Oracle::Vulnerable), false));
        assert_eq!(p.held.len(), 1);
    }

    #[test]
    fn a_vulnerable_client_is_fixed_without_asking_and_others_are_left_alone() {
        let p = plan(&facts(None, Some(2)), &Options::default());
        assert_eq!(
            p.changes[0].op,
            Op::Set {
                data: Data::Dword(1)
            }
        );
        assert!(plan(&facts(None, Some(0)), &Options::default()).is_empty());
        assert!(plan(&facts(None, None), &Options::default()).is_empty());
    }

    #[test]
    fn transport_changes_only_what_differs() {
        let tcp = |udp| {
            plan(
                &facts(udp, None),
                &Options {
                    transport: Some(Transport::TcpOnly),
                    ..Options::default()
                },
            )
        };
        assert_eq!(tcp(None).changes.len(), 1);
        assert!(tcp(Some(1)).is_empty());
        let on = |udp| {
            plan(
                &facts(udp, None),
                &Options {
                    transport: Some(Transport::UdpOn),
                    ..Options::default()
                },
            )
        };
        assert_eq!(on(Some(1)).changes[0].op, Op::Remove);
        assert!(on(None).is_empty());
    }
}
