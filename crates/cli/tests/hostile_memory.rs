//! Servers that never stop sending: `rdp-doctor diagnose` ends within its
//! deadline with a finding and its peak memory stays small, however much the
//! server pushes. (Scripted listeners: no real RDP server floods on purpose; the
//! X.224 Connection Confirm is the one from [MS-RDPBCGR] 4.1.2 selecting TLS.)
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// X.224 Connection Confirm with RDP_NEG_RSP selecting PROTOCOL_SSL.
const CONFIRM_TLS: [u8; 19] = [
    3, 0, 0, 19, 14, 0xD0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
];

/// A listener whose every connection gets `prefix`, then endless `filler`
/// until the client goes away. Returns the port and the bytes sent so far.
fn flood(prefix: &'static [u8], filler: &'static [u8]) -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(s) = conn else { return };
            let counter = counter.clone();
            std::thread::spawn(move || serve(s, prefix, filler, &counter));
        }
    });
    (port, sent)
}

fn serve(mut s: TcpStream, prefix: &[u8], filler: &[u8], sent: &AtomicU64) {
    let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
    let mut request = [0u8; 512];
    if s.read(&mut request).unwrap_or(0) == 0 || s.write_all(prefix).is_err() {
        return;
    }
    let chunk: Vec<u8> = filler.iter().copied().cycle().take(64 * 1024).collect();
    while s.write_all(&chunk).is_ok() {
        sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
}

/// Runs the binary and returns its exit status, stdout and peak RSS in KiB.
// The child is reaped by wait4 (which also gives its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (ExitStatus, String, i64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child's pid with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    (
        ExitStatus::from_raw(status),
        reader.join().unwrap(),
        usage.ru_maxrss,
    )
}

#[test]
fn endless_data_ends_in_time_with_small_memory() {
    // Endless bytes right after the request (a TPKT header of the largest length,
    // then garbage), and endless "TLS" after a valid confirm selecting TLS.
    let cases: [(&'static [u8], &'static [u8], &str); 2] = [
        (&[3, 0, 0xFF, 0xFF], b"A", "RDP002"),
        (&CONFIRM_TLS, &[0x16, 3, 3, 0x40, 0, 0x41, 0x41], "TLS"),
    ];
    for (prefix, filler, want) in cases {
        let (port, sent) = flood(prefix, filler);
        let target = format!("127.0.0.1:{port}");
        let started = Instant::now();
        let (status, stdout, max_rss_kib) =
            run_measured(&["diagnose", &target, "--json", "--timeout", "6"]);
        let elapsed = started.elapsed();
        let pushed = sent.load(Ordering::Relaxed);
        eprintln!(
            "{want}: exit {:?} in {elapsed:?}, peak RSS {max_rss_kib} KiB, server pushed {pushed} bytes",
            status.code()
        );
        assert_eq!(status.code(), Some(1), "{stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let first = v["findings"][0].to_string();
        assert!(first.contains(want), "{first}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert!(max_rss_kib < 40 * 1024, "peak RSS {max_rss_kib} KiB");
    }
}
