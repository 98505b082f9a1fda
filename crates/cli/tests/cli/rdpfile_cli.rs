//! `rdp-doctor rdpfile` as a user runs it, and the files it writes loaded by
//! a real client: xfreerdp (FreeRDP's own .rdp parser) connects with them to
//! a FreeRDP shadow server requiring NLA.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::{free_port, require_tool};

fn rdp_doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn new_and_clean_files_are_loaded_by_xfreerdp() {
    if !require_tool("xfreerdp") || !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let server = ShadowServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = server.addr.port().to_string();
    let password = format!("/p:{}", server.password);

    // `new`: the file alone tells xfreerdp where to connect and as whom.
    let made = dir.path().join("new.rdp");
    let out = rdp_doctor(&[
        "rdpfile",
        "new",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        &server.user,
        "-o",
        s(&made),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        &std::fs::read(&made).unwrap()[..2],
        &[0xFF, 0xFE],
        "mstsc encoding"
    );
    let run = server
        .xfreerdp(
            &[s(&made), &password, "/cert:ignore", "+auth-only"],
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "xfreerdp with the new file: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    // `clean` of a cluttered file (corrupted line, saved password blob, duplicates) connects too.
    let messy = dir.path().join("messy.rdp");
    std::fs::write(
        &messy,
        format!(
            "screen mode id:i:2\r\nfull address:s:127.0.0.1:{port}\r\nusername:s:{}\r\n\u{1}\u{2}garbage\r\npassword 51:b:01000000D08C9DDF0115D1118C7A00C0\r\nsession bpp:i:32\r\nsession bpp:i:16\r\nwinposstr:s:0,3,0,0,800,600\r\n",
            server.user
        ),
    )
    .unwrap();
    let lint = rdp_doctor(&["rdpfile", "lint", s(&messy)]);
    assert_eq!(lint.status.code(), Some(1));
    let cleaned = dir.path().join("clean.rdp");
    let out = rdp_doctor(&["rdpfile", "clean", s(&messy), "-o", s(&cleaned)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lint = rdp_doctor(&["rdpfile", "lint", s(&cleaned)]);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let text = String::from_utf8_lossy(&lint.stdout).to_string();
    assert!(!text.contains("RDPF014"), "password blob dropped: {text}");
    let run = server
        .xfreerdp(
            &[s(&cleaned), &password, "/cert:ignore", "+auth-only"],
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "xfreerdp with the clean file: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    // Negative control: the same kind of file pointing at a closed port fails, so success above came from the file.
    let closed = dir.path().join("closed.rdp");
    let out = rdp_doctor(&[
        "rdpfile",
        "new",
        "--host",
        "127.0.0.1",
        "--port",
        &free_port().to_string(),
        "--user",
        &server.user,
        "-o",
        s(&closed),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let run = server
        .xfreerdp(
            &[s(&closed), &password, "/cert:ignore", "+auth-only"],
            Duration::from_secs(30),
        )
        .unwrap();
    assert_ne!(
        run.status.code(),
        Some(0),
        "xfreerdp must fail against a closed port"
    );
}

#[test]
fn never_overwrites_without_asking_and_keeps_a_backup_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.rdp");
    std::fs::write(
        &input,
        "full address:s:host1\nusername:s:bob\nsmart sizing:i:1\n",
    )
    .unwrap();
    let out = dir.path().join("out.rdp");
    std::fs::write(&out, "precious").unwrap();
    let r = rdp_doctor(&["rdpfile", "clean", s(&input), "-o", s(&out)]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
    assert_eq!(
        rdp_doctor(&["rdpfile", "clean", s(&input), "-o", s(&input)])
            .status
            .code(),
        Some(2)
    );

    let r = rdp_doctor(&["rdpfile", "clean", "--in-place", s(&input)]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let backups: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("in.rdp.bak-"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(
        std::fs::read_to_string(backups[0].path()).unwrap(),
        "full address:s:host1\nusername:s:bob\nsmart sizing:i:1\n"
    );
    let cleaned = rdp_doctor_rdpfile::parse(&std::fs::read(&input).unwrap());
    assert_eq!(cleaned.get("full address").unwrap().value, "host1");
    assert!(cleaned.get("smart sizing").is_none());

    let lint = rdp_doctor(&["rdpfile", "lint", "--json", s(&input)]);
    let v: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(v["schema"], "rdp-doctor.rdpfile-lint/v2");
    assert_eq!(v["encoding"], "utf16_le_bom");
    assert_eq!(
        rdp_doctor(&["rdpfile", "lint", "/nonexistent.rdp"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        rdp_doctor(&[
            "rdpfile",
            "new",
            "--host",
            "bad host",
            "-o",
            s(&dir.path().join("x.rdp"))
        ])
        .status
        .code(),
        Some(2)
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_refused_without_force_and_replaced_never_followed_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let precious = dir.path().join("precious.txt");
    std::fs::write(&precious, "keep me").unwrap();
    let link = dir.path().join("link.rdp");
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let new = |force: bool| {
        let mut args = vec!["rdpfile", "new", "--host", "host1", "-o", s(&link)];
        if force {
            args.push("--force");
        }
        rdp_doctor(&args)
    };

    let r = new(false);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    let r = new(true);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    let made = rdp_doctor_rdpfile::parse(&std::fs::read(&link).unwrap());
    assert_eq!(made.get("full address").unwrap().value, "host1");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn each_in_place_clean_keeps_its_own_backup() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.rdp");
    let original = "full address:s:host1\nsmart sizing:i:1\n";
    std::fs::write(&input, original).unwrap();
    // Two runs within the same second must not share (and overwrite) one backup.
    for _ in 0..2 {
        let r = rdp_doctor(&["rdpfile", "clean", "--in-place", s(&input)]);
        assert_eq!(
            r.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let backups: Vec<Vec<u8>> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("in.rdp.bak-"))
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert_eq!(backups.len(), 2);
    // The original is one of them, byte for byte; the other is the first clean copy.
    assert!(backups.iter().any(|b| b == original.as_bytes()));
    assert!(backups.iter().any(|b| *b == std::fs::read(&input).unwrap()));
}

#[test]
fn new_checks_the_gateway_like_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gw.rdp");
    let r = rdp_doctor(&[
        "rdpfile",
        "new",
        "--host",
        "host1",
        "--gateway",
        "bad gw",
        "-o",
        s(&out),
    ]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--gateway \"bad gw\""), "{err}");
    assert!(!out.exists());
    let r = rdp_doctor(&[
        "rdpfile",
        "new",
        "--host",
        "host1",
        "--gateway",
        "gw.corp.example:443",
        "-o",
        s(&out),
    ]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(
        rdp_doctor(&["rdpfile", "lint", s(&out)]).status.code(),
        Some(0)
    );
}

#[test]
fn lint_names_encodings_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("one.rdp");
    std::fs::write(&f, "full address:s:host1\nserver port:i:99999").unwrap();
    let r = rdp_doctor(&["rdpfile", "lint", s(&f)]);
    assert_eq!(r.status.code(), Some(1), "server port out of range");
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("[RDPF007]"), "{text}");
    assert!(
        text.contains("UTF-8, LF; mstsc writes UTF-16LE with BOM, CRLF"),
        "{text}"
    );
    assert!(!text.contains("Utf8") && !text.contains("Some("), "{text}");
}

fn corpus_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rdpfile/tests/corpus")
        .join(name)
}

fn clean_copy(dir: &Path, corpus: &str) -> PathBuf {
    let out = dir.join(corpus);
    let r = rdp_doctor(&["rdpfile", "clean", s(&corpus_file(corpus)), "-o", s(&out)]);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    out
}

/// The first bytes a client sends to a loopback listener (the X.224 Connection Request).
fn capture_first_request(listener: TcpListener, deadline: Duration) -> std::io::Result<Vec<u8>> {
    listener.set_nonblocking(true)?;
    let start = Instant::now();
    let mut conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(e),
        }
    };
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = vec![0; 4096];
    let n = conn.read(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn clean_copies_of_rd_web_and_windows_365_files_are_read_by_xfreerdp() {
    if !require_tool("xfreerdp") || !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let server = ShadowServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password = format!("/p:{}", server.password);
    let user = format!("/u:{}", server.user);

    // An RD Web RemoteApp file: its host is replaced by the shadow server's; the rest is the file's.
    let remoteapp = clean_copy(dir.path(), "raweb_remoteapp_testapp_utf8bom_crlf.rdp");
    let run = server
        .xfreerdp(
            &[
                s(&remoteapp),
                &format!("/v:{}", server.addr),
                &user,
                &password,
                "/cert:ignore",
                "+auth-only",
            ],
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "xfreerdp with the clean RemoteApp file: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    // A Windows 365 file: xfreerdp reads it and sends its broker routing token
    // (loadbalanceinfo) in the Connection Request. The host is a loopback
    // listener, reached directly (gateway detection), so nothing leaves the machine.
    let w365 = clean_copy(dir.path(), "freerdp_rdp-testcases_test1_w365.rdp");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let capture =
        std::thread::spawn(move || capture_first_request(listener, Duration::from_secs(30)));
    let run = server
        .xfreerdp(
            &[
                s(&w365),
                &format!("/v:{addr}"),
                "/gateway-usage-method:detect",
                &user,
                &password,
                "/cert:ignore",
                "+auth-only",
            ],
            Duration::from_secs(30),
        )
        .unwrap();
    let request = capture.join().unwrap().unwrap_or_else(|e| {
        panic!(
            "xfreerdp never connected ({e}): {}",
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let token = b"mth://localhost/b47b47c1-b81e-4dfa-ac1b-a8a195d43f26/16e1fb18-0f41-4e0c-acf8-5046124affe9\r\n";
    assert!(
        request.windows(token.len()).any(|w| w == token),
        "routing token from the clean file: {:?}",
        String::from_utf8_lossy(&request)
    );
}
