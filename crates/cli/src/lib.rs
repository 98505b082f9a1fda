//! The pieces of `rdp-doctor` that other programs and the tests use too: the
//! report renderers [`html`] (self-contained pages) and [`sarif`] (SARIF 2.1.0
//! logs), and [`facts`] (a probe report as the diagnosis engine's facts). The
//! subcommands (`src/main.rs`, `src/cmd/`) call them; they do no I/O.

pub mod facts;
pub mod html;
pub mod sarif;
