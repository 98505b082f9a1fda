//! The client's Remote Desktop settings as typed facts, each with the path it
//! was read at. Read once, before any rule runs.

use rdp_doctor_model::{Evidence, RegistryOrigin};
use rdp_doctor_regf::Data;
use serde::Serialize;

use crate::registry::{Branch, ClientRegistry};
use crate::{Error, CLIENT_POLICY_KEY, CREDSSP_KEY, DISABLE_UDP, HOST_POLICY_KEY, ORACLE};
use crate::{SELECT_TRANSPORT, TSC_KEY};

/// One value as read: where, and what (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Read {
    /// `HKLM\SOFTWARE\…\Name`.
    pub path: String,
    #[serde(serialize_with = "show_data")]
    pub value: Option<Data>,
    #[serde(skip)]
    pub origin: RegistryOrigin,
}

fn show_data<S: serde::Serializer>(v: &Option<Data>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(d) => s.serialize_str(&d.to_string()),
        None => s.serialize_none(),
    }
}

impl Read {
    /// The value as a number, when it is one.
    pub fn number(&self) -> Option<u64> {
        self.value.as_ref().and_then(Data::as_u64)
    }

    /// The value as the evidence shows it ("absent" when not set).
    pub fn shown(&self) -> String {
        self.value
            .as_ref()
            .map_or_else(|| "absent".into(), Data::to_string)
    }

    pub fn evidence(&self) -> Evidence {
        Evidence::Registry {
            path: self.path.clone(),
            value: self.shown(),
            origin: self.origin.clone(),
        }
    }
}

/// A server in the client's list (`Terminal Server Client\Servers\<host>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    pub host: String,
    /// The account last used for it.
    pub username_hint: Option<String>,
    /// The thumbprint of the certificate the user accepted (SHA-1, hex).
    pub cert_hash: Option<String>,
}

/// Everything the client rules read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientFacts {
    /// The SOFTWARE hive (or `HKLM\SOFTWARE`) was read.
    pub software: bool,
    /// NTUSER.DAT (or `HKCU`) was read.
    pub user: bool,
    pub disable_udp: Read,
    /// Present only when set: the hive is then also a host's.
    pub select_transport: Option<Read>,
    pub oracle: Read,
    /// `Default\MRU0..`, in order.
    pub recent: Vec<String>,
    pub servers: Vec<Server>,
    #[serde(skip)]
    pub user_origin: RegistryOrigin,
}

fn read(reg: &dyn ClientRegistry, branch: Branch, key: &str, name: &str) -> Result<Read, Error> {
    Ok(Read {
        path: branch.path(key, name),
        value: reg.value(branch, key, name)?,
        origin: reg.origin(branch),
    })
}

/// A value as text: strings without quotes, other types as the hive reader shows them.
pub fn text(d: &Data) -> String {
    match d {
        Data::String(s) | Data::ExpandString(s) => s.trim_end_matches('\0').to_string(),
        other => other.to_string(),
    }
}

/// The thumbprint of a `CertHash` value: 20 bytes as hex (stored as binary or as text).
pub fn thumbprint(d: &Data) -> String {
    match d {
        Data::Binary(b) | Data::Other(_, b) => b.iter().map(|x| format!("{x:02X}")).collect(),
        other => text(other).to_uppercase(),
    }
}

/// `MRU<n>` values in numeric order.
fn recent(values: Vec<(String, Data)>) -> Vec<String> {
    let mut mru: Vec<(u32, String)> = values
        .into_iter()
        .filter_map(|(name, data)| {
            let n = name
                .get(..3)
                .filter(|p| p.eq_ignore_ascii_case("MRU"))
                .and_then(|_| name.get(3..))
                .and_then(|d| d.parse::<u32>().ok())?;
            Some((n, text(&data)))
        })
        .collect();
    mru.sort();
    mru.into_iter().map(|(_, s)| s).collect()
}

fn servers(reg: &dyn ClientRegistry) -> Result<Vec<Server>, Error> {
    let base = format!("{TSC_KEY}\\Servers");
    let mut out = Vec::new();
    for host in reg.subkeys(Branch::User, &base)? {
        let key = format!("{base}\\{host}");
        let hint = reg.value(Branch::User, &key, "UsernameHint")?;
        let cert = reg.value(Branch::User, &key, "CertHash")?;
        out.push(Server {
            host,
            username_hint: hint.as_ref().map(text),
            cert_hash: cert.as_ref().map(thumbprint),
        });
    }
    Ok(out)
}

/// Reads every fact the rules use.
pub fn read_facts(reg: &dyn ClientRegistry) -> Result<ClientFacts, Error> {
    let select = read(reg, Branch::Software, HOST_POLICY_KEY, SELECT_TRANSPORT)?;
    Ok(ClientFacts {
        software: reg.has(Branch::Software),
        user: reg.has(Branch::User),
        disable_udp: read(reg, Branch::Software, CLIENT_POLICY_KEY, DISABLE_UDP)?,
        select_transport: select.value.is_some().then_some(select),
        oracle: read(reg, Branch::Software, CREDSSP_KEY, ORACLE)?,
        recent: recent(reg.values(Branch::User, &format!("{TSC_KEY}\\Default"))?),
        servers: servers(reg)?,
        user_origin: reg.origin(Branch::User),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_servers_are_in_mru_order_and_other_values_are_left_out() {
        let v = |n: &str, s: &str| (n.to_string(), Data::String(s.into()));
        let got = recent(vec![
            v("MRU10", "j"),
            v("MRU2", "c"),
            v("mru0", "a"),
            v("Other", "x"),
            v("MRU", "y"),
            v("MRUx", "z"),
        ]);
        assert_eq!(got, ["a", "c", "j"]);
    }

    #[test]
    fn thumbprints_read_binary_and_text() {
        assert_eq!(thumbprint(&Data::Binary(vec![0xf0, 0x0a])), "F00A");
        assert_eq!(thumbprint(&Data::String("ab12".into())), "AB12");
    }
}
