//! Damaged and hostile hives: clear errors that name the offset, never a panic
//! or a hang, for the reader, the editor and the replay.

use rdp_doctor_regf::log::replay;
use rdp_doctor_regf::{base_block_checksum, Data, Hive, HiveEditor};

const NONE: u32 = 0xFFFF_FFFF;

fn put(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn seal(d: &mut [u8]) {
    let sum = base_block_checksum(&d[..512]);
    put(d, 508, sum);
}

/// A minimal valid hive: base block, one bin, the root key (cell 0x20), its sk
/// cell (0x78) and a free cell for the rest of the bin.
fn minimal() -> Vec<u8> {
    let mut d = vec![0u8; 8192];
    d[..4].copy_from_slice(b"regf");
    for (at, v) in [
        (4, 1),
        (8, 1),
        (20, 1),
        (24, 5),
        (32, 1),
        (36, 0x20),
        (40, 4096),
        (44, 1),
    ] {
        put(&mut d, at, v);
    }
    let b = 4096;
    d[b..b + 4].copy_from_slice(b"hbin");
    put(&mut d, b + 8, 4096);
    // Root nk.
    let nk = b + 0x20;
    put(&mut d, nk, (-88i32) as u32);
    d[nk + 4..nk + 6].copy_from_slice(b"nk");
    d[nk + 6..nk + 8].copy_from_slice(&0x2Cu16.to_le_bytes());
    for (f, v) in [(28, NONE), (32, NONE), (40, NONE), (44, 0x78), (48, NONE)] {
        put(&mut d, nk + 4 + f, v);
    }
    d[nk + 4 + 72..nk + 4 + 74].copy_from_slice(&4u16.to_le_bytes());
    d[nk + 4 + 76..nk + 4 + 80].copy_from_slice(b"ROOT");
    // sk with a minimal self-relative descriptor.
    let sk = b + 0x78;
    put(&mut d, sk, (-48i32) as u32);
    d[sk + 4..sk + 6].copy_from_slice(b"sk");
    for (f, v) in [(4, 0x78), (8, 0x78), (12, 1), (16, 20)] {
        put(&mut d, sk + 4 + f, v);
    }
    d[sk + 24] = 1;
    d[sk + 26..sk + 28].copy_from_slice(&0x8004u16.to_le_bytes());
    put(&mut d, b + 0xA8, 4096 - 0xA8);
    seal(&mut d);
    d
}

fn offset_named(e: &rdp_doctor_regf::Error) {
    assert!(e.to_string().starts_with("at file offset 0x"), "{e}");
}

#[test]
fn the_minimal_hive_is_valid_and_editable() {
    let d = minimal();
    let h = Hive::new(&d).unwrap();
    assert_eq!(h.root().unwrap().name(), "ROOT");
    let mut ed = HiveEditor::new(d).unwrap();
    ed.set_value("A\\B", "v", &Data::Binary(vec![5; 20_000]))
        .unwrap();
    ed.set_value("", "", &Data::String("root default".into()))
        .unwrap();
    let out = ed.finish();
    let h = Hive::new(&out).unwrap();
    let root = h.root().unwrap();
    assert_eq!(
        root.path("a\\b").unwrap().unwrap().value("V").unwrap(),
        Some(Data::Binary(vec![5; 20_000]))
    );
    assert_eq!(
        root.value("").unwrap(),
        Some(Data::String("root default".into()))
    );
    // Two keys now share the root's security cell.
    assert_eq!(
        u32::from_le_bytes(out[4096 + 0x78 + 16..4096 + 0x78 + 20].try_into().unwrap()),
        3
    );
    // The bin grew: 20 000 bytes do not fit in the first one.
    assert!(h.base.bins_size > 4096);
}

#[test]
fn truncated_empty_and_foreign_bytes() {
    for (bytes, what) in [
        (Vec::new(), "too short"),
        (minimal()[..4000].to_vec(), "too short"),
        (
            b"REGF"
                .iter()
                .copied()
                .chain(minimal()[4..].iter().copied())
                .collect(),
            "regf",
        ),
    ] {
        let e = Hive::new(&bytes).unwrap_err();
        offset_named(&e);
        assert!(e.message.contains(what), "{e}");
        offset_named(&HiveEditor::new(bytes.clone()).unwrap_err());
        offset_named(&replay(&bytes, &[]).unwrap_err());
    }
    // The bins size runs past the file.
    let mut d = minimal();
    put(&mut d, 40, 8192);
    seal(&mut d);
    let e = HiveEditor::new(d).unwrap_err();
    assert_eq!(e.offset, 40, "{e}");
}

#[test]
fn cyclic_and_self_referencing_lists() {
    // An index root that contains itself: bounded nesting, an error.
    let mut d = minimal();
    let ri = 4096 + 0xA8;
    put(&mut d, ri, (-16i32) as u32);
    d[ri + 4..ri + 6].copy_from_slice(b"ri");
    d[ri + 6..ri + 8].copy_from_slice(&1u16.to_le_bytes());
    put(&mut d, ri + 8, 0xA8);
    put(&mut d, ri + 16, 4096 - 0xA8 - 16);
    put(&mut d, 4096 + 0x20 + 4 + 20, 1);
    put(&mut d, 4096 + 0x20 + 4 + 28, 0xA8);
    seal(&mut d);
    let h = Hive::new(&d).unwrap();
    let e = h.root().unwrap().subkeys().unwrap_err();
    offset_named(&e);
    assert!(e.message.contains("nested too deeply"), "{e}");
    let mut ed = HiveEditor::new(d.clone()).unwrap();
    let e = ed.set_value("New", "v", &Data::Dword(1)).unwrap_err();
    offset_named(&e);
    assert!(
        ed.as_bytes() == d.as_slice(),
        "a failed edit changes nothing"
    );

    // A leaf listing the root as its own subkey: one level reads, paths stay bounded.
    let mut d = minimal();
    let lf = 4096 + 0xA8;
    put(&mut d, lf, (-16i32) as u32);
    d[lf + 4..lf + 6].copy_from_slice(b"lf");
    d[lf + 6..lf + 8].copy_from_slice(&1u16.to_le_bytes());
    put(&mut d, lf + 8, 0x20);
    put(&mut d, lf + 16, 4096 - 0xA8 - 16);
    put(&mut d, 4096 + 0x20 + 4 + 20, 1);
    put(&mut d, 4096 + 0x20 + 4 + 28, 0xA8);
    seal(&mut d);
    let h = Hive::new(&d).unwrap();
    let root = h.root().unwrap();
    assert!(root.path(&"ROOT\\".repeat(50)).unwrap().is_some());
}

#[test]
fn huge_counts() {
    // A value count far beyond the list cell.
    let mut d = minimal();
    let list = 4096 + 0xA8;
    put(&mut d, list, (-8i32) as u32);
    put(&mut d, list + 8, 4096 - 0xA8 - 8);
    put(&mut d, 4096 + 0x20 + 4 + 36, u32::MAX);
    put(&mut d, 4096 + 0x20 + 4 + 40, 0xA8);
    seal(&mut d);
    let h = Hive::new(&d).unwrap();
    let e = h.root().unwrap().values().unwrap_err();
    offset_named(&e);
    assert!(e.message.contains("overruns"), "{e}");
    let mut ed = HiveEditor::new(d).unwrap();
    offset_named(&ed.set_value("", "x", &Data::Dword(1)).unwrap_err());

    // A log entry claiming 2^32-1 dirty pages: the entry is refused, the hive stays dirty.
    let mut dirty = minimal();
    put(&mut dirty, 4, 2);
    seal(&mut dirty);
    let mut log = dirty[..512].to_vec();
    put(&mut log, 4, 1);
    put(&mut log, 28, 6);
    let sum = base_block_checksum(&log);
    put(&mut log, 508, sum);
    let mut entry = vec![0u8; 512];
    entry[..4].copy_from_slice(b"HvLE");
    for (at, v) in [(4, 512), (12, 1), (16, 4096), (20, u32::MAX)] {
        put(&mut entry, at, v);
    }
    // Correct hashes, so that the count itself is what is refused.
    let seed = 0x82EF_4D88_7A4E_55C5;
    let h1 = rdp_doctor_regf::log::marvin32(seed, &entry[40..]);
    entry[24..32].copy_from_slice(&h1.to_le_bytes());
    let h2 = rdp_doctor_regf::log::marvin32(seed, &entry[..32]);
    entry[32..40].copy_from_slice(&h2.to_le_bytes());
    log.extend_from_slice(&entry);
    let e = replay(&dirty, &[&log]).unwrap_err();
    offset_named(&e);
    assert!(e.message.contains("dirty"), "{e}");
    assert!(
        e.message.contains("offset 0x200") && e.message.contains("overrun"),
        "{e}"
    );
}
