//! HOST035 on a real NTFS volume: a small image made by mkntfs, mounted with
//! ntfs-3g (FUSE, as root), the key file's ACL set by ntfs-3g itself (from a
//! mode) or written whole through `system.ntfs_acl`; every ACE we parse is
//! compared with ntfssecaudit's reading of the unmounted image.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use rdp_doctor_host::apply::{self, Input};
use rdp_doctor_host::facts::keyacl;
use rdp_doctor_host::secdesc::AceKind;
use rdp_doctor_host::Root;

const KEY_DIR: &str = "ProgramData/Microsoft/Crypto/RSA/MachineKeys";

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ntfs-3g mount of an image of the test's own; unmounted on drop.
struct Volume {
    _dir: tempfile::TempDir,
    image: PathBuf,
    root: PathBuf,
}

impl Volume {
    fn new() -> Volume {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("ntfs.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        run(Command::new("mkntfs").args(["-F", "-q", "-f"]).arg(&image));
        let root = dir.path().join("win");
        std::fs::create_dir(&root).unwrap();
        let v = Volume {
            _dir: dir,
            image,
            root,
        };
        v.mount();
        v
    }

    fn mount(&self) {
        run(Command::new("ntfs-3g")
            .args(["-o", "permissions"])
            .arg(&self.image)
            .arg(&self.root));
    }

    fn unmount(&self) {
        run(Command::new("umount").arg(&self.root));
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.root).status();
    }
}

/// (type, flags, mask, SID) of every ACE ntfssecaudit reads for `file` in the unmounted image.
fn ntfssecaudit_aces(image: &Path, file: &str) -> Vec<(u8, u8, u32, String)> {
    let out = Command::new("ntfssecaudit")
        .arg("-vv")
        .arg(image)
        .arg(file)
        .output()
        .expect("ntfssecaudit (ntfs-3g) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let dacl = text
        .split_once("\nDACL\n")
        .map(|(_, d)| d)
        .expect("ntfssecaudit shows a DACL");
    let hex = |s: &str| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap();
    let mut aces = Vec::new();
    for block in dacl
        .split("\n    ACE ")
        .filter(|b| b.starts_with(|c: char| c.is_ascii_digit()))
    {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(name).map(str::to_string))
                .unwrap_or_else(|| panic!("no {name} in {block}"))
        };
        aces.push((
            field("type").trim().parse().unwrap(),
            hex(&field("flags")) as u8,
            hex(&field("Acc rgts")),
            field("dec ").trim().to_string(),
        ));
    }
    aces
}

fn sid_bytes(s: &str) -> Vec<u8> {
    let p: Vec<u64> = s.split('-').skip(2).map(|x| x.parse().unwrap()).collect();
    let mut v = vec![1, (p.len() - 1) as u8];
    v.extend_from_slice(&p[0].to_be_bytes()[2..]);
    for x in &p[1..] {
        v.extend_from_slice(&(*x as u32).to_le_bytes());
    }
    v
}

/// The descriptor Microsoft's reset leaves: SYSTEM and Administrators full, NETWORK SERVICE read.
fn microsofts_descriptor() -> Vec<u8> {
    let mut aces = Vec::new();
    for (mask, sid) in [
        (0x1f01ffu32, "S-1-5-18"),
        (0x1f01ff, "S-1-5-32-544"),
        (0x120089, "S-1-5-20"),
    ] {
        let s = sid_bytes(sid);
        aces.extend_from_slice(&[0, 0]);
        aces.extend_from_slice(&((8 + s.len()) as u16).to_le_bytes());
        aces.extend_from_slice(&mask.to_le_bytes());
        aces.extend_from_slice(&s);
    }
    let mut acl = vec![2, 0];
    acl.extend_from_slice(&((8 + aces.len()) as u16).to_le_bytes());
    acl.extend_from_slice(&[3, 0, 0, 0]);
    acl.extend_from_slice(&aces);
    let (owner, group) = (sid_bytes("S-1-5-32-544"), sid_bytes("S-1-5-18"));
    let owner_at = 20 + acl.len();
    let mut sd = vec![1, 0, 0x04, 0x80];
    for off in [owner_at, owner_at + owner.len(), 0, 20] {
        sd.extend_from_slice(&(off as u32).to_le_bytes());
    }
    sd.extend_from_slice(&acl);
    sd.extend_from_slice(&owner);
    sd.extend_from_slice(&group);
    sd
}

fn set_descriptor(path: &Path, sd: &[u8]) {
    let hex: String = sd.iter().map(|b| format!("{b:02x}")).collect();
    run(Command::new("setfattr")
        .args(["-n", "system.ntfs_acl", "-v", &format!("0x{hex}")])
        .arg(path));
}

#[test]
fn the_key_files_acl_is_read_from_ntfs_as_ntfssecaudit_reads_it() {
    let vol = Volume::new();
    let dir = tempfile::tempdir().unwrap();
    let sys = write(dir.path(), "SYSTEM", &clean_system());
    let sw = write(dir.path(), "SOFTWARE", &software(|_| {}));
    let name = format!("f686aace6942fb7f7ceb231212eef4a4_{MACHINE_GUID}");
    let keys = vol.root.join(KEY_DIR);
    std::fs::create_dir_all(&keys).unwrap();
    let key = keys.join(&name);
    std::fs::write(&key, capi_key_file("TSSecKeySet1")).unwrap();

    type Set = Box<dyn Fn(&Path)>;
    let chmod = |mode: u32| -> Set {
        Box::new(move |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        })
    };
    let cases: Vec<(&str, Set, Seen)> = vec![
        // ntfs-3g maps 0600 to the owner and SYSTEM: Everyone keeps only attributes.
        ("owner only (ntfs-3g, mode 0600)", chmod(0o600), Seen::Error),
        // 0644: Everyone may read the data.
        (
            "world-readable (ntfs-3g, mode 0644)",
            chmod(0o644),
            Seen::Warning,
        ),
        (
            "Microsoft's reset",
            Box::new(|p: &Path| set_descriptor(p, &microsofts_descriptor())),
            Seen::Passed,
        ),
    ];
    for (what, set, want) in cases {
        set(&key);
        let ours = keyacl::read(&key).expect("ntfs-3g keeps a descriptor");
        let sd = ours
            .descriptor
            .clone()
            .unwrap_or_else(|e| panic!("{what}: {e}"));

        let system = Input::open(Root::System, &sys).unwrap();
        let software = Input::open(Root::Software, &sw).unwrap();
        let report = apply::check_inputs(&system, Some(&software), Some(&vol.root)).unwrap();
        assert_eq!(
            seen(&report, "HOST035"),
            vec![want],
            "{what}: {:#?}",
            report.findings
        );
        assert_eq!(seen(&report, "HOST017"), vec![Seen::Passed], "{what}");
        if want != Seen::Passed {
            let f = found(&report, "HOST035")[0];
            let cmds: Vec<String> = f.remedies[0].actions.iter().map(|a| a.path()).collect();
            assert!(
                cmds.iter()
                    .any(|c| c.contains("/save") && c.contains(&name)),
                "{cmds:?}"
            );
            assert!(cmds.iter().any(|c| c.contains("*S-1-5-20:R")), "{cmds:?}");
            // A command is not applied by `host fix`: it is held as manual.
            let plan =
                rdp_doctor_host::fix::plan(&report, &rdp_doctor_host::fix::Options::default());
            assert!(
                plan.held.iter().any(|h| h.finding.id.code() == "HOST035"),
                "{what}"
            );
        }

        vol.unmount();
        let theirs = ntfssecaudit_aces(&vol.image, &format!("/{KEY_DIR}/{name}"));
        let mine: Vec<(u8, u8, u32, String)> = sd
            .dacl
            .iter()
            .flatten()
            .map(|a| {
                let kind = match a.kind {
                    AceKind::Allow => 0,
                    AceKind::Deny => 1,
                    AceKind::Other(k) => k,
                };
                (
                    kind,
                    a.flags,
                    a.mask,
                    a.sid.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(mine, theirs, "{what}");
        assert!(!mine.is_empty(), "{what}");
        vol.mount();
    }
}
