//! Remote Desktop `.rdp` files: read as mstsc and FreeRDP write them
//! (UTF-16LE with a BOM, UTF-8 with or without one, ANSI; CRLF or LF), lint
//! against the documented property catalog, expose the connection settings
//! as typed facts, and write minimal clean files in mstsc's encoding. No I/O:
//! bytes in, bytes out.

#![forbid(unsafe_code)]

pub mod address;
pub mod catalog;
pub mod clean;
pub mod evidence;
pub mod file;
pub mod lint;
pub mod settings;
mod signature;

pub use evidence::line_of;
pub use file::{parse, Encoding, Line, LineEndings, RdpFile};
pub use lint::{lint, lint_named, Report};
pub use settings::{settings, ClientSettings, Setting};
