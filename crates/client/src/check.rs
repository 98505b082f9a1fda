//! `client check`: every source the user gave, read into one report.

use std::path::{Path, PathBuf};

use rdp_doctor_model::Finding;
use serde::Serialize;

use crate::disconnects::{self, Disconnect};
use crate::facts::{read_facts, ClientFacts};
use crate::registry::ClientRegistry;
use crate::{rdp, rules, Error};

/// Version of the JSON document `client check --json` prints.
pub const SCHEMA: &str = "rdp-doctor.client-check/v1";

/// The files besides the registry.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// `--default-rdp FILE`.
    pub default_rdp: Option<PathBuf>,
    /// `--profile DIR`: the user folder `Documents/Default.rdp` is looked for in.
    pub profile: Option<PathBuf>,
    /// `--evtx FILE`: an exported RDPClient/Operational log.
    pub evtx: Vec<PathBuf>,
}

/// What `client check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub facts: Option<ClientFacts>,
    /// The Default.rdp linted, when one was.
    pub default_rdp: Option<String>,
    pub disconnects: Vec<Disconnect>,
    /// Most important first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether an error or a warning was found.
    pub fn has_problem(&self) -> bool {
        self.findings.iter().any(|f| f.severity.is_problem())
    }
}

fn default_rdp(files: &Files) -> Result<(Option<PathBuf>, Vec<Finding>), Error> {
    let found = match (&files.default_rdp, &files.profile) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(p)) => match rdp::find_in_profile(p) {
            Some(f) => Some(f),
            None => return Ok((None, vec![rdp::none_in_profile(p)])),
        },
        (None, None) => None,
    };
    match found {
        Some(f) => {
            let findings = rdp::lint_file(&f)?;
            Ok((Some(f), findings))
        }
        None => Ok((None, Vec::new())),
    }
}

/// Reads the registry (when given), the Default.rdp and the logs, and runs every rule.
pub fn check(reg: Option<&dyn ClientRegistry>, files: &Files) -> Result<Report, Error> {
    let facts = reg.map(read_facts).transpose()?;
    let mut findings: Vec<Finding> = facts.as_ref().map(rules::all).unwrap_or_default();
    let (rdp_file, lint) = default_rdp(files)?;
    findings.extend(lint);
    let mut all = Vec::new();
    for p in &files.evtx {
        all.extend(disconnects::read_file(p)?);
    }
    let merged = merge(all);
    findings.extend(disconnects::finding(&merged));
    rdp_doctor_model::finding::sort(&mut findings);
    Ok(Report {
        schema: SCHEMA,
        facts,
        default_rdp: rdp_file
            .as_deref()
            .map(Path::display)
            .map(|d| d.to_string()),
        disconnects: merged,
        findings,
    })
}

/// One entry per code across several files.
fn merge(list: Vec<Disconnect>) -> Vec<Disconnect> {
    let mut out: Vec<Disconnect> = Vec::new();
    for d in list {
        match out.iter_mut().find(|o| o.code == d.code) {
            Some(o) => {
                o.count += d.count;
                o.last = d.last;
                o.records.extend(d.records);
                o.records.truncate(10);
                for c in d.computers {
                    if !o.computers.contains(&c) {
                        o.computers.push(c);
                    }
                }
            }
            None => out.push(d),
        }
    }
    out.sort_by_key(|d| d.code);
    out
}
