//! Real-world .rdp files: every one parses and lints without panic, and the
//! lint output matches the reviewed golden files (UPDATE_GOLDEN=1 rewrites).

use std::path::PathBuf;

use rdp_doctor_rdpfile::{lint, parse, RdpFile};

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

fn render(report: &rdp_doctor_rdpfile::Report) -> String {
    let mut s = format!(
        "encoding {:?}, {:?}, {} properties\n",
        report.encoding, report.line_endings, report.properties
    );
    for f in &report.findings {
        s.push_str(&format!(
            "{:?} {:?} {} {}\n",
            f.line, f.severity, f.id, f.message
        ));
    }
    s
}

#[test]
fn corpus_files_lint_as_reviewed() {
    let mut n = 0;
    for entry in std::fs::read_dir(dir("corpus")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rdp") {
            continue;
        }
        let file = parse(&std::fs::read(&path).unwrap());
        let text = render(&lint(&file));
        let golden = dir("golden").join(format!(
            "{}.lint",
            path.file_stem().unwrap().to_string_lossy()
        ));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &text).unwrap();
        }
        assert_eq!(
            text,
            std::fs::read_to_string(&golden).unwrap(),
            "{}",
            path.display()
        );
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn mstsc_utf16_file_reads_fully() {
    let file = parse(
        &std::fs::read(dir("corpus").join("freerdp_testRdpFileUTF16_extracted.rdp")).unwrap(),
    );
    assert_eq!(file.encoding, rdp_doctor_rdpfile::Encoding::Utf16LeBom);
    assert_eq!(
        file.get("gatewayhostname").unwrap().value,
        "LAB1-W2K8R2-GW.lab1.awake.local"
    );
    assert_eq!(file.get("username").unwrap().value, "LAB1\\JohnDoe");
    assert!(lint(&file)
        .findings
        .iter()
        .all(|f| f.severity != rdp_doctor_rdpfile::Severity::Error));
}

#[test]
fn the_merged_line_in_freerdps_utf8_vector_is_found() {
    let file =
        parse(&std::fs::read(dir("corpus").join("freerdp_testRdpFileUTF8_extracted.rdp")).unwrap());
    let r = lint(&file);
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == "RDPF003" && f.message.contains("selectedmonitors")),
        "{:#?}",
        r.findings
    );
}

#[test]
fn broken_files_give_findings_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "RDPF011"),
        (b"\xff\xfe\x00", "RDPF002"),
        (b"full address:s:\r\n", "RDPF011"),
        (b"full address:s:host name\r\n", "RDPF012"),
        (b"full address:i:5\r\n", "RDPF005"),
        (b"full address:s:h\r\nscreen mode id:i:x\r\n", "RDPF006"),
        (b"full address:s:h\r\nscreen mode id:i:9\r\n", "RDPF007"),
        (b"full address:s:h\r\nfull address:s:g\r\n", "RDPF008"),
        (b"full address:s:h\r\ngatewayusagemethod:i:1\r\n", "RDPF013"),
        (
            b"full address:s:h\r\npassword 51:b:01000000D08C9DDF\r\n",
            "RDPF014",
        ),
        (
            b"full address:s:h\r\nenablecredsspsupport:i:0\r\n",
            "RDPF015",
        ),
        (
            b"full address:s:h\r\nsignscope:s:Full Address,Username\r\nsignature:s:AAAA\r\n",
            "RDPF016",
        ),
        (
            b"full address:s:h:3390\r\nserver port:i:3389\r\n",
            "RDPF018",
        ),
        (b"full address:s:h \r\n", "RDPF012"),
        (b"full address:s:h\r\n\x00\x01\x02garbage\r\n", "RDPF001"),
        (b"full address:s:h\r\nusername:x:y\r\n", "RDPF004"),
        (b"full address:s:h\r\nfoo bar baz\r\n", "RDPF003"),
    ];
    for (bytes, id) in cases {
        let r = lint(&parse(bytes));
        assert!(
            r.findings.iter().any(|f| f.id == *id),
            "{:?}: want {id}, got {:#?}",
            String::from_utf8_lossy(bytes),
            r.findings
        );
    }
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// parse(write(x)) == x for any properties a file can hold.
        #[test]
        fn parse_of_write_is_identity(props in proptest::collection::vec(
            ("[a-z][a-z0-9 ]{0,20}[a-z0-9]", "[sib]", "[^\r\n\u{0}]{0,40}"), 0..30)) {
            let refs: Vec<(&str, &str, &str)> = props.iter().map(|(n, k, v)| (n.as_str(), k.as_str(), v.as_str())).collect();
            let file = RdpFile::from_properties(&refs);
            let back = parse(&file.to_mstsc_bytes());
            prop_assert_eq!(&back.lines, &file.lines);
        }

        /// Any bytes: parse and lint answer, never panic.
        #[test]
        fn any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let f = parse(&bytes);
            let _ = lint(&f);
            let _ = rdp_doctor_rdpfile::clean::clean(&f);
        }
    }
}
