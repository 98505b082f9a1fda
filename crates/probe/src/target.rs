//! The one host:port parser: `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT`,
//! or a bare IPv6 address; shown back with IPv6 in brackets (`[::1]:13389`).

use std::fmt;
use std::net::Ipv6Addr;

/// A host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Why a string is not a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not HOST, HOST:PORT or [IPv6]:PORT")]
pub struct BadTarget(pub String);

/// `host:port`, with an IPv6 address in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&authority(&self.host, self.port))
    }
}

/// A DNS name or an IPv4 address: letters, digits, `-`, `_`, `.`.
fn plausible_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Target {
    /// Parses `text`, with `default_port` when it names none.
    pub fn parse(text: &str, default_port: u16) -> Result<Target, BadTarget> {
        let bad = || BadTarget(text.to_string());
        let t = text.trim();
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad);
        if let Some(rest) = t.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(bad)?;
            host.parse::<Ipv6Addr>().map_err(|_| bad())?;
            let port = match after.strip_prefix(':') {
                Some(p) => port(p)?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            return Ok(Target {
                host: host.to_string(),
                port,
            });
        }
        if t.matches(':').count() > 1 {
            t.parse::<Ipv6Addr>().map_err(|_| bad())?;
            return Ok(Target {
                host: t.to_string(),
                port: default_port,
            });
        }
        let (host, port) = match t.split_once(':') {
            Some((h, p)) => (h, port(p)?),
            None => (t, default_port),
        };
        if !plausible_host(host) {
            return Err(bad());
        }
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<(String, u16), BadTarget> {
        Target::parse(s, 3389).map(|t| (t.host, t.port))
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(p("host").unwrap(), ("host".into(), 3389));
        assert_eq!(p("host:3390").unwrap(), ("host".into(), 3390));
        assert_eq!(p("10.0.0.1:1").unwrap(), ("10.0.0.1".into(), 1));
        assert_eq!(p("[::1]:13389").unwrap(), ("::1".into(), 13389));
        assert_eq!(p("[::1]").unwrap(), ("::1".into(), 3389));
        assert_eq!(p("fe80::1").unwrap(), ("fe80::1".into(), 3389));
    }

    #[test]
    fn rejects_what_is_not_a_host() {
        for bad in [
            "",
            "this is not a host",
            "host:",
            ":3389",
            "host:99999",
            "host:0",
            "[::1",
            "[::1]x",
            "[nothost]:1",
            "a:b:c",
            "http://host",
            "host/x",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_is_shown_in_brackets() {
        let t = Target::parse("[::1]:13389", 3389).unwrap();
        assert_eq!(t.to_string(), "[::1]:13389");
        assert_eq!(authority("host", 1), "host:1");
    }
}
