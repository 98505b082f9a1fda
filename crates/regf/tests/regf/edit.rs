//! The hive editor on real hives: every independent reader (python-registry,
//! regipy, hivex, chntpw's reged, notatin) sees exactly the values we meant to
//! write, the hive stays structurally valid, and bytes outside the cells an
//! edit touches do not change.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use crate::common::{available, canon, load, oracle, own_count, own_dump, Scratch};
use proptest::prelude::*;
use rdp_doctor_regf::log::replay;
use rdp_doctor_regf::{Data, Hive, HiveEditor, Key};

const TS: &str = "ControlSet001\\Control\\Terminal Server";
const CP: &str = "Control Panel";
const T: u64 = 0x01DB_4000_0000_0000;

fn line(path: &str, name: &str, data: &Data) -> String {
    let (kind, text) = canon(data);
    format!("{path}\t{name}\t{kind}\t{text}")
}

/// The expected view of a subtree: (path, uppercased name) to the oracle line.
type Model = BTreeMap<(String, String), String>;

fn model_of(lines: &[String]) -> Model {
    lines
        .iter()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let (p, n) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            ((p.to_uppercase(), n.to_uppercase()), l.clone())
        })
        .collect()
}

struct Scenario {
    before: Vec<u8>,
    after: Vec<u8>,
    base: &'static str,
    expected: Model,
    edits: usize,
}

/// The edits of the brief, on one hive, under `base`: overwrite and add a DWORD,
/// overwrite a REG_SZ with a longer one, add a value to a key with none, nested
/// new keys (one with a non-ASCII name), delete a value, big binary data (then
/// overwritten smaller), and enough values to grow a value list many times.
fn scenario(before: Vec<u8>, base: &'static str) -> Scenario {
    let hive = Hive::new(&before).unwrap();
    let root = hive.root().unwrap();
    let top = root.path(base).unwrap().unwrap();
    let mut rec = Rec {
        expected: model_of(&own_dump(&before, base)),
        edits: 0,
    };
    let mut ed = HiveEditor::new(before.clone()).unwrap();
    ed.set_timestamp(T);

    // Overwrite a DWORD and add one.
    rec.set(&mut ed, base, "fDenyTSConnections", Data::Dword(0));
    rec.set(&mut ed, base, "RdpDoctorDword", Data::Dword(0xDEAD_BEEF));
    // A REG_SZ overwritten with a longer string.
    let (sz_key, sz) = first_string(top, base).expect("a REG_SZ value under the base key");
    let longer = format!("{}-{}", sz.1, "longer than before ".repeat(8));
    rec.set(&mut ed, &sz_key, &sz.0, Data::String(longer));
    // A value added to a key that had none.
    let empty = first_empty_key(top, base).expect("a key without values");
    rec.set(
        &mut ed,
        &empty,
        "AddedToEmpty",
        Data::ExpandString("%SystemRoot%\\x".into()),
    );
    // Nested new keys.
    let nested = format!("{base}\\RdpDoctor\\Nested\\Deeper");
    rec.set(&mut ed, &nested, "", Data::String("default value".into()));
    rec.set(&mut ed, &nested, "Q", Data::Qword(0x0123_4567_89AB_CDEF));
    rec.set(
        &mut ed,
        &nested,
        "M",
        Data::MultiString(vec!["one".into(), "two".into()]),
    );
    rec.set(&mut ed, &nested, "Tiny", Data::Binary(vec![1, 2, 3]));
    rec.set(&mut ed, &nested, "Empty", Data::Binary(Vec::new()));
    let unicode = format!("{base}\\RdpDoctor\\Schlüssel Ωmega");
    rec.set(
        &mut ed,
        &unicode,
        "Wert ü Ω",
        Data::String("ünïcödé Ω".into()),
    );
    ed.create_key(&format!("{base}\\RdpDoctor\\OnlyAKey"))
        .unwrap();
    // Delete a value.
    // The base key's last value, or (a key without values) the DWORD just added.
    let victim = top
        .values()
        .unwrap()
        .last()
        .map(|v| v.name.clone())
        .unwrap_or("RdpDoctorDword".into());
    assert!(ed.delete_value(base, &victim).unwrap());
    assert!(!ed.delete_value(base, &victim).unwrap());
    assert!(!ed.delete_value(&format!("{base}\\NoSuchKey"), "x").unwrap());
    rec.expected
        .remove(&(base.to_uppercase(), victim.to_uppercase()));
    rec.edits += 1;
    // Big data, then overwritten by smaller big data (segments freed).
    let big: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    rec.set(
        &mut ed,
        &format!("{base}\\RdpDoctor"),
        "Big",
        Data::Binary(big),
    );
    let big2: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    rec.set(
        &mut ed,
        &format!("{base}\\RdpDoctor"),
        "Big",
        Data::Binary(big2),
    );
    // Many values: the value list grows again and again.
    let many = format!("{base}\\RdpDoctor\\Many");
    for i in 0..600u32 {
        rec.set(&mut ed, &many, &format!("v{i:04}"), Data::Dword(i));
    }
    // A few deleted again from the middle of the list.
    for i in (100..200u32).step_by(10) {
        assert!(ed.delete_value(&many, &format!("V{i:04}")).unwrap());
        rec.expected
            .remove(&(many.to_uppercase(), format!("V{i:04}")));
    }
    Scenario {
        before,
        after: ed.finish(),
        base,
        expected: rec.expected,
        edits: rec.edits,
    }
}

struct Rec {
    expected: Model,
    edits: usize,
}

impl Rec {
    fn set(&mut self, ed: &mut HiveEditor, path: &str, name: &str, data: Data) {
        ed.set_value(path, name, &data).unwrap();
        let key = path.to_uppercase();
        // Lines keep the stored spelling of existing keys' paths.
        let stored_path = self
            .expected
            .iter()
            .find(|((p, _), _)| *p == key)
            .map(|(_, l)| l.split('\t').next().unwrap_or("").to_string())
            .unwrap_or(path.to_string());
        self.expected
            .insert((key, name.to_uppercase()), line(&stored_path, name, &data));
        self.edits += 1;
    }
}

fn first_string(key: Key, path: &str) -> Option<(String, (String, String))> {
    for v in key.values().ok()? {
        if let Data::String(s) = v.data {
            return Some((path.to_string(), (v.name, s)));
        }
    }
    for s in key.subkeys().ok()? {
        let p = format!("{path}\\{}", s.name());
        if let Some(found) = first_string(s, &p) {
            return Some(found);
        }
    }
    None
}

fn first_empty_key(key: Key, path: &str) -> Option<String> {
    for s in key.subkeys().ok()? {
        let p = format!("{path}\\{}", s.name());
        if s.values().ok()?.is_empty() {
            return Some(p);
        }
        if let Some(found) = first_empty_key(s, &p) {
            return Some(found);
        }
    }
    None
}

/// The scenario on each hive, built once for all the tests of this file.
fn scenarios() -> &'static [(&'static str, Scenario)] {
    static ALL: std::sync::OnceLock<Vec<(&'static str, Scenario)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        hives()
            .into_iter()
            .map(|(name, bytes, base)| (name, scenario(bytes, base)))
            .collect()
    })
}

fn hives() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let b = load("regipy_SYSTEM_B_win10");
    let (l1, l2) = (load("regipy_SYSTEM_B.LOG1"), load("regipy_SYSTEM_B.LOG2"));
    vec![
        ("win7_32bit", load("regipy_SYSTEM_win7_32bit"), TS),
        ("win10_replayed", replay(&b, &[&l1, &l2]).unwrap().bytes, TS),
        ("ntuser_v1.3", load("regipy_NTUSER_win7"), CP),
    ]
}

#[test]
fn edits_read_back_as_intended_and_the_hive_stays_valid() {
    for (name, s) in scenarios() {
        let ours = own_dump(&s.after, s.base);
        let want: Vec<String> = s
            .expected
            .values()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut ours_sorted = ours.clone();
        ours_sorted.sort();
        assert_eq!(
            ours_sorted, want,
            "{name}: our reader disagrees with the edits"
        );
        assert!(s.edits > 600, "{name}");
        check_structure(name, &s.before, &s.after);
        // The six new keys all inherit the base key's security cell.
        let sk_refs = |d: &[u8]| {
            let h = Hive::new(d).unwrap();
            let k = h.root().unwrap().path(s.base).unwrap().unwrap();
            let sk = u32le(d, 4096 + k.offset as usize + 4 + 44) as usize;
            u32le(d, 4096 + sk + 4 + 12)
        };
        assert_eq!(sk_refs(&s.after), sk_refs(&s.before) + 6, "{name}");
    }
}

/// Independent checks of what Windows relies on.
fn check_structure(name: &str, before: &[u8], after: &[u8]) {
    let b = Hive::new(before).unwrap();
    let a = Hive::new(after).unwrap();
    assert!(a.base.checksum_ok(), "{name}");
    assert!(!a.base.is_dirty(), "{name}");
    assert_eq!(
        a.base.primary_sequence,
        b.base.primary_sequence + 1,
        "{name}"
    );
    assert!(a.base.bins_size >= b.base.bins_size && a.base.bins_size.is_multiple_of(4096));
    assert_eq!(&after[12..20], &T.to_le_bytes(), "{name}: timestamp");
    // Every bin and cell walks cleanly: the editor opens its own output.
    HiveEditor::new(after.to_vec()).unwrap();
    // Bins tile the hive bins data, each a multiple of 4096.
    let mut off = 0usize;
    while off < a.base.bins_size as usize {
        let at = 4096 + off;
        assert_eq!(&after[at..at + 4], b"hbin", "{name} bin at 0x{off:X}");
        assert_eq!(u32le(after, at + 4) as usize, off);
        let size = u32le(after, at + 8) as usize;
        assert!(size > 0 && size.is_multiple_of(4096));
        off += size;
    }
    // Subkey lists sorted by uppercased name, lh hashes right, counts and name lengths right,
    // security reference counts equal to the keys using each sk cell.
    let mut sk_users: BTreeMap<u32, u32> = BTreeMap::new();
    walk_check(a.root().unwrap(), after, &mut sk_users);
    for (sk, users) in sk_users {
        let refs = u32le(after, 4096 + sk as usize + 4 + 12);
        assert!(
            refs >= users,
            "{name}: sk 0x{sk:X} has {refs} references for {users} keys"
        );
    }
    // New sk references are counted: the parent's sk gained exactly the new keys.
    assert!(own_count(after).0 > own_count(before).0);
}

fn u32le(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}

fn walk_check(key: Key, d: &[u8], sk_users: &mut BTreeMap<u32, u32>) {
    let nk = 4096 + key.offset as usize + 4;
    *sk_users.entry(u32le(d, nk + 44)).or_default() += 1;
    let subs = key.subkeys().unwrap();
    assert_eq!(u32le(d, nk + 20) as usize, subs.len());
    let names: Vec<String> = subs.iter().map(|k| k.name()).collect();
    let uppers: Vec<Vec<u16>> = names
        .iter()
        .map(|n| n.to_uppercase().encode_utf16().collect())
        .collect();
    assert!(
        uppers.windows(2).all(|w| w[0] < w[1]),
        "unsorted subkeys {names:?}"
    );
    let longest = names
        .iter()
        .map(|n| n.encode_utf16().count() * 2)
        .max()
        .unwrap_or(0);
    assert!(u32le(d, nk + 52) & 0xFFFF >= longest as u32, "{names:?}");
    let list = u32le(d, nk + 28);
    if !subs.is_empty() && &d[4096 + list as usize + 4..4096 + list as usize + 6] == b"lh" {
        for (i, up) in uppers.iter().enumerate() {
            let hash = up
                .iter()
                .fold(0u32, |h, &c| h.wrapping_mul(37).wrapping_add(u32::from(c)));
            assert_eq!(
                u32le(d, 4096 + list as usize + 4 + 4 + i * 8 + 4),
                hash,
                "{}",
                names[i]
            );
        }
    }
    let values = key.values().unwrap();
    let longest = values
        .iter()
        .map(|v| v.name.encode_utf16().count() * 2)
        .max()
        .unwrap_or(0);
    assert!(u32le(d, nk + 60) >= longest as u32);
    for s in subs {
        walk_check(s, d, sk_users);
    }
}

/// Bytes outside the cells an edit may touch are unchanged.
#[test]
fn untouched_cells_stay_byte_identical() {
    let before = load("regipy_SYSTEM_win7_32bit");
    let hive = Hive::new(&before).unwrap();
    let root = hive.root().unwrap();
    let ts = root.path(TS).unwrap().unwrap();
    let rdp = ts.path("WinStations\\RDP-Tcp").unwrap().unwrap();
    let mut ed = HiveEditor::new(before.clone()).unwrap();
    ed.set_timestamp(T);
    ed.set_value(TS, "fDenyTSConnections", &Data::Dword(0))
        .unwrap();
    ed.set_value(
        &format!("{TS}\\WinStations\\RDP-Tcp"),
        "PortNumber",
        &Data::Dword(3390),
    )
    .unwrap();
    ed.set_value(TS, "NewValue", &Data::String("x".repeat(100)))
        .unwrap();
    ed.set_value(
        &format!("{TS}\\New\\Key"),
        "V",
        &Data::Binary(vec![9; 30_000]),
    )
    .unwrap();
    let after = ed.finish();

    // Cells an edit may change: the two keys' nk cells, their value lists and the
    // overwritten vk cells, TS's subkey list, the sk cell, and any cell free before.
    let mut allowed: Vec<(usize, usize)> = vec![(0, 512), (4096 + 20, 4096 + 28)];
    let mut cell = |off: u32| {
        let at = 4096 + off as usize;
        let size =
            (i32::from_le_bytes(before[at..at + 4].try_into().unwrap())).unsigned_abs() as usize;
        allowed.push((at, at + size));
    };
    for key in [ts, rdp] {
        let nk = 4096 + key.offset as usize + 4;
        cell(key.offset);
        cell(u32le(&before, nk + 40));
        let list = u32le(&before, nk + 40) as usize;
        for i in 0..u32le(&before, nk + 36) as usize {
            let vk = u32le(&before, 4096 + list + 4 + 4 * i);
            let name_len = u16::from_le_bytes(
                before[4096 + vk as usize + 6..4096 + vk as usize + 8]
                    .try_into()
                    .unwrap(),
            );
            let name =
                &before[4096 + vk as usize + 24..4096 + vk as usize + 24 + name_len as usize];
            if name.eq_ignore_ascii_case(b"fDenyTSConnections")
                || name.eq_ignore_ascii_case(b"PortNumber")
            {
                cell(vk);
            }
        }
    }
    cell(u32le(&before, 4096 + ts.offset as usize + 4 + 28));
    cell(u32le(&before, 4096 + ts.offset as usize + 4 + 44));
    // Free cells of the original hive (new cells come from them).
    let bins = u32le(&before, 40) as usize;
    let mut off = 0;
    while off < bins {
        let size = u32le(&before, 4096 + off + 8) as usize;
        let mut c = off + 32;
        while c < off + size {
            let s = i32::from_le_bytes(before[4096 + c..4096 + c + 4].try_into().unwrap());
            if s > 0 {
                allowed.push((4096 + c, 4096 + c + s as usize));
            }
            c += s.unsigned_abs() as usize;
        }
        off += size;
    }
    let end = 4096 + bins;
    let mut changed = 0;
    for i in 0..end {
        if before[i] != after[i] {
            changed += 1;
            assert!(
                allowed.iter().any(|&(a, b)| (a..b).contains(&i)),
                "byte at 0x{i:X} changed outside the cells the edits may touch"
            );
        }
    }
    assert!(changed > 0);
    // Anything new lies past the old hive bins (an appended bin) or in the file's tail.
    assert!(after.len() >= end);
}

#[test]
fn refuses_dirty_and_damaged_hives() {
    let dirty = load("regipy_SYSTEM_2_win8_sensei");
    let e = HiveEditor::new(dirty).unwrap_err();
    assert!(e.message.contains("replay"), "{e}");
    let mut bad = load("regipy_SYSTEM_win7_32bit");
    bad[100] ^= 1;
    let e = HiveEditor::new(bad).unwrap_err();
    assert!(e.message.contains("checksum"), "{e}");
    for junk in [Vec::new(), vec![0u8; 100], b"regf".repeat(3000)] {
        let e = HiveEditor::new(junk).unwrap_err();
        assert!(e.to_string().starts_with("at file offset 0x"), "{e}");
    }
    // A cell whose size runs past its bin, in an otherwise valid hive.
    let mut bad = load("regipy_SYSTEM_win7_32bit");
    bad[4096 + 32..4096 + 36].copy_from_slice(&(-0x10_0000i32).to_le_bytes());
    let e = HiveEditor::new(bad).unwrap_err();
    assert!(e.message.contains("does not fit"), "{e}");
    assert_eq!(e.offset, 4096 + 32);
}

#[test]
fn an_edit_that_fails_changes_nothing() {
    let before = load("regipy_NTUSER_win7");
    let mut ed = HiveEditor::new(before.clone()).unwrap();
    let long = "k".repeat(300);
    assert!(ed
        .set_value(&format!("Software\\New\\{long}"), "v", &Data::Dword(1))
        .is_err());
    assert!(ed
        .set_value("Software", &"n".repeat(20_000), &Data::Dword(1))
        .is_err());
    assert!(ed.as_bytes() == before.as_slice());
}

// ---- the independent readers --------------------------------------------------

fn s(p: &Scratch) -> String {
    p.path().to_str().unwrap().to_string()
}

#[test]
fn python_registry_and_regipy_agree() {
    let pyreg = available("python:Registry", "PyPI python-registry");
    let regipy = available("python:regipy", "PyPI regipy");
    for (name, sc) in scenarios() {
        let (name, base) = (*name, sc.base);
        let ours = own_dump(&sc.after, base);
        let file = Scratch::new(name, &sc.after);
        let counts = own_count(&sc.after);
        if pyreg {
            let n = crate::common::assert_same(
                "python-registry",
                &ours,
                oracle(&["pyreg", &s(&file), base]),
            );
            assert!(n > 600, "{name}: {n}");
            assert_eq!(
                oracle(&["count-pyreg", &s(&file)]),
                vec![format!("{} {}", counts.0, counts.1)]
            );
        }
        if regipy {
            let n =
                crate::common::assert_same("regipy", &ours, oracle(&["regipy", &s(&file), base]));
            assert!(n > 600, "{name}: {n}");
            assert_eq!(
                oracle(&["count-regipy", &s(&file)]),
                vec![format!("{} {}", counts.0, counts.1)]
            );
        }
    }
}

/// hivexregedit --export and reged -x both write .reg text: parsed back into oracle lines.
fn reg_lines(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = String::new();
    let mut logical = Vec::new();
    let mut cur = String::new();
    for l in text.lines() {
        let l = l.trim_end_matches('\r');
        if let Some(stripped) = l.strip_suffix('\\') {
            if l.starts_with('"') || l.starts_with('@') || !cur.is_empty() {
                cur.push_str(stripped.trim_start());
                continue;
            }
        }
        cur.push_str(l.trim_start());
        logical.push(std::mem::take(&mut cur));
    }
    for l in logical {
        if let Some(p) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            path = p
                .strip_prefix(prefix)
                .unwrap_or(p)
                .trim_start_matches('\\')
                .to_string();
            continue;
        }
        let (name, rest) = if let Some(r) = l.strip_prefix("@=") {
            (String::new(), r)
        } else if let Some(r) = l.strip_prefix('"') {
            let (n, r) = unquote(r);
            (n, r.strip_prefix('=').unwrap_or(r))
        } else {
            continue;
        };
        let (kind, raw): (u32, Vec<u8>) = if let Some(r) = rest.strip_prefix('"') {
            let (v, _) = unquote(r);
            (
                1,
                v.encode_utf16()
                    .chain([0])
                    .flat_map(u16::to_le_bytes)
                    .collect(),
            )
        } else if let Some(h) = rest.strip_prefix("dword:") {
            (
                4,
                u32::from_str_radix(h, 16).unwrap().to_le_bytes().to_vec(),
            )
        } else if let Some(h) = rest.strip_prefix("hex:") {
            (3, hex_list(h))
        } else if let Some(r) = rest.strip_prefix("hex(") {
            let (k, h) = r.split_once("):").unwrap();
            (u32::from_str_radix(k, 16).unwrap(), hex_list(h))
        } else {
            panic!("unexpected .reg value {rest:?}");
        };
        out.push(format!("{path}\t{name}\t{kind}\t{}", raw_canon(kind, &raw)));
    }
    out
}

fn unquote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            }
            '"' => return (out, &s[i + 1..]),
            c => out.push(c),
        }
    }
    (out, "")
}

fn hex_list(h: &str) -> Vec<u8> {
    h.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect()
}

/// The oracle's canonical text for a type and raw bytes.
fn raw_canon(kind: u32, raw: &[u8]) -> String {
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = match kind {
        1 | 2 => {
            let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
            String::from_utf16_lossy(&units[..end])
        }
        4 if raw.len() >= 4 => u32::from_le_bytes(raw[..4].try_into().unwrap()).to_string(),
        11 if raw.len() >= 8 => u64::from_le_bytes(raw[..8].try_into().unwrap()).to_string(),
        7 => units
            .split(|&u| u == 0)
            .filter(|s| !s.is_empty())
            .map(String::from_utf16_lossy)
            .collect::<Vec<_>>()
            .join("|"),
        _ => raw.iter().map(|b| format!("{b:02x}")).collect(),
    };
    text.replace('\n', "\\n").replace('\t', "\\t")
}

#[test]
fn hivex_agrees() {
    if !available("hivexregedit", "Debian libwin-hivex-perl")
        || !available("hivexget", "Debian libhivex-bin")
    {
        return;
    }
    for (name, sc) in scenarios() {
        let (name, base) = (*name, sc.base);
        let ours = own_dump(&sc.after, base);
        let file = Scratch::new(name, &sc.after);
        // Perl prints Latin-1 characters as single bytes unless told to write UTF-8.
        let out = Command::new("hivexregedit")
            .env("PERL_UNICODE", "SO")
            .args(["--export", "--prefix", "HKEY_LOCAL_MACHINE\\X"])
            .arg(file.path())
            .arg(format!("\\{base}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let n = crate::common::assert_same(
            "hivexregedit",
            &ours,
            reg_lines(&text, "HKEY_LOCAL_MACHINE\\X"),
        );
        assert!(n > 600, "{name}: {n}");
        // hivexget on single values, by path.
        for (key, value, want) in [
            (format!("{base}\\RdpDoctor\\Many"), "v0000", "0"),
            (
                format!("{base}\\RdpDoctor\\Nested\\Deeper"),
                "M",
                "one\ntwo",
            ),
            (format!("{base}\\RdpDoctor\\Many"), "v0599", "599"),
        ] {
            let out = Command::new("hivexget")
                .arg(file.path())
                .arg(format!("\\{key}"))
                .arg(value)
                .output()
                .unwrap();
            assert!(out.status.success(), "{name} {value}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
                want,
                "{name} {value}"
            );
        }
    }
}

#[test]
fn chntpw_reged_agrees() {
    if !available("reged", "Debian chntpw") {
        return;
    }
    for (name, sc) in scenarios() {
        let (name, base) = (*name, sc.base);
        let ours = own_dump(&sc.after, base);
        let file = Scratch::new(name, &sc.after);
        let out_file = Scratch::new(&format!("{name}-reged.reg"), b"");
        let out = Command::new("reged")
            .arg("-x")
            .arg(file.path())
            .arg("HKEY_LOCAL_MACHINE\\X")
            .arg(format!("\\{base}"))
            .arg(out_file.path())
            .output()
            .unwrap();
        // reged exits 2 even when the export succeeded.
        assert!(matches!(out.status.code(), Some(0 | 2)), "{name}: {out:?}");
        let text = String::from_utf8_lossy(&std::fs::read(out_file.path()).unwrap()).to_string();
        // reged reads neither big data (db) nor names outside ASCII: those values
        // are left out of its comparison, and only those.
        let non_ascii = |l: &String| {
            let mut f = l.split('\t');
            let (path, name) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            !path.is_ascii() || !name.is_ascii()
        };
        let (skipped, ours): (Vec<String>, Vec<String>) = ours
            .into_iter()
            .partition(|l| l.len() > 2 * 16344 || non_ascii(l));
        assert_eq!(skipped.len(), 2, "{name}: {skipped:?}");
        let theirs: Vec<String> = reg_lines(&text, "HKEY_LOCAL_MACHINE\\X")
            .into_iter()
            .filter(|l| !l.contains("\tBig\t") && !non_ascii(l))
            .collect();
        let n = crate::common::assert_same("reged", &ours, theirs);
        assert!(n > 600, "{name}: {n}");
    }
}

#[test]
fn notatin_agrees() {
    use notatin::cell_value::CellValue;
    use notatin::parser_builder::ParserBuilder;

    for (name, sc) in scenarios() {
        let (name, base) = (*name, sc.base);
        let ours = own_dump(&sc.after, base);
        let file = Scratch::new(name, &sc.after);
        let mut parser = ParserBuilder::from_path(file.0.clone()).build().unwrap();
        let key = parser.get_key(base, false).unwrap().unwrap();
        let mut theirs = Vec::new();
        let mut stack = vec![(key, base.to_string())];
        while let Some((mut k, path)) = stack.pop() {
            for v in k.value_iter() {
                let kind = v.data_type as u32;
                let text = match v.get_content().0 {
                    CellValue::String(s) => s.split('\0').next().unwrap_or("").to_string(),
                    CellValue::U32(n) => n.to_string(),
                    CellValue::U64(n) => n.to_string(),
                    CellValue::MultiString(l) => l
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("|"),
                    CellValue::Binary(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
                    CellValue::None => String::new(),
                    _ => "?".into(),
                };
                let text = text.replace('\n', "\\n").replace('\t', "\\t");
                theirs.push(format!("{path}\t{}\t{kind}\t{text}", v.detail.value_name()));
            }
            for s in k.read_sub_keys(&mut parser) {
                let p = format!("{path}\\{}", s.key_name);
                stack.push((s, p));
            }
        }
        let n = crate::common::assert_same("notatin", &ours, theirs);
        assert!(n > 600, "{name}: {n}");
    }
}

// ---- random edit sequences ------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Set(usize, usize, Data),
    Delete(usize, usize),
    Create(usize),
}

const KEYS: [&str; 5] = ["", "A", "A\\B", "a\\b\\C", "Z"];
const NAMES: [&str; 5] = ["", "x", "X2", "long name for a value", "ü"];

fn data() -> impl Strategy<Value = Data> {
    prop_oneof![
        any::<u32>().prop_map(Data::Dword),
        any::<u64>().prop_map(Data::Qword),
        "[a-z]{0,40}".prop_map(Data::String),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Data::Binary),
        (1usize..3).prop_map(|n| Data::Binary(vec![0xA5; n * 16_000])),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..KEYS.len(), 0..NAMES.len(), data()).prop_map(|(k, n, d)| Op::Set(k, n, d)),
        2 => (0..KEYS.len(), 0..NAMES.len()).prop_map(|(k, n)| Op::Delete(k, n)),
        1 => (0..KEYS.len()).prop_map(Op::Create),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_edits_read_back_as_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        thread_local! {
            static HIVE: Vec<u8> = load("regipy_SYSTEM_win7_32bit");
        }
        let base = "Software\\RdpDoctorModel";
        let before = HIVE.with(|h| h.clone());
        let mut ed = HiveEditor::new(before).unwrap();
        let mut model: BTreeMap<String, BTreeMap<String, Data>> = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Set(k, n, d) => {
                    let path = format!("{base}\\{}", KEYS[*k]);
                    ed.set_value(&path, NAMES[*n], d).unwrap();
                    for p in prefixes(KEYS[*k]) {
                        model.entry(p).or_default();
                    }
                    model.entry(KEYS[*k].to_uppercase()).or_default().insert(NAMES[*n].to_uppercase(), d.clone());
                }
                Op::Delete(k, n) => {
                    let path = format!("{base}\\{}", KEYS[*k]);
                    let existed = model.get_mut(&KEYS[*k].to_uppercase()).and_then(|m| m.remove(&NAMES[*n].to_uppercase())).is_some();
                    prop_assert_eq!(ed.delete_value(&path, NAMES[*n]).unwrap(), existed);
                }
                Op::Create(k) => {
                    ed.create_key(&format!("{base}\\{}", KEYS[*k])).unwrap();
                    for p in prefixes(KEYS[*k]) {
                        model.entry(p).or_default();
                    }
                }
            }
        }
        let after = ed.finish();
        let hive = Hive::new(&after).unwrap();
        prop_assert!(hive.base.checksum_ok());
        HiveEditor::new(after.clone()).unwrap();
        let root = hive.root().unwrap();
        for (key, values) in &model {
            let k = root.path(&format!("{base}\\{key}")).unwrap();
            prop_assert!(k.is_some(), "key {} missing", key);
            let k = k.unwrap();
            let got: BTreeMap<String, Data> = k.values().unwrap().into_iter().map(|v| (v.name.to_uppercase(), v.data)).collect();
            prop_assert_eq!(&got, values, "key {}", key);
        }
    }
}

fn prefixes(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('\\').filter(|p| !p.is_empty()).collect();
    let mut out = vec![String::new()];
    for i in 1..=parts.len() {
        out.push(parts[..i].join("\\").to_uppercase());
    }
    out
}

/// A hive started empty and filled the way `host collect` fills one when it
/// cannot save the live hive: hivexget and regipy read back every value, and
/// so does this crate's reader (the editor reopens what it wrote).
#[test]
fn an_empty_hive_filled_reads_back_in_hivex_and_regipy() {
    assert!(HiveEditor::empty("").is_err());
    assert!(HiveEditor::empty("a\\b").is_err());
    let mut ed = HiveEditor::empty("ROOT").unwrap();
    ed.set_timestamp(T);
    let values = [
        ("Select", "Current", Data::Dword(1)),
        (TS, "fDenyTSConnections", Data::Dword(1)),
        (
            &format!("{TS}\\WinStations\\RDP-Tcp"),
            "SSLCertificateSHA1Hash",
            Data::Binary((0u8..20).collect()),
        ),
        (
            "ControlSet001\\Services\\TermService",
            "ImagePath",
            Data::ExpandString("%SystemRoot%\\System32\\svchost.exe -k NetworkService".into()),
        ),
        (
            "ControlSet001\\Services\\TermService",
            "DependOnService",
            Data::MultiString(vec!["RPCSS".into(), "TermDD".into()]),
        ),
        // Big data: past one 16 344-byte segment.
        ("ControlSet001\\Big", "Blob", Data::Binary(vec![7; 40_000])),
    ];
    for (key, name, data) in &values {
        ed.set_value(key, name, data).unwrap();
    }
    ed.create_key("ControlSet001\\Services\\SessionEnv")
        .unwrap();
    let bytes = ed.finish();
    let hive = Hive::new(&bytes).unwrap();
    assert!(!hive.base.is_dirty() && hive.base.checksum_ok());
    assert_eq!(hive.root().unwrap().name(), "ROOT");
    assert!(HiveEditor::new(bytes.clone()).is_ok());
    let ours = own_dump(&bytes, "ControlSet001");
    assert_eq!(ours.len(), values.len() - 1);
    assert_eq!(own_count(&bytes), (11, values.len()));
    let file = Scratch::new("empty_filled", &bytes);
    if available("python:regipy", "PyPI regipy") {
        crate::common::assert_same(
            "regipy",
            &ours,
            oracle(&["regipy", &s(&file), "ControlSet001"]),
        );
        assert_eq!(
            oracle(&["count-regipy", &s(&file)]),
            vec![format!("11 {}", values.len())]
        );
    }
    if available("hivexget", "Debian libhivex-bin") {
        for (key, name, want) in [
            ("Select", "Current", "1"),
            (TS, "fDenyTSConnections", "1"),
            (
                "ControlSet001\\Services\\TermService",
                "DependOnService",
                "RPCSS\nTermDD",
            ),
        ] {
            let out = Command::new("hivexget")
                .arg(file.path())
                .arg(format!("\\{key}"))
                .arg(name)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{key} {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
                want
            );
        }
        // Keys without values are there too.
        let out = Command::new("hivexget")
            .arg(file.path())
            .arg("\\ControlSet001\\Services\\SessionEnv")
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}
