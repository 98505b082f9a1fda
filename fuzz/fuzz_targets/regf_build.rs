#![no_main]
//! A new hive filled with keys and values whose names and data come from the
//! input, as `host collect` fills one from a live registry it does not
//! control: names of any length (too long ones are refused), paths with
//! empty or repeated parts, values of every type and size. The result must
//! open and read back the last value written under each name (names compare
//! without case, as Windows compares them). Never a panic.

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use rdp_doctor_regf::{Data, Hive, HiveEditor};

/// Characters of names: a few letters in both cases, a digit, a space, the
/// path separator and a dot; lengths reach past the 255-character limit.
const ALPHABET: &[u8] = b"aAbB1 \\.";

fn name(bytes: &[u8], len: usize) -> String {
    (0..len)
        .map(|i| ALPHABET[usize::from(bytes.get(i).copied().unwrap_or(0)) % ALPHABET.len()] as char)
        .collect()
}

fn data(kind: u8, size: usize, fill: u8) -> Data {
    match kind % 6 {
        0 => Data::Dword(u32::from(fill) << 8 | size as u32),
        1 => Data::Qword(u64::from(fill) << 40 | size as u64),
        2 => Data::String("x".repeat(size)),
        // An empty string would end the list early, as it does on Windows.
        3 => Data::MultiString(vec!["m".repeat(1 + size % 64); size % 5]),
        4 => Data::ExpandString(format!("%{}%", "e".repeat(size % 300))),
        _ => Data::Binary(vec![fill; size]),
    }
}

fuzz_target!(|input: &[u8]| {
    let Ok(mut ed) = HiveEditor::empty("ROOT") else {
        return;
    };
    let mut model: BTreeMap<(String, String), Data> = BTreeMap::new();
    // Records of 6 bytes: path length, name length, kind, size (2 bytes), fill;
    // the names' characters come from the bytes after the records.
    let (records, chars) = input.split_at(input.len().min(6 * 16));
    for r in records.chunks_exact(6) {
        let path = name(chars, usize::from(r[0]) * 2);
        let value = name(chars.get(7..).unwrap_or(&[]), usize::from(r[1]) % 40);
        let size = usize::from(u16::from_le_bytes([r[3], r[4]]));
        let d = data(r[2], size, r[5]);
        if ed.set_value(&path, &value, &d).is_ok() {
            let key = path
                .split('\\')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("\\")
                .to_ascii_lowercase();
            model.insert((key, value.to_ascii_lowercase()), d);
        }
    }
    let out = ed.finish();
    let hive = Hive::new(&out).expect("the new hive opens");
    assert!(hive.base.checksum_ok() && !hive.base.is_dirty());
    let root = hive.root().expect("root key");
    for ((path, value), want) in model {
        let key = root
            .path(&path)
            .expect("written key readable")
            .unwrap_or_else(|| panic!("key {path:?} is there"));
        let got = key.value(&value).expect("written value readable");
        assert_eq!(got, Some(want), "key {path:?} value {value:?}");
    }
    HiveEditor::new(out).expect("the editor reopens its own output");
});
