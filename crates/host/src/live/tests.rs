use std::collections::BTreeMap;

use super::*;

/// A registry in memory: keys (lowercase path -> values by lowercase name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Memory {
    keys: BTreeMap<(Root, String), BTreeMap<String, (String, RawValue)>>,
    /// A value whose writes store something else (a registry filter, a policy).
    corrupt: Option<RawValue>,
    /// Values whose writes fail.
    refuse: Option<String>,
}

impl Memory {
    fn with(values: &[(Root, &str, &str, Data)]) -> Self {
        let mut m = Memory::default();
        for (root, key, name, data) in values {
            m.set(*root, key, name, &RawValue::from_data(data)).unwrap();
        }
        m
    }
}

impl RawRegistry for Memory {
    fn get(&self, root: Root, key: &str, name: &str) -> Result<Option<RawValue>, Error> {
        Ok(self
            .keys
            .get(&(root, key.to_lowercase()))
            .and_then(|k| k.get(&name.to_lowercase()))
            .map(|(_, v)| v.clone()))
    }
    fn key_exists(&self, root: Root, key: &str) -> Result<bool, Error> {
        Ok(self.keys.contains_key(&(root, key.to_lowercase())))
    }
    fn set(&mut self, root: Root, key: &str, name: &str, value: &RawValue) -> Result<(), Error> {
        if self.refuse.as_deref() == Some(name) {
            return Err(Error(format!("cannot write {name}: Access is denied")));
        }
        let parts: Vec<&str> = key.split('\\').collect();
        for n in 1..parts.len() {
            self.keys
                .entry((root, parts[..n].join("\\").to_lowercase()))
                .or_default();
        }
        let mut value = value.clone();
        if self.corrupt.as_ref() == Some(&value) {
            value.bytes.push(0xEE);
        }
        self.keys
            .entry((root, key.to_lowercase()))
            .or_default()
            .insert(name.to_lowercase(), (name.to_string(), value));
        Ok(())
    }
    fn delete(&mut self, root: Root, key: &str, name: &str) -> Result<(), Error> {
        if let Some(k) = self.keys.get_mut(&(root, key.to_lowercase())) {
            k.remove(&name.to_lowercase());
        }
        Ok(())
    }
    fn delete_key_if_empty(&mut self, root: Root, key: &str) -> Result<bool, Error> {
        let lower = key.to_lowercase();
        let prefix = format!("{lower}\\");
        let has_sub = self
            .keys
            .keys()
            .any(|(r, k)| *r == root && k.starts_with(&prefix));
        match self.keys.get(&(root, lower.clone())) {
            Some(v) if v.is_empty() && !has_sub => {
                self.keys.remove(&(root, lower));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

const TS: &str = "CurrentControlSet\\Control\\Terminal Server";
const TERM: &str = "CurrentControlSet\\Services\\TermService";
const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";

fn broken_host() -> Memory {
    Memory::with(&[
        (Root::System, TS, "fDenyTSConnections", Data::Dword(1)),
        (Root::System, TERM, "Start", Data::Dword(4)),
        (
            Root::System,
            TERM,
            "ImagePath",
            Data::ExpandString("%SystemRoot%\\System32\\svchost.exe".into()),
        ),
        (
            Root::Software,
            "Policies\\Microsoft",
            "Keep",
            Data::String("x".into()),
        ),
    ])
}

fn fix() -> Vec<Action> {
    vec![
        Action::SetValue {
            root: Root::System,
            key: TS.into(),
            name: "fDenyTSConnections".into(),
            data: Data::Dword(0),
        },
        Action::SetValue {
            root: Root::System,
            key: TERM.into(),
            name: "Start".into(),
            data: Data::Dword(3),
        },
        // An absent value in a key that does not exist yet.
        Action::SetValue {
            root: Root::Software,
            key: POLICY.into(),
            name: "fDenyTSConnections".into(),
            data: Data::Dword(0),
        },
        Action::DeleteValue {
            root: Root::System,
            key: TERM.into(),
            name: "ImagePath".into(),
        },
    ]
}

fn plan(actions: &[Action]) -> Plan {
    Plan {
        steps: Vec::new(),
        held: Vec::new(),
        actions: actions.to_vec(),
    }
}

fn dir() -> tempdir::Dir {
    tempdir::Dir::new()
}

/// A directory removed on drop (no extra dependency).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "rdp-doctor-live-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = std::fs::remove_dir_all(&p);
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn raw_values_round_trip_and_match_windows_bytes() {
    for d in [
        Data::None,
        Data::String("Remote Desktop".into()),
        Data::ExpandString("%SystemRoot%".into()),
        Data::Binary(vec![0x92, 0x8B, 0xFD]),
        Data::Dword(0xD3D),
        Data::DwordBigEndian(7),
        Data::MultiString(vec!["a".into(), "bc".into()]),
        Data::Qword(1 << 40),
        Data::Other(0x1234, vec![1, 2]),
    ] {
        assert_eq!(RawValue::from_data(&d).to_data(), d);
    }
    let s = RawValue::from_data(&Data::String("ab".into()));
    assert_eq!((s.kind, s.bytes), (1, vec![b'a', 0, b'b', 0, 0, 0]));
    let m = RawValue::from_data(&Data::MultiString(vec!["a".into()]));
    assert_eq!((m.kind, m.bytes), (7, vec![b'a', 0, 0, 0, 0, 0]));
    assert_eq!(RawValue::from_data(&Data::Dword(4)).bytes, vec![4, 0, 0, 0]);
    // A short DWORD is kept raw rather than invented.
    let short = RawValue {
        kind: 4,
        bytes: vec![1],
    };
    assert_eq!(short.to_data(), Data::Other(4, vec![1]));
}

#[test]
fn apply_backs_up_writes_verifies_and_undo_restores_exactly() {
    let original = broken_host();
    let mut reg = original.clone();
    let d = dir();
    let applied = apply(&mut reg, &plan(&fix()), &d.0).unwrap();
    assert_eq!(applied.changes.len(), 4);
    assert_eq!(
        reg.get(Root::System, TS, "fDenyTSConnections").unwrap(),
        Some(RawValue::from_data(&Data::Dword(0)))
    );
    assert_eq!(reg.get(Root::System, TERM, "ImagePath").unwrap(), None);
    assert!(reg.key_exists(Root::Software, POLICY).unwrap());
    assert_eq!(applied.changes[0].before, "0x00000001 (1)");
    assert_eq!(applied.changes[0].after, "0x00000000 (0)");
    assert_eq!(applied.changes[2].before, "absent");

    let m = read_manifest(&d.0).unwrap();
    assert_eq!(m.values.len(), 4);
    assert_eq!(m.values[0].before.as_ref().unwrap().hex, "01000000");
    assert_eq!(m.values[2].before, None);
    assert_eq!(m.values[3].after, None);
    // Only the two policy keys were missing ("Policies\Microsoft" existed).
    let created: Vec<&str> = m.created_keys.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        created,
        [POLICY, "Policies\\Microsoft\\Windows NT"],
        "deepest first"
    );

    let undone = undo(&mut reg, &d.0, false).unwrap();
    assert_eq!(undone.len(), 4);
    assert!(undone.iter().all(|c| c.outcome == "restored"));
    assert_eq!(reg, original, "undo restores values, absences and keys");
}

#[test]
fn a_value_that_reads_back_wrong_rolls_everything_back() {
    let original = broken_host();
    let mut reg = original.clone();
    reg.corrupt = Some(RawValue::from_data(&Data::Dword(3)));
    let d = dir();
    let err = apply(&mut reg, &plan(&fix()), &d.0).unwrap_err().0;
    assert!(
        err.contains("TermService\\Start: wrote 0x00000003 (3) but read back"),
        "{err}"
    );
    assert!(err.contains("put back as it was"), "{err}");
    reg.corrupt = None;
    assert_eq!(reg, original);
}

#[test]
fn a_refused_write_rolls_back_the_ones_before_it() {
    let original = broken_host();
    let mut reg = original.clone();
    reg.refuse = Some("Start".into());
    let d = dir();
    let err = apply(&mut reg, &plan(&fix()), &d.0).unwrap_err().0;
    assert!(err.contains("Access is denied"), "{err}");
    reg.refuse = None;
    assert_eq!(reg, original, "fDenyTSConnections was put back to 1");
}

#[test]
fn a_backup_is_never_overwritten_and_an_empty_plan_is_refused() {
    let mut reg = broken_host();
    let d = dir();
    apply(&mut reg, &plan(&fix()[..1]), &d.0).unwrap();
    let after = reg.clone();
    let err = apply(&mut reg, &plan(&fix()[1..2]), &d.0).unwrap_err().0;
    assert!(err.contains("already holds a backup"), "{err}");
    assert_eq!(reg, after, "nothing changed");
    assert!(apply(&mut reg, &plan(&[]), &dir().0).is_err());
}

#[test]
fn a_value_touched_twice_keeps_its_first_before_state() {
    let original = broken_host();
    let mut reg = original.clone();
    let mut actions = fix();
    actions.push(Action::SetValue {
        root: Root::System,
        key: TS.to_uppercase(),
        name: "FDENYTSCONNECTIONS".into(),
        data: Data::Dword(2),
    });
    let d = dir();
    apply(&mut reg, &plan(&actions), &d.0).unwrap();
    let m = read_manifest(&d.0).unwrap();
    assert_eq!(m.values.len(), 4);
    assert_eq!(m.values[0].after.as_ref().unwrap().hex, "02000000");
    undo(&mut reg, &d.0, false).unwrap();
    assert_eq!(reg, original);
}

#[test]
fn undo_refuses_values_changed_since_the_fix_unless_forced() {
    let original = broken_host();
    let mut reg = original.clone();
    let d = dir();
    apply(&mut reg, &plan(&fix()), &d.0).unwrap();
    reg.set(
        Root::System,
        TERM,
        "Start",
        &RawValue::from_data(&Data::Dword(2)),
    )
    .unwrap();
    // Put one value back by hand: undo says so rather than failing.
    reg.set(
        Root::System,
        TS,
        "fDenyTSConnections",
        &RawValue::from_data(&Data::Dword(1)),
    )
    .unwrap();
    let changed = reg.clone();
    let err = undo(&mut reg, &d.0, false).unwrap_err().0;
    assert!(
        err.contains("TermService\\Start is now 0x00000002 (2)"),
        "{err}"
    );
    assert_eq!(reg, changed, "nothing restored");
    let undone = undo(&mut reg, &d.0, true).unwrap();
    let outcome = |suffix: &str| {
        undone
            .iter()
            .find(|c| c.path.ends_with(suffix))
            .unwrap()
            .outcome
    };
    assert_eq!(outcome("\\Start"), "changed_since");
    assert_eq!(
        outcome("Terminal Server\\fDenyTSConnections"),
        "already_original"
    );
    assert_eq!(outcome("\\ImagePath"), "restored");
    assert_eq!(reg, original);
}

#[test]
fn manifests_from_elsewhere_are_refused_with_the_reason() {
    let d = dir();
    assert!(read_manifest(&d.0).unwrap_err().0.contains("cannot read"));
    std::fs::create_dir_all(&d.0).unwrap();
    let path = d.0.join(MANIFEST);
    std::fs::write(&path, "{").unwrap();
    assert!(read_manifest(&d.0)
        .unwrap_err()
        .0
        .contains("not a backup manifest"));
    let mut m = backup(&broken_host(), &plan(&fix())).unwrap();
    m.schema = "rdp-doctor.host-backup/v9".into();
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    assert!(read_manifest(&d.0)
        .unwrap_err()
        .0
        .contains("this version reads"));
    m.schema = crate::apply::BACKUP_SCHEMA.into();
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    let err = read_manifest(&d.0).unwrap_err().0;
    assert!(err.contains("a backup of hive files"), "{err}");
    m.schema = BACKUP_SCHEMA.into();
    m.values[0].before.as_mut().unwrap().hex = "0g".into();
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    let mut reg = broken_host();
    assert!(undo(&mut reg, &d.0, false)
        .unwrap_err()
        .0
        .contains("not hex"));
}

fn svc(name: &str, state: Option<&str>, start: Option<u32>, error: Option<&str>) -> Service {
    Service {
        name: name.into(),
        state: state.map(str::to_string),
        start_type: start.map(start_name),
        start,
        error: error.map(str::to_string),
    }
}

#[test]
fn service_checks_read_the_scm_beside_the_registry() {
    let services = [
        svc("TermService", Some("stopped"), Some(3), None),
        svc("UmRdpService", None, None, Some("not installed")),
        svc("SessionEnv", Some("running"), Some(3), None),
    ];
    let checks = service_checks(&services, &|name| match name {
        "TermService" => Some(4),
        "SessionEnv" => Some(3),
        _ => None,
    });
    // (severity, or None when passed; what the SCM said; title)
    let summary: Vec<(Option<Severity>, String, String)> = checks
        .iter()
        .map(|o| match o {
            Outcome::Found(f) => {
                assert_eq!(f.id, FindingId::ServiceState);
                let Some(Evidence::File { detail, .. }) = f.evidence.first() else {
                    panic!("{f:?}")
                };
                (Some(f.severity), detail.clone(), f.title.clone())
            }
            Outcome::Passed(p) => (None, p.value.clone(), p.message.clone()),
        })
        .collect();
    let short: Vec<(Option<Severity>, &str)> =
        summary.iter().map(|(s, v, _)| (*s, v.as_str())).collect();
    assert_eq!(
        short,
        [
            (Some(Severity::Info), "stopped, start type demand"),
            (Some(Severity::Warning), "stopped, start type demand"),
            (Some(Severity::Info), "not installed"),
            (None, "running, start type demand"),
        ]
    );
    assert!(summary[0].2.contains("next boot"), "{}", summary[0].2);
    let Outcome::Found(stopped) = &checks[1] else {
        panic!("passed")
    };
    // Done by hand: a command to run, which `host fix` shows and never applies.
    assert_eq!(stopped.remedies.len(), 1);
    assert_eq!(
        stopped.remedies[0].actions,
        vec![Action::run(
            rdp_doctor_model::Machine::Host,
            "Start-Service TermService"
        )]
    );
    assert!(!stopped.remedies[0].actions[0].is_registry());
}

/// The real registry (Windows, or Wine in scripts/windows.sh): a scratch
/// key under SOFTWARE, removed again by the test itself.
#[cfg(windows)]
mod win {
    use super::*;

    fn scratch(tag: &str) -> String {
        format!("rdp-doctor-live-test-{}-{tag}", std::process::id())
    }

    #[test]
    fn every_type_is_written_and_read_back_as_the_hive_reader_reads_it() {
        let mut reg = LiveRegistry::open().unwrap();
        let key = format!("{}\\Sub", scratch("types"));
        let values = [
            ("sz", Data::String("Remote Desktop".into())),
            (
                "expand",
                Data::ExpandString("%SystemRoot%\\System32".into()),
            ),
            ("bin", Data::Binary(vec![0x92, 0x8B, 0xFD, 0x8C])),
            ("dword", Data::Dword(0xD3D)),
            ("multi", Data::MultiString(vec!["a".into(), "bc".into()])),
            ("qword", Data::Qword(1 << 40)),
        ];
        assert!(!Registry::key_exists(&reg, Root::Software, &key).unwrap());
        for (name, d) in &values {
            reg.set(Root::Software, &key, name, &RawValue::from_data(d))
                .unwrap();
        }
        for (name, d) in &values {
            assert_eq!(
                reg.value(Root::Software, &key, name).unwrap().as_ref(),
                Some(d),
                "{name}"
            );
            assert_eq!(
                reg.get(Root::Software, &key, &name.to_uppercase()).unwrap(),
                Some(RawValue::from_data(d)),
                "{name}: case-insensitive, same bytes"
            );
        }
        let mut listed = reg.values(Root::Software, &key).unwrap();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut want: Vec<(String, Data)> = values
            .iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(listed, want);
        assert_eq!(
            reg.subkeys(Root::Software, &scratch("types")).unwrap(),
            ["Sub"]
        );
        assert_eq!(reg.value(Root::Software, &key, "absent").unwrap(), None);
        assert_eq!(
            reg.value(Root::Software, "rdp-doctor-no-such-key", "x")
                .unwrap(),
            None
        );
        assert!(reg
            .subkeys(Root::Software, "rdp-doctor-no-such-key")
            .unwrap()
            .is_empty());

        assert!(
            !reg.delete_key_if_empty(Root::Software, &key).unwrap(),
            "it has values"
        );
        for (name, _) in &values {
            reg.delete(Root::Software, &key, name).unwrap();
        }
        reg.delete(Root::Software, &key, "absent").unwrap();
        assert!(
            !reg.delete_key_if_empty(Root::Software, &scratch("types"))
                .unwrap(),
            "it has a subkey"
        );
        assert!(reg.delete_key_if_empty(Root::Software, &key).unwrap());
        assert!(reg
            .delete_key_if_empty(Root::Software, &scratch("types"))
            .unwrap());
        assert!(!Registry::key_exists(&reg, Root::Software, &scratch("types")).unwrap());
    }

    #[test]
    fn apply_and_undo_on_the_live_registry() {
        let mut reg = LiveRegistry::open().unwrap();
        let base = scratch("apply");
        let key = format!("{base}\\Terminal Server");
        reg.set(
            Root::Software,
            &base,
            "keep",
            &RawValue::from_data(&Data::Dword(1)),
        )
        .unwrap();
        reg.set(
            Root::Software,
            &base,
            "gone",
            &RawValue::from_data(&Data::String("x".into())),
        )
        .unwrap();
        let actions = [
            Action::SetValue {
                root: Root::Software,
                key: base.clone(),
                name: "keep".into(),
                data: Data::Dword(0),
            },
            Action::SetValue {
                root: Root::Software,
                key: key.clone(),
                name: "new".into(),
                data: Data::Dword(3),
            },
            Action::DeleteValue {
                root: Root::Software,
                key: base.clone(),
                name: "gone".into(),
            },
        ];
        let d = dir();
        let applied = apply(&mut reg, &plan(&actions), &d.0).unwrap();
        assert_eq!(applied.changes.len(), 3);
        assert_eq!(
            reg.value(Root::Software, &base, "keep").unwrap(),
            Some(Data::Dword(0))
        );
        assert_eq!(
            reg.value(Root::Software, &key, "new").unwrap(),
            Some(Data::Dword(3))
        );
        assert_eq!(reg.value(Root::Software, &base, "gone").unwrap(), None);

        undo(&mut reg, &d.0, false).unwrap();
        assert_eq!(
            reg.value(Root::Software, &base, "keep").unwrap(),
            Some(Data::Dword(1))
        );
        assert_eq!(
            reg.value(Root::Software, &base, "gone").unwrap(),
            Some(Data::String("x".into()))
        );
        assert!(
            !Registry::key_exists(&reg, Root::Software, &key).unwrap(),
            "created key removed"
        );

        reg.delete(Root::Software, &base, "keep").unwrap();
        reg.delete(Root::Software, &base, "gone").unwrap();
        assert!(reg.delete_key_if_empty(Root::Software, &base).unwrap());
    }

    #[test]
    fn the_service_control_manager_answers_for_each_service() {
        let list = services(&["TermService", "rdp-doctor-no-such-service"]).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[0].state.is_some() || list[0].error.is_some());
        assert_eq!(list[1].error.as_deref(), Some("not installed"));
        assert_eq!(list[1].state, None);
    }
}

#[cfg(not(windows))]
#[test]
fn elsewhere_the_live_registry_says_where_to_run() {
    assert_eq!(LiveRegistry::open().unwrap_err().0, NOT_WINDOWS);
    assert_eq!(services(&SERVICES).unwrap_err().0, NOT_WINDOWS);
}
