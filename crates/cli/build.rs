//! Names the commit in `--version`: `rdp-doctor 0.1.0 (abc1234)`, `-dirty` when
//! tracked files differ from it; the package version alone outside a git checkout
//! or without git.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    // --no-optional-locks: reading the status must not rewrite the index, which
    // would make the next build run this script again.
    let out = Command::new("git")
        .arg("--no-optional-locks")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty());
    let full = match commit {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            // A new commit, a checkout or a staged change: the version changes.
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) {
                for file in ["HEAD", "index", "packed-refs"] {
                    println!("cargo:rerun-if-changed={}", dir.join(file).display());
                }
                if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    println!("cargo:rerun-if-changed={}", dir.join(branch).display());
                }
            }
            format!("{version} ({commit}{})", if dirty { "-dirty" } else { "" })
        }
        None => version.to_string(),
    };
    println!("cargo:rustc-env=RDP_DOCTOR_VERSION={full}");
}
