//! `rdp-doctor host … --live` as a user runs it on a build that is not for
//! Windows: a usage error that says where to run it, and nothing read or
//! written. The live path itself runs under Wine in scripts/windows.sh.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rdp-doctor");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(not(windows))]
#[test]
fn live_says_where_to_run_it() {
    for args in [
        &["host", "check", "--live"][..],
        &["host", "check", "--live", "--json"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert_eq!(
            stderr(&o),
            "rdp-doctor: host check --live reads the Windows registry: run it on the Windows host, or give --system HIVE\n"
        );
        assert!(o.stdout.is_empty());
    }
    for args in [
        &["host", "fix", "--live"][..],
        &["host", "fix", "--live", "--apply"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("host fix --live reads and changes the Windows registry"),
            "{}",
            stderr(&o)
        );
    }
}

#[cfg(not(windows))]
#[test]
fn a_live_backup_is_undone_only_on_its_host() {
    let dir = std::env::temp_dir().join(format!("rdp-doctor-live-undo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = dir.join("manifest.json");
    std::fs::write(
        &manifest,
        r#"{"schema": "rdp-doctor.host-live-backup/v1", "values": []}"#,
    )
    .unwrap();
    let o = run(&["host", "undo", dir.to_str().unwrap()]);
    let err = stderr(&o);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("run host undo on that host"), "{err}");
}

#[test]
fn live_and_hives_are_one_or_the_other() {
    let o = run(&["host", "check", "--live", "--system", "SYSTEM"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    let o = run(&["host", "check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--system"), "{}", stderr(&o));
}
