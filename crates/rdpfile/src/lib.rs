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

#[cfg(test)]
mod readme {
    use rdp_doctor_model::{FindingId, Source};

    const BEGIN: &str = "<!-- findings:begin -->\n";
    const END: &str = "<!-- findings:end -->";

    /// The README's finding table is the registry's (UPDATE_GOLDEN=1 rewrites it).
    #[test]
    fn readme_table_is_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let text = std::fs::read_to_string(&path).expect("README.md is readable");
        let start = text.find(BEGIN).expect("README has the begin marker") + BEGIN.len();
        let end = text.find(END).expect("README has the end marker");
        assert!(start <= end, "markers out of order");
        let table = FindingId::table(Source::RdpFile);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            let updated = format!("{}{table}{}", &text[..start], &text[end..]);
            std::fs::write(&path, updated).expect("README.md is writable");
            return;
        }
        assert_eq!(
            &text[start..end],
            table,
            "run with UPDATE_GOLDEN=1 to regenerate"
        );
    }
}
