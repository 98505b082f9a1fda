//! What one run of a program cost: wall time, peak resident memory, peak open
//! files, and when its first line of output came.
//!
//! The peak memory is GNU time's (`time -f %M`), not `wait4` on a child of the
//! test: a child spawned by a large test process starts in that process's
//! memory, and Linux keeps the larger high-water mark across `exec`, so the
//! child would be charged with the test's own memory. `time` is small, and the
//! program it forks starts in `time`'s memory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub peak_fds: usize,
    /// The program's exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// When the first stdout line arrived, after start.
    pub first_line: Option<Duration>,
}

/// `cmd` run under `time -f %M`, with the same arguments, environment and
/// folder; its stderr goes where `stderr` says.
fn under_time(cmd: &Command, rss_file: &std::path::Path) -> Command {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => timed.env(key, v),
            None => timed.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    timed
}

/// The first child of `pid` (the program `time` forked), if it is running.
fn first_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `cmd` to its end (stdout captured, stderr inherited unless `quiet`).
pub fn measure(cmd: &Command, quiet: bool) -> Run {
    let rss = tempfile::NamedTempFile::new().expect("temp file");
    let started = Instant::now();
    let mut child = under_time(cmd, rss.path())
        .stdout(Stdio::piped())
        .stderr(if quiet {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .expect("spawn under time (GNU time)");
    let timer = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(pid) = first_child(timer) {
                    let n = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
                    peak.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut first = None;
        let mut all = Vec::new();
        let mut r = BufReader::new(stdout);
        let mut line = Vec::new();
        while r.read_until(b'\n', &mut line).map_or(0, |n| n) > 0 {
            first.get_or_insert_with(|| started.elapsed());
            all.append(&mut line);
        }
        (all, first)
    });
    let status = child.wait().expect("wait");
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let (stdout, first_line) = reader.join().expect("reader");
    // time writes "Command exited with non-zero status N" before the figure.
    let text = std::fs::read_to_string(rss.path()).unwrap_or_default();
    let max_rss_kib = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .unwrap_or(-1);
    Run {
        wall,
        max_rss_kib,
        peak_fds: peak.load(Ordering::Relaxed),
        code: status.code(),
        stdout,
        first_line,
    }
}
