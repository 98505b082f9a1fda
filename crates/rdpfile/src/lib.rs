//! Remote Desktop `.rdp` files: read as mstsc and FreeRDP write them
//! (UTF-16LE with a BOM, UTF-8 with or without one, ANSI; CRLF or LF), lint
//! against the documented property catalog, and write minimal clean files in
//! mstsc's encoding. No I/O: bytes in, bytes out.

pub mod catalog;
pub mod clean;
pub mod file;
pub mod lint;

pub use file::{parse, Encoding, Line, LineEndings, RdpFile};
pub use lint::{lint, Finding, Report, Severity};
