//! Windows registry hive files (regf) over byte buffers: a zero-copy reader
//! ([`Hive`]), transaction log replay ([`log::replay`]) and an editor that keeps
//! hives valid for Windows ([`HiveEditor`]). No I/O.
//!
//! The format: a 4096-byte base block (signature, sequence numbers, root cell,
//! checksum), then hive bins ("hbin") holding cells. Cells are addressed by
//! offsets relative to the first bin; a key is an `nk` cell with lists of
//! subkeys (`lf`, `lh`, `li`, `ri`) and values (`vk`, data inline, in a cell,
//! or in `db` big-data segments). Every offset is bounds-checked, lists are
//! bounded by the hive size, and errors name the offset.

#![forbid(unsafe_code)]

use std::fmt;

pub mod log;
mod write;

pub use write::HiveEditor;

const BASE_BLOCK: usize = 4096;
/// Index-list nesting allowed (`ri` lists of `ri` lists); real hives use one level.
const MAX_LIST_DEPTH: u8 = 4;

/// Why a hive or a cell could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Absolute file offset the problem was found at.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at file offset 0x{:X}: {}", self.offset, self.message)
    }
}

impl std::error::Error for Error {}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, Error> {
    Err(Error {
        offset,
        message: message.into(),
    })
}

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    d.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    d.get(o..o + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Facts from the base block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseBlock {
    pub primary_sequence: u32,
    pub secondary_sequence: u32,
    pub major: u32,
    pub minor: u32,
    pub root_cell: u32,
    pub bins_size: u32,
    pub checksum_stored: u32,
    pub checksum_computed: u32,
    /// The name stored in the header (often a path of the hive file on the original machine).
    pub file_name: String,
}

impl BaseBlock {
    /// A hive whose sequence numbers differ was not closed cleanly: its latest
    /// changes are in the .LOG1/.LOG2 transaction logs.
    pub fn is_dirty(&self) -> bool {
        self.primary_sequence != self.secondary_sequence
    }

    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_computed
    }
}

/// XOR of the first 127 dwords, with the special values the format defines.
pub fn base_block_checksum(block: &[u8]) -> u32 {
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= u32_at(block, i * 4).unwrap_or(0);
    }
    match sum {
        0xFFFF_FFFF => 0xFFFF_FFFE,
        0 => 1,
        s => s,
    }
}

/// A hive over borrowed bytes.
pub struct Hive<'a> {
    data: &'a [u8],
    pub base: BaseBlock,
}

/// A value's type and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    None,
    String(String),
    ExpandString(String),
    Binary(Vec<u8>),
    Dword(u32),
    DwordBigEndian(u32),
    Link(Vec<u8>),
    MultiString(Vec<String>),
    Qword(u64),
    /// Any other type, raw.
    Other(u32, Vec<u8>),
}

impl Data {
    /// The registry type name.
    pub fn type_name(&self) -> String {
        match self {
            Data::None => "REG_NONE".into(),
            Data::String(_) => "REG_SZ".into(),
            Data::ExpandString(_) => "REG_EXPAND_SZ".into(),
            Data::Binary(_) => "REG_BINARY".into(),
            Data::Dword(_) => "REG_DWORD".into(),
            Data::DwordBigEndian(_) => "REG_DWORD_BIG_ENDIAN".into(),
            Data::Link(_) => "REG_LINK".into(),
            Data::MultiString(_) => "REG_MULTI_SZ".into(),
            Data::Qword(_) => "REG_QWORD".into(),
            Data::Other(t, _) => format!("type {t}"),
        }
    }

    /// The value as a number, for DWORD and QWORD values.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Data::Dword(v) | Data::DwordBigEndian(v) => Some(u64::from(*v)),
            Data::Qword(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as text, for string values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Data::String(s) | Data::ExpandString(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::None => write!(f, "(none)"),
            Data::String(s) | Data::ExpandString(s) => write!(f, "{s:?}"),
            Data::Dword(v) | Data::DwordBigEndian(v) => write!(f, "0x{v:08X} ({v})"),
            Data::Qword(v) => write!(f, "0x{v:016X} ({v})"),
            Data::MultiString(v) => write!(f, "{v:?}"),
            Data::Binary(b) | Data::Link(b) | Data::Other(_, b) => {
                let hex: String = b.iter().take(32).map(|x| format!("{x:02X}")).collect();
                write!(
                    f,
                    "{hex}{} ({} bytes)",
                    if b.len() > 32 { "…" } else { "" },
                    b.len()
                )
            }
        }
    }
}

fn utf16_z(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
    String::from_utf16_lossy(&units[..end])
}

impl Data {
    /// The typed value of a registry type number and the bytes stored for it
    /// (the inverse of [`Data::to_raw`]); data too short for its type stays raw.
    pub fn from_raw(kind: u32, raw: Vec<u8>) -> Data {
        match kind {
            // REG_NONE may carry bytes (LSA's binary SIDs and access masks): keep them.
            0 if raw.is_empty() => Data::None,
            1 => Data::String(utf16_z(&raw)),
            2 => Data::ExpandString(utf16_z(&raw)),
            3 => Data::Binary(raw),
            4 if raw.len() >= 4 => {
                Data::Dword(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            5 if raw.len() >= 4 => {
                Data::DwordBigEndian(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
            }
            6 => Data::Link(raw),
            7 => {
                let units: Vec<u16> = raw
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Data::MultiString(
                    units
                        .split(|&u| u == 0)
                        .filter(|s| !s.is_empty())
                        .map(String::from_utf16_lossy)
                        .collect(),
                )
            }
            11 if raw.len() >= 8 => Data::Qword(u64::from_le_bytes([
                raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
            ])),
            t => Data::Other(t, raw),
        }
    }
}

/// A key (an `nk` cell).
#[derive(Clone, Copy)]
pub struct Key<'h, 'a> {
    hive: &'h Hive<'a>,
    /// Cell offset (relative to the first bin).
    pub offset: u32,
}

/// A value (a `vk` cell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub name: String,
    pub data: Data,
}

impl fmt::Debug for Key<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("offset", &self.offset)
            .field("name", &self.name())
            .finish()
    }
}

impl fmt::Debug for Hive<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hive")
            .field("bytes", &self.data.len())
            .field("base", &self.base)
            .finish()
    }
}

impl<'a> Hive<'a> {
    /// Opens a hive: checks the base block and the root key.
    pub fn new(data: &'a [u8]) -> Result<Self, Error> {
        if data.len() < BASE_BLOCK + 32 {
            return err(
                0,
                format!(
                    "{} bytes: too short for a hive (base block and one bin)",
                    data.len()
                ),
            );
        }
        if &data[..4] != b"regf" {
            return err(0, "no 'regf' signature: not a registry hive");
        }
        let field = |o: usize| u32_at(data, o).unwrap_or(0);
        let base = BaseBlock {
            primary_sequence: field(4),
            secondary_sequence: field(8),
            major: field(20),
            minor: field(24),
            root_cell: field(36),
            bins_size: field(40),
            checksum_stored: field(508),
            checksum_computed: base_block_checksum(&data[..512]),
            file_name: utf16_z(&data[48..112]),
        };
        if base.major != 1 {
            return err(
                20,
                format!("regf major version {} (only 1 exists)", base.major),
            );
        }
        if &data[BASE_BLOCK..BASE_BLOCK + 4] != b"hbin" {
            return err(
                BASE_BLOCK,
                "no 'hbin' signature where the first hive bin starts",
            );
        }
        let hive = Hive { data, base };
        hive.root()?;
        Ok(hive)
    }

    /// The cell's data (without its 4-byte size), bounds-checked.
    fn cell(&self, offset: u32) -> Result<&'a [u8], Error> {
        let abs = BASE_BLOCK + offset as usize;
        let Some(size) = u32_at(self.data, abs).map(|s| s as i32) else {
            return err(
                abs,
                format!("cell offset 0x{offset:X} is past the end of the hive"),
            );
        };
        let len = size.unsigned_abs() as usize;
        if len < 4 || abs + len > self.data.len() {
            return err(
                abs,
                format!("cell of {len} bytes at 0x{offset:X} does not fit in the hive"),
            );
        }
        Ok(&self.data[abs + 4..abs + len])
    }

    /// The root key.
    pub fn root(&self) -> Result<Key<'_, 'a>, Error> {
        self.key_at(self.base.root_cell)
    }

    fn key_at(&self, offset: u32) -> Result<Key<'_, 'a>, Error> {
        let c = self.cell(offset)?;
        if c.len() < 76 || &c[..2] != b"nk" {
            return err(BASE_BLOCK + offset as usize + 4, "expected a key (nk) cell");
        }
        Ok(Key { hive: self, offset })
    }

    /// Collects the nk offsets of a subkey list, following `ri` index roots.
    fn list_keys(&self, list: u32, depth: u8, out: &mut Vec<u32>) -> Result<(), Error> {
        if depth > MAX_LIST_DEPTH {
            return err(
                BASE_BLOCK + list as usize,
                "subkey index lists nested too deeply (a cycle?)",
            );
        }
        let c = self.cell(list)?;
        let count = u16_at(c, 2).unwrap_or(0) as usize;
        let sig = c.get(..2).unwrap_or_default();
        let (stride, nested) = match sig {
            b"lf" | b"lh" => (8, false),
            b"li" => (4, false),
            b"ri" => (4, true),
            _ => {
                return err(
                    BASE_BLOCK + list as usize + 4,
                    "expected a subkey list (lf, lh, li or ri)",
                )
            }
        };
        if 4 + count * stride > c.len() {
            return err(
                BASE_BLOCK + list as usize + 4,
                format!("subkey list of {count} entries overruns its cell"),
            );
        }
        for i in 0..count {
            let off = u32_at(c, 4 + i * stride).unwrap_or(0);
            if nested {
                self.list_keys(off, depth + 1, out)?;
            } else {
                out.push(off);
            }
            if out.len() > self.data.len() / 80 {
                return err(
                    BASE_BLOCK + list as usize,
                    "more subkeys than the hive can hold (a cycle?)",
                );
            }
        }
        Ok(())
    }

    fn value_data(&self, vk: &[u8], at: usize) -> Result<Data, Error> {
        let raw_size = u32_at(vk, 4).unwrap_or(0);
        let data_off = u32_at(vk, 8).unwrap_or(0);
        let kind = u32_at(vk, 12).unwrap_or(0);
        let inline = raw_size & 0x8000_0000 != 0;
        let size = (raw_size & 0x7FFF_FFFF) as usize;
        if inline {
            let bytes = data_off.to_le_bytes();
            return Ok(Data::from_raw(kind, bytes[..size.min(4)].to_vec()));
        }
        if size == 0 {
            return Ok(Data::from_raw(kind, Vec::new()));
        }
        if size > self.data.len() {
            return err(
                at,
                format!("value data of {size} bytes is larger than the hive"),
            );
        }
        let cell = self.cell(data_off)?;
        if cell.len() >= 2 && &cell[..2] == b"db" && size > 16344 {
            // Big data: a list of segments of up to 16344 bytes each.
            let count = u16_at(cell, 2).unwrap_or(0) as usize;
            let list = self.cell(u32_at(cell, 4).unwrap_or(0))?;
            let mut out = Vec::with_capacity(size);
            for i in 0..count {
                let seg = self.cell(u32_at(list, i * 4).unwrap_or(0))?;
                let take = (size - out.len()).min(16344).min(seg.len());
                out.extend_from_slice(&seg[..take]);
                if out.len() >= size {
                    break;
                }
            }
            return Ok(Data::from_raw(kind, out));
        }
        if size > cell.len() {
            return err(
                at,
                format!(
                    "value data of {size} bytes overruns its {}-byte cell",
                    cell.len()
                ),
            );
        }
        Ok(Data::from_raw(kind, cell[..size].to_vec()))
    }
}

impl<'h, 'a> Key<'h, 'a> {
    fn nk(&self) -> &'a [u8] {
        // key_at checked the cell; a failure here cannot happen, an empty slice is harmless.
        self.hive.cell(self.offset).unwrap_or_default()
    }

    /// The key's name.
    pub fn name(&self) -> String {
        let c = self.nk();
        let flags = u16_at(c, 2).unwrap_or(0);
        let len = u16_at(c, 72).unwrap_or(0) as usize;
        let raw = c.get(76..76 + len).unwrap_or_default();
        if flags & 0x20 != 0 {
            raw.iter().map(|&b| char::from(b)).collect()
        } else {
            utf16_z(raw)
        }
    }

    /// The subkeys.
    pub fn subkeys(&self) -> Result<Vec<Key<'h, 'a>>, Error> {
        let c = self.nk();
        let count = u32_at(c, 20).unwrap_or(0);
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut offs = Vec::new();
        self.hive
            .list_keys(u32_at(c, 28).unwrap_or(0), 0, &mut offs)?;
        offs.into_iter().map(|o| self.hive.key_at(o)).collect()
    }

    /// The subkey named `name` (case-insensitive, as Windows compares).
    pub fn subkey(&self, name: &str) -> Result<Option<Key<'h, 'a>>, Error> {
        let want = name.to_uppercase();
        Ok(self
            .subkeys()?
            .into_iter()
            .find(|k| k.name().to_uppercase() == want))
    }

    /// Follows a `\`-separated path.
    pub fn path(&self, path: &str) -> Result<Option<Key<'h, 'a>>, Error> {
        let mut key = *self;
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match key.subkey(part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The values.
    pub fn values(&self) -> Result<Vec<Value>, Error> {
        let c = self.nk();
        let count = u32_at(c, 36).unwrap_or(0) as usize;
        if count == 0 {
            return Ok(Vec::new());
        }
        let list_off = u32_at(c, 40).unwrap_or(0);
        let list = self.hive.cell(list_off)?;
        if count * 4 > list.len() {
            return err(
                BASE_BLOCK + list_off as usize,
                format!("value list of {count} entries overruns its cell"),
            );
        }
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            let vk_off = u32_at(list, i * 4).unwrap_or(0);
            let vk = self.hive.cell(vk_off)?;
            let at = BASE_BLOCK + vk_off as usize + 4;
            if vk.len() < 20 || &vk[..2] != b"vk" {
                return err(at, "expected a value (vk) cell");
            }
            let name_len = u16_at(vk, 2).unwrap_or(0) as usize;
            let flags = u16_at(vk, 16).unwrap_or(0);
            let raw = vk.get(20..20 + name_len).unwrap_or_default();
            let name = if flags & 1 != 0 {
                raw.iter().map(|&b| char::from(b)).collect()
            } else {
                utf16_z(raw)
            };
            out.push(Value {
                name,
                data: self.hive.value_data(vk, at)?,
            });
        }
        Ok(out)
    }

    /// The value named `name` (case-insensitive; "" is the default value).
    pub fn value(&self, name: &str) -> Result<Option<Data>, Error> {
        Ok(self
            .values()?
            .into_iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .map(|v| v.data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_hive() {
        assert!(Hive::new(b"").is_err());
        assert!(Hive::new(&[0u8; 8192])
            .unwrap_err()
            .message
            .contains("regf"));
        let mut fake = vec![0u8; 8192];
        fake[..4].copy_from_slice(b"regf");
        fake[20] = 1;
        assert!(Hive::new(&fake).unwrap_err().message.contains("hbin"));
        fake[4096..4100].copy_from_slice(b"hbin");
        let e = Hive::new(&fake).unwrap_err();
        assert!(e.message.contains("cell"), "{e}");
    }

    #[test]
    fn data_decoding() {
        assert_eq!(Data::from_raw(4, vec![0x3D, 0x0D, 0, 0]), Data::Dword(3389));
        assert_eq!(
            Data::from_raw(
                1,
                "ab\0".encode_utf16().flat_map(u16::to_le_bytes).collect()
            ),
            Data::String("ab".into())
        );
        assert_eq!(
            Data::from_raw(
                7,
                "a\0b\0\0"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect()
            ),
            Data::MultiString(vec!["a".into(), "b".into()])
        );
        assert_eq!(Data::from_raw(4, vec![1]), Data::Other(4, vec![1]));
    }
}
