#![no_main]
//! Any bytes as a hive to edit: if the editor opens it, a few edits derived
//! from the input's last bytes are applied, the result must open again and
//! read back exactly what was written; an edit may fail (a damaged hive) but
//! then changes nothing. Never a panic.

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use rdp_doctor_regf::{Data, Hive, HiveEditor};

const KEYS: [&str; 4] = ["", "A", "A\\B", "Cd"];

fuzz_target!(|data: &[u8]| {
    let Ok(mut ed) = HiveEditor::new(data.to_vec()) else {
        return;
    };
    // The script: the last 24 bytes, 3 per edit (key, name, action).
    let script = &data[data.len().saturating_sub(24)..];
    let mut model: BTreeMap<(usize, u8), Option<Data>> = BTreeMap::new();
    for op in script.chunks_exact(3) {
        let key = usize::from(op[0]) % KEYS.len();
        let name_id = op[1] % 4;
        let name = format!("v{name_id}");
        let data = match op[2] % 6 {
            0 => Some(Data::Dword(u32::from(op[2]))),
            1 => Some(Data::String("s".repeat(usize::from(op[2])))),
            2 => Some(Data::Binary(vec![op[1]; 16_000 + usize::from(op[2]) * 8])),
            3 => Some(Data::Qword(u64::from(op[2]) << 40)),
            4 => Some(Data::Binary(vec![op[2]; usize::from(op[0] % 6)])),
            _ => None,
        };
        match data {
            Some(d) => {
                if ed.set_value(KEYS[key], &name, &d).is_ok() {
                    model.insert((key, name_id), Some(d));
                }
            }
            None => {
                if let Ok(existed) = ed.delete_value(KEYS[key], &name) {
                    if existed {
                        model.insert((key, name_id), None);
                    }
                }
            }
        }
    }
    let out = ed.finish();
    let hive = Hive::new(&out).expect("the edited hive opens");
    assert!(hive.base.checksum_ok() && !hive.base.is_dirty());
    let root = hive.root().expect("root key");
    for ((key, name_id), want) in model {
        let k = root.path(KEYS[key]).expect("edited key readable");
        let got = match k {
            Some(k) => k.value(&format!("v{name_id}")).expect("edited value readable"),
            None => None,
        };
        assert_eq!(got, want, "key {:?} value v{name_id}", KEYS[key]);
    }
    HiveEditor::new(out).expect("the editor reopens its own output");
});
