//! Real-world .rdp files: every one parses and lints without panic, the lint
//! output matches the reviewed golden files (UPDATE_GOLDEN=1 rewrites), and
//! clean copies keep what their connections need.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::path::PathBuf;

use rdp_doctor_model::{Action, Evidence, FindingId, Severity};
use rdp_doctor_rdpfile::{clean, line_of, lint, parse, RdpFile};

fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

fn render(report: &rdp_doctor_rdpfile::Report) -> String {
    let mut s = format!(
        "{}, {}, {} properties\n",
        report.encoding, report.line_endings, report.properties
    );
    for f in &report.findings {
        let line = line_of(f).map_or("file".to_string(), |n| format!("line {n}"));
        s.push_str(&format!(
            "{line} {} {} {}\n",
            f.severity.label(),
            f.id,
            f.title
        ));
        for e in &f.evidence {
            s.push_str(&format!("    {}\n", e.line()));
        }
    }
    s
}

fn corpus(name: &str) -> RdpFile {
    parse(&std::fs::read(dir("corpus").join(name)).expect("corpus file is readable"))
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
        .all(|f| f.severity != Severity::Error));
}

#[test]
fn the_merged_line_in_freerdps_utf8_vector_is_found() {
    let file =
        parse(&std::fs::read(dir("corpus").join("freerdp_testRdpFileUTF8_extracted.rdp")).unwrap());
    let r = lint(&file);
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == FindingId::MalformedLine && f.title.contains("selectedmonitors")),
        "{:#?}",
        r.findings
    );
}

#[test]
fn broken_files_give_findings_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (b"full address:s:h\r\nserver port:i:99999\r\n", "RDPF007"),
        (b"full address:s:h\r\nserver port:i:0\r\n", "RDPF007"),
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
        let id = FindingId::from_code(id).unwrap();
        assert!(
            r.findings.iter().any(|f| f.id == id),
            "{:?}: want {id}, got {:#?}",
            String::from_utf8_lossy(bytes),
            r.findings
        );
    }
}

/// Lines of `file` whose property is set, with a non-empty value, as `name:type:value`.
fn property_lines(file: &RdpFile, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| file.get(n))
        .filter(|p| !p.value.trim().is_empty())
        .map(|p| format!("{}:{}:{}", p.name, p.kind, p.value))
        .collect()
}

#[test]
fn clean_keeps_what_windows_365_and_rd_web_connections_need() {
    let w365 = [
        "full address",
        "alternate full address",
        "gatewayhostname",
        "gatewayusagemethod",
        "gatewayprofileusagemethod",
        "gatewaycredentialssource",
        "gatewaybrokeringtype",
        "authentication level",
        "loadbalanceinfo",
        "targetisaadjoined",
        "enablerdsaadauth",
        "workspace id",
        "wvd endpoint pool",
        "resourceprovider",
        "aadtenantid",
        "geo",
        "armpath",
        "diagnosticserviceurl",
        "hubdiscoverygeourl",
        "activityhint",
        "remotedesktopname",
        "remoteapplicationprogram",
        "remoteapplicationmode",
        "promptcredentialonce",
    ];
    let rdweb = [
        "full address",
        "alternate full address",
        "server port",
        "authentication level",
        "negotiate security layer",
        "prompt for credentials",
        "remoteapplicationmode",
        "remoteapplicationprogram",
        "remoteapplicationname",
        "disableremoteappcapscheck",
        "alternate shell",
        "gatewayusagemethod",
        "gatewaycredentialssource",
        "gatewayprofileusagemethod",
        "use redirection server name",
    ];
    let cases: [(&str, &[&str]); 4] = [
        ("freerdp_rdp-testcases_test1_w365.rdp", &w365),
        ("freerdp_rdp-testcases_test2_w365_kdcproxy.rdp", &w365),
        ("raweb_remoteapp_testapp_utf8bom_crlf.rdp", &rdweb),
        ("raweb_desktop_utf8bom_lf.rdp", &rdweb),
    ];
    for (name, needed) in cases {
        let original = corpus(name);
        let cleaned = parse(&clean::clean(&original).to_mstsc_bytes());
        let want = property_lines(&original, needed);
        assert!(
            want.len() >= needed.len() - 3,
            "{name}: the corpus file sets them"
        );
        assert_eq!(property_lines(&cleaned, needed), want, "{name}");
        // Display and redirection settings are still dropped.
        assert!(cleaned.get("redirectclipboard").is_none(), "{name}");
        assert!(
            lint(&cleaned)
                .findings
                .iter()
                .all(|f| f.severity == Severity::Info),
            "{name}: {:#?}",
            lint(&cleaned).findings
        );
    }
    let kdc = clean::clean(&corpus("freerdp_rdp-testcases_test2_w365_kdcproxy.rdp"));
    assert_eq!(kdc.get("rdgiskdcproxy").map(|p| p.value), Some("1"));
}

#[test]
fn azure_virtual_desktop_properties_are_known() {
    for name in [
        "freerdp_rdp-testcases_test1_w365.rdp",
        "freerdp_rdp-testcases_test2_w365_kdcproxy.rdp",
    ] {
        let r = lint(&corpus(name));
        let unknown: Vec<&str> = r
            .findings
            .iter()
            .filter(|f| f.id == FindingId::UnknownProperty)
            .map(|f| f.title.as_str())
            .collect();
        assert!(unknown.is_empty(), "{name}: {unknown:#?}");
    }
    for (name, kind) in [
        ("gatewaybrokeringtype", "i"),
        ("workspace id", "s"),
        ("remotedesktopname", "s"),
        ("loadbalanceinfo", "s"),
        ("targetisaadjoined", "i"),
        ("enablerdsaadauth", "i"),
        ("rdgiskdcproxy", "i"),
        ("aadtenantid", "s"),
        ("activityhint", "s"),
    ] {
        let spec = rdp_doctor_rdpfile::catalog::lookup(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(spec.kind, kind, "{name}");
    }
}

#[test]
fn findings_carry_line_evidence_and_remedies() {
    let file = parse(
        b"full address:s:h\r\nx\x01y\r\npassword 51:b:01000000D08C9DDF0115\r\nusername:s:bob\r\n",
    );
    let r = rdp_doctor_rdpfile::lint_named(&file, Some("C:/x.rdp"));
    let garbage = r
        .findings
        .iter()
        .find(|f| f.id == FindingId::BinaryGarbage)
        .unwrap();
    assert_eq!(
        garbage.evidence,
        [Evidence::RdpFile {
            line: Some(2),
            text: Some("x\\u{1}y".into()),
            detail: "control characters".into()
        }]
    );
    assert_eq!(
        garbage.remedies[0].actions,
        [Action::WriteCleanRdpFile {
            file: Some("C:/x.rdp".into())
        }]
    );
    let password = r
        .findings
        .iter()
        .find(|f| f.id == FindingId::SavedPassword)
        .unwrap();
    assert_eq!(line_of(password), Some(3));
    assert!(password.remedies[0].actions.is_empty(), "advice only");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("D08C9DDF"), "{json}");
    assert!(json.contains("password 51:b:(hidden)"), "{json}");
    assert!(json.contains("rdp-doctor.rdpfile-lint/v2"));
}

#[test]
fn encodings_are_named_in_words() {
    let r = lint(&parse(b"full address:s:h"));
    let f = r
        .findings
        .iter()
        .find(|f| f.id == FindingId::NotMstscEncoding)
        .unwrap();
    assert_eq!(
        f.title,
        "UTF-8, no line endings; mstsc writes UTF-16LE with BOM, CRLF (both are read)"
    );
    assert!(!render(&r).contains("Utf8"), "{}", render(&r));
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
            let _ = clean::clean(&f);
        }
    }
}
