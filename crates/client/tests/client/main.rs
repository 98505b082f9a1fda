//! The client side on real hives (checked against hivexget), and the collected
//! folder read as a rescued disk. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod collected;
mod offline;

use std::path::{Path, PathBuf};

/// A file of this crate, by its path relative to the crate.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The bytes of an `.xz` test file.
pub fn unxz(path: &Path) -> Vec<u8> {
    let packed = std::fs::read(path).expect("test data");
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &packed[..], &mut out).expect("xz");
    out
}
