//! The client settings a .rdp file sets, as typed facts with the line each
//! came from: what the rules and the diagnosis engine read.
//!
//! Values are read as FreeRDP reads them: names case-insensitive, the last
//! occurrence wins. A value that does not parse (an `i` value that is not an
//! integer) is absent here; lint reports it.

use serde::Serialize;

use crate::address::embedded_port;
use crate::file::RdpFile;

/// A setting's value and the 1-based line it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub line: usize,
}

/// `authentication level`: what the client does when the server cannot be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticationLevel {
    /// 0: connect without warning.
    ConnectWithoutWarning,
    /// 1: do not connect.
    DoNotConnect,
    /// 2: warn, and let the user choose.
    Warn,
    /// 3: no requirement.
    NoRequirement,
    /// Any other number.
    Other(i64),
}

impl AuthenticationLevel {
    fn from_value(v: i64) -> Self {
        match v {
            0 => Self::ConnectWithoutWarning,
            1 => Self::DoNotConnect,
            2 => Self::Warn,
            3 => Self::NoRequirement,
            n => Self::Other(n),
        }
    }
}

/// `gatewayusagemethod`: whether an RD Gateway is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayUsage {
    /// 0: never.
    Never,
    /// 1: always.
    Always,
    /// 2: when a direct connection fails.
    WhenDirectFails,
    /// 3: the client's default gateway settings.
    ClientDefault,
    /// 4: never, and bypass for local addresses.
    NeverBypassLocal,
    /// Any other number.
    Other(i64),
}

impl GatewayUsage {
    fn from_value(v: i64) -> Self {
        match v {
            0 => Self::Never,
            1 => Self::Always,
            2 => Self::WhenDirectFails,
            3 => Self::ClientDefault,
            4 => Self::NeverBypassLocal,
            n => Self::Other(n),
        }
    }

    /// Whether the file asks for a gateway.
    pub fn uses_gateway(self) -> bool {
        matches!(self, Self::Always | Self::WhenDirectFails)
    }
}

/// The connection-relevant settings of a .rdp file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientSettings {
    pub full_address: Option<Setting<String>>,
    pub alternate_full_address: Option<Setting<String>>,
    /// `server port` as written (may be out of range; lint says so).
    pub server_port: Option<Setting<i64>>,
    pub username: Option<Setting<String>>,
    pub domain: Option<Setting<String>>,
    /// NLA (CredSSP) on or off.
    pub enablecredsspsupport: Option<Setting<bool>>,
    pub authentication_level: Option<Setting<AuthenticationLevel>>,
    pub negotiate_security_layer: Option<Setting<bool>>,
    pub prompt_for_credentials: Option<Setting<bool>>,
    pub gateway_usage: Option<Setting<GatewayUsage>>,
    pub gateway_hostname: Option<Setting<String>>,
    pub gateway_credentials_source: Option<Setting<i64>>,
    pub gateway_is_kdc_proxy: Option<Setting<bool>>,
    pub kdc_proxy_name: Option<Setting<String>>,
    /// The connection broker's routing token.
    pub load_balance_info: Option<Setting<String>>,
    pub remote_application_mode: Option<Setting<bool>>,
    pub remote_application_program: Option<Setting<String>>,
    /// Microsoft Entra joined target (AVD, Windows 365).
    pub target_is_aad_joined: Option<Setting<bool>>,
    /// Microsoft Entra authentication to the host.
    pub enable_rds_aad_auth: Option<Setting<bool>>,
    /// The line of a saved password blob (its value is never kept here).
    pub saved_password_line: Option<usize>,
}

impl ClientSettings {
    /// The port the client connects to: the one in `full address`, else
    /// `server port` when usable, else 3389.
    pub fn effective_port(&self) -> u16 {
        self.full_address
            .as_ref()
            .and_then(|a| embedded_port(&a.value))
            .or_else(|| {
                self.server_port
                    .as_ref()
                    .and_then(|p| u16::try_from(p.value).ok())
                    .filter(|p| *p != 0)
            })
            .unwrap_or(3389)
    }
}

fn string(file: &RdpFile, name: &str) -> Option<Setting<String>> {
    file.get(name).map(|p| Setting {
        value: p.value.trim().to_string(),
        line: p.line,
    })
}

fn int(file: &RdpFile, name: &str) -> Option<Setting<i64>> {
    let p = file.get(name)?;
    let value = p.value.trim().parse().ok()?;
    Some(Setting {
        value,
        line: p.line,
    })
}

fn flag(file: &RdpFile, name: &str) -> Option<Setting<bool>> {
    int(file, name).map(|s| Setting {
        value: s.value != 0,
        line: s.line,
    })
}

fn mapped<T>(file: &RdpFile, name: &str, f: fn(i64) -> T) -> Option<Setting<T>> {
    int(file, name).map(|s| Setting {
        value: f(s.value),
        line: s.line,
    })
}

/// The connection-relevant settings of `file`.
pub fn settings(file: &RdpFile) -> ClientSettings {
    ClientSettings {
        full_address: string(file, "full address"),
        alternate_full_address: string(file, "alternate full address"),
        server_port: int(file, "server port"),
        username: string(file, "username"),
        domain: string(file, "domain"),
        enablecredsspsupport: flag(file, "enablecredsspsupport"),
        authentication_level: mapped(
            file,
            "authentication level",
            AuthenticationLevel::from_value,
        ),
        negotiate_security_layer: flag(file, "negotiate security layer"),
        prompt_for_credentials: flag(file, "prompt for credentials"),
        gateway_usage: mapped(file, "gatewayusagemethod", GatewayUsage::from_value),
        gateway_hostname: string(file, "gatewayhostname"),
        gateway_credentials_source: int(file, "gatewaycredentialssource"),
        gateway_is_kdc_proxy: flag(file, "rdgiskdcproxy"),
        kdc_proxy_name: string(file, "kdcproxyname"),
        load_balance_info: string(file, "loadbalanceinfo"),
        remote_application_mode: flag(file, "remoteapplicationmode"),
        remote_application_program: string(file, "remoteapplicationprogram"),
        target_is_aad_joined: flag(file, "targetisaadjoined"),
        enable_rds_aad_auth: flag(file, "enablerdsaadauth"),
        saved_password_line: file.get("password 51").map(|p| p.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn typed_settings_with_their_lines() {
        let s = settings(&parse(
            b"full address:s:h:3390\r\nenablecredsspsupport:i:0\r\nauthentication level:i:2\r\n\
              gatewayusagemethod:i:1\r\ngatewayhostname:s:gw\r\nserver port:i:x\r\n\
              password 51:b:01000000\r\nenablecredsspsupport:i:1\r\n",
        ));
        assert_eq!(
            s.enablecredsspsupport,
            Some(Setting {
                value: true,
                line: 8
            })
        );
        assert_eq!(
            s.authentication_level.as_ref().map(|a| a.value),
            Some(AuthenticationLevel::Warn)
        );
        assert!(s
            .gateway_usage
            .as_ref()
            .is_some_and(|g| g.value.uses_gateway()));
        assert_eq!(s.server_port, None, "not an integer");
        assert_eq!(s.effective_port(), 3390);
        assert_eq!(s.saved_password_line, Some(7));
        assert_eq!(
            settings(&parse(b"server port:i:3391\n")).effective_port(),
            3391
        );
        assert_eq!(
            settings(&parse(b"server port:i:99999\n")).effective_port(),
            3389
        );
    }
}
