//! Every crate README's finding table is the registry's (`FindingId::table`);
//! `UPDATE_GOLDEN=1` rewrites the tables.

use std::path::Path;

use rdp_doctor_model::{FindingId, Source};

const BEGIN: &str = "<!-- findings:begin -->\n";
const END: &str = "<!-- findings:end -->";

/// The README that documents each source's findings.
const READMES: [(Source, &str); 5] = [
    (Source::Probe, "../probe/README.md"),
    (Source::Host, "../host/README.md"),
    (Source::Events, "../events/README.md"),
    (Source::RdpFile, "../rdpfile/README.md"),
    (Source::Client, "../client/README.md"),
];

#[test]
fn finding_tables_are_the_registry() {
    for (source, rel) in READMES {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let text = std::fs::read_to_string(&path).expect("README.md");
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            panic!("{rel} has no {BEGIN:?} .. {END:?} markers");
        };
        assert!(b < e, "{rel}: markers out of order");
        let table = FindingId::table(source);
        let inside = &text[b + BEGIN.len()..e];
        if inside != table && std::env::var_os("UPDATE_GOLDEN").is_some() {
            let updated = format!("{}{table}{}", &text[..b + BEGIN.len()], &text[e..]);
            std::fs::write(&path, updated).expect("write README.md");
            continue;
        }
        assert_eq!(
            inside, table,
            "{rel}'s table differs from the registry (UPDATE_GOLDEN=1 rewrites it)"
        );
    }
}
