//! Host and port syntax, as `full address`, `gatewayhostname` and `server port` take them.

use std::net::{IpAddr, Ipv6Addr};

/// Whether `addr` is a plausible address: host, IPv4, `[IPv6]` or bare IPv6, with an optional port.
pub fn valid_address(addr: &str) -> Result<(), String> {
    let a = addr.trim();
    if a.is_empty() {
        return Err("empty".into());
    }
    if a != addr {
        return Err("surrounding spaces".into());
    }
    let (host, port) = split_host_port(a)?;
    if let Some(p) = port {
        valid_port_text(p)?;
    }
    if valid_host(host) {
        Ok(())
    } else {
        Err(format!("'{host}' is not a host name or address"))
    }
}

fn split_host_port(a: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("'[' without ']'")?;
        h.parse::<Ipv6Addr>()
            .map_err(|_| format!("'{h}' is not an IPv6 address"))?;
        return Ok((h, after.strip_prefix(':')));
    }
    if a.matches(':').count() > 1 {
        a.parse::<Ipv6Addr>()
            .map_err(|_| "several ':' but not an IPv6 address".to_string())?;
        return Ok((a, None));
    }
    Ok(match a.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (a, None),
    })
}

fn valid_port_text(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("port '{p}' is not 1-65535")),
        Ok(port) => Ok(port),
    }
}

fn valid_host(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }))
}

/// Whether a TCP port number is usable (1-65535).
pub fn valid_port(port: i64) -> bool {
    (1..=65535).contains(&port)
}

/// The port written in an address (`host:3390`, `[::1]:3390`), if any.
pub fn embedded_port(addr: &str) -> Option<u16> {
    let a = addr.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split_once("]:").and_then(|(_, p)| p.parse().ok());
    }
    if a.matches(':').count() == 1 {
        return a.split_once(':').and_then(|(_, p)| p.parse().ok());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "host",
            "host.corp.example",
            "10.0.0.5:3390",
            "[::1]:3389",
            "fe80::1",
            "h_x-1",
            "afdfp-rdgateway-r1.wvd.microsoft.com:443",
        ] {
            assert!(valid_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            " host",
            "host:",
            "host:0",
            "host:99999",
            "[::1",
            "a..b",
            "ho st",
            "bad gw",
            "http://x",
        ] {
            assert!(valid_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports() {
        assert!(valid_port(1) && valid_port(3389) && valid_port(65535));
        assert!(!valid_port(0) && !valid_port(65536) && !valid_port(99999) && !valid_port(-1));
        assert_eq!(embedded_port("h:3390"), Some(3390));
        assert_eq!(embedded_port("[::1]:3390"), Some(3390));
        assert_eq!(embedded_port("fe80::1"), None);
    }
}
