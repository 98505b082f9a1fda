//! The exporter's configuration file (TOML): modules, the target allowlist and
//! the concurrency bound. Reloaded on SIGHUP and `POST /-/reload`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not a `source`: the message says it once (callers print error chains).
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Probes running at once; more wait (up to their module's timeout) or get 503.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_probes: usize,
    /// Which targets may be probed. Without it nothing may: the exporter is not an open scanner.
    pub allow: AllowList,
    /// Named probe settings, chosen with `module=`.
    pub modules: BTreeMap<String, Module>,
}

fn default_max_concurrent() -> usize {
    32
}

/// Targets that may be probed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowList {
    /// Address ranges, e.g. "10.0.0.0/8", "127.0.0.1/32", "::1/128".
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    /// Host names, exact ("rdp1.corp.example") or a suffix pattern ("*.corp.example").
    /// A name's resolved addresses are not checked against `cidrs`.
    #[serde(default)]
    pub hostnames: Vec<String>,
}

impl AllowList {
    /// Whether `host` (an address or a name, without port) may be probed.
    pub fn allows(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.cidrs.iter().any(|net| net.contains(&ip));
        }
        let host = bare.trim_end_matches('.').to_ascii_lowercase();
        self.hostnames.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => {
                    host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}"))
                }
                None => host == pattern,
            }
        })
    }
}

/// One module: how to probe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    /// Port used when the target names none.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Total time budget of one probe.
    #[serde(default = "default_timeout", rename = "timeout_seconds")]
    pub timeout_secs: f64,
    /// Handshakes repeated to measure loss and jitter (1 = a single probe).
    #[serde(default = "default_handshakes")]
    pub handshakes: u32,
    /// Credentials for a full connection, by reference only.
    #[serde(default)]
    pub credentials: Option<CredentialRef>,
    /// Also send an RDP-UDP SYN to the same port and report whether UDP transport answers.
    #[serde(default)]
    pub udp: bool,
}

fn default_port() -> u16 {
    3389
}
fn default_timeout() -> f64 {
    10.0
}
fn default_handshakes() -> u32 {
    1
}

impl Module {
    /// The time budget as a duration.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }
}

/// A user name and where its password is kept. The password itself is never
/// in the file, in metrics or in logs.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialRef {
    pub user: String,
    /// The user's domain, when `user` does not name it.
    #[serde(default)]
    pub domain: Option<String>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (first line).
    pub password_file: Option<PathBuf>,
}

impl std::fmt::Debug for CredentialRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRef")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .finish()
    }
}

impl CredentialRef {
    /// Reads the password from where the reference points.
    pub fn password(&self) -> Result<String, String> {
        if let Some(var) = &self.password_env {
            return std::env::var(var)
                .map_err(|_| format!("environment variable {var} is not set"));
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_string());
        }
        Err("credentials name neither password_env nor password_file".to_string())
    }
}

impl Config {
    /// Parses and checks a configuration.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if config.max_concurrent_probes == 0 || config.max_concurrent_probes > 10_000 {
            return Err(invalid("max_concurrent_probes must be 1..=10000".into()));
        }
        if config.modules.is_empty() {
            return Err(invalid("no [modules.NAME] section".into()));
        }
        for (name, m) in &config.modules {
            if !(m.timeout_secs > 0.0 && m.timeout_secs <= 300.0) {
                return Err(invalid(format!(
                    "module {name}: timeout_seconds must be in (0, 300]"
                )));
            }
            if m.handshakes == 0 || m.handshakes > 100 {
                return Err(invalid(format!(
                    "module {name}: handshakes must be 1..=100"
                )));
            }
            if let Some(c) = &m.credentials {
                if c.password_env.is_some() == c.password_file.is_some() {
                    return Err(invalid(format!(
                        "module {name}: credentials need exactly one of password_env, password_file"
                    )));
                }
                if c.user.trim().is_empty() {
                    return Err(invalid(format!("module {name}: credentials.user is empty")));
                }
            }
        }
        Ok(config)
    }

    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Config::parse(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
max_concurrent_probes = 8
[allow]
cidrs = ["127.0.0.0/8", "::1/128"]
hostnames = ["localhost", "*.corp.example"]
[modules.rdp]
port = 3389
timeout_seconds = 5
udp = true
[modules.nla]
port = 3390
"#;

    #[test]
    fn parses_the_example() {
        let c = Config::parse(EXAMPLE, Path::new("x.toml")).unwrap();
        assert_eq!(c.max_concurrent_probes, 8);
        assert_eq!(c.modules["rdp"].timeout(), Duration::from_secs(5));
        assert_eq!(c.modules["nla"].port, 3390);
        assert_eq!(c.modules["nla"].handshakes, 1);
        assert!(c.modules["rdp"].udp && !c.modules["nla"].udp);
    }

    #[test]
    fn credentials_are_references_only() {
        let text = "[allow]\n[modules.nla]\ncredentials = { user = \"tester\", domain = \"LAB\", password_env = \"RDP_PW_TEST_UNSET_1\" }\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        let cred = c.modules["nla"].credentials.as_ref().unwrap();
        assert_eq!(
            (cred.user.as_str(), cred.domain.as_deref()),
            ("tester", Some("LAB"))
        );
        // A missing variable is an error that names it.
        let err = cred.password().unwrap_err();
        assert!(err.contains("RDP_PW_TEST_UNSET_1"), "{err}");
    }

    #[test]
    fn allowlist() {
        let c = Config::parse(EXAMPLE, Path::new("x.toml")).unwrap();
        let a = &c.allow;
        assert!(a.allows("127.0.0.5"));
        assert!(a.allows("[::1]"));
        assert!(!a.allows("10.0.0.1"));
        assert!(a.allows("LOCALHOST"));
        assert!(a.allows("rdp1.corp.example"));
        assert!(!a.allows("corp.example"));
        assert!(!a.allows("evilcorp.example"));
        assert!(!a.allows("rdp1.corp.example.evil.net"));
    }

    #[test]
    fn rejects_bad_files_with_the_reason() {
        for (text, needle) in [
            ("[allow]\n[modules]\n", "no [modules"),
            (
                "[allow]\n[modules.a]\ntimeout_seconds = 0\n",
                "timeout_seconds",
            ),
            ("[allow]\n[modules.a]\nhandshakes = 1000\n", "handshakes"),
            (
                "[allow]\n[modules.a]\ncredentials = { user = \"u\" }\n",
                "exactly one",
            ),
            ("[allow]\n[modules.a]\nbogus = 1\n", "unknown field"),
            (
                "[allow]\n[modules.a]\ncredentials = { user = \"\", password_env = \"P\" }\n",
                "user is empty",
            ),
            ("[modules.a]\n", "missing field `allow`"),
        ] {
            let err = Config::parse(text, Path::new("c.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_a_password() {
        let c = CredentialRef {
            user: "u".into(),
            domain: None,
            password_env: Some("PW".into()),
            password_file: None,
        };
        std::env::set_var("PW", "hunter2-secret");
        assert_eq!(c.password().unwrap(), "hunter2-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
