//! A fleet of RDP targets inside a network namespace of the caller's own:
//! every address of 198.18.0.0/15 (the benchmarking range) that the fleet
//! lists is routed out of the namespace's veth, and iptables inside the
//! namespace decides what each address is:
//!
//! - live: DNAT to a real xrdp listening on the veth's outer address;
//! - slow: DNAT to a second xrdp, with `tc netem` delaying that port's packets;
//! - refused: REJECT with a TCP reset;
//! - filtered: DROP.
//!
//! The scanner runs inside the namespace (`Netns::command`), so nothing leaves it
//! but the DNAT-ed connections to the xrdp servers of the caller.
#![allow(dead_code)] // each includer uses part of it

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdp_doctor_testing::netns::Netns;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

/// How a target was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Live,
    Slow,
    Refused,
    Filtered,
}

impl Class {
    pub const ALL: [Class; 4] = [Class::Live, Class::Slow, Class::Refused, Class::Filtered];

    /// The /20 of 198.18.0.0/15 holding this class.
    fn third_octet_base(self) -> u8 {
        match self {
            Class::Live => 0,
            Class::Refused => 16,
            Class::Filtered => 32,
            Class::Slow => 48,
        }
    }

    fn cidr(self) -> String {
        format!("198.18.{}.0/20", self.third_octet_base())
    }
}

/// The one port every target is scanned on.
pub const PORT: u16 = 3389;
/// The one-way delay netem adds to the slow servers' packets.
pub const SLOW_DELAY_MS: u64 = 100;

pub struct Fleet {
    pub ns: Netns,
    pub targets: Vec<(Ipv4Addr, Class)>,
    _servers: Vec<Xrdp>,
}

/// Addresses of a class, from .1 of its /20 upwards.
fn addresses(class: Class, n: usize) -> impl Iterator<Item = Ipv4Addr> {
    let base = u32::from(Ipv4Addr::new(198, 18, class.third_octet_base(), 0));
    (1..=n as u32).map(move |i| Ipv4Addr::from(base + i))
}

impl Fleet {
    /// Builds `per_class[i]` targets of `Class::ALL[i]` in namespace slot `slot`.
    pub fn build(slot: u8, per_class: [usize; 4]) -> std::io::Result<Fleet> {
        let ns = Netns::create(slot)?;
        let host = ns.host_addr.to_string();
        let live = Xrdp::start_at(
            &host,
            SecurityLayer::Negotiate,
            CertCase::Valid("live.test".into()),
        )?;
        let slow = Xrdp::start_at(
            &host,
            SecurityLayer::Negotiate,
            CertCase::Valid("slow.test".into()),
        )?;
        ns.exec(&["ip", "route", "add", "198.18.0.0/15", "via", &host])?;
        for (class, server) in [(Class::Live, &live), (Class::Slow, &slow)] {
            ns.iptables(&[
                "-t",
                "nat",
                "-A",
                "OUTPUT",
                "-d",
                &class.cidr(),
                "-p",
                "tcp",
                "--dport",
                &PORT.to_string(),
                "-j",
                "DNAT",
                "--to-destination",
                &server.addr.to_string(),
            ])?;
        }
        ns.iptables(&[
            "-A",
            "OUTPUT",
            "-d",
            &Class::Refused.cidr(),
            "-p",
            "tcp",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ])?;
        // Filtered, and anything else of the range that was not rewritten: never leaves.
        ns.iptables(&["-A", "OUTPUT", "-d", "198.18.0.0/15", "-j", "DROP"])?;
        // Delay only the slow server's port: a prio qdisc whose third band has netem.
        let dev = veth_inside(&ns)?;
        ns.exec(&["tc", "qdisc", "add", "dev", &dev, "root", "handle", "1:", "prio"])?;
        ns.exec(&[
            "tc",
            "qdisc",
            "add",
            "dev",
            &dev,
            "parent",
            "1:3",
            "handle",
            "30:",
            "netem",
            "delay",
            &format!("{SLOW_DELAY_MS}ms"),
            "limit",
            "100000",
        ])?;
        ns.exec(&[
            "tc",
            "filter",
            "add",
            "dev",
            &dev,
            "parent",
            "1:0",
            "protocol",
            "ip",
            "u32",
            "match",
            "ip",
            "dport",
            &slow.addr.port().to_string(),
            "0xffff",
            "flowid",
            "1:3",
        ])?;
        let mut targets = Vec::new();
        for (class, n) in Class::ALL.into_iter().zip(per_class) {
            targets.extend(addresses(class, n).map(|a| (a, class)));
        }
        // Interleave the classes, as a real fleet would be.
        targets.sort_by_key(|(a, _)| u32::from(*a).rotate_left(16));
        Ok(Fleet {
            ns,
            targets,
            _servers: vec![live, slow],
        })
    }

    /// The class a scan result's target was built as.
    pub fn class_of(&self, addr: &str) -> Option<Class> {
        let ip: Ipv4Addr = addr.split(':').next()?.parse().ok()?;
        self.targets.iter().find(|(a, _)| *a == ip).map(|(_, c)| *c)
    }
}

/// The veth end inside the namespace (the only link besides `lo`).
fn veth_inside(ns: &Netns) -> std::io::Result<String> {
    let out = ns.command("ip").args(["-o", "link", "show"]).output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .find(|n| n != "lo")
        .ok_or_else(|| std::io::Error::other("no veth inside the namespace"))
}

/// Whether an NDJSON row of `scan` is what its class must give.
pub fn row_is_right(class: Class, row: &serde_json::Value) -> bool {
    let status = row["status"].as_str().unwrap_or("");
    let finding = row["finding"].as_str().unwrap_or("");
    let ms = row["duration_ms"].as_f64().unwrap_or(0.0);
    match class {
        Class::Live => status == "ok",
        // A connect and an X.224 exchange each wait for the delay at least once.
        Class::Slow => status == "ok" && ms >= 2.0 * SLOW_DELAY_MS as f64,
        Class::Refused => finding == "NET002",
        Class::Filtered => finding == "NET003",
    }
}

/// What one run of a program cost.
#[derive(Debug, Clone)]
pub struct Run {
    pub wall: Duration,
    pub max_rss_kib: i64,
    pub peak_fds: usize,
    pub status: i32,
    pub stdout: Vec<u8>,
    /// When the first stdout line arrived, after start.
    pub first_line: Option<Duration>,
}

/// Runs `cmd` to its end: wall time, peak RSS (wait4 rusage) and peak open files (sampled).
pub fn measure(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let n = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
                peak.fetch_max(n, Ordering::Relaxed);
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
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet reaped (Child::wait was never called).
    unsafe { libc::wait4(pid as i32, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let (stdout, first_line) = reader.join().expect("reader");
    Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
        peak_fds: peak.load(Ordering::Relaxed),
        status: libc::WEXITSTATUS(status),
        stdout,
        first_line,
    }
}
