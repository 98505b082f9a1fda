//! Decoding, parsing and writing .rdp files. No I/O: bytes in, bytes out.

use serde::Serialize;

/// How the file's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// FF FE then UTF-16LE: what mstsc writes.
    Utf16LeBom,
    /// EF BB BF then UTF-8.
    Utf8Bom,
    /// UTF-8 (or ASCII) without a BOM.
    Utf8,
    /// Bytes that are not UTF-8, read as Windows-1252/Latin-1 (an "ANSI" file).
    Ansi,
}

/// Line endings found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineEndings {
    Crlf,
    Lf,
    Mixed,
    None,
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Utf16LeBom => "UTF-16LE with BOM",
            Encoding::Utf8Bom => "UTF-8 with BOM",
            Encoding::Utf8 => "UTF-8",
            Encoding::Ansi => "ANSI (Windows-1252)",
        })
    }
}

impl std::fmt::Display for LineEndings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LineEndings::Crlf => "CRLF",
            LineEndings::Lf => "LF",
            LineEndings::Mixed => "mixed CRLF and LF",
            LineEndings::None => "no line endings",
        })
    }
}

/// A problem found while decoding bytes to text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeIssue {
    /// Byte offset in the file.
    pub offset: usize,
    pub message: String,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum Line {
    /// `name:type:value`.
    Property {
        name: String,
        kind: String,
        value: String,
    },
    Blank,
    /// Not `name:type:value`.
    Malformed {
        text: String,
    },
}

/// A parsed .rdp file: every line kept, in order, with its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RdpFile {
    pub encoding: Encoding,
    pub line_endings: LineEndings,
    pub final_newline: bool,
    /// (1-based line number, line)
    pub lines: Vec<(usize, Line)>,
    pub decode_issues: Vec<DecodeIssue>,
}

/// A property with its line number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property<'a> {
    pub line: usize,
    pub name: &'a str,
    pub kind: &'a str,
    pub value: &'a str,
}

/// The most bytes a .rdp file may have: real ones are a few KiB.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Decodes the file's bytes. Never fails: problems are reported as issues.
pub fn decode(bytes: &[u8]) -> (String, Encoding, Vec<DecodeIssue>) {
    let mut issues = Vec::new();
    let bytes = if bytes.len() > MAX_FILE_BYTES {
        issues.push(DecodeIssue {
            offset: MAX_FILE_BYTES,
            message: format!(
                "file is {} bytes; only the first {MAX_FILE_BYTES} are read",
                bytes.len()
            ),
        });
        &bytes[..MAX_FILE_BYTES]
    } else {
        bytes
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 == 1 {
            issues.push(DecodeIssue {
                offset: bytes.len() - 1,
                message: "UTF-16 file with an odd number of bytes: the last character is cut"
                    .into(),
            });
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let mut text = String::with_capacity(units.len());
        for (i, r) in char::decode_utf16(units.iter().copied()).enumerate() {
            match r {
                Ok(c) => text.push(c),
                Err(_) => {
                    issues.push(DecodeIssue {
                        offset: 2 + 2 * i,
                        message: "unpaired UTF-16 surrogate".into(),
                    });
                    text.push(char::REPLACEMENT_CHARACTER);
                }
            }
        }
        return (text, Encoding::Utf16LeBom, issues);
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        issues.push(DecodeIssue {
            offset: 0,
            message: "UTF-16 big-endian BOM: mstsc and FreeRDP read only little-endian files"
                .into(),
        });
    }
    let (body, encoding) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, Encoding::Utf8Bom),
        None => (bytes, Encoding::Utf8),
    };
    match std::str::from_utf8(body) {
        Ok(s) => (s.to_string(), encoding, issues),
        Err(e) => {
            let offset = e.valid_up_to() + (bytes.len() - body.len());
            issues.push(DecodeIssue {
                offset,
                message: "not valid UTF-8 from here: read as ANSI (Windows-1252)".into(),
            });
            // Latin-1 is a total mapping of bytes to chars; close enough to 1252 for diagnostics.
            (
                body.iter().map(|&b| char::from(b)).collect(),
                Encoding::Ansi,
                issues,
            )
        }
    }
}

/// Splits `name:type:value` at the first two colons, as FreeRDP does.
fn parse_line(text: &str) -> Line {
    if text.trim().is_empty() {
        return Line::Blank;
    }
    // Trailing spaces are kept: they are part of the value for mstsc, and lint reports them.
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(kind), Some(value)) if !name.trim().is_empty() && kind.len() == 1 => {
            Line::Property {
                name: name.to_string(),
                kind: kind.to_string(),
                value: value.to_string(),
            }
        }
        _ => Line::Malformed {
            text: text.to_string(),
        },
    }
}

/// Parses a file's bytes.
pub fn parse(bytes: &[u8]) -> RdpFile {
    let (text, encoding, decode_issues) = decode(bytes);
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count();
    let line_endings = match (crlf, lf) {
        (0, 0) => LineEndings::None,
        (c, l) if c == l => LineEndings::Crlf,
        (0, _) => LineEndings::Lf,
        _ => LineEndings::Mixed,
    };
    let final_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let lines = if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, parse_line(l.strip_suffix('\r').unwrap_or(l))))
            .collect()
    };
    RdpFile {
        encoding,
        line_endings,
        final_newline,
        lines,
        decode_issues,
    }
}

impl RdpFile {
    /// Every property, in file order.
    pub fn properties(&self) -> impl Iterator<Item = Property<'_>> {
        self.lines.iter().filter_map(|(n, l)| match l {
            Line::Property { name, kind, value } => Some(Property {
                line: *n,
                name,
                kind,
                value,
            }),
            _ => None,
        })
    }

    /// The property's value (names are case-insensitive, surrounding spaces
    /// ignored; the last occurrence wins, as in FreeRDP).
    pub fn get(&self, name: &str) -> Option<Property<'_>> {
        self.properties()
            .filter(|p| p.name.trim().eq_ignore_ascii_case(name))
            .last()
    }

    /// An integer property.
    pub fn get_int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|p| p.value.trim().parse().ok())
    }

    /// A file with these properties, one per line.
    pub fn from_properties<S: AsRef<str>>(props: &[(S, S, S)]) -> RdpFile {
        RdpFile {
            encoding: Encoding::Utf16LeBom,
            line_endings: LineEndings::Crlf,
            final_newline: true,
            lines: props
                .iter()
                .enumerate()
                .map(|(i, (n, k, v))| {
                    (
                        i + 1,
                        Line::Property {
                            name: n.as_ref().to_string(),
                            kind: k.as_ref().to_string(),
                            value: v.as_ref().to_string(),
                        },
                    )
                })
                .collect(),
            decode_issues: Vec::new(),
        }
    }

    /// The file's text with CRLF line endings.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (_, l) in &self.lines {
            match l {
                Line::Property { name, kind, value } => {
                    out.push_str(name);
                    out.push(':');
                    out.push_str(kind);
                    out.push(':');
                    out.push_str(value);
                }
                Line::Blank => {}
                Line::Malformed { text } => out.push_str(text),
            }
            out.push_str("\r\n");
        }
        out
    }

    /// The file as mstsc writes it: UTF-16LE with a BOM, CRLF.
    pub fn to_mstsc_bytes(&self) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in self.to_text().encode_utf16() {
            out.extend_from_slice(&unit.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_line_endings() {
        let utf8 = parse(b"full address:s:host\nusername:s:bob");
        assert_eq!(utf8.encoding, Encoding::Utf8);
        assert_eq!(utf8.line_endings, LineEndings::Lf);
        assert!(!utf8.final_newline);
        assert_eq!(utf8.get("FULL ADDRESS").unwrap().value, "host");

        let mstsc = RdpFile::from_properties(&[("full address", "s", "h:3390")]).to_mstsc_bytes();
        let back = parse(&mstsc);
        assert_eq!(back.encoding, Encoding::Utf16LeBom);
        assert_eq!(back.line_endings, LineEndings::Crlf);
        assert_eq!(back.get("full address").unwrap().value, "h:3390");

        let ansi = parse(b"username:s:J\xe9r\xf4me\r\n");
        assert_eq!(ansi.encoding, Encoding::Ansi);
        assert_eq!(ansi.get("username").unwrap().value, "Jérôme");
        assert_eq!(ansi.decode_issues.len(), 1);
    }

    #[test]
    fn lines() {
        assert_eq!(
            parse_line("a:s:b:c"),
            Line::Property {
                name: "a".into(),
                kind: "s".into(),
                value: "b:c".into()
            }
        );
        assert_eq!(parse_line("   "), Line::Blank);
        assert!(matches!(parse_line("no colon"), Line::Malformed { .. }));
        assert!(matches!(parse_line("a:ss:b"), Line::Malformed { .. }));
        assert!(matches!(parse_line(":s:b"), Line::Malformed { .. }));
    }

    #[test]
    fn odd_utf16_and_surrogates() {
        let f = parse(&[0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b']);
        assert_eq!(f.decode_issues.len(), 2);
    }
}
