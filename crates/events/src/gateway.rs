//! RD Gateway events (Microsoft-Windows-TerminalServices-Gateway/Operational) as typed values.
//!
//! The gateway writes its fields in UserData/EventInfo by name, whatever the language
//! of the machine: Username, IpAddress, AuthType, Resource, ConnectionProtocol,
//! ErrorCode, and for the disconnect events BytesReceived, BytesTransfered and
//! SessionDuration. Meanings of the IDs: Microsoft's "RD Gateway Server Connections"
//! event pages (Windows Server 2008 R2, learn.microsoft.com previous-versions
//! ee891388 and the per-event pages it links).

use rdp_doctor_codes::Namespace;
use serde::Serialize;

use crate::event::RdpEvent;

/// The provider that writes the gateway's Operational log.
pub const PROVIDER: &str = "Microsoft-Windows-TerminalServices-Gateway";

/// What a gateway event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    /// 200: the user met a connection authorization policy (RD CAP).
    ConnectionAuthorized,
    /// 201: the user met no RD CAP and may not use the gateway.
    ConnectionDenied,
    /// 202: an administrator disconnected the user.
    DisconnectedByAdmin,
    /// 203: the gateway's limit of simultaneous connections was reached.
    ConnectionLimitReached,
    /// 204: the client failed the Network Access Protection health policy.
    HealthPolicyDenied,
    /// 300: the user met a resource authorization policy (RD RAP) for the resource.
    ResourceAuthorized,
    /// 301: no RD RAP lets the user reach the resource.
    ResourceDenied,
    /// 302: the gateway connected the user to the resource.
    ResourceConnected,
    /// 303: the user disconnected from the resource.
    ResourceDisconnected,
    /// 304: both policies were met, but the gateway could not connect to the resource.
    ResourceUnreachable,
    /// 305: the authentication method the user tried is not enabled on the gateway.
    AuthMethodUnsupported,
    /// 306: the gateway could not create the tunnel (often its SSL certificate).
    TunnelFailed,
    /// 307: the session exceeded the gateway's session timeout.
    SessionTimeout,
    /// 309: reauthentication or reauthorization failed during the session.
    ReauthFailed,
    /// 312: a client opened a connection to the gateway, not yet authenticated.
    ConnectionRequest,
}

impl GatewayKind {
    /// The kind of a gateway event ID, for the IDs whose meaning is documented.
    pub fn of(event_id: u32) -> Option<Self> {
        use GatewayKind::*;
        Some(match event_id {
            200 => ConnectionAuthorized,
            201 => ConnectionDenied,
            202 => DisconnectedByAdmin,
            203 => ConnectionLimitReached,
            204 => HealthPolicyDenied,
            300 => ResourceAuthorized,
            301 => ResourceDenied,
            302 => ResourceConnected,
            303 => ResourceDisconnected,
            304 => ResourceUnreachable,
            305 => AuthMethodUnsupported,
            306 => TunnelFailed,
            307 => SessionTimeout,
            309 => ReauthFailed,
            312 => ConnectionRequest,
            _ => return None,
        })
    }

    /// Whether the event reports that something was refused or failed.
    pub fn is_failure(self) -> bool {
        use GatewayKind::*;
        matches!(
            self,
            ConnectionDenied
                | ConnectionLimitReached
                | HealthPolicyDenied
                | ResourceDenied
                | ResourceUnreachable
                | AuthMethodUnsupported
                | TunnelFailed
                | ReauthFailed
        )
    }
}

/// One gateway event with its fields typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayEvent {
    pub kind: GatewayKind,
    /// DOMAIN\user as the gateway wrote it.
    pub user: Option<String>,
    /// The client's address as written (312 appends the port).
    pub client: Option<String>,
    /// The host the user asked the gateway to reach.
    pub resource: Option<String>,
    pub auth_type: Option<String>,
    /// HTTP, UDP or RPC-HTTP.
    pub protocol: Option<String>,
    pub error_code: Option<u32>,
    /// Bytes the client sent through the gateway (303's BytesTransfered).
    pub bytes_sent: Option<u64>,
    /// Bytes the client received (303's BytesReceived).
    pub bytes_received: Option<u64>,
    pub duration_seconds: Option<u64>,
}

fn text(e: &RdpEvent, name: &str) -> Option<String> {
    e.fields
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && *v != "-")
        .map(str::to_string)
}

fn number(e: &RdpEvent, name: &str) -> Option<u64> {
    text(e, name).and_then(|v| {
        rdp_doctor_codes::query::parse_number(&v)
            .map(u64::from)
            .or_else(|| v.parse().ok())
    })
}

impl GatewayEvent {
    /// The typed view of an event of the gateway provider with a documented ID.
    pub fn from_event(e: &RdpEvent) -> Option<Self> {
        if !e.provider.eq_ignore_ascii_case(PROVIDER) {
            return None;
        }
        let kind = GatewayKind::of(e.event_id)?;
        Some(Self {
            kind,
            user: text(e, "Username"),
            client: text(e, "IpAddress"),
            resource: text(e, "Resource"),
            auth_type: text(e, "AuthType"),
            protocol: text(e, "ConnectionProtocol"),
            error_code: number(e, "ErrorCode").and_then(|n| u32::try_from(n).ok()),
            bytes_sent: number(e, "BytesTransfered"),
            bytes_received: number(e, "BytesReceived"),
            duration_seconds: number(e, "SessionDuration"),
        })
    }

    /// The error code decoded, or None when there is none (or it is 0).
    pub fn error(&self) -> Option<String> {
        self.error_code.filter(|c| *c != 0).map(decode_error)
    }

    /// One line for a timeline.
    pub fn summary(&self) -> String {
        use GatewayKind::*;
        let user = self.user.as_deref().unwrap_or("?");
        let resource = self.resource.as_deref().unwrap_or("?");
        let via = |s: String| match (&self.auth_type, &self.protocol) {
            (Some(a), Some(p)) => format!("{s} ({a}, {p})"),
            (Some(a), None) => format!("{s} ({a})"),
            (None, Some(p)) => format!("{s} ({p})"),
            (None, None) => s,
        };
        let with_error = |s: String| match self.error() {
            Some(err) => format!("{s}: {err}"),
            None => s,
        };
        let traffic = || match (self.bytes_sent, self.bytes_received, self.duration_seconds) {
            (Some(tx), Some(rx), Some(d)) => format!(", {d} s, {tx} bytes sent, {rx} received"),
            _ => String::new(),
        };
        match self.kind {
            ConnectionRequest => match &self.user {
                Some(u) => format!("gateway: connection request as {u}, not yet authenticated"),
                None => "gateway: connection request, not yet authenticated".into(),
            },
            ConnectionAuthorized => via(format!(
                "gateway: {user} met a connection authorization policy"
            )),
            ConnectionDenied => with_error(via(format!(
                "gateway: {user} met no connection authorization policy (RD CAP)"
            ))),
            HealthPolicyDenied => {
                with_error(format!("gateway: {user} failed the health (NAP) policy"))
            }
            ConnectionLimitReached => format!(
                "gateway: connection of {user} refused, the gateway's connection limit is reached"
            ),
            AuthMethodUnsupported => with_error(via(format!(
                "gateway: {user} tried an authentication method the gateway does not allow"
            ))),
            TunnelFailed => with_error(format!("gateway: no tunnel could be created for {user}")),
            ResourceAuthorized => format!("gateway: {user} may reach {resource} (RD RAP met)"),
            ResourceDenied => with_error(format!(
                "gateway: no resource authorization policy (RD RAP) lets {user} reach {resource}"
            )),
            ResourceConnected => via(format!("gateway: {user} connected to {resource}")),
            ResourceUnreachable => {
                with_error(format!("gateway: could not connect {user} to {resource}"))
            }
            ResourceDisconnected => with_error(format!(
                "gateway: {user} disconnected from {resource}{}",
                traffic()
            )),
            DisconnectedByAdmin => format!(
                "gateway: an administrator disconnected {user} from {resource}{}",
                traffic()
            ),
            SessionTimeout => format!(
                "gateway: {user} disconnected from {resource}, session timeout{}",
                traffic()
            ),
            ReauthFailed => format!(
                "gateway: {user} disconnected from {resource}, reauthentication failed{}",
                traffic()
            ),
        }
    }
}

/// Name and meaning of a gateway error code, as the gateway logs it (decimal HRESULT_CODE:
/// 23003 = 0x59DB, E_PROXY_NAP_ACCESSDENIED) or as an HRESULT (0x800759DB). The codes and
/// their sources are the `gateway` table of rdp-doctor-codes (`rdp-doctor explain --as gateway`).
pub fn error_name(code: u32) -> Option<(&'static str, &'static str)> {
    rdp_doctor_codes::tables()
        .lookup(Namespace::Gateway, code)
        .next()
        .map(|e| (e.name.as_str(), e.meaning.trim_end_matches('.')))
}

/// A sentence's first word in lower case for use inside a line ("The client" -> "the
/// client"), unless it is an acronym ("RD", "NTLM").
fn inline(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() => first
            .to_lowercase()
            .chain(sentence[first.len_utf8()..].chars())
            .collect(),
        _ => sentence.to_string(),
    }
}

/// "23003 (0x59DB) E_PROXY_NAP_ACCESSDENIED (meaning)", or the number when unknown.
pub fn decode_error(code: u32) -> String {
    match error_name(code) {
        Some((name, meaning)) => format!("{code} (0x{code:X}) {name} ({})", inline(meaning)),
        None => format!("{code} (0x{code:X}, not a known gateway, Win32 or Winsock error)"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn event(id: u32, fields: &[(&str, &str)]) -> RdpEvent {
        RdpEvent {
            record_id: 1,
            event_id: id,
            provider: PROVIDER.into(),
            channel: "Microsoft-Windows-TerminalServices-Gateway/Operational".into(),
            computer: "gw".into(),
            time: "2024-11-04T13:55:34Z".into(),
            time_unix: 0.0,
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn disconnect_fields_are_typed() {
        let g = GatewayEvent::from_event(&event(
            303,
            &[
                ("Username", r"HOST\Administrator"),
                ("IpAddress", "203.0.113.7"),
                ("AuthType", ""),
                ("Resource", "rdsh01.example"),
                ("BytesReceived", "810679"),
                ("BytesTransfered", "678033"),
                ("SessionDuration", "122"),
                ("ConnectionProtocol", "HTTP"),
                ("ErrorCode", "1226"),
            ],
        ))
        .expect("303 is a gateway event");
        assert_eq!(g.kind, GatewayKind::ResourceDisconnected);
        assert_eq!(g.auth_type, None);
        assert_eq!(
            (g.bytes_sent, g.bytes_received, g.duration_seconds),
            (Some(678_033), Some(810_679), Some(122))
        );
        assert_eq!(
            g.summary(),
            r"gateway: HOST\Administrator disconnected from rdsh01.example, 122 s, 678033 bytes sent, 810679 received: 1226 (0x4CA) ERROR_GRACEFUL_DISCONNECT (the client closed the connection gracefully)"
        );
    }

    #[test]
    fn error_codes_decode_in_both_forms() {
        assert_eq!(
            error_name(23003).map(|e| e.0),
            Some("E_PROXY_NAP_ACCESSDENIED")
        );
        assert_eq!(
            error_name(0x8007_59DA).map(|e| e.0),
            Some("E_PROXY_RAP_ACCESSDENIED")
        );
        assert_eq!(error_name(0x8007_274C).map(|e| e.0), Some("WSAETIMEDOUT"));
        assert_eq!(
            error_name(1236).map(|e| e.0),
            Some("E_PROXY_CONNECTIONABORTED")
        );
        assert_eq!(error_name(0xC000_006D), None);
        assert!(decode_error(23003)
            .ends_with("(the RD Gateway denies the client access because of its policy)"));
        assert!(decode_error(424_242).contains("not a known"));
    }

    #[test]
    fn other_providers_and_ids_are_not_gateway_events() {
        let mut e = event(300, &[]);
        e.provider = "Microsoft-Windows-TerminalServices-LocalSessionManager".into();
        assert_eq!(GatewayEvent::from_event(&e), None);
        assert_eq!(GatewayEvent::from_event(&event(0, &[])), None);
        assert!(GatewayKind::ResourceDenied.is_failure());
        assert!(!GatewayKind::ResourceConnected.is_failure());
    }
}
