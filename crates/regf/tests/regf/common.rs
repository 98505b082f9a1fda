//! Shared by the regf integration tests: test data, this crate's reader in the
//! oracles' line format, and the independent readers.

use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_doctor_regf::{Data, Hive, Key};

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A file of tests/data, decompressed.
pub fn load(name: &str) -> Vec<u8> {
    let compressed = std::fs::read(data_dir().join(format!("{name}.xz"))).unwrap();
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut out).unwrap();
    out
}

/// A scratch file removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "rdp-doctor-regf-{}-{tag}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, bytes).unwrap();
        Scratch(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

/// Whether an external reader is available. In CI a missing reader fails the test.
pub fn available(tool: &str, package: &str) -> bool {
    let found = if let Some(module) = tool.strip_prefix("python:") {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    } else {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
    };
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} must be installed in CI ({package})"
        );
        eprintln!("skipped: {tool} is not installed ({package})");
    }
    found
}

/// The canonical text of a value, as tests/oracle.py prints it.
pub fn canon(data: &Data) -> (u32, String) {
    let (kind, raw) = data.to_raw();
    let text = match data {
        Data::String(s) | Data::ExpandString(s) => s.split('\0').next().unwrap_or("").to_string(),
        Data::Dword(v) | Data::DwordBigEndian(v) => v.to_string(),
        Data::Qword(v) => v.to_string(),
        Data::MultiString(list) => list.join("|"),
        _ => raw.iter().map(|b| format!("{b:02x}")).collect(),
    };
    (kind, text.replace('\n', "\\n").replace('\t', "\\t"))
}

/// Every value under `key` (its path `path`), one oracle-format line each.
pub fn dump(key: Key, path: &str, out: &mut Vec<String>) {
    for v in key.values().unwrap() {
        let (kind, text) = canon(&v.data);
        out.push(format!("{path}\t{}\t{kind}\t{text}", v.name));
    }
    for sub in key.subkeys().unwrap() {
        let name = sub.name();
        let p = if path.is_empty() {
            name
        } else {
            format!("{path}\\{name}")
        };
        dump(sub, &p, out);
    }
}

/// This crate's reading of a subtree, sorted.
pub fn own_dump(bytes: &[u8], subtree: &str) -> Vec<String> {
    let hive = Hive::new(bytes).unwrap();
    let key = hive.root().unwrap().path(subtree).unwrap().unwrap();
    let mut out = Vec::new();
    dump(key, subtree, &mut out);
    out.sort();
    out
}

/// Keys and values in the whole hive, by this crate's reader.
pub fn own_count(bytes: &[u8]) -> (usize, usize) {
    fn walk(k: Key) -> (usize, usize) {
        let mut c = (1, k.values().unwrap().len());
        for s in k.subkeys().unwrap() {
            let (a, b) = walk(s);
            c = (c.0 + a, c.1 + b);
        }
        c
    }
    walk(Hive::new(bytes).unwrap().root().unwrap())
}

/// Runs tests/oracle.py; its stdout lines.
pub fn oracle(args: &[&str]) -> Vec<String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oracle.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Compares oracle lines with ours; `?` in the oracle's data field means that
/// reader cannot render the data exactly (the name and type still count).
/// Returns the number of values compared.
pub fn assert_same(reader: &str, ours: &[String], mut theirs: Vec<String>) -> usize {
    theirs.sort();
    if ours.len() != theirs.len() {
        let short = |l: &&String| l.chars().take(120).collect::<String>();
        let only_ours: Vec<_> = ours
            .iter()
            .filter(|l| !theirs.contains(l))
            .take(5)
            .map(|l| short(&l))
            .collect();
        let only_theirs: Vec<_> = theirs
            .iter()
            .filter(|l| !ours.contains(l))
            .take(5)
            .map(|l| short(&l))
            .collect();
        panic!(
            "{reader}: {} values here, {} there; only here: {only_ours:?}; only there: {only_theirs:?}",
            ours.len(),
            theirs.len()
        );
    }
    for (a, b) in ours.iter().zip(&theirs) {
        let b_head = b.rsplit_once('\t');
        let a_head = a.rsplit_once('\t');
        match (a_head, b_head) {
            (Some((ah, _)), Some((bh, "?"))) => assert_eq!(ah, bh, "{reader}"),
            _ => assert_eq!(a, b, "{reader}"),
        }
    }
    ours.len()
}
