//! The .reg rendering read by another implementation: hivexregedit --merge
//! writes every value type (long hex(2) wrapped as regedit wraps it, quotes,
//! backslashes, deletions) into a copy of a real hive, and the hive reader
//! finds exactly the data the actions hold.

use std::process::{Command, Stdio};

use crate::common::*;
use rdp_doctor_host::render;
use rdp_doctor_host::{Action, Root};
use rdp_doctor_regf::{Data, Hive};

fn have_hivexregedit() -> bool {
    let ok = Command::new("sh")
        .args(["-c", "command -v hivexregedit"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "hivexregedit (libwin-hivex-perl) is missing: required under CI"
        );
        eprintln!("skipping: hivexregedit is not installed");
    }
    ok
}

#[test]
fn hivexregedit_merges_the_reg_file_into_the_values_the_actions_hold() {
    if !have_hivexregedit() {
        return;
    }
    let key = "ControlSet001\\Control\\Terminal Server\\RenderTest";
    let long = "%SystemRoot%\\System32\\rdpclip.exe;%ProgramFiles%\\Some \"Quoted\" Tool\\with a long path.exe";
    let set = |name: &str, data: Data| Action::SetValue {
        root: Root::System,
        key: key.into(),
        name: name.into(),
        data,
    };
    let actions = vec![
        set("dword", Data::Dword(0xDEAD_BEEF)),
        set(
            "string \"quoted\" \\ back",
            Data::String("C:\\Windows\\\"x\"".into()),
        ),
        set("expand", Data::ExpandString(long.into())),
        set(
            "multi",
            Data::MultiString(vec!["one".into(), "two words".into(), long.into()]),
        ),
        set("binary", Data::Binary((0..=255).collect())),
        set("qword", Data::Qword(0x0102_0304_0506_0708)),
        set("", Data::String("default value".into())),
        set("gone", Data::Dword(1)),
        Action::DeleteValue {
            root: Root::System,
            key: key.into(),
            name: "gone".into(),
        },
        Action::DeleteValue {
            root: Root::System,
            key: "ControlSet001\\Control\\Terminal Server".into(),
            name: "fDenyTSConnections".into(),
        },
    ];
    let text = render::to_reg(&actions);
    // The long values are wrapped: no line over 80 characters.
    assert!(text.lines().all(|l| l.len() <= 80), "{text}");
    assert!(text.contains(",\\\r\n  "), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let hive = write(dir.path(), "SYSTEM", &clean_system());
    let reg = write(dir.path(), "fix.reg", text.as_bytes());
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
        .arg(&hive)
        .arg(&reg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hivexregedit --merge: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bytes = std::fs::read(&hive).unwrap();
    let h = Hive::new(&bytes).unwrap();
    let k = h
        .root()
        .unwrap()
        .path(key)
        .unwrap()
        .expect("the key hivexregedit created");
    for a in &actions[..7] {
        let Action::SetValue { name, data, .. } = a else {
            unreachable!()
        };
        assert_eq!(
            k.value(name).unwrap().as_ref(),
            Some(data),
            "value {name:?}"
        );
    }
    assert_eq!(k.value("gone").unwrap(), None);
    let ts = h
        .root()
        .unwrap()
        .path("ControlSet001\\Control\\Terminal Server")
        .unwrap()
        .unwrap();
    assert_eq!(ts.value("fDenyTSConnections").unwrap(), None);
}

#[test]
fn the_powershell_script_changes_firewall_rules_with_the_cmdlets() {
    // The Public-profile Remote Desktop rule of the Windows 7 hive is inactive,
    // and on port 3390 no rule covers the listener at all.
    let system = load("regipy_SYSTEM_win7_32bit");
    let moved = edited(&system, |ed| dword(ed, RDP_TCP, "PortNumber", 3390));
    let plan_of = |bytes: &[u8]| {
        let h = Hive::new(bytes).unwrap();
        let r = rdp_doctor_host::check(&h, None, None).unwrap();
        rdp_doctor_host::fix::plan(&r, &Default::default())
    };
    let enable = render::to_powershell(&plan_of(&system));
    assert!(
        enable.contains("\r\nEnable-NetFirewallRule -Name 'RemoteDesktop-In-TCP_1'\r\n"),
        "{enable}"
    );
    let add = render::to_powershell(&plan_of(&moved));
    assert!(
        add.contains("\r\nNew-NetFirewallRule -Name 'RdpDoctor-RemoteDesktop-In-TCP-3390' -DisplayName 'Remote Desktop (TCP-In, port 3390)' -Direction Inbound -Action Allow -Protocol TCP -LocalPort 3390"),
        "{add}"
    );
    // No raw rule strings written into the registry behind the firewall service's back.
    for script in [&enable, &add] {
        assert!(!script.contains("v2.10|"), "{script}");
        assert!(
            !script.contains("-Name 'RemoteDesktop-In-TCP_1' -PropertyType"),
            "{script}"
        );
    }
}
