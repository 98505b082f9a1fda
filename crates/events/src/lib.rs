//! RDP failures read from exported Windows event logs (.evtx).
//!
//! [`event::read_evtx`] turns a file's bytes into typed events (the
//! RDP-relevant providers and Security events) and counts every record per
//! event ID; [`analysis::analyze`] builds a timeline per client address and
//! findings (certificate key unreadable, TLS failures, brute force, floods,
//! denied logons, RD Gateway refusals); [`gateway`] types the RD Gateway's
//! events. [`read_paths`] does the file I/O for the CLI.

pub mod analysis;
pub mod event;
pub mod gateway;

use std::path::{Path, PathBuf};

pub use analysis::{analyze, Finding, LogReport, Options, Severity, Timeline};
pub use event::{read_evtx, FileEvents, RdpEvent};
pub use gateway::{GatewayEvent, GatewayKind};

/// The largest .evtx file read (Windows caps logs far below this by default).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Whether a file name inside a logs folder is worth reading for RDP.
pub fn is_rdp_log_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".evtx")
        && (n.contains("terminalservices")
            || n.contains("remotedesktopservices")
            || n.contains("rdpclient")
            || n == "security.evtx"
            || n == "system.evtx")
}

/// Expands folders to their RDP-relevant .evtx files; files are kept as given.
pub fn expand(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|f| {
                    f.file_name()
                        .is_some_and(|n| is_rdp_log_name(&n.to_string_lossy()))
                })
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Reads every file (each failure is reported in its summary, not fatal) and analyzes them together.
pub fn read_paths(
    paths: &[PathBuf],
    opts: &Options,
    mut progress: impl FnMut(&Path, usize, usize),
) -> std::io::Result<LogReport> {
    let files = expand(paths)?;
    let mut summaries = Vec::new();
    let mut all = Vec::new();
    let mut counts = std::collections::BTreeMap::new();
    let (mut records, mut failed) = (0, 0);
    for (i, path) in files.iter().enumerate() {
        progress(path, i + 1, files.len());
        let read = std::fs::metadata(path).and_then(|m| {
            if m.len() > MAX_FILE_BYTES {
                Err(std::io::Error::other(format!(
                    "{} bytes is more than any event log",
                    m.len()
                )))
            } else {
                std::fs::read(path)
            }
        });
        let summary = match read
            .map_err(|e| e.to_string())
            .and_then(|b| read_evtx(&b).map_err(|e| e.to_string()))
        {
            Ok(f) => {
                records += f.records;
                failed += f.failed_records;
                for e in &f.events {
                    *counts
                        .entry(format!("{} {}", e.provider, e.event_id))
                        .or_insert(0) += 1;
                }
                let s = analysis::FileSummary {
                    path: path.display().to_string(),
                    records: f.records,
                    failed_records: f.failed_records,
                    rdp_events: f.events.len(),
                    error: None,
                };
                all.extend(f.events);
                s
            }
            Err(e) => analysis::FileSummary {
                path: path.display().to_string(),
                records: 0,
                failed_records: 0,
                rdp_events: 0,
                error: Some(e),
            },
        };
        summaries.push(summary);
    }
    let rdp_events = all.len();
    let (findings, timelines) = analyze(all, opts);
    Ok(LogReport {
        schema: analysis::SCHEMA,
        files: summaries,
        records,
        failed_records: failed,
        rdp_events,
        counts,
        findings,
        timelines,
    })
}
