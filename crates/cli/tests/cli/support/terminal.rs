//! The binary under a pseudo-terminal (`script` from util-linux), so that its standard
//! error is a terminal while its standard output goes to a file.

use std::path::Path;
use std::process::Command;

fn quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Runs `rdp-doctor args > stdout` on a terminal with `TERM` set to `term`:
/// the exit code and what the terminal showed (standard error alone).
pub fn on_a_terminal(args: &[&str], stdout: &Path, term: &str) -> (Option<i32>, String) {
    let mut line = std::iter::once(env!("CARGO_BIN_EXE_rdp-doctor"))
        .chain(args.iter().copied())
        .map(quoted)
        .collect::<Vec<_>>()
        .join(" ");
    line.push_str(" > ");
    line.push_str(&quoted(stdout.to_str().expect("a UTF-8 temporary path")));
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("TERM", term)
        .output()
        .expect("script runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
