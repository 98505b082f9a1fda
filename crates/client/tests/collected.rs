//! A collected folder, laid out by the test from real files, read the way
//! `host check` and `logs` read a rescued disk; and the certificates
//! `host collect` takes from a SOFTWARE hive.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::path::{Path, PathBuf};

use rdp_doctor_client::collect::{certificates, RD_STORE};
use rdp_doctor_client::collected::{paths, Manifest, SCHEMA};
use rdp_doctor_regf::{Data, HiveEditor};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn unxz(path: &Path) -> Vec<u8> {
    let packed = std::fs::read(path).expect("test data");
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &packed[..], &mut out).expect("xz");
    out
}

#[test]
fn a_collected_folder_is_read_as_a_rescued_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("hives")).expect("mkdir");
    std::fs::create_dir_all(d.join("logs")).expect("mkdir");
    let system = unxz(&data("../regf/tests/data/regipy_SYSTEM_win7_32bit.xz"));
    std::fs::write(d.join("hives/SYSTEM"), &system).expect("write");
    for (name, file) in [
        (
            "szechuan_DC01_RDPClient_Operational.evtx.xz",
            "Microsoft-Windows-TerminalServices-RDPClient%4Operational.evtx",
        ),
        ("mdec_Security_4825_rdp_denied.evtx.xz", "Security.evtx"),
    ] {
        std::fs::write(
            d.join("logs").join(file),
            unxz(&data(&format!("../events/tests/data/{name}"))),
        )
        .expect("write");
    }
    let manifest = Manifest {
        schema: SCHEMA.into(),
        created: "2026-01-01T00:00:00Z".into(),
        tool_version: "0".into(),
        computer: "HOST".into(),
        items: Vec::new(),
        left_out: Vec::new(),
    };
    std::fs::write(
        d.join("manifest.json"),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write");

    let p = paths(d).expect("paths");
    assert_eq!(p.system.as_deref(), Some(d.join("hives/SYSTEM").as_path()));
    assert_eq!(p.software, None);
    assert_eq!(p.evtx.len(), 2);
    assert_eq!(p.manifest, Some(manifest));

    // The same report as the hive given directly.
    let via = rdp_doctor_host::check_offline(p.system.as_deref().expect("SYSTEM"), None, None)
        .expect("check");
    let direct_file = d.join("SYSTEM.direct");
    std::fs::write(&direct_file, &system).expect("write");
    let direct = rdp_doctor_host::check_offline(&direct_file, None, None).expect("check");
    let ids = |r: &rdp_doctor_host::Report| {
        r.findings
            .iter()
            .map(|f| (f.id, f.severity))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&via), ids(&direct));

    // The logs folder reads as `logs DIR` reads it: the 4825 denial is found.
    let logs = rdp_doctor_events::read_paths(
        &[p.evtx_dir.clone().expect("logs")],
        &rdp_doctor_events::Options::default(),
        |_, _, _| {},
    )
    .expect("logs");
    assert_eq!(logs.files.len(), 2);
    assert!(logs
        .findings
        .iter()
        .any(|f| f.id == rdp_doctor_model::FindingId::NoRemoteDesktopRight));

    let empty = tempfile::tempdir().expect("tempdir");
    let e = paths(empty.path()).expect_err("nothing in it");
    assert!(e.0.contains("host collect"), "{e}");
}

#[test]
fn certificates_come_from_the_remote_desktop_store_without_keys() {
    let der = std::fs::read(data("../host/tests/data/rdp_valid.der")).expect("der");
    // The store's Blob: properties (id, 1, length, bytes); 0x20 is the certificate.
    let mut blob = Vec::new();
    for (id, bytes) in [(2u32, b"key container".to_vec()), (0x20, der.clone())] {
        blob.extend(id.to_le_bytes());
        blob.extend(1u32.to_le_bytes());
        blob.extend((bytes.len() as u32).to_le_bytes());
        blob.extend(bytes);
    }
    let mut ed =
        HiveEditor::new(unxz(&data("../regf/tests/data/regipy_NTUSER_win7.xz"))).expect("hive");
    let thumb = "CDA1B14F42C42129CEE2283CC219230DF5789DE4";
    ed.set_value(&format!("{RD_STORE}\\{thumb}"), "Blob", &Data::Binary(blob))
        .expect("set");
    // A subkey whose name is no thumbprint is never made a file name.
    ed.set_value(
        &format!("{RD_STORE}\\not-hex"),
        "Blob",
        &Data::Binary(vec![1]),
    )
    .expect("set");
    let sw = ed.finish();
    let got = certificates(&sw).expect("certificates");
    assert_eq!(got, vec![(thumb.to_string(), der)]);
}
