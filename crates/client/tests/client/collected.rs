//! A collected folder, laid out by the test from real files, read the way
//! `host check` and `logs` read a rescued disk; and the certificates
//! `host collect` takes from a SOFTWARE hive.

use crate::{data, unxz};
use std::path::Path;

use rdp_doctor_client::collect::export::{export, Listing, Source, SELECTED};
use rdp_doctor_client::collect::{certificates, RD_STORE};
use rdp_doctor_client::collected::{paths, Manifest, SCHEMA};
use rdp_doctor_regf::{Data, Hive, HiveEditor, Key};

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

/// A hive file standing in for the live `HKLM\<name>`, with
/// `CurrentControlSet` resolved as Windows resolves it.
struct HiveSource {
    name: &'static str,
    bytes: Vec<u8>,
}

impl Source for HiveSource {
    fn key(&self, path: &str) -> Result<Option<Listing>, rdp_doctor_client::Error> {
        let hive = Hive::new(&self.bytes).expect("hive");
        let root = hive.root().expect("root");
        let Some(rest) = path.strip_prefix(&format!("{}\\", self.name)) else {
            return Ok(None);
        };
        let current = root
            .path("Select")
            .ok()
            .flatten()
            .and_then(|k| k.value("Current").ok().flatten())
            .and_then(|d| d.as_u64())
            .unwrap_or(1);
        let rest = rdp_doctor_host::registry::resolve_control_set(
            rdp_doctor_host::Root::System,
            rest,
            &format!("ControlSet{current:03}"),
        );
        let Some(k) = root.path(&rest).expect("path") else {
            return Ok(None);
        };
        let subkeys = k
            .subkeys()
            .expect("subkeys")
            .iter()
            .map(Key::name)
            .collect();
        let values = k
            .values()
            .expect("values")
            .into_iter()
            .map(|v| {
                let (kind, raw) = v.data.to_raw();
                (v.name, kind, raw)
            })
            .collect();
        Ok(Some((subkeys, values)))
    }
}

fn count_keys(k: Key) -> usize {
    1 + k
        .subkeys()
        .expect("subkeys")
        .into_iter()
        .map(count_keys)
        .sum::<usize>()
}

fn listing(k: Key, path: &str, out: &mut Vec<String>) {
    for v in k.values().expect("values") {
        out.push(format!("{path}\t{}\t{:?}", v.name, v.data));
    }
    for sub in k.subkeys().expect("subkeys") {
        let p = format!("{path}\\{}", sub.name());
        listing(sub, &p, out);
    }
}

/// The fallback of `host collect`: the selected keys of a real SYSTEM hive
/// (Remote Desktop turned off first), copied key by key into a new hive, give
/// the report the whole hive gives; SAM and SECURITY keep the subtrees the
/// accounts checks read, value for value.
#[test]
fn the_selected_keys_in_a_new_hive_give_the_same_report() {
    let mut ed = HiveEditor::new(unxz(&data(
        "../regf/tests/data/regipy_SYSTEM_win7_32bit.xz",
    )))
    .expect("hive");
    ed.set_value(
        "ControlSet001\\Control\\Terminal Server",
        "fDenyTSConnections",
        &Data::Dword(1),
    )
    .expect("set");
    let system = ed.finish();
    let src = HiveSource {
        name: "SYSTEM",
        bytes: system.clone(),
    };
    let out = export(&src, "SYSTEM").expect("export");
    assert!(out.unreadable.is_empty(), "{:?}", out.unreadable);
    let whole = count_keys(Hive::new(&system).expect("hive").root().expect("root"));
    let copied = count_keys(Hive::new(&out.bytes).expect("hive").root().expect("root"));
    // Only the root and the keys on the way to the selected ones (ControlSet001,
    // Control, Services, SharedAccess...) are made without being read.
    assert!(
        (out.keys + 2..out.keys + 9).contains(&copied),
        "{copied} for {}",
        out.keys
    );
    assert!(
        out.keys > 10 && copied < whole / 10,
        "{copied} of {whole} keys"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let (whole_file, copy_file) = (dir.path().join("whole"), dir.path().join("copy"));
    std::fs::write(&whole_file, &system).expect("write");
    std::fs::write(&copy_file, &out.bytes).expect("write");
    let report = |f: &Path| {
        let r = rdp_doctor_host::check_offline(f, None, None).expect("check");
        let found: Vec<_> = r.findings.iter().map(|f| (f.id, f.severity)).collect();
        let passed: Vec<_> = r.passed.iter().map(|p| p.id).collect();
        (r.current_control_set, found, passed)
    };
    let (via_copy, via_whole) = (report(&copy_file), report(&whole_file));
    assert_eq!(via_copy, via_whole);
    assert!(via_copy
        .1
        .iter()
        .any(|(id, _)| *id == rdp_doctor_model::FindingId::RemoteDesktopOff));

    for (name, file, subtree) in [
        ("SAM", "regipy_SAM.xz", "SAM\\Domains"),
        ("SECURITY", "regipy_SECURITY.xz", "Policy\\Accounts"),
    ] {
        let bytes = unxz(&data(&format!("../host/tests/data/{file}")));
        let src = HiveSource {
            name,
            bytes: bytes.clone(),
        };
        let out = export(&src, name).expect("export");
        let read = |b: &[u8]| {
            let hive = Hive::new(b).expect("hive");
            let mut lines = Vec::new();
            for (h, path, _) in SELECTED.iter().filter(|(h, _, _)| *h == name) {
                assert!(path.starts_with(subtree), "{h} {path}");
                if let Some(k) = hive.root().expect("root").path(path).expect("path") {
                    listing(k, path, &mut lines);
                }
            }
            lines
        };
        let (whole, copied) = (read(&bytes), read(&out.bytes));
        assert!(!whole.is_empty(), "{name}");
        assert_eq!(copied, whole, "{name}");
    }
}
