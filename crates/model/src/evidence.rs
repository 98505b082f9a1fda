//! Evidence: what was seen, typed by the source that saw it, with provenance.

use serde::{Deserialize, Serialize};

/// The phases of a connection, in connection order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseName {
    Dns,
    Tcp,
    X224,
    Tls,
    Credssp,
    /// The MCS Connect Initial / Connect Response round trip after TLS (no credentials needed).
    Mcs,
    /// The credentialed connection (only with credentials).
    Connect,
    /// The RDP-UDP handshake (`--udp`).
    Udp,
    /// The RD Gateway's HTTP transport (`--gateway`).
    Gateway,
}

impl PhaseName {
    pub fn label(self) -> &'static str {
        match self {
            PhaseName::Dns => "DNS",
            PhaseName::Tcp => "TCP",
            PhaseName::X224 => "X.224",
            PhaseName::Tls => "TLS",
            PhaseName::Credssp => "CredSSP",
            PhaseName::Mcs => "MCS",
            PhaseName::Connect => "Connect",
            PhaseName::Udp => "UDP",
            PhaseName::Gateway => "RD Gateway",
        }
    }
}

/// Where a registry value was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegistryOrigin {
    /// A hive file of a rescued disk (the file as given).
    Hive { file: String },
    /// The live registry of the machine rdp-doctor runs on.
    Live,
}

/// One piece of evidence behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Evidence {
    /// What the network probe saw in one phase.
    Probe {
        phase: PhaseName,
        /// Time spent in the phase.
        #[serde(skip_serializing_if = "Option::is_none")]
        elapsed_ms: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes_sent: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes_received: Option<u64>,
        /// What the server sent or did, in words.
        observed: String,
    },
    /// A registry value, offline or live.
    Registry {
        /// `HKLM\SYSTEM\ControlSet001\…\Name`.
        path: String,
        /// The value as read ("absent" when not set).
        value: String,
        origin: RegistryOrigin,
    },
    /// Event-log records of one kind.
    Events {
        event_ids: Vec<u32>,
        count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        first: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        last: Option<String>,
        /// Record numbers of up to 10 events behind it.
        records: Vec<u64>,
        detail: String,
    },
    /// A line of a .rdp file.
    RdpFile {
        /// 1-based line, when the evidence is one line.
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        /// The line as written (passwords never included).
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        detail: String,
    },
    /// A code the user reported (error dialog, client log).
    Code {
        /// The table it was read in (`disconnect_reason`, `errinfo`, …).
        namespace: String,
        code: u32,
        name: String,
        meaning: String,
    },
    /// A file on a rescued disk or a collected folder.
    File { path: String, detail: String },
}

impl Evidence {
    /// Probe evidence with only a description.
    pub fn probe(phase: PhaseName, observed: impl Into<String>) -> Self {
        Evidence::Probe {
            phase,
            elapsed_ms: None,
            bytes_sent: None,
            bytes_received: None,
            observed: observed.into(),
        }
    }

    /// One line for people: where it comes from and what it says.
    pub fn line(&self) -> String {
        match self {
            Evidence::Probe {
                phase,
                elapsed_ms,
                observed,
                ..
            } => match elapsed_ms {
                Some(ms) => format!("{} ({ms:.1} ms): {observed}", phase.label()),
                None => format!("{}: {observed}", phase.label()),
            },
            Evidence::Registry {
                path,
                value,
                origin,
            } => match origin {
                RegistryOrigin::Hive { file } => format!("{path} = {value}   (hive {file})"),
                RegistryOrigin::Live => format!("{path} = {value}   (live registry)"),
            },
            Evidence::Events {
                event_ids,
                count,
                first,
                last,
                detail,
                ..
            } => {
                let ids: Vec<String> = event_ids.iter().map(u32::to_string).collect();
                let span = match (first, last) {
                    (Some(f), Some(l)) if f != l => format!(", {f} .. {l}"),
                    (Some(f), _) => format!(", {f}"),
                    _ => String::new(),
                };
                format!("{detail}   (event {} x{count}{span})", ids.join("/"))
            }
            Evidence::RdpFile { line, text, detail } => match (line, text) {
                (Some(l), Some(t)) => format!("line {l} `{t}`: {detail}"),
                (Some(l), None) => format!("line {l}: {detail}"),
                _ => detail.clone(),
            },
            Evidence::Code {
                namespace,
                code,
                name,
                meaning,
            } => format!("reported code 0x{code:X} ({code}) {name} [{namespace}]: {meaning}"),
            Evidence::File { path, detail } => format!("{path}: {detail}"),
        }
    }
}
