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

#[cfg(test)]
mod readme {
    use rdp_doctor_model::{FindingId, Source};

    const BEGIN: &str = "<!-- findings:begin -->\n";
    const END: &str = "<!-- findings:end -->";

    /// The README's finding table is the registry's; `UPDATE_GOLDEN=1` rewrites it.
    #[test]
    fn finding_table_is_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let text = std::fs::read_to_string(&path).expect("README.md");
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("README.md has no {BEGIN:?} .. {END:?} markers");
        };
        assert!(b < e, "markers out of order");
        let table = FindingId::table(Source::Events);
        let inside = &text[b + BEGIN.len()..e];
        if inside != table && std::env::var_os("UPDATE_GOLDEN").is_some() {
            let updated = format!("{}{table}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(&path, updated).expect("write README.md");
            return;
        }
        assert_eq!(
            inside, table,
            "README.md's table differs from the registry (UPDATE_GOLDEN=1 rewrites it)"
        );
    }
}
