//! The crate's tests on real exported event logs (tests/data, sources and licenses in
//! tests/data/LICENSES.md), in one test binary.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod corpus;
mod folders;
mod locale;
mod szechuan;
mod truncated;
mod window;

use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_doctor_events::{analyze, read_evtx, Options};
use rdp_doctor_model::{Finding, FindingId};

pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A corpus log, decompressed.
pub fn load(name: &str) -> Vec<u8> {
    let compressed = std::fs::read(data().join(format!("{name}.evtx.xz"))).expect("corpus log");
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut out).expect("xz");
    out
}

/// Writes a corpus log into `dir` under another name.
pub fn copy_as(dir: &Path, name: &str, as_name: &str) -> PathBuf {
    let path = dir.join(as_name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("folder");
    }
    std::fs::write(&path, load(name)).expect("write");
    path
}

pub fn findings_of(names: &[&str]) -> Vec<Finding> {
    let events = names
        .iter()
        .flat_map(|n| read_evtx(&load(n)).expect("reads").events)
        .collect();
    analyze(events, &Options::default()).findings
}

pub fn find(f: &[Finding], id: FindingId) -> &Finding {
    f.iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {f:#?}"))
}

/// Lines of every evidence of a finding.
pub fn evidence_lines(f: &Finding) -> Vec<String> {
    f.evidence.iter().map(|e| e.line()).collect()
}

/// Whether python-evtx can be run (required in CI).
pub fn python_evtx_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import Evtx.Evtx"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "python-evtx must be installed in CI (scripts/deps/pip.txt)"
        );
        eprintln!("skipped: python-evtx is not installed");
    }
    ok
}

pub fn python_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_evtx_records.py")
}
