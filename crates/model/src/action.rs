//! Remedies and the actions they are made of.
//!
//! One action model serves every renderer (text, JSON, .reg, PowerShell) and
//! every applier (offline hive editor, live registry).

use rdp_doctor_regf::Data;
use serde::Serialize;

/// The machine hives an action changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Root {
    /// `HKLM\SYSTEM`
    System,
    /// `HKLM\SOFTWARE`
    Software,
}

impl Root {
    /// The name under HKLM.
    pub fn name(self) -> &'static str {
        match self {
            Root::System => "SYSTEM",
            Root::Software => "SOFTWARE",
        }
    }
}

/// Where a command is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Machine {
    /// The Remote Desktop host.
    Host,
    /// The computer the user connects from.
    Client,
    /// Anywhere (a network device, the DNS, a Group Policy console).
    Elsewhere,
}

/// One change a remedy makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create or overwrite a host registry value (the key and its parents are created when absent).
    SetValue {
        root: Root,
        key: String,
        name: String,
        #[serde(serialize_with = "serialize_data")]
        data: Data,
    },
    /// Delete a host registry value; nothing happens when it is absent.
    DeleteValue {
        root: Root,
        key: String,
        name: String,
    },
    /// Set a policy value on the client (`HKLM\SOFTWARE\Policies\…`), e.g. the TCP-only workaround.
    ClientPolicy {
        key: String,
        name: String,
        #[serde(serialize_with = "serialize_data")]
        data: Data,
    },
    /// Replace a .rdp file with a minimal clean one (`rdp-doctor rdpfile clean`).
    WriteCleanRdpFile {
        /// The file as given, when known.
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// A command a person runs, where it must run.
    Run { on: Machine, command: String },
}

impl Action {
    /// A command run by hand on `on`.
    pub fn run(on: Machine, command: impl Into<String>) -> Self {
        Action::Run {
            on,
            command: command.into(),
        }
    }

    /// Whether the action changes the host's registry (what `host fix` applies).
    pub fn is_registry(&self) -> bool {
        matches!(self, Action::SetValue { .. } | Action::DeleteValue { .. })
    }

    /// The registry root, for registry actions.
    pub fn root(&self) -> Option<Root> {
        match self {
            Action::SetValue { root, .. } | Action::DeleteValue { root, .. } => Some(*root),
            Action::ClientPolicy { .. } => Some(Root::Software),
            _ => None,
        }
    }

    /// The key, relative to the root ("" for non-registry actions).
    pub fn key(&self) -> &str {
        match self {
            Action::SetValue { key, .. }
            | Action::DeleteValue { key, .. }
            | Action::ClientPolicy { key, .. } => key,
            _ => "",
        }
    }

    /// The value name ("" is the key's default value, and non-registry actions).
    pub fn name(&self) -> &str {
        match self {
            Action::SetValue { name, .. }
            | Action::DeleteValue { name, .. }
            | Action::ClientPolicy { name, .. } => name,
            _ => "",
        }
    }

    /// `HKLM\ROOT\key\name` for registry actions; the command or file otherwise.
    pub fn path(&self) -> String {
        match self {
            Action::SetValue {
                root, key, name, ..
            }
            | Action::DeleteValue { root, key, name } => {
                format!("HKLM\\{}\\{key}\\{name}", root.name())
            }
            Action::ClientPolicy { key, name, .. } => format!("HKLM\\SOFTWARE\\{key}\\{name}"),
            Action::WriteCleanRdpFile { file } => file.clone().unwrap_or_else(|| "FILE.rdp".into()),
            Action::Run { command, .. } => command.clone(),
        }
    }
}

fn serialize_data<S: serde::Serializer>(data: &Data, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry("type", &data.type_name())?;
    m.serialize_entry("value", &data.to_string())?;
    m.end()
}

/// One remedy for a finding, most advisable first in a finding's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// What the remedy does, in one line.
    pub title: String,
    /// Why this is the remedy, and what to know before applying it.
    pub explanation: String,
    /// The changes; empty when the remedy is done by hand (the explanation says how).
    pub actions: Vec<Action>,
    /// The remedy lowers security: applied only when downgrades are allowed.
    pub downgrade: bool,
}

impl Remedy {
    pub fn new(title: impl Into<String>, explanation: impl Into<String>) -> Self {
        Remedy {
            title: title.into(),
            explanation: explanation.into(),
            actions: Vec::new(),
            downgrade: false,
        }
    }

    /// A remedy that is one command run by hand.
    pub fn run(title: impl Into<String>, on: Machine, command: impl Into<String>) -> Self {
        Remedy::new(title, "").action(Action::run(on, command))
    }

    /// A remedy in words only.
    pub fn advice(title: impl Into<String>) -> Self {
        Remedy::new(title, "")
    }

    pub fn action(mut self, a: Action) -> Self {
        self.actions.push(a);
        self
    }

    pub fn actions(mut self, a: impl IntoIterator<Item = Action>) -> Self {
        self.actions.extend(a);
        self
    }

    pub fn downgrade(mut self) -> Self {
        self.downgrade = true;
        self
    }
}
