//! What an event is: its client address, account, stage in the connection, and a
//! one-line summary. Pure functions of one event.

use rdp_doctor_codes::{decode, Namespace};
use serde::Serialize;

use crate::event::RdpEvent;
use crate::gateway::{GatewayEvent, GatewayKind};

/// Where in the connection sequence an event sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Attempt,
    Transport,
    Auth,
    Session,
    Disconnect,
    Other,
}

/// Splits "1.2.3.4:5678" or "[v6]:port" to the address.
pub(crate) fn address_only(a: &str) -> String {
    let a = a.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest).to_string();
    }
    if a.matches(':').count() == 1 {
        return a.split(':').next().unwrap_or(a).to_string();
    }
    a.to_string()
}

pub(crate) fn field<'a>(e: &'a RdpEvent, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| e.fields.get(*n).map(String::as_str))
        .filter(|v| !v.is_empty() && *v != "-")
}

/// The client address an event is about, if it names one.
pub fn client_address(e: &RdpEvent) -> Option<String> {
    let gateway = e.provider.eq_ignore_ascii_case(crate::gateway::PROVIDER);
    let raw = match e.event_id {
        _ if gateway => field(e, &["IpAddress"]),
        1149 => field(e, &["Param3"]),
        4624 | 4625 => field(e, &["IpAddress"]),
        4778 | 4779 => field(e, &["ClientAddress"]),
        21 | 22 | 24 | 25 => field(e, &["Address"]),
        131 => field(e, &["ClientIP"]),
        140 => field(e, &["IPString", "ClientIP"]),
        _ => field(e, &["ClientIP", "IpAddress", "ClientAddress", "Address"]),
    }?;
    let a = address_only(raw);
    // "0.0.0.0" and "LOCAL" are placeholders Windows writes when there is no remote address.
    (!a.is_empty() && a != "LOCAL" && a != "0.0.0.0" && a != "::").then_some(a)
}

pub(crate) fn num(v: &str) -> Option<u32> {
    rdp_doctor_codes::query::parse_number(v.trim())
}

pub(crate) fn decoded(ns: Namespace, v: &str) -> String {
    match num(v).and_then(|n| decode(ns, n)) {
        Some(r) if r.name.starts_with("NTSTATUS") => {
            format!("{} ({})", r.hex, r.meaning.trim_end_matches('.'))
        }
        Some(r) => format!("{} {} ({})", r.hex, r.name, r.meaning.trim_end_matches('.')),
        None => v.to_string(),
    }
}

/// Stage, success, and a one-line summary of an event.
pub fn describe(e: &RdpEvent) -> (Stage, bool, String) {
    if let Some(g) = GatewayEvent::from_event(e) {
        return (gateway_stage(g.kind), !g.kind.is_failure(), g.summary());
    }
    if e.provider.eq_ignore_ascii_case(crate::gateway::PROVIDER) {
        // The reference table has no gateway rows: a message of another provider would mislead.
        return (Stage::Other, true, format!("gateway event {}", e.event_id));
    }
    let user = field(e, &["TargetUserName", "User", "Param1", "AccountName"]).unwrap_or("?");
    match e.event_id {
        261 => (
            Stage::Attempt,
            true,
            "listener received a connection".into(),
        ),
        131 => (
            Stage::Attempt,
            true,
            format!(
                "TCP connection accepted ({})",
                field(e, &["ConnType"]).unwrap_or("?")
            ),
        ),
        98 => (Stage::Transport, true, "TCP connection established".into()),
        1149 => (
            Stage::Auth,
            true,
            format!("network authentication succeeded for {user}"),
        ),
        140 => (
            Stage::Auth,
            false,
            "authentication failed: user name or password not correct".into(),
        ),
        4624 => (
            Stage::Auth,
            true,
            format!(
                "logon of {user} (type {})",
                field(e, &["LogonType"]).unwrap_or("?")
            ),
        ),
        4625 => {
            let status = field(e, &["SubStatus"])
                .filter(|s| *s != "0x0")
                .or(field(e, &["Status"]))
                .unwrap_or("?");
            (
                Stage::Auth,
                false,
                format!(
                    "logon of {user} failed (type {}): {}",
                    field(e, &["LogonType"]).unwrap_or("?"),
                    decoded(Namespace::NtStatus, status)
                ),
            )
        }
        4825 => (
            Stage::Auth,
            false,
            format!("{user} denied Remote Desktop access"),
        ),
        21 => (Stage::Session, true, format!("session logon of {user}")),
        22 => (Stage::Session, true, "shell start".into()),
        25 => (
            Stage::Session,
            true,
            format!("session reconnection of {user}"),
        ),
        4778 => (
            Stage::Session,
            true,
            format!("session of {user} reconnected"),
        ),
        23 => (Stage::Disconnect, true, format!("logoff of {user}")),
        24 => (
            Stage::Disconnect,
            true,
            format!("session of {user} disconnected"),
        ),
        4779 => (
            Stage::Disconnect,
            true,
            format!("session of {user} disconnected"),
        ),
        40 => {
            let reason = field(e, &["Reason"]).unwrap_or("?");
            (
                Stage::Disconnect,
                true,
                format!(
                    "session disconnected, reason {}",
                    decoded(Namespace::ExtendedReason, reason)
                ),
            )
        }
        1026 => {
            let reason = field(e, &["Value", "Reason"]).unwrap_or("?");
            (
                Stage::Disconnect,
                false,
                format!(
                    "client disconnected, reason {}",
                    decoded(Namespace::DisconnectReason, reason)
                ),
            )
        }
        id => {
            let meaning = rdp_doctor_codes::tables()
                .lookup_event(id)
                .first()
                .map(|r| r.message.clone())
                .unwrap_or_else(|| "event".into());
            (Stage::Other, true, meaning)
        }
    }
}

fn gateway_stage(kind: GatewayKind) -> Stage {
    use GatewayKind::*;
    match kind {
        ConnectionRequest => Stage::Attempt,
        ConnectionAuthorized
        | ConnectionDenied
        | ConnectionLimitReached
        | HealthPolicyDenied
        | AuthMethodUnsupported
        | TunnelFailed
        | ResourceAuthorized
        | ResourceDenied => Stage::Auth,
        ResourceConnected | ResourceUnreachable => Stage::Transport,
        ResourceDisconnected | DisconnectedByAdmin | SessionTimeout | ReauthFailed => {
            Stage::Disconnect
        }
    }
}

/// A new TCP connection: RdpCoreTS 131, or a connection request at the RD Gateway (312).
pub fn is_connection(e: &RdpEvent) -> bool {
    match GatewayEvent::from_event(e) {
        Some(g) => g.kind == GatewayKind::ConnectionRequest,
        None => e.event_id == 131,
    }
}

/// A logon that succeeded: Security 4624, RCM 1149, or the gateway's RD CAP check (200).
pub fn is_successful_logon(e: &RdpEvent) -> bool {
    match GatewayEvent::from_event(e) {
        Some(g) => g.kind == GatewayKind::ConnectionAuthorized,
        None => matches!(e.event_id, 4624 | 1149),
    }
}

/// A logon that failed: Security 4625, RdpCoreTS 140, or a gateway refusal before the resource.
pub fn is_failed_logon(e: &RdpEvent) -> bool {
    use GatewayKind::*;
    match GatewayEvent::from_event(e) {
        Some(g) => matches!(
            g.kind,
            ConnectionDenied | HealthPolicyDenied | AuthMethodUnsupported | TunnelFailed
        ),
        None => matches!(e.event_id, 4625 | 140),
    }
}

/// The account a logon event names, as DOMAIN\\user when the domain is given.
pub fn account(e: &RdpEvent) -> Option<String> {
    let user = field(
        e,
        &[
            "TargetUserName",
            "User",
            "Param1",
            "AccountName",
            "Username",
        ],
    )?;
    match field(e, &["TargetDomainName", "Domain", "Param2"]) {
        Some(d) if !user.contains('\\') => Some(format!("{d}\\{user}")),
        _ => Some(user.to_string()),
    }
}

/// The name of the computer a failed logon came from (4625's WorkstationName), when given.
pub fn workstation(e: &RdpEvent) -> Option<String> {
    field(e, &["WorkstationName", "Workstation"]).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address_only("10.1.2.3:50000"), "10.1.2.3");
        assert_eq!(address_only("[fe80::1]:3389"), "fe80::1");
        assert_eq!(address_only("fe80::1"), "fe80::1");
    }
}
