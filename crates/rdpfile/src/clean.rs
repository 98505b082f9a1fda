//! A minimal, clean file: only what the connection needs, in mstsc's encoding.

use crate::file::RdpFile;

/// Properties a clean file keeps when the original sets them: the address,
/// the account, the gateway, RemoteApp identity and the security choices.
pub const KEPT: &[&str] = &[
    "full address",
    "server port",
    "username",
    "domain",
    "gatewayhostname",
    "gatewayusagemethod",
    "gatewaycredentialssource",
    "gatewayprofileusagemethod",
    "kdcproxyname",
    "authentication level",
    "enablecredsspsupport",
    "negotiate security layer",
    "prompt for credentials",
    "remoteapplicationmode",
    "remoteapplicationprogram",
    "remoteapplicationname",
    "remoteapplicationcmdline",
    "alternate shell",
    "shell working directory",
];

/// Builds the clean file from `original`: the kept properties (last value of
/// each, with surrounding spaces removed), in the order above, then sane display settings.
pub fn clean(original: &RdpFile) -> RdpFile {
    let mut props: Vec<(String, String, String)> = Vec::new();
    for name in KEPT {
        if let Some(p) = original.get(name) {
            let value = p.value.trim();
            if value.is_empty() && *name != "full address" {
                continue;
            }
            props.push((
                name.to_string(),
                p.kind.trim().to_string(),
                value.to_string(),
            ));
        }
    }
    props.push(("screen mode id".into(), "i".into(), "2".into()));
    RdpFile::from_properties(&props)
}

/// A new minimal file.
pub fn new_file(
    host: &str,
    port: Option<u16>,
    user: Option<&str>,
    gateway: Option<&str>,
) -> RdpFile {
    let address = match port {
        Some(p) if host.contains(':') && !host.starts_with('[') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut props: Vec<(String, String, String)> =
        vec![("full address".into(), "s".into(), address)];
    if let Some(u) = user {
        props.push(("username".into(), "s".into(), u.to_string()));
    }
    if let Some(g) = gateway {
        props.push(("gatewayhostname".into(), "s".into(), g.to_string()));
        props.push(("gatewayusagemethod".into(), "i".into(), "1".into()));
        props.push(("gatewayprofileusagemethod".into(), "i".into(), "1".into()));
    }
    props.push(("authentication level".into(), "i".into(), "2".into()));
    props.push(("screen mode id".into(), "i".into(), "2".into()));
    RdpFile::from_properties(&props)
}
