//! The hives `host collect` writes when `reg save` cannot save them (it fails,
//! or writes something that is not a regf hive, as under Wine): the keys the
//! checks read, copied one by one through the registry API into a new hive
//! written by this project's own hive writer. Such a hive is partial, and the
//! manifest says so.
//!
//! The copy is over a [`Source`], so it runs (and is tested) on any hive; on
//! Windows the source is the live registry ([`Live`]).

use rdp_doctor_regf::{Data, HiveEditor};

use crate::Error;

/// How much of a key is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The key's own values.
    Values,
    /// The key, its values and every key below it.
    Tree,
}

/// The control set `CurrentControlSet` stands for in [`SELECTED`] paths.
const CCS: &str = "CurrentControlSet\\";

/// Every key the host, client and accounts checks read, by hive: the one list
/// the copy takes. Under SYSTEM, `CurrentControlSet\` is read live and written
/// as the `ControlSet00N` that `Select\Current` names, so offline readers
/// resolve it as on the host.
pub const SELECTED: &[(&str, &str, Depth)] = &[
    ("SYSTEM", "Select", Depth::Values),
    (
        "SYSTEM",
        "CurrentControlSet\\Control\\Terminal Server",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Control\\Lsa\\FipsAlgorithmPolicy",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Services\\TermService",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Services\\UmRdpService",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Services\\SessionEnv",
        Depth::Tree,
    ),
    (
        "SYSTEM",
        "CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy",
        Depth::Tree,
    ),
    (
        "SOFTWARE",
        "Microsoft\\Windows NT\\CurrentVersion",
        Depth::Values,
    ),
    (
        "SOFTWARE",
        "Microsoft\\Windows NT\\CurrentVersion\\NetworkList\\Profiles",
        Depth::Tree,
    ),
    ("SOFTWARE", "Microsoft\\Cryptography", Depth::Values),
    (
        "SOFTWARE",
        "Microsoft\\SystemCertificates\\Remote Desktop",
        Depth::Tree,
    ),
    ("SOFTWARE", "Microsoft\\SystemCertificates\\My", Depth::Tree),
    (
        "SOFTWARE",
        "Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP",
        Depth::Tree,
    ),
    (
        "SOFTWARE",
        "Policies\\Microsoft\\Windows NT\\Terminal Services",
        Depth::Tree,
    ),
    (
        "SOFTWARE",
        "Policies\\Microsoft\\Cryptography\\Configuration\\SSL",
        Depth::Tree,
    ),
    ("SAM", "SAM\\Domains\\Account", Depth::Tree),
    ("SAM", "SAM\\Domains\\Builtin", Depth::Tree),
    ("SECURITY", "Policy\\Accounts", Depth::Tree),
];

/// Keys copied at most, and how deep: a bound on what a loop in the source could cost.
const MAX_KEYS: usize = 200_000;
const MAX_DEPTH: usize = 64;

/// One value as the registry stores it: name, type number, bytes.
pub type RawValue = (String, u32, Vec<u8>);

/// A key's subkeys' names and its values.
pub type Listing = (Vec<String>, Vec<RawValue>);

/// Read access to `HKLM`, as the copy needs it.
pub trait Source {
    /// The key `path` under `HKLM` (`SYSTEM\Select`): its subkeys' names and
    /// its values; `None` when it does not exist.
    fn key(&self, path: &str) -> Result<Option<Listing>, Error>;
}

/// A hive made by [`export`].
#[derive(Debug, Clone)]
pub struct Exported {
    pub bytes: Vec<u8>,
    /// Keys and values copied.
    pub keys: usize,
    pub values: usize,
    /// Keys that could not be read (`HKLM\…`), and why.
    pub unreadable: Vec<(String, String)>,
}

struct Copy<'s> {
    src: &'s dyn Source,
    ed: HiveEditor,
    keys: usize,
    values: usize,
    unreadable: Vec<(String, String)>,
}

impl Copy<'_> {
    /// Copies `from` (under HKLM) to `to` (in the new hive); `false` when it does not exist.
    fn key(&mut self, from: &str, to: &str, depth: Depth, level: usize) -> Result<bool, Error> {
        if self.keys >= MAX_KEYS || level > MAX_DEPTH {
            self.unreadable.push((
                format!("HKLM\\{from}"),
                format!("beyond {MAX_KEYS} keys or {MAX_DEPTH} levels"),
            ));
            return Ok(true);
        }
        let (subkeys, values) = match self.src.key(from) {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(false),
            Err(e) => {
                self.unreadable.push((format!("HKLM\\{from}"), e.0));
                return Ok(true);
            }
        };
        let fail = |e: rdp_doctor_regf::Error| Error(format!("new hive, {to}: {e}"));
        self.ed.create_key(to).map_err(fail)?;
        self.keys += 1;
        for (name, kind, bytes) in values {
            // Stored as read, byte for byte, whatever the type says.
            self.ed
                .set_value(to, &name, &Data::Other(kind, bytes))
                .map_err(fail)?;
            self.values += 1;
        }
        if depth == Depth::Tree {
            for sub in subkeys {
                self.key(
                    &format!("{from}\\{sub}"),
                    &format!("{to}\\{sub}"),
                    depth,
                    level + 1,
                )?;
            }
        }
        Ok(true)
    }
}

/// The values of the source's `SYSTEM\Select` (none when it cannot be read).
fn select_values(src: &dyn Source) -> Vec<RawValue> {
    src.key("SYSTEM\\Select")
        .ok()
        .flatten()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// The control set `Select\Current` names (1 when it names none).
fn current_control_set(select: &[RawValue]) -> u64 {
    select
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case("Current"))
        .and_then(|(_, kind, bytes)| Data::from_raw(*kind, bytes.clone()).as_u64())
        .filter(|n| (1..=999).contains(n))
        .unwrap_or(1)
}

/// A new hive holding the [`SELECTED`] keys of `hive` (`SYSTEM`, `SOFTWARE`,
/// `SAM` or `SECURITY`) as `src` has them. A SYSTEM hive always gets
/// `Select\Current` and the control set it names.
pub fn export(src: &dyn Source, hive: &str) -> Result<Exported, Error> {
    let ed = HiveEditor::empty("ROOT").map_err(|e| Error(format!("new hive: {e}")))?;
    let mut copy = Copy {
        src,
        ed,
        keys: 0,
        values: 0,
        unreadable: Vec::new(),
    };
    let select = select_values(src);
    let current = current_control_set(&select);
    let control_set = format!("ControlSet{current:03}\\");
    for (_, path, depth) in SELECTED.iter().filter(|(h, _, _)| *h == hive) {
        let to = match path.strip_prefix(CCS) {
            Some(rest) => format!("{control_set}{rest}"),
            None => path.to_string(),
        };
        copy.key(&format!("{hive}\\{path}"), &to, *depth, 0)?;
    }
    if hive == "SYSTEM" {
        let fail = |e: rdp_doctor_regf::Error| Error(format!("new hive, Select: {e}"));
        for name in ["Current", "Default", "LastKnownGood"] {
            // A value the source has was copied as is.
            if !select.iter().any(|(n, _, _)| n.eq_ignore_ascii_case(name)) {
                copy.ed
                    .set_value("Select", name, &Data::Dword(current as u32))
                    .map_err(fail)?;
            }
        }
        copy.ed
            .create_key(control_set.trim_end_matches('\\'))
            .map_err(fail)?;
    }
    Ok(Exported {
        bytes: copy.ed.finish(),
        keys: copy.keys,
        values: copy.values,
        unreadable: copy.unreadable,
    })
}

/// This host's registry, through the Win32 API.
#[cfg(windows)]
#[derive(Debug)]
pub struct Live;

#[cfg(windows)]
impl Source for Live {
    fn key(&self, path: &str) -> Result<Option<Listing>, Error> {
        use rdp_doctor_host::winreg::{open, Access, Top};
        let Some(k) = open(Top::LocalMachine, path, Access::Read)? else {
            return Ok(None);
        };
        let values = k
            .values()?
            .into_iter()
            .map(|(name, (kind, bytes))| (name, kind, bytes))
            .collect();
        Ok(Some((k.subkeys()?, values)))
    }
}
