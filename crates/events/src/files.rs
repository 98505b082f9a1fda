//! The file side: which files a folder holds, reading them, and the report of it all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rdp_doctor_model::Finding;
use serde::Serialize;

use crate::analysis::{analyze_with, Options, SCHEMA};
use crate::event::{format_time, read_evtx};
use crate::facts::TruncatedFile;
use crate::integrity::{complete_chunks, truncation, Truncation};
use crate::timeline::{keep_latest, Timeline};

/// The largest .evtx file read (Windows caps logs far below this by default).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A file inside a given folder that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// The files to read and those left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub files: Vec<PathBuf>,
    pub skipped: Vec<Skipped>,
}

/// Whether a file name is an event log's (`*.evtx`, any case).
pub fn is_evtx_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".evtx")
}

/// Files are kept as given; folders contribute every `*.evtx` in their tree, whatever its
/// name (exports are often renamed: `DC01-Security.evtx`).
pub fn expand(paths: &[PathBuf]) -> Selection {
    let mut s = Selection::default();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut s);
        } else {
            s.files.push(p.clone());
        }
    }
    s
}

fn skip(s: &mut Selection, path: &Path, reason: impl Into<String>) {
    s.skipped.push(Skipped {
        path: path.display().to_string(),
        reason: reason.into(),
    });
}

fn walk(dir: &Path, s: &mut Selection) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(e) => return skip(s, dir, format!("folder not listed: {e}")),
    };
    entries.sort();
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            skip(s, &path, "vanished while the folder was read");
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if meta.is_dir() {
            walk(&path, s);
        } else if meta.file_type().is_symlink() && path.is_dir() {
            // Links to folders could loop; the folder itself can be given instead.
            skip(s, &path, "link to a folder, not followed");
        } else if !is_evtx_name(&name) {
            skip(s, &path, "not an .evtx file name");
        } else if !path.is_file() {
            skip(s, &path, "not a regular file");
        } else {
            s.files.push(path);
        }
    }
}

/// One file read.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub records: usize,
    pub failed_records: usize,
    pub rdp_events: usize,
    /// Complete 64 KiB chunks in the file.
    pub chunks: usize,
    /// Set when the file is cut short.
    pub truncated: Option<Truncation>,
    pub error: Option<String>,
}

/// The `--since` window.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// RFC 3339, UTC.
    pub since: String,
    /// RDP events at or after it (of `rdp_events`).
    pub rdp_events: usize,
}

/// Everything read from the logs.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    pub schema: &'static str,
    pub files: Vec<FileSummary>,
    pub skipped: Vec<Skipped>,
    pub records: usize,
    pub failed_records: usize,
    /// RDP events read, before `--since`.
    pub rdp_events: usize,
    pub window: Option<Window>,
    /// RDP events per "provider event-id", before `--since`.
    pub counts: BTreeMap<String, usize>,
    /// Computed on every event of the window, before any display cut.
    pub findings: Vec<Finding>,
    pub timelines: Vec<Timeline>,
}

impl LogReport {
    /// Keeps the latest `n` timeline entries per address (display only; findings are unchanged).
    pub fn keep_latest(mut self, n: usize) -> Self {
        keep_latest(&mut self.timelines, n);
        self
    }
}

fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{len} bytes is more than any event log"
        )));
    }
    std::fs::read(path)
}

/// Reads every file (a failure is reported in its summary, not fatal) and analyzes them
/// together. Timelines hold every entry: cut them with [`LogReport::keep_latest`].
pub fn read_paths(
    paths: &[PathBuf],
    opts: &Options,
    mut progress: impl FnMut(&Path, usize, usize),
) -> std::io::Result<LogReport> {
    let Selection { files, skipped } = expand(paths);
    let mut summaries = Vec::new();
    let mut all = Vec::new();
    let mut cut = Vec::new();
    let mut counts = BTreeMap::new();
    let (mut records, mut failed) = (0, 0);
    for (i, path) in files.iter().enumerate() {
        progress(path, i + 1, files.len());
        let shown = path.display().to_string();
        let mut summary = FileSummary {
            path: shown.clone(),
            records: 0,
            failed_records: 0,
            rdp_events: 0,
            chunks: 0,
            truncated: None,
            error: None,
        };
        let bytes = match read_file(path) {
            Ok(b) => b,
            Err(e) => {
                summary.error = Some(e.to_string());
                summaries.push(summary);
                continue;
            }
        };
        summary.chunks = complete_chunks(bytes.len());
        summary.truncated = truncation(&bytes);
        match read_evtx(&bytes) {
            Ok(f) => {
                records += f.records;
                failed += f.failed_records;
                for e in &f.events {
                    *counts
                        .entry(format!("{} {}", e.provider, e.event_id))
                        .or_insert(0) += 1;
                }
                summary.records = f.records;
                summary.failed_records = f.failed_records;
                summary.rdp_events = f.events.len();
                if let Some(t) = summary.truncated {
                    cut.push(TruncatedFile {
                        path: shown,
                        truncation: t,
                    });
                }
                all.extend(f.events);
            }
            Err(e) => {
                summary.error = Some(match summary.truncated {
                    Some(t) if bytes.starts_with(b"ElfFile\0") => format!("{e} ({})", t.describe()),
                    _ => e.to_string(),
                });
            }
        }
        summaries.push(summary);
    }
    let rdp_events = all.len();
    let a = analyze_with(all, opts, cut);
    Ok(LogReport {
        schema: SCHEMA,
        files: summaries,
        skipped,
        records,
        failed_records: failed,
        rdp_events,
        window: opts.since.map(|s| Window {
            since: format_time(s),
            rdp_events: a.events_in_window,
        }),
        counts,
        findings: a.findings,
        timelines: a.timelines,
    })
}
