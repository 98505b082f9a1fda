//! Whether an .evtx file is whole: a 4 KiB file header, then 64 KiB chunks.
//!
//! A log cut short (a copy that stopped, `head -c`, a carved file) ends inside a chunk,
//! or holds fewer chunks than its header counts. The parser reads the complete chunks
//! and says nothing about the rest, so the cut is found from the sizes.
//! Layout: libyal's EVTX format, file header offset 42 = number of chunks (u16).

use serde::Serialize;

/// Size of the file header block.
pub const FILE_HEADER: usize = 4096;
/// Size of one chunk.
pub const CHUNK: usize = 65_536;

/// How a file is cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Truncation {
    /// Complete chunks in the file: the ones read.
    pub chunks_read: usize,
    /// Chunks the file header counts (0 when the header itself is cut).
    pub chunks_in_header: usize,
    /// Bytes after the last complete chunk: the start of a chunk that is not there.
    pub partial_bytes: usize,
}

impl Truncation {
    /// One line for people.
    pub fn describe(&self) -> String {
        let mut s = format!("truncated: {} complete chunk(s) read", self.chunks_read);
        if self.chunks_in_header > self.chunks_read {
            s.push_str(&format!(", the header counts {}", self.chunks_in_header));
        }
        if self.partial_bytes > 0 {
            s.push_str(&format!(
                ", the file ends {} bytes into a 64 KiB chunk",
                self.partial_bytes
            ));
        }
        s
    }
}

/// Complete chunks and the header's count, or how the file is cut short.
pub fn truncation(bytes: &[u8]) -> Option<Truncation> {
    let in_header = bytes
        .get(42..44)
        .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    if bytes.len() < FILE_HEADER {
        return Some(Truncation {
            chunks_read: 0,
            chunks_in_header: in_header,
            partial_bytes: 0,
        });
    }
    let body = bytes.len() - FILE_HEADER;
    let t = Truncation {
        chunks_read: body / CHUNK,
        chunks_in_header: in_header,
        partial_bytes: body % CHUNK,
    };
    // A header counting fewer chunks than present is normal (a log still being written):
    // those chunks are read too.
    (t.partial_bytes > 0 || t.chunks_in_header > t.chunks_read).then_some(t)
}

/// Complete chunks in a file of `len` bytes.
pub fn complete_chunks(len: usize) -> usize {
    len.saturating_sub(FILE_HEADER) / CHUNK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(chunks: u16, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..8].copy_from_slice(b"ElfFile\0");
        b[42..44].copy_from_slice(&chunks.to_le_bytes());
        b
    }

    #[test]
    fn whole_and_cut_files() {
        assert_eq!(truncation(&header(2, FILE_HEADER + 2 * CHUNK)), None);
        // More chunks than the header counts: not cut.
        assert_eq!(truncation(&header(1, FILE_HEADER + 2 * CHUNK)), None);
        assert_eq!(
            truncation(&header(3, FILE_HEADER + 2 * CHUNK)),
            Some(Truncation {
                chunks_read: 2,
                chunks_in_header: 3,
                partial_bytes: 0
            })
        );
        assert_eq!(
            truncation(&header(3, FILE_HEADER + CHUNK + 100)),
            Some(Truncation {
                chunks_read: 1,
                chunks_in_header: 3,
                partial_bytes: 100
            })
        );
        assert_eq!(
            truncation(b"ElfFile\0"),
            Some(Truncation {
                chunks_read: 0,
                chunks_in_header: 0,
                partial_bytes: 0
            })
        );
    }
}
