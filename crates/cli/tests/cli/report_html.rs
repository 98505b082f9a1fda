//! The HTML reports opened in a real browser (headless Chromium): a diagnosis built
//! from a real probe of xrdp, with repeated handshakes and a hostile .rdp file, and
//! the event-log page of real exported logs. The DOM Chromium builds is checked, and
//! a screenshot is taken (kept under the target directory for people to look at).

use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_doctor_diagnose::{ClientFacts, Inputs, ProbeFacts};
use rdp_doctor_probe::{ProbeOptions, ProbeReport};
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

/// Runs headless Chromium on `page` with `args`; its stdout.
fn chromium(dir: &Path, page: &Path, args: &[&str]) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (Debian package chromium) runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Takes a 1200x1600 screenshot of `page`, checks it is a PNG, keeps a copy of both as `name`.
fn screenshot(dir: &Path, page: &Path, name: &str) -> PathBuf {
    let png = dir.join(name);
    chromium(
        dir,
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1600",
        ],
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 10_000, "screenshot of {} bytes", bytes.len());
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::copy(&png, &kept).expect("copy kept");
    std::fs::copy(page, kept.with_extension("html")).expect("copy kept");
    kept
}

fn probe(target: &str, repeat: u32) -> ProbeReport {
    let opts = ProbeOptions {
        repeat,
        ..ProbeOptions::default()
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(rdp_doctor_probe::probe(target, &opts))
        .expect("probe runs")
}

/// The engine's probe facts, as `diagnose` gathers them.
fn probe_facts(r: &ProbeReport) -> ProbeFacts {
    let findings = rdp_doctor_probe::diagnose::diagnose(r.clone()).findings;
    rdp_doctor::facts::probe_facts(r, findings)
}

/// A .rdp file whose lines carry markup: every one must stay text in the page.
const HOSTILE_RDP: &str = "full address:s:127.0.0.1\r\n\
<script>document.title='owned'</script>:s:1\r\n\
enablecredsspsupport:i:0\r\n\
server port:i:<img src=x onerror=alert(1)>\r\n";

#[test]
fn diagnosis_page_in_a_browser() {
    let server = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("localhost".into()),
    )
    .expect("xrdp");
    let target = server.addr.to_string();
    let report = probe(&target, 8);
    assert!(!report.phases.is_empty());
    let rdp = rdp_doctor_rdpfile::lint(&rdp_doctor_rdpfile::parse(HOSTILE_RDP.as_bytes()));
    assert!(!rdp.findings.is_empty(), "the hostile file has findings");
    let inputs = Inputs {
        target: Some(target.clone()),
        probe: Some(probe_facts(&report)),
        rdp_file: Some(ClientFacts {
            findings: rdp.findings,
            file: Some("<b>Work</b>.rdp".into()),
            ..ClientFacts::default()
        }),
        ..Inputs::default()
    };
    let d = rdp_doctor_diagnose::diagnose(&inputs);
    let html = rdp_doctor::html::diagnosis_page(&d, Some(&report));

    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).expect("page written");
    let dom = chromium(dir.path(), &page, &["--dump-dom"]);

    // The verdict, as the browser shows it (escaped text, whatever it holds).
    let verdict = rdp_doctor::html::esc(&d.verdict);
    assert!(
        dom.contains(&format!("<h1 id=\"verdict\">{verdict}</h1>")),
        "verdict {verdict:?} not in the DOM"
    );
    // Exactly one bar per phase the probe ran, and no other.
    for ph in &report.phases {
        let key = serde_json::to_value(ph.name).expect("phase name");
        let attr = format!("data-phase=\"{}\"", key.as_str().expect("string"));
        assert_eq!(dom.matches(&attr).count(), 1, "{attr} in the DOM");
    }
    assert_eq!(dom.matches("data-phase=").count(), report.phases.len());
    // Every repeated handshake is a point of the plot.
    let runs = report
        .path
        .repeat
        .as_ref()
        .expect("repeat stats")
        .runs
        .len();
    assert_eq!(dom.matches("data-run=").count(), runs);
    // The file's markup is text: no element was made of it, and the title is ours.
    assert!(!dom.contains("<script>document"), "script injected");
    assert!(!dom.contains("<img src=\"x\""), "img injected");
    assert!(
        dom.contains("&lt;script&gt;document.title"),
        "hostile line shown as text"
    );
    assert!(dom.contains(&format!("<title>rdp-doctor: {target}</title>")));

    let png = screenshot(dir.path(), &page, "report_html_diagnosis.png");
    eprintln!("screenshot: {}", png.display());
    drop(server);
}

/// A refused port: the failing phase is drawn as a failure, and the page says why.
#[test]
fn refused_port_page_marks_the_failing_phase() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let target = format!("127.0.0.1:{port}");
    let report = probe(&target, 3);
    let inputs = Inputs {
        target: Some(target),
        probe: Some(probe_facts(&report)),
        ..Inputs::default()
    };
    let d = rdp_doctor_diagnose::diagnose(&inputs);
    assert!(!d.healthy);
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("refused.html");
    std::fs::write(&page, rdp_doctor::html::diagnosis_page(&d, Some(&report))).expect("write");
    let dom = chromium(dir.path(), &page, &["--dump-dom"]);
    assert!(
        dom.contains(r#"class="bar fail" data-phase="tcp""#),
        "TCP not drawn as failed"
    );
    assert_eq!(
        dom.matches(r#"class="bar fail""#).count(),
        1,
        "one failed phase"
    );
    // The three repeated handshakes failed: three crosses, no point.
    assert_eq!(dom.matches(r#"class="point fail""#).count(), 3);
    assert_eq!(dom.matches(r#"class="point ok""#).count(), 0);
    assert!(dom.contains(r#"data-finding="NET002""#));
    screenshot(dir.path(), &page, "report_html_refused.png");
}

/// Decompresses a log of the events crate's corpus into `dir`.
fn log_file(dir: &Path, corpus: &str, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/tests/data")
        .join(format!("{corpus}.evtx.xz"));
    let out = Command::new("xz")
        .arg("-dc")
        .arg(&src)
        .output()
        .expect("xz");
    assert!(out.status.success());
    let path = dir.join(name);
    std::fs::write(&path, out.stdout).expect("log written");
    path
}

/// `rdp-doctor logs --html FILE` on real exported logs, as a user runs it.
#[test]
fn logs_page_in_a_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("Logs");
    std::fs::create_dir(&logs).expect("mkdir");
    log_file(
        &logs,
        "mdec_RdpCoreTS_131_bruteforce",
        "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
    );
    log_file(&logs, "mdec_Security_4825_rdp_denied", "Security.evtx");
    let page = dir.path().join("logs.html");
    let out = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(["logs", "--json", "--timeline", "30", "--html"])
        .arg(&page)
        .arg(&logs)
        .output()
        .expect("rdp-doctor runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let timelines = report["timelines"].as_array().expect("timelines");
    assert!(!timelines.is_empty(), "the corpus names clients");

    let dom = chromium(dir.path(), &page, &["--dump-dom"]);
    assert_eq!(
        dom.matches("data-client=").count(),
        timelines.len(),
        "one timeline per client"
    );
    for t in timelines {
        let shown = t["entries"].as_array().expect("entries").len();
        let attr = format!(
            "data-client=\"{}\"",
            t["address"].as_str().expect("address")
        );
        let block = dom.split(&attr).nth(1).expect("the client's block");
        let block = block.split("</ol>").next().unwrap_or_default();
        assert_eq!(
            block.matches("<li").count(),
            shown,
            "{attr}: every entry shown"
        );
    }
    for f in report["findings"].as_array().expect("findings") {
        let attr = format!("data-finding=\"{}\"", f["id"].as_str().expect("id"));
        assert!(dom.contains(&attr), "{attr} missing");
    }
    screenshot(dir.path(), &page, "report_html_logs.png");
}
