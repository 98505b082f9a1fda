//! RDP failures read from exported Windows event logs (.evtx).
//!
//! ```text
//! bytes -> typed events (event) -> facts of all events (facts) -> findings (rules)
//!                                \-> a timeline per client address (timeline) -> display cut
//! ```
//!
//! [`event::read_evtx`] turns a file's bytes into typed events (the RDP-relevant
//! providers and Security events); [`integrity`] finds files cut short;
//! [`facts::Facts`] summarises every event per kind; [`rules`] turns the facts into
//! [`rdp_doctor_model::Finding`]s; [`files::read_paths`] does the file I/O for the CLI.

#![forbid(unsafe_code)]

pub mod analysis;
pub mod describe;
pub mod event;
pub mod facts;
pub mod files;
pub mod gateway;
pub mod integrity;
pub mod rules;
pub mod timeline;

pub use analysis::{analyze, Analysis, Options, SCHEMA};
pub use event::{read_evtx, FileEvents, RdpEvent};
pub use files::{expand, read_paths, FileSummary, LogReport, Skipped, MAX_FILE_BYTES};
pub use gateway::{GatewayEvent, GatewayKind};
pub use timeline::{Entry, Timeline};
