//! The binary as a process: what `--version` names, and a reader that goes away.

use std::io::Read;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rdp-doctor");

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let clean = format!("rdp-doctor {version} ({commit})\n");
            let dirty = format!("rdp-doctor {version} ({commit}-dirty)\n");
            assert!(
                printed == clean || printed == dirty,
                "{printed:?}, want {clean:?} or {dirty:?}"
            );
        }
        None => assert_eq!(printed, format!("rdp-doctor {version}\n")),
    }
}

/// A pipe whose reading end is already closed, as after `| true` or once `| head -1` has its line.
fn closed_pipe() -> std::fs::File {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors, which are owned from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fds[0] is a descriptor just created and not used elsewhere.
    unsafe { libc::close(fds[0]) };
    use std::os::fd::FromRawFd;
    // SAFETY: fds[1] is open and owned by nothing else.
    unsafe { std::fs::File::from_raw_fd(fds[1]) }
}

fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(closed_pipe()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (child.wait().unwrap().code(), err)
}

fn data(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn a_closed_stdout_ends_each_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let evtx = dir.path().join("Security.evtx");
    let xz = Command::new("xz")
        .arg("-dc")
        .arg(data(
            "events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz",
        ))
        .output()
        .unwrap();
    assert!(xz.status.success(), "xz failed");
    std::fs::write(&evtx, xz.stdout).unwrap();
    let rdp = data("rdpfile/tests/corpus/freerdp_testRdpFileUTF16_extracted.rdp");
    let cases: [&[&str]; 5] = [
        &["explain", "0x904", "0x7"],
        &["explain", "--json", "0x904", "0x7"],
        &["logs", evtx.to_str().unwrap()],
        &["rdpfile", "lint", &rdp],
        &["rdpfile", "lint", "--json", &rdp],
    ];
    for args in cases {
        let (code, err) = into_closed_pipe(args);
        assert_eq!((code, err.as_str()), (Some(0), ""), "rdp-doctor {args:?}");
    }
}
