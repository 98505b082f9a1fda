//! The report renderers of `rdp-doctor` that other programs read or people open:
//! [`html`] (self-contained pages) and [`sarif`] (SARIF 2.1.0 logs). The
//! subcommands (`src/main.rs`, `src/cmd/`) call them; they do no I/O.

pub mod html;
pub mod sarif;
