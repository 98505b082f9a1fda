//! A minimal, clean file: only what the connection needs, in mstsc's encoding.

use std::collections::HashSet;

use crate::catalog;
use crate::file::{Property, RdpFile};

/// Properties a clean file keeps when the original sets them: where to
/// connect and as whom, the gateway, the connection broker's routing, the
/// security choices, RemoteApp, and the identity of Azure Virtual Desktop and
/// Windows 365 resources (their clients refuse files without it).
pub const KEPT: &[&str] = &[
    // Where and as whom.
    "full address",
    "alternate full address",
    "server port",
    "username",
    "domain",
    // RD Gateway, and Kerberos through it.
    "gatewayhostname",
    "gatewayusagemethod",
    "gatewaycredentialssource",
    "gatewayprofileusagemethod",
    "gatewaybrokeringtype",
    "promptcredentialonce",
    "rdgiskdcproxy",
    "kdcproxyname",
    // RD Connection Broker.
    "loadbalanceinfo",
    "use redirection server name",
    // Security choices and Microsoft Entra sign-in.
    "authentication level",
    "enablecredsspsupport",
    "negotiate security layer",
    "prompt for credentials",
    "targetisaadjoined",
    "enablerdsaadauth",
    // RemoteApp (with the `remoteapplication` prefix below) and the shell.
    "disableremoteappcapscheck",
    "alternate shell",
    "shell working directory",
    // Azure Virtual Desktop and Windows 365 resource identity.
    "workspace id",
    "workspaceid",
    "wvd endpoint pool",
    "resourceprovider",
    "tenantid",
    "aadtenantid",
    "geo",
    "armpath",
    "diagnosticserviceurl",
    "hubdiscoverygeourl",
    "activityhint",
    "remotedesktopname",
    "e2e",
];

/// Every property whose name starts with one of these is kept too.
pub const KEPT_PREFIXES: &[&str] = &["remoteapplication"];

/// Whether a clean file keeps the property `name`.
pub fn is_kept(name: &str) -> bool {
    let key = name.trim().to_ascii_lowercase();
    KEPT.contains(&key.as_str()) || KEPT_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Whether a value can be copied as is: a known type, the documented one
/// when the catalog has the property, an integer for `i`, no control characters.
fn is_sound(p: &Property<'_>) -> bool {
    let kind = p.kind.trim();
    let documented = catalog::lookup(p.name).map_or(kind, |spec| spec.kind.as_str());
    matches!(kind, "s" | "i" | "b")
        && (documented.is_empty() || documented == kind)
        && (kind != "i"
            || p.value.trim().parse::<i32>().is_ok()
            || p.value.trim().parse::<u32>().is_ok())
        && !p.value.chars().chain(p.name.chars()).any(char::is_control)
}

/// Builds the clean file from `original`: the kept properties in the order
/// they first appear, each once with its last sound value (as FreeRDP reads
/// it) and surrounding spaces removed, then sane display settings. Empty
/// values are dropped, except `full address`.
pub fn clean(original: &RdpFile) -> RdpFile {
    let mut done = HashSet::new();
    let mut props: Vec<(String, String, String)> = Vec::new();
    for first in original.properties().filter(|p| is_kept(p.name)) {
        let key = first.name.trim().to_ascii_lowercase();
        if !done.insert(key.clone()) {
            continue;
        }
        let last = original
            .properties()
            .filter(|p| p.name.trim().eq_ignore_ascii_case(&key) && is_sound(p))
            .last();
        let Some(p) = last else { continue };
        let value = p.value.trim();
        if value.is_empty() && key != "full address" {
            continue;
        }
        props.push((key, p.kind.trim().to_string(), value.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn keeps_the_last_sound_value_in_first_order() {
        let f = parse(
            b"username:s:bob \r\nfull address:s:h\r\nscreen mode id:i:1\r\nusername:x:eve\r\n\
              loadbalanceinfo:s:tsv://MS Terminal Services Plugin.1.Coll\r\nserver port:i:x\r\n\
              remoteapplicationfoo:s:bar\r\npassword 51:b:0100\r\n",
        );
        let c = clean(&f);
        let names: Vec<&str> = c.properties().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "username",
                "full address",
                "loadbalanceinfo",
                "remoteapplicationfoo",
                "screen mode id"
            ]
        );
        assert_eq!(c.get("username").map(|p| p.value), Some("bob"));
        assert_eq!(c.get("screen mode id").map(|p| p.value), Some("2"));
    }
}
