//! Transaction log replay: a dirty hive and its .LOG1/.LOG2 files to a clean hive.
//!
//! A hive whose base block sequence numbers differ (or whose checksum is wrong)
//! was not written back completely; the changes are in its transaction logs.
//! Two formats exist:
//!
//! - the new one (Windows 8.1 and later): after a 512-byte copy of the base
//!   block (file type 6), `HvLE` log entries, each with a sequence number,
//!   the hive bins size at the time, dirty page references and the pages
//!   themselves, protected by two Marvin32 hashes;
//! - the old one: after the base block copy (file type 1 or 2), a `DIRT`
//!   dirty vector (one bit per 512-byte page of the hive bins) and the dirty
//!   pages in order.
//!
//! Rules applied (Suhanov's "Windows registry file format specification"):
//! only log entries with a sequence number at or after the hive's secondary
//! sequence number are applied, starting with the earliest, and each next one
//! must continue the sequence by one, in the same log or in the other one
//! (LOG1 and LOG2 split the entries between them); an entry with a bad hash,
//! a hive bins size that is not a multiple of 4096 or pages outside the hive
//! ends the chain, and only the entries before it are applied. An old-format
//! log applies when its base block timestamp equals the hive's.

use super::{base_block_checksum, err, u32_at, Error, BASE_BLOCK};

/// The seed Windows uses for the log entry hashes (bytes 82 EF 4D 88 7A 4E 55 C5).
const MARVIN_SEED: u64 = 0x82EF_4D88_7A4E_55C5;
const SECTOR: usize = 512;
const ENTRY_HEADER: usize = 40;

/// Which format the applied log(s) had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `HvLE` log entries (Windows 8.1 and later).
    Entries,
    /// A `DIRT` dirty vector and its pages.
    DirtyVector,
}

/// A hive with its transaction logs applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The clean hive: sequence numbers equal, hive bins size and checksum updated.
    pub bytes: Vec<u8>,
    /// Log entries applied (a dirty vector counts as one).
    pub entries_applied: usize,
    /// Dirty pages written into the hive.
    pub pages_written: usize,
    /// Indexes into the `logs` given, in the order they were applied.
    pub log_used: Vec<usize>,
    /// The sequence number now in both fields of the base block.
    pub sequence: u32,
    /// The format of the logs applied; `None` when the hive was already clean.
    pub format: Option<LogFormat>,
}

/// Marvin32 as Windows computes the log entry hashes: the two 32-bit state
/// words of the hash, low word first.
pub fn marvin32(seed: u64, data: &[u8]) -> u64 {
    fn mix(p0: &mut u32, p1: &mut u32) {
        *p1 ^= *p0;
        *p0 = p0.rotate_left(20);
        *p0 = p0.wrapping_add(*p1);
        *p1 = p1.rotate_left(9);
        *p1 ^= *p0;
        *p0 = p0.rotate_left(27);
        *p0 = p0.wrapping_add(*p1);
        *p1 = p1.rotate_left(19);
    }
    let mut p0 = seed as u32;
    let mut p1 = (seed >> 32) as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        p0 = p0.wrapping_add(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        mix(&mut p0, &mut p1);
    }
    // The tail (0 to 3 bytes) is padded with a single 0x80 byte.
    let tail = chunks.remainder();
    let mut last = 0x80u32;
    for &b in tail.iter().rev() {
        last = (last << 8) | u32::from(b);
    }
    p0 = p0.wrapping_add(last);
    mix(&mut p0, &mut p1);
    mix(&mut p0, &mut p1);
    u64::from(p0) | (u64::from(p1) << 32)
}

#[derive(Debug)]
struct Page {
    /// Offset relative to the first hive bin.
    offset: u32,
    /// Where the page's bytes are in the log.
    at: usize,
    len: usize,
}

#[derive(Debug)]
struct Entry {
    sequence: u32,
    bins_size: u32,
    flags: u32,
    pages: Vec<Page>,
}

enum Parsed {
    Entries(Vec<Entry>),
    DirtyVector { timestamp: u64 },
}

struct Log<'a> {
    index: usize,
    bytes: &'a [u8],
    parsed: Parsed,
}

fn log_name(index: usize) -> String {
    format!("transaction log #{}", index + 1)
}

/// Checks a log's base block copy; returns its file type.
fn log_base(index: usize, log: &[u8]) -> Result<u32, String> {
    let name = log_name(index);
    if log.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if log.len() < SECTOR || &log[..4] != b"regf" {
        return Err(format!("{name} has no 'regf' base block at offset 0"));
    }
    let stored = u32_at(log, 508).unwrap_or(0);
    let computed = base_block_checksum(&log[..SECTOR]);
    if stored != computed {
        return Err(format!(
            "{name}: base block checksum at offset 0x1FC is 0x{stored:08X}, should be 0x{computed:08X}"
        ));
    }
    let (p, s) = (u32_at(log, 4).unwrap_or(0), u32_at(log, 8).unwrap_or(1));
    if p != s {
        return Err(format!(
            "{name}: base block sequence numbers {p} and {s} differ (the log itself was not completed)"
        ));
    }
    Ok(u32_at(log, 28).unwrap_or(0))
}

/// The valid run of log entries from the start of a new-format log. Reading
/// stops at the first entry that is absent, damaged or out of sequence.
fn parse_entries(log: &[u8], limit: usize, notes: &mut Vec<String>, index: usize) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut o = SECTOR;
    while o + ENTRY_HEADER <= log.len() && &log[o..o + 4] == b"HvLE" {
        let field = |at: usize| u32_at(log, o + at).unwrap_or(0);
        let stop = |why: String, notes: &mut Vec<String>| {
            notes.push(format!("{} at offset 0x{o:X}: {why}", log_name(index)));
        };
        let size = field(4) as usize;
        if size < ENTRY_HEADER || !size.is_multiple_of(SECTOR) || o + size > log.len() {
            stop(format!("log entry size {size} is invalid"), notes);
            break;
        }
        let (flags, sequence, bins_size, count) = (field(8), field(12), field(16), field(20));
        if let Some(prev) = out.last() {
            if sequence != prev.sequence.wrapping_add(1) {
                // Older entries left over from an earlier use of the file: not an error.
                break;
            }
        }
        if bins_size == 0
            || !bins_size.is_multiple_of(4096)
            || BASE_BLOCK + bins_size as usize > limit
        {
            stop(format!("hive bins size {bins_size} is invalid"), notes);
            break;
        }
        let hash1 = u64::from(field(24)) | (u64::from(field(28)) << 32);
        let hash2 = u64::from(field(32)) | (u64::from(field(36)) << 32);
        if marvin32(MARVIN_SEED, &log[o + ENTRY_HEADER..o + size]) != hash1
            || marvin32(MARVIN_SEED, &log[o..o + 32]) != hash2
        {
            stop(format!("log entry {sequence} fails its hash check"), notes);
            break;
        }
        let refs_end = ENTRY_HEADER + count as usize * 8;
        if count as usize > size / 8 || refs_end > size {
            stop(
                format!("{count} dirty page references overrun the entry"),
                notes,
            );
            break;
        }
        let mut pages = Vec::with_capacity(count as usize);
        let mut at = o + refs_end;
        let mut bad = None;
        for i in 0..count as usize {
            let off = field(ENTRY_HEADER + i * 8);
            let len = field(ENTRY_HEADER + i * 8 + 4) as usize;
            if u64::from(off) + len as u64 > u64::from(bins_size) {
                bad = Some(format!(
                    "dirty page at 0x{off:X} of {len} bytes is outside the hive bins"
                ));
                break;
            }
            if at + len > o + size {
                bad = Some(format!("dirty page {i} overruns the entry"));
                break;
            }
            pages.push(Page {
                offset: off,
                at,
                len,
            });
            at += len;
        }
        if let Some(why) = bad {
            stop(why, notes);
            break;
        }
        out.push(Entry {
            sequence,
            bins_size,
            flags,
            pages,
        });
        o += size;
    }
    out
}

/// `a` at or after `b` in sequence-number order (which wraps).
fn seq_distance(a: u32, b: u32) -> Option<u32> {
    let d = a.wrapping_sub(b);
    (d < 0x8000_0000).then_some(d)
}

/// Replays the transaction logs of a dirty hive. `logs` are the log files in
/// order (.LOG1, .LOG2, or a single .LOG); empty slices stand for absent files.
/// A clean hive is returned unchanged. A dirty hive that no log can bring up to
/// date is an error: it is never marked clean without its changes.
pub fn replay(primary: &[u8], logs: &[&[u8]]) -> Result<Replayed, Error> {
    if primary.len() < BASE_BLOCK {
        return err(
            0,
            format!("{} bytes: too short for a hive base block", primary.len()),
        );
    }
    if &primary[..4] != b"regf" {
        return err(0, "no 'regf' signature: not a registry hive");
    }
    let field = |o: usize| u32_at(primary, o).unwrap_or(0);
    let checksum_ok = base_block_checksum(&primary[..SECTOR]) == field(508);
    let (seq1, seq2) = (field(4), field(8));
    if checksum_ok && seq1 == seq2 {
        return Ok(Replayed {
            bytes: primary.to_vec(),
            entries_applied: 0,
            pages_written: 0,
            log_used: Vec::new(),
            sequence: seq1,
            format: None,
        });
    }
    // Growth is bounded by what the files can supply.
    let limit = primary.len() + logs.iter().map(|l| l.len()).sum::<usize>() + BASE_BLOCK;
    let mut notes = Vec::new();
    let mut parsed = Vec::new();
    for (index, bytes) in logs.iter().enumerate() {
        match log_base(index, bytes) {
            Ok(6) => {
                let entries = parse_entries(bytes, limit, &mut notes, index);
                if entries.is_empty() {
                    notes.push(format!("{} has no valid log entry", log_name(index)));
                }
                parsed.push(Log {
                    index,
                    bytes,
                    parsed: Parsed::Entries(entries),
                });
            }
            Ok(1 | 2) => parsed.push(Log {
                index,
                bytes,
                parsed: Parsed::DirtyVector {
                    timestamp: u64::from(u32_at(bytes, 12).unwrap_or(0))
                        | (u64::from(u32_at(bytes, 16).unwrap_or(0)) << 32),
                },
            }),
            Ok(t) => notes.push(format!(
                "{}: file type {t} is not a transaction log",
                log_name(index)
            )),
            Err(why) => notes.push(why),
        }
    }

    let mut out = primary.to_vec();
    let expected = if checksum_ok {
        seq2
    } else {
        // A damaged base block is taken from a log's copy (its first sector).
        let Some(log) = parsed.first() else {
            return err(
                508,
                format!(
                    "base block checksum is wrong and no valid transaction log holds a copy of it ({})",
                    summary(&notes)
                ),
            );
        };
        out[..SECTOR].copy_from_slice(&log.bytes[..SECTOR]);
        out[28..32].copy_from_slice(&0u32.to_le_bytes());
        u32_at(&out, 8).unwrap_or(0)
    };

    if let Some(r) = replay_entries(&mut out, &parsed, expected, limit)? {
        return Ok(r);
    }
    if let Some(r) = replay_dirty_vector(&mut out, &parsed, limit)? {
        return Ok(r);
    }
    err(
        4,
        format!(
            "the hive is dirty (sequence numbers {seq1} and {seq2}) and no transaction log continues \
             it ({})",
            summary(&notes)
        ),
    )
}

fn summary(notes: &[String]) -> String {
    if notes.is_empty() {
        "no log given or none has entries from that sequence number on".into()
    } else {
        notes.join("; ")
    }
}

fn finish_base(out: &mut [u8], sequence: u32) {
    out[4..8].copy_from_slice(&sequence.to_le_bytes());
    out[8..12].copy_from_slice(&sequence.to_le_bytes());
    out[28..32].copy_from_slice(&0u32.to_le_bytes());
    let sum = base_block_checksum(&out[..SECTOR]);
    out[508..512].copy_from_slice(&sum.to_le_bytes());
}

fn replay_entries(
    out: &mut Vec<u8>,
    logs: &[Log],
    expected: u32,
    limit: usize,
) -> Result<Option<Replayed>, Error> {
    fn entries<'l>(l: &'l Log) -> Option<&'l [Entry]> {
        match &l.parsed {
            Parsed::Entries(e) => Some(e.as_slice()),
            Parsed::DirtyVector { .. } => None,
        }
    }
    // The earliest entry at or after the expected sequence number starts the chain.
    let mut start: Option<(usize, usize, u32)> = None;
    for (li, log) in logs.iter().enumerate() {
        for (ei, e) in entries(log).unwrap_or_default().iter().enumerate() {
            if let Some(d) = seq_distance(e.sequence, expected) {
                if start.is_none_or(|(_, _, best)| d < best) {
                    start = Some((li, ei, d));
                }
            }
        }
    }
    let Some((mut li, mut ei, _)) = start else {
        return Ok(None);
    };
    let mut applied = 0;
    let mut pages_written = 0;
    let mut used: Vec<usize> = Vec::new();
    let mut sequence;
    loop {
        let log = &logs[li];
        let e = &entries(log).unwrap_or_default()[ei];
        let need = BASE_BLOCK + e.bins_size as usize;
        if need > limit {
            return err(
                40,
                format!(
                    "{}: log entry {} needs {need} bytes",
                    log_name(log.index),
                    e.sequence
                ),
            );
        }
        if out.len() < need {
            out.resize(need, 0);
        }
        for p in &e.pages {
            let at = BASE_BLOCK + p.offset as usize;
            out[at..at + p.len].copy_from_slice(&log.bytes[p.at..p.at + p.len]);
            pages_written += 1;
        }
        out[40..44].copy_from_slice(&e.bins_size.to_le_bytes());
        out[144..148].copy_from_slice(&e.flags.to_le_bytes());
        applied += 1;
        sequence = e.sequence;
        if !used.contains(&log.index) {
            used.push(log.index);
        }
        // The next entry continues the sequence, in this log or another one.
        let next = sequence.wrapping_add(1);
        let here = entries(log)
            .unwrap_or_default()
            .get(ei + 1)
            .filter(|n| n.sequence == next)
            .map(|_| (li, ei + 1));
        let elsewhere = || {
            logs.iter().enumerate().find_map(|(l, lg)| {
                entries(lg)
                    .unwrap_or_default()
                    .iter()
                    .position(|n| n.sequence == next)
                    .map(|p| (l, p))
            })
        };
        match here.or_else(elsewhere) {
            Some((l, p)) => (li, ei) = (l, p),
            None => break,
        }
    }
    finish_base(out, sequence);
    Ok(Some(Replayed {
        bytes: std::mem::take(out),
        entries_applied: applied,
        pages_written,
        log_used: used,
        sequence,
        format: Some(LogFormat::Entries),
    }))
}

fn replay_dirty_vector(
    out: &mut Vec<u8>,
    logs: &[Log],
    limit: usize,
) -> Result<Option<Replayed>, Error> {
    let hive_time =
        u64::from(u32_at(out, 12).unwrap_or(0)) | (u64::from(u32_at(out, 16).unwrap_or(0)) << 32);
    let Some(log) = logs
        .iter()
        .find(|l| matches!(l.parsed, Parsed::DirtyVector { timestamp } if timestamp == hive_time))
    else {
        return Ok(None);
    };
    let name = log_name(log.index);
    let d = log.bytes;
    if d.get(SECTOR..SECTOR + 4) != Some(b"DIRT") {
        return err(
            SECTOR,
            format!("{name}: no 'DIRT' dirty vector at offset 0x200"),
        );
    }
    let bins_size = u32_at(d, 40).unwrap_or(0) as usize;
    if bins_size == 0 || !bins_size.is_multiple_of(4096) || BASE_BLOCK + bins_size > limit {
        return err(40, format!("{name}: hive bins size {bins_size} is invalid"));
    }
    let bits = bins_size / SECTOR;
    let bitmap_start = SECTOR + 4;
    let Some(bitmap) = d.get(bitmap_start..bitmap_start + bits.div_ceil(8)) else {
        return err(
            bitmap_start,
            format!("{name}: the dirty vector of {bits} bits is truncated"),
        );
    };
    let pages_start = (bitmap_start + bitmap.len()).div_ceil(SECTOR) * SECTOR;
    if out.len() < BASE_BLOCK + bins_size {
        out.resize(BASE_BLOCK + bins_size, 0);
    }
    let mut k = 0;
    for bit in 0..bits {
        if bitmap[bit / 8] & (1 << (bit % 8)) == 0 {
            continue;
        }
        let at = pages_start + k * SECTOR;
        let Some(page) = d.get(at..at + SECTOR) else {
            return err(
                at,
                format!("{name}: dirty page {k} is missing (log truncated)"),
            );
        };
        let to = BASE_BLOCK + bit * SECTOR;
        out[to..to + SECTOR].copy_from_slice(page);
        k += 1;
    }
    out[40..44].copy_from_slice(&(bins_size as u32).to_le_bytes());
    // The write that left the hive dirty had started with this number.
    let sequence = u32_at(out, 4).unwrap_or(0);
    finish_base(out, sequence);
    Ok(Some(Replayed {
        bytes: std::mem::take(out),
        entries_applied: 1,
        pages_written: k,
        log_used: vec![log.index],
        sequence,
        format: Some(LogFormat::DirtyVector),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marvin32_tail_padding() {
        // Different tails must hash differently, and the empty input is defined.
        let a = marvin32(MARVIN_SEED, b"");
        let b = marvin32(MARVIN_SEED, b"\0");
        let c = marvin32(MARVIN_SEED, b"\0\0\0\0");
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_ne!(a, c);
    }

    #[test]
    fn sequence_order_wraps() {
        assert_eq!(seq_distance(5, 5), Some(0));
        assert_eq!(seq_distance(1, u32::MAX), Some(2));
        assert_eq!(seq_distance(4, 5), None);
    }
}
