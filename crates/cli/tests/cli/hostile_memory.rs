//! Servers that never stop sending: `rdp-doctor diagnose` ends within its
//! deadline with a finding and its peak memory stays small, however much the
//! server pushes. (Scripted listeners: no real RDP server floods on purpose; the
//! X.224 Connection Confirm is the one from [MS-RDPBCGR] 4.1.2 selecting TLS.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdp_doctor_testing::measure::measure;

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

/// Runs the binary: exit code, stdout and peak RSS in KiB.
fn run_measured(args: &[&str]) -> (Option<i32>, String, i64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rdp-doctor"));
    cmd.args(args).env("NO_COLOR", "1");
    let run = measure(&cmd, true);
    (
        run.code,
        String::from_utf8_lossy(&run.stdout).into_owned(),
        run.max_rss_kib,
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
        let (code, stdout, max_rss_kib) =
            run_measured(&["diagnose", &target, "--json", "--timeout", "6"]);
        let elapsed = started.elapsed();
        let pushed = sent.load(Ordering::Relaxed);
        eprintln!(
            "{want}: exit {code:?} in {elapsed:?}, peak RSS {max_rss_kib} KiB, server pushed {pushed} bytes"
        );
        assert_eq!(code, Some(1), "{stdout}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let first = v["findings"][0].to_string();
        assert!(first.contains(want), "{first}");
        assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
        assert!(max_rss_kib < 40 * 1024, "peak RSS {max_rss_kib} KiB");
    }
}
