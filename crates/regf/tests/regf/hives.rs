//! Real SYSTEM hives: values read here agree with hivexget, an independent
//! reader (libhivex), and damaged hives give errors, not panics.

use std::path::PathBuf;
use std::process::Command;

use rdp_doctor_regf::{Data, Hive};

fn load(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.xz"));
    let compressed = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut out).unwrap();
    out
}

const HIVES: [&str; 4] = [
    "regipy_SYSTEM_win7_32bit",
    "regipy_SYSTEM_2_win8_sensei",
    "regipy_SYSTEM_B_win10",
    "regipy_SYSTEM_win10_1709",
];

fn current_control_set(hive: &Hive) -> String {
    let select = hive.root().unwrap().path("Select").unwrap().unwrap();
    let n = select.value("Current").unwrap().unwrap().as_u64().unwrap();
    format!("ControlSet{n:03}")
}

#[test]
fn base_blocks() {
    for name in HIVES {
        let bytes = load(name);
        let hive = Hive::new(&bytes).unwrap();
        assert!(hive.base.checksum_ok(), "{name}");
        assert_eq!(hive.base.major, 1);
    }
    let clean = load("regipy_SYSTEM_win7_32bit");
    assert!(!Hive::new(&clean).unwrap().base.is_dirty());
    let dirty = load("regipy_SYSTEM_B_win10");
    let h = Hive::new(&dirty).unwrap();
    assert!(h.base.is_dirty());
    assert_eq!(
        (h.base.primary_sequence, h.base.secondary_sequence),
        (1622, 1621)
    );
}

#[test]
fn terminal_server_values_as_documented() {
    // (hive, fDenyTSConnections, SecurityLayer, UserAuthentication) from the corpus notes.
    for (name, deny, layer, nla) in [
        ("regipy_SYSTEM_win7_32bit", 0, 1, 0),
        ("regipy_SYSTEM_2_win8_sensei", 1, 1, 1),
        ("regipy_SYSTEM_B_win10", 1, 2, 1),
        ("regipy_SYSTEM_win10_1709", 1, 2, 1),
    ] {
        let bytes = load(name);
        let hive = Hive::new(&bytes).unwrap();
        let ccs = current_control_set(&hive);
        let root = hive.root().unwrap();
        let ts = root
            .path(&format!("{ccs}\\Control\\Terminal Server"))
            .unwrap()
            .unwrap();
        assert_eq!(
            ts.value("fDenyTSConnections").unwrap(),
            Some(Data::Dword(deny)),
            "{name}"
        );
        // Lookups are case-insensitive, as in Windows.
        let rdp = root
            .path(&format!(
                "{}\\control\\TERMINAL SERVER\\WinStations\\rdp-tcp",
                ccs.to_lowercase()
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            rdp.value("SecurityLayer").unwrap(),
            Some(Data::Dword(layer)),
            "{name}"
        );
        assert_eq!(
            rdp.value("userauthentication").unwrap(),
            Some(Data::Dword(nla)),
            "{name}"
        );
        assert_eq!(
            rdp.value("PortNumber").unwrap(),
            Some(Data::Dword(3389)),
            "{name}"
        );
    }
}

/// Every value under the RDP-Tcp listener, compared with hivexget's output.
#[test]
fn agrees_with_hivexget() {
    if !rdp_doctor_testing_available("hivexget") {
        return;
    }
    for name in HIVES {
        let bytes = load(name);
        let hive = Hive::new(&bytes).unwrap();
        let ccs = current_control_set(&hive);
        let key_path = format!("{ccs}\\Control\\Terminal Server\\WinStations\\RDP-Tcp");
        let key = hive.root().unwrap().path(&key_path).unwrap().unwrap();
        let file = std::env::temp_dir().join(format!("regf-{}-{name}", std::process::id()));
        std::fs::write(&file, &bytes).unwrap();
        let mut compared = 0;
        for v in key.values().unwrap() {
            let out = Command::new("hivexget")
                .arg(&file)
                .arg(format!("\\{key_path}"))
                .arg(&v.name)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name} {}: {}",
                v.name,
                String::from_utf8_lossy(&out.stderr)
            );
            let theirs = String::from_utf8_lossy(&out.stdout)
                .trim_end_matches('\n')
                .to_string();
            match &v.data {
                // hivexget prints DWORDs as signed 32-bit numbers.
                Data::Dword(n) => assert_eq!(theirs, (*n as i32).to_string(), "{name} {}", v.name),
                Data::String(s) | Data::ExpandString(s) => {
                    assert_eq!(theirs, *s, "{name} {}", v.name)
                }
                Data::MultiString(list) => assert_eq!(theirs, list.join("\n"), "{name} {}", v.name),
                _ => continue,
            }
            compared += 1;
        }
        std::fs::remove_file(&file).ok();
        assert!(compared >= 15, "{name}: only {compared} values compared");
    }
}

fn rdp_doctor_testing_available(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} must be installed in CI (libhivex-bin)"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

#[test]
fn corrupted_hive_gives_an_error_naming_the_offset() {
    let bytes = load("regipy_corrupted_system_hive");
    let result = Hive::new(&bytes).and_then(|h| {
        let root = h.root()?;
        let ts = root.path("ControlSet001\\Control\\Terminal Server")?;
        match ts {
            Some(k) => k.values().map(|_| ()),
            None => Ok(()),
        }
    });
    let e = result.expect_err("the corrupted hive must not read cleanly");
    assert!(e.to_string().starts_with("at file offset 0x"), "{e}");
}

#[test]
fn walking_every_key_of_every_hive_never_panics() {
    fn walk(k: rdp_doctor_regf::Key, n: &mut usize) {
        *n += 1;
        let _ = k.values();
        if let Ok(subs) = k.subkeys() {
            for s in subs {
                walk(s, n);
            }
        }
    }
    for name in HIVES.iter().chain(["regipy_corrupted_system_hive"].iter()) {
        let bytes = load(name);
        if let Ok(h) = Hive::new(&bytes) {
            let mut n = 0;
            walk(h.root().unwrap(), &mut n);
            assert!(n > 1000 || name.contains("corrupted"), "{name}: {n} keys");
        }
    }
}

#[test]
fn damaged_bytes_never_panic() {
    let mut bytes = load("regipy_SYSTEM_win7_32bit");
    bytes.truncate(2 * 1024 * 1024);
    for i in (4096..bytes.len()).step_by(4099) {
        bytes[i] = bytes[i].wrapping_add(0x41);
    }
    if let Ok(h) = Hive::new(&bytes) {
        if let Ok(root) = h.root() {
            for k in root.subkeys().unwrap_or_default() {
                let _ = k.values();
                let _ = k.subkeys();
            }
        }
    }
}
