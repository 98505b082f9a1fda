//! The evidence folder `host collect` writes on a Windows host, read the way
//! a rescued disk is read: other commands ask [`paths`] where its hives and
//! logs are.
//!
//! ```text
//! DIR/manifest.json           what was collected (SHA-256) and what was left out, and why
//! DIR/hives/SYSTEM, SOFTWARE  (and SAM, SECURITY with --accounts)
//! DIR/logs/*.evtx             the RDP-related event logs
//! DIR/certificates/*.cer      the Remote Desktop certificate store's certificates (no keys)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// Version of a collected folder's `manifest.json`.
pub const SCHEMA: &str = "rdp-doctor.host-collect/v1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The folder of the hives.
pub const HIVES: &str = "hives";
/// The folder of the event logs.
pub const LOGS: &str = "logs";
/// The folder of the certificates.
pub const CERTIFICATES: &str = "certificates";

/// One file collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    /// `hive`, `log` or `certificate`.
    pub kind: String,
    /// Where it came from (`HKLM\SYSTEM`, a log channel and its filter, a store entry).
    pub source: String,
    pub size: u64,
    pub sha256: String,
    /// Why the file holds only part of its source (a hive of selected keys
    /// read through the registry API when `reg save` could not save it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
}

/// Something not collected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    pub what: String,
    pub why: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// RFC 3339, UTC.
    pub created: String,
    pub tool_version: String,
    /// The computer's name.
    pub computer: String,
    pub items: Vec<Item>,
    pub left_out: Vec<LeftOut>,
}

/// Where things are in a collected folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CollectedPaths {
    pub dir: PathBuf,
    pub system: Option<PathBuf>,
    pub software: Option<PathBuf>,
    pub sam: Option<PathBuf>,
    pub security: Option<PathBuf>,
    /// The logs folder, when it holds .evtx files.
    pub evtx_dir: Option<PathBuf>,
    /// The .evtx files in it, sorted.
    pub evtx: Vec<PathBuf>,
    pub certificates: Vec<PathBuf>,
    /// The manifest, when the folder has one that reads.
    pub manifest: Option<Manifest>,
}

/// The entry of `dir` named `name`, any case.
fn entry(dir: &Path, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(|e| e.path())
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|x| x.to_str())
                            .is_some_and(|x| x.eq_ignore_ascii_case(ext))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Reads the layout of a collected folder. The hives are looked for in
/// `hives/` and then in the folder itself; a folder with neither hives nor
/// logs is an error naming what was expected.
pub fn paths(dir: &Path) -> Result<CollectedPaths, Error> {
    if !dir.is_dir() {
        return Err(Error(format!("{}: not a folder", dir.display())));
    }
    let hives = entry(dir, HIVES).filter(|p| p.is_dir());
    let hive = |name: &str| {
        hives
            .as_deref()
            .and_then(|h| entry(h, name))
            .or_else(|| entry(dir, name))
            .filter(|p| p.is_file())
    };
    let logs = entry(dir, LOGS).filter(|p| p.is_dir());
    let evtx = logs
        .as_deref()
        .map(|l| files_with(l, "evtx"))
        .unwrap_or_default();
    let certificates = entry(dir, CERTIFICATES)
        .map(|c| files_with(&c, "cer"))
        .unwrap_or_default();
    let manifest = std::fs::read(dir.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        .filter(|m| m.schema == SCHEMA);
    let out = CollectedPaths {
        dir: dir.to_path_buf(),
        system: hive("SYSTEM"),
        software: hive("SOFTWARE"),
        sam: hive("SAM"),
        security: hive("SECURITY"),
        evtx_dir: (!evtx.is_empty()).then_some(logs).flatten(),
        evtx,
        certificates,
        manifest,
    };
    if out.system.is_none() && out.software.is_none() && out.evtx.is_empty() {
        return Err(Error(format!(
            "{}: no hives/SYSTEM, hives/SOFTWARE or logs/*.evtx: is it a folder `rdp-doctor host collect` wrote?",
            dir.display()
        )));
    }
    Ok(out)
}
