//! What several test modules share.

pub mod terminal;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compares with a reviewed golden file in `tests/golden`; `UPDATE_GOLDEN=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// A loopback port nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The bytes of an `.xz` file of the corpus.
pub fn xz_bytes(path: &Path) -> Vec<u8> {
    let out = Command::new("xz")
        .arg("-dc")
        .arg(path)
        .output()
        .expect("xz is installed");
    assert!(out.status.success(), "xz -dc {}", path.display());
    out.stdout
}
