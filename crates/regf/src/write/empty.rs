//! A new hive, empty but for its root key: what [`HiveEditor::empty`] starts from.

use super::{
    align, encode_name, err, now_filetime, utf16_len, HiveEditor, BASE_BLOCK, COMP_NAME, HBIN,
    HBIN_HEADER, MAX_KEY_NAME, NK_CLASS, NK_FLAGS, NK_NAME, NK_NAME_LEN, NK_PARENT, NK_SECURITY,
    NK_SUBKEY_LIST, NK_TIME, NK_VALUE_LIST, NONE,
};
use crate::{base_block_checksum, Error};

impl HiveEditor {
    /// A new hive holding only its root key named `root_name` (regf 1.5: a
    /// base block, one hive bin with the root `nk`, its security cell and a
    /// free cell), ready for [`create_key`](Self::create_key) and
    /// [`set_value`](Self::set_value). The keys it creates share the root's
    /// security descriptor: owner Administrators, full control for
    /// Administrators and SYSTEM, read for Everyone, inherited by subkeys.
    pub fn empty(root_name: &str) -> Result<Self, Error> {
        if root_name.is_empty() || utf16_len(root_name) > MAX_KEY_NAME || root_name.contains('\\') {
            return err(0, format!("{root_name:?} cannot name a root key"));
        }
        let timestamp = now_filetime();
        let mut d = vec![0u8; BASE_BLOCK + HBIN];
        d[..4].copy_from_slice(b"regf");
        let root = HBIN_HEADER as u32;
        // Sequence numbers, timestamp, version 1.5, primary file, direct memory
        // load, root cell, bins size, clustering factor.
        for (at, v) in [(4, 1u32), (8, 1), (20, 1), (24, 5), (28, 0), (32, 1)] {
            d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        d[12..20].copy_from_slice(&timestamp.to_le_bytes());
        d[36..40].copy_from_slice(&root.to_le_bytes());
        d[40..44].copy_from_slice(&(HBIN as u32).to_le_bytes());
        d[44..48].copy_from_slice(&1u32.to_le_bytes());
        let bin = BASE_BLOCK;
        d[bin..bin + 4].copy_from_slice(b"hbin");
        d[bin + 8..bin + 12].copy_from_slice(&(HBIN as u32).to_le_bytes());
        d[bin + 20..bin + 28].copy_from_slice(&timestamp.to_le_bytes());
        let (name, compressed) = encode_name(root_name);
        let mut nk = vec![0u8; NK_NAME + name.len()];
        nk[..2].copy_from_slice(b"nk");
        // KEY_HIVE_ENTRY | KEY_NO_DELETE, and the one-byte name flag.
        let flags = 0x0C | if compressed { COMP_NAME } else { 0 };
        nk[NK_FLAGS..NK_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
        nk[NK_TIME..NK_TIME + 8].copy_from_slice(&timestamp.to_le_bytes());
        for field in [NK_PARENT, NK_SUBKEY_LIST, 32, NK_VALUE_LIST, NK_CLASS] {
            nk[field..field + 4].copy_from_slice(&NONE.to_le_bytes());
        }
        nk[NK_NAME_LEN..NK_NAME_LEN + 2].copy_from_slice(&(name.len() as u16).to_le_bytes());
        nk[NK_NAME..].copy_from_slice(&name);
        let nk_size = align(nk.len() + 4, 8);
        let sk_off = root + nk_size as u32;
        nk[NK_SECURITY..NK_SECURITY + 4].copy_from_slice(&sk_off.to_le_bytes());
        let desc = root_descriptor();
        let mut sk = vec![0u8; 20 + desc.len()];
        sk[..2].copy_from_slice(b"sk");
        for (at, v) in [(4, sk_off), (8, sk_off), (12, 1), (16, desc.len() as u32)] {
            sk[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        sk[20..].copy_from_slice(&desc);
        let sk_size = align(sk.len() + 4, 8);
        let mut at = BASE_BLOCK + root as usize;
        for (cell, size) in [(&nk, nk_size), (&sk, sk_size)] {
            d[at..at + 4].copy_from_slice(&(-(size as i32)).to_le_bytes());
            d[at + 4..at + 4 + cell.len()].copy_from_slice(cell);
            at += size;
        }
        let free = BASE_BLOCK + HBIN - at;
        d[at..at + 4].copy_from_slice(&(free as u32).to_le_bytes());
        let sum = base_block_checksum(&d[..512]);
        d[508..512].copy_from_slice(&sum.to_le_bytes());
        let mut ed = HiveEditor::new(d)?;
        ed.timestamp = timestamp;
        // `finish` writes one past this: a new hive starts at sequence 1.
        ed.primary_sequence = 0;
        Ok(ed)
    }
}

/// A self-relative security descriptor: owner Administrators, group SYSTEM,
/// a DACL allowing Administrators and SYSTEM full control and Everyone read,
/// inherited by subkeys (as Windows' own keys under HKLM mostly are).
fn root_descriptor() -> Vec<u8> {
    const ADMINISTRATORS: &[u8] = &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0];
    const SYSTEM: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
    const EVERYONE: &[u8] = &[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    const KEY_ALL_ACCESS: u32 = 0x000F_003F;
    const KEY_READ: u32 = 0x0002_0019;
    // ACCESS_ALLOWED_ACE, CONTAINER_INHERIT_ACE.
    let ace = |mask: u32, sid: &[u8]| {
        let mut a = vec![0u8, 0x02];
        a.extend_from_slice(&((8 + sid.len()) as u16).to_le_bytes());
        a.extend_from_slice(&mask.to_le_bytes());
        a.extend_from_slice(sid);
        a
    };
    let aces = [
        ace(KEY_ALL_ACCESS, ADMINISTRATORS),
        ace(KEY_ALL_ACCESS, SYSTEM),
        ace(KEY_READ, EVERYONE),
    ];
    let acl_len = 8 + aces.iter().map(Vec::len).sum::<usize>();
    let owner = 20usize;
    let group = owner + ADMINISTRATORS.len();
    let dacl = group + SYSTEM.len();
    // Revision 1; SE_SELF_RELATIVE | SE_DACL_PRESENT.
    let mut d = vec![1u8, 0];
    d.extend_from_slice(&0x8004u16.to_le_bytes());
    for off in [owner, group, 0, dacl] {
        d.extend_from_slice(&(off as u32).to_le_bytes());
    }
    d.extend_from_slice(ADMINISTRATORS);
    d.extend_from_slice(SYSTEM);
    d.extend_from_slice(&[2, 0]);
    d.extend_from_slice(&(acl_len as u16).to_le_bytes());
    d.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    d.extend_from_slice(&[0, 0]);
    for a in &aces {
        d.extend_from_slice(a);
    }
    d
}
