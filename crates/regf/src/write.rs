//! Editing a clean hive: values set and deleted, keys created, in the layout
//! Windows expects.
//!
//! The editor works on the hive's own bytes and changes only what an edit
//! needs: the key's `nk` cell, its lists, the cells it allocates and the cells
//! it frees. New cells come from free cells (split when larger) or from a new
//! hive bin appended at the end; freed cells are marked free and merged with
//! free neighbours in the same bin. Every edit is all-or-nothing: on an error
//! the bytes are restored to what they were before the call.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{base_block_checksum, err, u16_at, u32_at, Data, Error, Hive, BASE_BLOCK};

mod empty;

/// "No cell" in an offset field.
const NONE: u32 = 0xFFFF_FFFF;
/// Data longer than this is stored in `db` big-data segments of this size (hive 1.4+).
const BIG_DATA_SEGMENT: usize = 16344;
const HBIN: usize = 4096;
const HBIN_HEADER: usize = 32;
/// Windows limits key names to 255 and value names to 16383 UTF-16 units.
const MAX_KEY_NAME: usize = 255;
const MAX_VALUE_NAME: usize = 16383;
/// Largest value data accepted (Windows' own limit is lower in practice).
const MAX_DATA: usize = 64 * 1024 * 1024;

// nk field offsets, within the cell data.
const NK_FLAGS: usize = 2;
const NK_TIME: usize = 4;
const NK_PARENT: usize = 16;
const NK_SUBKEYS: usize = 20;
const NK_SUBKEY_LIST: usize = 28;
const NK_VALUES: usize = 36;
const NK_VALUE_LIST: usize = 40;
const NK_SECURITY: usize = 44;
const NK_CLASS: usize = 48;
const NK_MAX_SUBKEY_NAME: usize = 52;
const NK_MAX_VALUE_NAME: usize = 60;
const NK_MAX_VALUE_DATA: usize = 64;
const NK_NAME_LEN: usize = 72;
const NK_NAME: usize = 76;
/// Name stored as one byte per character.
const COMP_NAME: u16 = 0x20;

/// An editor over the bytes of a clean hive.
///
/// Paths are relative to the root key, `\`-separated and case-insensitive,
/// as in [`crate::Key::path`]; `""` is the root key and the value name `""`
/// is the key's default value.
pub struct HiveEditor {
    data: Vec<u8>,
    root: u32,
    minor: u32,
    primary_sequence: u32,
    bins_size: u32,
    /// Hive bins: offset (relative to the first bin) to size.
    bins: BTreeMap<u32, u32>,
    /// Free cells: offset to size.
    free: BTreeMap<u32, u32>,
    /// FILETIME written to changed keys and to the base block.
    timestamp: u64,
    /// Old bytes of every write of the edit in progress, to undo it on an error.
    journal: Vec<(usize, Vec<u8>)>,
}

impl std::fmt::Debug for HiveEditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiveEditor")
            .field("bytes", &self.data.len())
            .field("bins_size", &self.bins_size)
            .field("free_cells", &self.free.len())
            .finish()
    }
}

fn align(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

fn now_filetime() -> u64 {
    // FILETIME: 100 ns units since 1601-01-01.
    const UNIX_TO_1601: u64 = 11_644_473_600;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (since.as_secs() + UNIX_TO_1601) * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

/// A key or value name as stored: one byte per character (flagged as such) when
/// every character is ASCII, UTF-16LE otherwise. Windows also packs Latin-1 names
/// into single bytes, but regipy misreads those; UTF-16 names read the same in
/// every reader, Windows included.
fn encode_name(name: &str) -> (Vec<u8>, bool) {
    if name.is_ascii() {
        (name.as_bytes().to_vec(), true)
    } else {
        (
            name.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            false,
        )
    }
}

fn upper_units(name: &str) -> Vec<u16> {
    name.to_uppercase().encode_utf16().collect()
}

/// The `lh` hash: 37 * h + c over the uppercased UTF-16 units.
fn name_hash(name: &str) -> u32 {
    upper_units(name)
        .iter()
        .fold(0u32, |h, &c| h.wrapping_mul(37).wrapping_add(u32::from(c)))
}

/// The `lf` hint: the first four characters of the name, one byte each.
fn name_hint(name: &str) -> u32 {
    let mut b = [0u8; 4];
    for (slot, c) in b.iter_mut().zip(name.chars()) {
        *slot = u8::try_from(u32::from(c)).unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

fn utf16_len(name: &str) -> usize {
    name.encode_utf16().count()
}

impl Data {
    /// The registry type number and the raw bytes stored for this value.
    pub fn to_raw(&self) -> (u32, Vec<u8>) {
        fn utf16z(s: &str) -> Vec<u8> {
            s.encode_utf16()
                .chain(std::iter::once(0))
                .flat_map(u16::to_le_bytes)
                .collect()
        }
        match self {
            Data::None => (0, Vec::new()),
            Data::String(s) => (1, utf16z(s)),
            Data::ExpandString(s) => (2, utf16z(s)),
            Data::Binary(b) => (3, b.clone()),
            Data::Dword(v) => (4, v.to_le_bytes().to_vec()),
            Data::DwordBigEndian(v) => (5, v.to_be_bytes().to_vec()),
            Data::Link(b) => (6, b.clone()),
            Data::MultiString(list) => {
                // Empty strings cannot be represented: a double NUL ends the list.
                let mut out: Vec<u8> = list
                    .iter()
                    .filter(|s| !s.is_empty())
                    .flat_map(|s| utf16z(s))
                    .collect();
                out.extend_from_slice(&[0, 0]);
                (7, out)
            }
            Data::Qword(v) => (11, v.to_le_bytes().to_vec()),
            Data::Other(t, b) => (*t, b.clone()),
        }
    }
}

impl HiveEditor {
    /// Takes the bytes of a clean hive. A dirty hive (sequence numbers differ
    /// or the checksum is wrong) is refused: its transaction logs hold changes
    /// that must be replayed first ([`crate::log::replay`]).
    pub fn new(bytes: Vec<u8>) -> Result<Self, Error> {
        let hive = Hive::new(&bytes)?;
        let base = hive.base.clone();
        drop(hive);
        if base.is_dirty() {
            return err(
                4,
                format!(
                    "the hive is dirty (sequence numbers {} and {}): replay its transaction logs \
                     (.LOG1/.LOG2) first",
                    base.primary_sequence, base.secondary_sequence
                ),
            );
        }
        if !base.checksum_ok() {
            return err(
                508,
                format!(
                    "base block checksum 0x{:08X} should be 0x{:08X}: the hive is damaged or dirty; \
                     replay its transaction logs first",
                    base.checksum_stored, base.checksum_computed
                ),
            );
        }
        let bins_size = base.bins_size;
        if bins_size == 0
            || !(bins_size as usize).is_multiple_of(HBIN)
            || BASE_BLOCK + bins_size as usize > bytes.len()
        {
            return err(
                40,
                format!(
                    "hive bins size {bins_size} is not a positive multiple of 4096 within the \
                     {}-byte file",
                    bytes.len()
                ),
            );
        }
        let (bins, free) = scan_bins(&bytes, bins_size)?;
        Ok(HiveEditor {
            data: bytes,
            root: base.root_cell,
            minor: base.minor,
            primary_sequence: base.primary_sequence,
            bins_size,
            bins,
            free,
            timestamp: now_filetime(),
            journal: Vec::new(),
        })
    }

    /// Sets the FILETIME written to changed keys and, by [`finish`](Self::finish),
    /// to the base block (the current time unless set).
    pub fn set_timestamp(&mut self, filetime: u64) {
        self.timestamp = filetime;
    }

    /// The hive as edited so far (the base block is brought up to date by
    /// [`finish`](Self::finish)).
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Creates or overwrites a value, creating missing keys along `key_path`.
    pub fn set_value(&mut self, key_path: &str, name: &str, data: &Data) -> Result<(), Error> {
        if utf16_len(name) > MAX_VALUE_NAME {
            return err(
                0,
                format!("value name of {} characters is too long", name.len()),
            );
        }
        self.atomic(|ed| ed.set_value_inner(key_path, name, data))
    }

    /// Deletes a value; `false` when the key or the value does not exist.
    pub fn delete_value(&mut self, key_path: &str, name: &str) -> Result<bool, Error> {
        self.atomic(|ed| ed.delete_value_inner(key_path, name))
    }

    /// Creates a key and any missing keys along its path.
    pub fn create_key(&mut self, key_path: &str) -> Result<(), Error> {
        self.atomic(|ed| ed.ensure_key(key_path).map(|_| ()))
    }

    /// The finished hive: both sequence numbers one past the old primary one,
    /// the timestamp, the hive bins size and the checksum written.
    pub fn finish(mut self) -> Vec<u8> {
        let seq = self.primary_sequence.wrapping_add(1);
        let d = &mut self.data;
        d[4..8].copy_from_slice(&seq.to_le_bytes());
        d[8..12].copy_from_slice(&seq.to_le_bytes());
        d[12..20].copy_from_slice(&self.timestamp.to_le_bytes());
        d[40..44].copy_from_slice(&self.bins_size.to_le_bytes());
        // The first bin's timestamp is a backup copy of the base block's.
        d[BASE_BLOCK + 20..BASE_BLOCK + 28].copy_from_slice(&self.timestamp.to_le_bytes());
        let sum = base_block_checksum(&d[..512]);
        d[508..512].copy_from_slice(&sum.to_le_bytes());
        self.data
    }

    /// Runs one edit; on an error every byte and the allocator state are restored.
    fn atomic<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        let saved = (
            self.bins.clone(),
            self.free.clone(),
            self.bins_size,
            self.data.len(),
        );
        self.journal.clear();
        let result = f(self);
        if result.is_err() {
            for (at, old) in std::mem::take(&mut self.journal).into_iter().rev() {
                let end = (at + old.len()).min(self.data.len());
                if at < end {
                    self.data[at..end].copy_from_slice(&old[..end - at]);
                }
            }
            (self.bins, self.free, self.bins_size) = (saved.0, saved.1, saved.2);
            self.data.truncate(saved.3);
        }
        self.journal.clear();
        result
    }

    // ---- bytes -------------------------------------------------------------

    /// Writes bytes at an absolute file offset, remembering the old ones.
    fn put(&mut self, at: usize, bytes: &[u8]) {
        let old = self.data[at..at + bytes.len()].to_vec();
        self.journal.push((at, old));
        self.data[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn put32(&mut self, at: usize, v: u32) {
        self.put(at, &v.to_le_bytes());
    }

    /// Data of an allocated cell: (absolute start of its data, length).
    fn cell_span(&self, off: u32) -> Result<Range<usize>, Error> {
        let abs = BASE_BLOCK + off as usize;
        let in_bins = off as usize >= HBIN_HEADER && (off as u64) < u64::from(self.bins_size);
        let size = u32_at(&self.data, abs).map(|s| s as i32);
        match size {
            Some(s) if in_bins && s < 0 => {
                let len = s.unsigned_abs() as usize;
                if len < 8 || abs + len > BASE_BLOCK + self.bins_size as usize {
                    return err(
                        abs,
                        format!("cell at 0x{off:X} of {len} bytes does not fit"),
                    );
                }
                Ok(abs + 4..abs + len)
            }
            Some(s) if in_bins => err(
                abs,
                format!("cell at 0x{off:X} is free (size {s}) where a used cell was expected"),
            ),
            _ => err(
                abs,
                format!("cell offset 0x{off:X} is outside the hive bins"),
            ),
        }
    }

    fn cell(&self, off: u32) -> Result<&[u8], Error> {
        let span = self.cell_span(off)?;
        Ok(&self.data[span])
    }

    fn field32(&self, off: u32, field: usize) -> Result<u32, Error> {
        let c = self.cell(off)?;
        match u32_at(c, field) {
            Some(v) => Ok(v),
            None => err(
                BASE_BLOCK + off as usize + 4 + field,
                format!("cell at 0x{off:X} is too short for its field at +{field}"),
            ),
        }
    }

    fn set_field32(&mut self, off: u32, field: usize, v: u32) -> Result<(), Error> {
        let span = self.cell_span(off)?;
        if span.start + field + 4 > span.end {
            return err(span.start + field, "cell too short for the field written");
        }
        self.put32(span.start + field, v);
        Ok(())
    }

    fn nk(&self, off: u32) -> Result<&[u8], Error> {
        let c = self.cell(off)?;
        if c.len() < NK_NAME || &c[..2] != b"nk" {
            return err(BASE_BLOCK + off as usize + 4, "expected a key (nk) cell");
        }
        Ok(c)
    }

    fn key_name(&self, off: u32) -> Result<String, Error> {
        let c = self.nk(off)?;
        let flags = u16_at(c, NK_FLAGS).unwrap_or(0);
        let len = u16_at(c, NK_NAME_LEN).unwrap_or(0) as usize;
        let Some(raw) = c.get(NK_NAME..NK_NAME + len) else {
            return err(BASE_BLOCK + off as usize + 4, "key name overruns its cell");
        };
        Ok(decode_name(raw, flags & COMP_NAME != 0))
    }

    fn touch_key(&mut self, nk: u32) -> Result<(), Error> {
        let span = self.cell_span(nk)?;
        let t = self.timestamp.to_le_bytes();
        self.put(span.start + NK_TIME, &t);
        Ok(())
    }

    // ---- cell allocation ---------------------------------------------------

    /// Allocates a cell for `len` bytes of data; returns its offset. The data is zeroed.
    fn alloc(&mut self, len: usize) -> Result<u32, Error> {
        let need = align(len + 4, 8);
        if need > MAX_DATA + HBIN {
            return err(0, format!("a cell of {len} bytes is too large"));
        }
        let found = self
            .free
            .iter()
            .find(|(_, &size)| size as usize >= need)
            .map(|(&o, &s)| (o, s as usize));
        let off = match found {
            Some((off, size)) => {
                self.free.remove(&off);
                let mut used = size;
                if size - need >= 8 {
                    // Split: the rest stays a free cell.
                    let rest = off + need as u32;
                    let rest_size = (size - need) as u32;
                    self.put32(BASE_BLOCK + rest as usize, rest_size);
                    self.free.insert(rest, rest_size);
                    used = need;
                }
                self.put32(BASE_BLOCK + off as usize, (-(used as i32)) as u32);
                let start = BASE_BLOCK + off as usize + 4;
                let zeros = vec![0u8; used - 4];
                self.put(start, &zeros);
                off
            }
            None => self.append_bin(need)?,
        };
        Ok(off)
    }

    /// Appends a hive bin large enough for a cell of `need` bytes; returns the cell.
    fn append_bin(&mut self, need: usize) -> Result<u32, Error> {
        let size = align(need + HBIN_HEADER, HBIN);
        let bin = self.bins_size;
        let Some(new_bins) = u32::try_from(size)
            .ok()
            .and_then(|s| bin.checked_add(s))
            .filter(|&n| n < 0x7FFF_0000)
        else {
            return err(40, "the hive would grow past its 2 GiB limit");
        };
        let abs = BASE_BLOCK + bin as usize;
        if self.data.len() < abs + size {
            self.data.resize(abs + size, 0);
        }
        let mut header = vec![0u8; size];
        header[..4].copy_from_slice(b"hbin");
        header[4..8].copy_from_slice(&bin.to_le_bytes());
        header[8..12].copy_from_slice(&(size as u32).to_le_bytes());
        let cell = HBIN_HEADER;
        header[cell..cell + 4].copy_from_slice(&(-(need as i32)).to_le_bytes());
        let rest = size - HBIN_HEADER - need;
        if rest > 0 {
            header[cell + need..cell + need + 4].copy_from_slice(&(rest as u32).to_le_bytes());
        }
        // Bytes past the old end may be padding of the file; they are journaled like any write.
        self.put(abs, &header);
        self.bins.insert(bin, size as u32);
        self.bins_size = new_bins;
        let cell_off = bin + HBIN_HEADER as u32;
        if rest > 0 {
            self.free.insert(cell_off + need as u32, rest as u32);
        }
        Ok(cell_off)
    }

    /// Marks a used cell free, merging it with free neighbours in its bin.
    fn free_cell(&mut self, off: u32) -> Result<(), Error> {
        let span = self.cell_span(off)?;
        let mut start = off;
        let mut size = (span.end - span.start + 4) as u32;
        let Some((&bin, &bin_size)) = self.bins.range(..=off).next_back() else {
            return err(BASE_BLOCK + off as usize, "cell outside every hive bin");
        };
        let bin_end = bin + bin_size;
        if off + size > bin_end {
            return err(
                BASE_BLOCK + off as usize,
                format!("cell at 0x{off:X} crosses the end of its hive bin"),
            );
        }
        let next = off + size;
        if next < bin_end {
            if let Some(next_size) = self.free.remove(&next) {
                size += next_size;
            }
        }
        if let Some((&prev, &prev_size)) = self.free.range(..off).next_back() {
            if prev >= bin && prev + prev_size == off {
                self.free.remove(&prev);
                start = prev;
                size += prev_size;
            }
        }
        self.put32(BASE_BLOCK + start as usize, size);
        self.free.insert(start, size);
        Ok(())
    }

    /// Allocates a cell and fills it with `bytes`.
    fn alloc_with(&mut self, bytes: &[u8]) -> Result<u32, Error> {
        let off = self.alloc(bytes.len())?;
        self.put(BASE_BLOCK + off as usize + 4, bytes);
        Ok(off)
    }

    // ---- keys --------------------------------------------------------------

    fn reader(&self) -> Hive<'_> {
        // The editor keeps the bytes valid, so the reader is built without re-checking.
        let base = super::BaseBlock {
            primary_sequence: self.primary_sequence,
            secondary_sequence: self.primary_sequence,
            major: 1,
            minor: self.minor,
            root_cell: self.root,
            bins_size: self.bins_size,
            checksum_stored: 0,
            checksum_computed: 0,
            file_name: String::new(),
        };
        Hive {
            data: &self.data,
            base,
        }
    }

    fn subkey_offsets(&self, nk: u32) -> Result<Vec<u32>, Error> {
        let hive = self.reader();
        let key = hive.key_at(nk)?;
        Ok(key.subkeys()?.iter().map(|k| k.offset).collect())
    }

    fn child(&self, parent: u32, name: &str) -> Result<Option<u32>, Error> {
        let want = upper_units(name);
        for off in self.subkey_offsets(parent)? {
            if upper_units(&self.key_name(off)?) == want {
                return Ok(Some(off));
            }
        }
        Ok(None)
    }

    fn path_parts(path: &str) -> Result<Vec<&str>, Error> {
        let parts: Vec<&str> = path.split('\\').filter(|p| !p.is_empty()).collect();
        for p in &parts {
            if utf16_len(p) > MAX_KEY_NAME {
                return err(0, format!("key name {p:?} is longer than 255 characters"));
            }
        }
        Ok(parts)
    }

    fn find_key(&self, path: &str) -> Result<Option<u32>, Error> {
        let mut cur = self.root;
        for part in Self::path_parts(path)? {
            match self.child(cur, part)? {
                Some(k) => cur = k,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    fn ensure_key(&mut self, path: &str) -> Result<u32, Error> {
        let mut cur = self.root;
        for part in Self::path_parts(path)? {
            cur = match self.child(cur, part)? {
                Some(k) => k,
                None => self.new_key(cur, part)?,
            };
        }
        Ok(cur)
    }

    /// Creates the key `name` under `parent`, with the parent's security cell.
    fn new_key(&mut self, parent: u32, name: &str) -> Result<u32, Error> {
        let sk = self.field32(parent, NK_SECURITY)?;
        let sk_cell = self.cell(sk)?;
        if sk_cell.len() < 20 || &sk_cell[..2] != b"sk" {
            return err(
                BASE_BLOCK + sk as usize + 4,
                "the parent key's security offset does not point to an sk cell",
            );
        }
        let refs = u32_at(sk_cell, 12).unwrap_or(0);
        let Some(refs) = refs.checked_add(1) else {
            return err(
                BASE_BLOCK + sk as usize + 16,
                "security cell reference count overflows",
            );
        };
        let (raw, compressed) = encode_name(name);
        let mut nk = vec![0u8; NK_NAME + raw.len()];
        nk[..2].copy_from_slice(b"nk");
        let flags = if compressed { COMP_NAME } else { 0 };
        nk[NK_FLAGS..NK_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
        nk[NK_TIME..NK_TIME + 8].copy_from_slice(&self.timestamp.to_le_bytes());
        nk[NK_PARENT..NK_PARENT + 4].copy_from_slice(&parent.to_le_bytes());
        for field in [NK_SUBKEY_LIST, 32, NK_VALUE_LIST, NK_CLASS] {
            nk[field..field + 4].copy_from_slice(&NONE.to_le_bytes());
        }
        nk[NK_SECURITY..NK_SECURITY + 4].copy_from_slice(&sk.to_le_bytes());
        nk[NK_NAME_LEN..NK_NAME_LEN + 2].copy_from_slice(&(raw.len() as u16).to_le_bytes());
        nk[NK_NAME..].copy_from_slice(&raw);
        let off = self.alloc_with(&nk)?;
        self.set_field32(sk, 12, refs)?;
        self.insert_subkey(parent, off, name)?;
        self.touch_key(parent)?;
        Ok(off)
    }

    /// Adds `child` to the parent's subkey lists, in the order Windows keeps
    /// (uppercased names), and updates the parent's count and longest name.
    fn insert_subkey(&mut self, parent: u32, child: u32, name: &str) -> Result<(), Error> {
        let count = self.field32(parent, NK_SUBKEYS)?;
        let list = self.field32(parent, NK_SUBKEY_LIST)?;
        if count == 0 || list == NONE {
            let mut lh = Vec::with_capacity(12);
            lh.extend_from_slice(b"lh");
            lh.extend_from_slice(&1u16.to_le_bytes());
            lh.extend_from_slice(&child.to_le_bytes());
            lh.extend_from_slice(&name_hash(name).to_le_bytes());
            let new = self.alloc_with(&lh)?;
            self.set_field32(parent, NK_SUBKEY_LIST, new)?;
        } else {
            let sig = self.cell(list)?.get(..2).unwrap_or_default().to_vec();
            if sig == b"ri" {
                let c = self.cell(list)?;
                let n = u16_at(c, 2).unwrap_or(0) as usize;
                if n == 0 || 4 + 4 * n > c.len() {
                    return err(
                        BASE_BLOCK + list as usize + 4,
                        "index root list overruns its cell",
                    );
                }
                let leaves: Vec<u32> = (0..n).map(|i| u32_at(c, 4 + 4 * i).unwrap_or(0)).collect();
                // The first leaf whose last name sorts after the new one, else the last leaf.
                let want = upper_units(name);
                let mut pick = n - 1;
                for (i, &leaf) in leaves.iter().enumerate() {
                    let entries = self.leaf_entries(leaf)?.1;
                    if let Some(&(last, _)) = entries.last() {
                        if upper_units(&self.key_name(last)?) > want {
                            pick = i;
                            break;
                        }
                    }
                }
                let new = self.insert_into_leaf(leaves[pick], child, name)?;
                if new != leaves[pick] {
                    let span = self.cell_span(list)?;
                    self.put32(span.start + 4 + 4 * pick, new);
                }
            } else {
                let new = self.insert_into_leaf(list, child, name)?;
                if new != list {
                    self.set_field32(parent, NK_SUBKEY_LIST, new)?;
                }
            }
        }
        let Some(count) = count.checked_add(1) else {
            return err(
                BASE_BLOCK + parent as usize + 4 + NK_SUBKEYS,
                "subkey count overflows",
            );
        };
        self.set_field32(parent, NK_SUBKEYS, count)?;
        // Low 16 bits: longest subkey name in UTF-16 bytes; the high bits are flags.
        let field = self.field32(parent, NK_MAX_SUBKEY_NAME)?;
        let len = (utf16_len(name) * 2) as u32;
        if len > field & 0xFFFF {
            self.set_field32(parent, NK_MAX_SUBKEY_NAME, (field & 0xFFFF_0000) | len)?;
        }
        Ok(())
    }

    /// A leaf list's signature and its (key offset, hash or hint) entries.
    #[allow(clippy::type_complexity)]
    fn leaf_entries(&self, leaf: u32) -> Result<([u8; 2], Vec<(u32, u32)>), Error> {
        let c = self.cell(leaf)?;
        let at = BASE_BLOCK + leaf as usize + 4;
        let sig: [u8; 2] = match c.get(..2) {
            Some(s @ (b"lf" | b"lh" | b"li")) => [s[0], s[1]],
            _ => return err(at, "expected a subkey leaf list (lf, lh or li)"),
        };
        let stride = if &sig == b"li" { 4 } else { 8 };
        let n = u16_at(c, 2).unwrap_or(0) as usize;
        if 4 + n * stride > c.len() {
            return err(at, format!("subkey list of {n} entries overruns its cell"));
        }
        let entries = (0..n)
            .map(|i| {
                let o = 4 + i * stride;
                (
                    u32_at(c, o).unwrap_or(0),
                    if stride == 8 {
                        u32_at(c, o + 4).unwrap_or(0)
                    } else {
                        0
                    },
                )
            })
            .collect();
        Ok((sig, entries))
    }

    /// Inserts into a leaf list in sorted position; returns the list's (maybe new) offset.
    fn insert_into_leaf(&mut self, leaf: u32, child: u32, name: &str) -> Result<u32, Error> {
        let (sig, mut entries) = self.leaf_entries(leaf)?;
        if entries.len() >= usize::from(u16::MAX) {
            return err(
                BASE_BLOCK + leaf as usize,
                "subkey list is full (65535 entries)",
            );
        }
        let want = upper_units(name);
        let mut pos = entries.len();
        for (i, &(k, _)) in entries.iter().enumerate() {
            if upper_units(&self.key_name(k)?) > want {
                pos = i;
                break;
            }
        }
        let hint = match &sig {
            b"lh" => name_hash(name),
            b"lf" => name_hint(name),
            _ => 0,
        };
        entries.insert(pos, (child, hint));
        let mut bytes = Vec::with_capacity(4 + entries.len() * 8);
        bytes.extend_from_slice(&sig);
        bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (k, h) in &entries {
            bytes.extend_from_slice(&k.to_le_bytes());
            if &sig != b"li" {
                bytes.extend_from_slice(&h.to_le_bytes());
            }
        }
        let span = self.cell_span(leaf)?;
        if bytes.len() <= span.end - span.start {
            self.put(span.start, &bytes);
            Ok(leaf)
        } else {
            let new = self.alloc_with(&bytes)?;
            self.free_cell(leaf)?;
            Ok(new)
        }
    }

    // ---- values ------------------------------------------------------------

    /// The key's value list offset and its vk offsets.
    fn value_list(&self, nk: u32) -> Result<(u32, Vec<u32>), Error> {
        let count = self.field32(nk, NK_VALUES)? as usize;
        let list = self.field32(nk, NK_VALUE_LIST)?;
        if count == 0 {
            return Ok((list, Vec::new()));
        }
        let c = self.cell(list)?;
        if count * 4 > c.len() {
            return err(
                BASE_BLOCK + list as usize,
                format!("value list of {count} entries overruns its cell"),
            );
        }
        Ok((
            list,
            (0..count).map(|i| u32_at(c, i * 4).unwrap_or(0)).collect(),
        ))
    }

    fn vk(&self, off: u32) -> Result<&[u8], Error> {
        let c = self.cell(off)?;
        if c.len() < 20 || &c[..2] != b"vk" {
            return err(BASE_BLOCK + off as usize + 4, "expected a value (vk) cell");
        }
        Ok(c)
    }

    fn value_name(&self, off: u32) -> Result<String, Error> {
        let c = self.vk(off)?;
        let len = u16_at(c, 2).unwrap_or(0) as usize;
        let flags = u16_at(c, 16).unwrap_or(0);
        let Some(raw) = c.get(20..20 + len) else {
            return err(
                BASE_BLOCK + off as usize + 4,
                "value name overruns its cell",
            );
        };
        Ok(decode_name(raw, flags & 1 != 0))
    }

    fn find_value(&self, nk: u32, name: &str) -> Result<Option<(usize, u32)>, Error> {
        let want = upper_units(name);
        for (i, vk) in self.value_list(nk)?.1.into_iter().enumerate() {
            if upper_units(&self.value_name(vk)?) == want {
                return Ok(Some((i, vk)));
            }
        }
        Ok(None)
    }

    /// Stores value data; returns the vk's (size field, data offset field).
    fn store_data(&mut self, raw: &[u8]) -> Result<(u32, u32), Error> {
        if raw.len() > MAX_DATA {
            return err(0, format!("value data of {} bytes is too large", raw.len()));
        }
        if raw.len() <= 4 {
            // Small data lives in the offset field itself.
            let mut b = [0u8; 4];
            b[..raw.len()].copy_from_slice(raw);
            return Ok((raw.len() as u32 | 0x8000_0000, u32::from_le_bytes(b)));
        }
        if raw.len() <= BIG_DATA_SEGMENT || self.minor < 4 {
            // Hives before 1.4 have no big data: one cell holds it all.
            return Ok((raw.len() as u32, self.alloc_with(raw)?));
        }
        let mut segments = Vec::new();
        for chunk in raw.chunks(BIG_DATA_SEGMENT) {
            segments.push(self.alloc_with(chunk)?);
        }
        let list: Vec<u8> = segments.iter().flat_map(|s| s.to_le_bytes()).collect();
        let list = self.alloc_with(&list)?;
        let mut db = Vec::with_capacity(8);
        db.extend_from_slice(b"db");
        db.extend_from_slice(&(segments.len() as u16).to_le_bytes());
        db.extend_from_slice(&list.to_le_bytes());
        Ok((raw.len() as u32, self.alloc_with(&db)?))
    }

    /// Frees the cells holding a value's data (a data cell, or `db` with its segments).
    fn free_data(&mut self, vk: u32) -> Result<(), Error> {
        let c = self.vk(vk)?;
        let size_field = u32_at(c, 4).unwrap_or(0);
        let off = u32_at(c, 8).unwrap_or(0);
        let size = (size_field & 0x7FFF_FFFF) as usize;
        if size_field & 0x8000_0000 != 0 || size == 0 || off == NONE {
            return Ok(());
        }
        let data = self.cell(off)?;
        if size > BIG_DATA_SEGMENT && data.len() >= 8 && &data[..2] == b"db" {
            let n = u16_at(data, 2).unwrap_or(0) as usize;
            let list = u32_at(data, 4).unwrap_or(0);
            let l = self.cell(list)?;
            if n * 4 > l.len() {
                return err(
                    BASE_BLOCK + list as usize,
                    "big data segment list overruns its cell",
                );
            }
            let segs: Vec<u32> = (0..n).map(|i| u32_at(l, i * 4).unwrap_or(0)).collect();
            for s in segs {
                self.free_cell(s)?;
            }
            self.free_cell(list)?;
        }
        self.free_cell(off)
    }

    fn set_value_inner(&mut self, key_path: &str, name: &str, data: &Data) -> Result<(), Error> {
        let nk = self.ensure_key(key_path)?;
        let (kind, raw) = data.to_raw();
        match self.find_value(nk, name)? {
            Some((_, vk)) => {
                self.free_data(vk)?;
                let (size, off) = self.store_data(&raw)?;
                let span = self.cell_span(vk)?;
                self.put32(span.start + 4, size);
                self.put32(span.start + 8, off);
                self.put32(span.start + 12, kind);
            }
            None => {
                let (size, off) = self.store_data(&raw)?;
                let (raw_name, compressed) = encode_name(name);
                let mut vk = vec![0u8; 20 + raw_name.len()];
                vk[..2].copy_from_slice(b"vk");
                vk[2..4].copy_from_slice(&(raw_name.len() as u16).to_le_bytes());
                vk[4..8].copy_from_slice(&size.to_le_bytes());
                vk[8..12].copy_from_slice(&off.to_le_bytes());
                vk[12..16].copy_from_slice(&kind.to_le_bytes());
                vk[16..18].copy_from_slice(&u16::from(compressed).to_le_bytes());
                vk[20..].copy_from_slice(&raw_name);
                let vk = self.alloc_with(&vk)?;
                self.append_value(nk, vk)?;
                let longest = self.field32(nk, NK_MAX_VALUE_NAME)?;
                let len = (utf16_len(name) * 2) as u32;
                if len > longest {
                    self.set_field32(nk, NK_MAX_VALUE_NAME, len)?;
                }
            }
        }
        if raw.len() as u32 > self.field32(nk, NK_MAX_VALUE_DATA)? {
            self.set_field32(nk, NK_MAX_VALUE_DATA, raw.len() as u32)?;
        }
        self.touch_key(nk)
    }

    /// Appends a vk to the key's value list, growing the list cell if it is full.
    fn append_value(&mut self, nk: u32, vk: u32) -> Result<(), Error> {
        let (list, mut vks) = self.value_list(nk)?;
        vks.push(vk);
        let bytes: Vec<u8> = vks.iter().flat_map(|v| v.to_le_bytes()).collect();
        let fits = vks.len() > 1 && {
            let span = self.cell_span(list)?;
            bytes.len() <= span.end - span.start
        };
        if fits {
            let span = self.cell_span(list)?;
            self.put(span.start, &bytes);
        } else {
            let new = self.alloc_with(&bytes)?;
            if vks.len() > 1 {
                self.free_cell(list)?;
            }
            self.set_field32(nk, NK_VALUE_LIST, new)?;
        }
        self.set_field32(nk, NK_VALUES, vks.len() as u32)
    }

    fn delete_value_inner(&mut self, key_path: &str, name: &str) -> Result<bool, Error> {
        let Some(nk) = self.find_key(key_path)? else {
            return Ok(false);
        };
        let Some((index, vk)) = self.find_value(nk, name)? else {
            return Ok(false);
        };
        let (list, mut vks) = self.value_list(nk)?;
        vks.remove(index);
        if vks.is_empty() {
            self.free_cell(list)?;
            self.set_field32(nk, NK_VALUE_LIST, NONE)?;
        } else {
            let bytes: Vec<u8> = vks.iter().flat_map(|v| v.to_le_bytes()).collect();
            let span = self.cell_span(list)?;
            self.put(span.start, &bytes);
        }
        self.set_field32(nk, NK_VALUES, vks.len() as u32)?;
        self.free_data(vk)?;
        self.free_cell(vk)?;
        self.touch_key(nk)?;
        Ok(true)
    }
}

fn decode_name(raw: &[u8], compressed: bool) -> String {
    if compressed {
        raw.iter().map(|&b| char::from(b)).collect()
    } else {
        super::utf16_z(raw)
    }
}

/// Walks every hive bin and cell; returns the bins and the free cells.
#[allow(clippy::type_complexity)]
fn scan_bins(d: &[u8], bins_size: u32) -> Result<(BTreeMap<u32, u32>, BTreeMap<u32, u32>), Error> {
    let mut bins = BTreeMap::new();
    let mut free = BTreeMap::new();
    let mut off = 0u32;
    while off < bins_size {
        let abs = BASE_BLOCK + off as usize;
        if d.get(abs..abs + 4) != Some(b"hbin") {
            return err(
                abs,
                format!("no 'hbin' signature at hive bin offset 0x{off:X}"),
            );
        }
        let stored = u32_at(d, abs + 4).unwrap_or(0);
        if stored != off {
            return err(
                abs + 4,
                format!("hive bin at 0x{off:X} says it is at 0x{stored:X}"),
            );
        }
        let size = u32_at(d, abs + 8).unwrap_or(0);
        if size == 0
            || !(size as usize).is_multiple_of(HBIN)
            || u64::from(off) + u64::from(size) > u64::from(bins_size)
        {
            return err(
                abs + 8,
                format!(
                    "hive bin at 0x{off:X} has size {size}, not a multiple of 4096 within the hive"
                ),
            );
        }
        let end = off + size;
        let mut c = off + HBIN_HEADER as u32;
        while c < end {
            let cabs = BASE_BLOCK + c as usize;
            let s = u32_at(d, cabs).unwrap_or(0) as i32;
            let len = s.unsigned_abs();
            if len < 8 || !len.is_multiple_of(8) || u64::from(c) + u64::from(len) > u64::from(end) {
                return err(
                    cabs,
                    format!("cell at 0x{c:X} has size {s}, which does not fit its hive bin"),
                );
            }
            if s > 0 {
                free.insert(c, len);
            }
            c += len;
        }
        bins.insert(off, size);
        off = end;
    }
    Ok((bins, free))
}
