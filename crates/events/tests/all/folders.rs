//! Folders: every `*.evtx` in the tree is read, whatever its name; the rest is listed as skipped.

use rdp_doctor_events::{expand, read_paths, Options};
use rdp_doctor_model::FindingId;

use crate::{copy_as, find};

#[test]
fn renamed_exports_in_subfolders_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_as(
        dir.path(),
        "mdec_Security_4825_rdp_denied",
        "DC01-Security.evtx",
    );
    copy_as(
        dir.path(),
        "mdec_RdpCoreTS_131_bruteforce",
        "exports/server1.EVTX",
    );
    std::fs::write(dir.path().join("exports/notes.txt"), b"exported on monday").expect("write");
    std::fs::write(dir.path().join("Security.evtx.bak"), b"old").expect("write");

    let sel = expand(&[dir.path().to_path_buf()]);
    let names: Vec<String> = sel
        .files
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["DC01-Security.evtx", "exports/server1.EVTX"]);
    let skipped: Vec<(String, &str)> = sel
        .skipped
        .iter()
        .map(|s| {
            (
                s.path
                    .trim_start_matches(&*dir.path().display().to_string())
                    .to_string(),
                s.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("/Security.evtx.bak".to_string(), "not an .evtx file name"),
            ("/exports/notes.txt".to_string(), "not an .evtx file name"),
        ]
    );

    let report = read_paths(
        &[dir.path().to_path_buf()],
        &Options::default(),
        |_, _, _| {},
    )
    .expect("report");
    assert_eq!(report.files.len(), 2);
    assert!(report
        .files
        .iter()
        .all(|f| f.error.is_none() && f.rdp_events > 0));
    assert_eq!(report.skipped.len(), 2);
    find(&report.findings, FindingId::NoRemoteDesktopRight);
    find(&report.findings, FindingId::ConnectionFlood);
}
