//! A fleet of RDP targets inside a network namespace of the caller's own:
//! every address of 198.18.0.0/15 (the benchmarking range) that the fleet
//! lists is routed out of the namespace's veth, and iptables inside the
//! namespace decides what each address is:
//!
//! - live: DNAT to a forwarder (on the veth's outer address) to a real xrdp;
//! - slow: DNAT to a forwarder that delays every chunk it passes to a second xrdp;
//! - refused: REJECT with a TCP reset;
//! - filtered: DROP.
//!
//! The scanner runs inside the namespace (`Netns::command`), so nothing leaves it
//! but the DNAT-ed connections to the xrdp servers of the caller.
#![allow(dead_code)] // each includer uses part of it

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

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

    /// The /18 of 198.18.0.0/15 holding this class (up to 16,382 targets).
    fn third_octet_base(self) -> u8 {
        match self {
            Class::Live => 0,
            Class::Refused => 64,
            Class::Filtered => 128,
            Class::Slow => 192,
        }
    }

    fn cidr(self) -> String {
        format!("198.18.{}.0/18", self.third_octet_base())
    }
}

/// The one port every target is scanned on.
pub const PORT: u16 = 3389;
/// The delay the forwarder adds before each chunk of the slow server's answers.
pub const SLOW_DELAY_MS: u64 = 100;
/// xrdp servers behind each answering class.
const SERVERS_PER_CLASS: u32 = 6;

pub struct Fleet {
    pub ns: Netns,
    pub targets: Vec<(Ipv4Addr, Class)>,
    _servers: Vec<Xrdp>,
    _proxies: Vec<DelayProxy>,
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
        ns.exec(&["ip", "route", "add", "198.18.0.0/15", "via", &host])?;
        // A few xrdp per answering class, each behind a forwarder (xrdp's own
        // listen backlog is tiny; the forwarder queues what it cannot take).
        let mut servers = Vec::new();
        let mut proxies = Vec::new();
        for (class, delay) in [(Class::Live, 0), (Class::Slow, SLOW_DELAY_MS)] {
            for i in 0..SERVERS_PER_CLASS {
                let server = Xrdp::start_at(
                    &host,
                    SecurityLayer::Negotiate,
                    CertCase::Valid(format!("{class:?}{i}.test").to_lowercase()),
                )?;
                // A slow session holds its slot through its delays: give it more
                // slots, but not so many that xrdp's tiny accept backlog drops
                // SYNs (their retransmission waits look like stalls to a scanner).
                let slots = if delay == 0 { 12 } else { 24 };
                let proxy = DelayProxy::start(ns.host_addr, server.addr, delay, slots)?;
                // Round robin: the first rule takes every k-th new connection, the next every (k-1)-th of the rest...
                let every = (SERVERS_PER_CLASS - i).to_string();
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
                    "-m",
                    "statistic",
                    "--mode",
                    "nth",
                    "--every",
                    &every,
                    "--packet",
                    "0",
                    "-j",
                    "DNAT",
                    "--to-destination",
                    &proxy.addr.to_string(),
                ])?;
                servers.push(server);
                proxies.push(proxy);
            }
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
        let mut targets = Vec::new();
        for (class, n) in Class::ALL.into_iter().zip(per_class) {
            targets.extend(addresses(class, n).map(|a| (a, class)));
        }
        // Interleave the classes, as a real fleet would be.
        targets.sort_by_key(|(a, _)| u32::from(*a).rotate_left(16));
        Ok(Fleet {
            ns,
            targets,
            _servers: servers,
            _proxies: proxies,
        })
    }

    /// The class a scan result's target was built as.
    pub fn class_of(&self, addr: &str) -> Option<Class> {
        let ip: Ipv4Addr = addr.split(':').next()?.parse().ok()?;
        self.targets.iter().find(|(a, _)| *a == ip).map(|(_, c)| *c)
    }
}

/// The veth end inside the namespace (the only link besides `lo`).
/// A forwarder on the veth's outer address that waits `delay_ms` before each
/// chunk it passes back (and before it connects upstream): a slow server when
/// the delay is not zero.
pub struct DelayProxy {
    pub addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl DelayProxy {
    fn start(
        bind: Ipv4Addr,
        upstream: std::net::SocketAddr,
        delay_ms: u64,
        slots: usize,
    ) -> std::io::Result<DelayProxy> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind((bind, 0)))?;
        let addr = listener.local_addr()?;
        let delay = Duration::from_millis(delay_ms);
        // At most this many connections at once to the xrdp behind.
        let upstream_slots = Arc::new(tokio::sync::Semaphore::new(slots));
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let slots = upstream_slots.clone();
                tokio::spawn(async move {
                    let Ok(_slot) = slots.acquire_owned().await else {
                        return;
                    };
                    tokio::time::sleep(delay).await;
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    // No Nagle delay of the forwarder's own on small answers.
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let down = tokio::spawn(async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = sr.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            tokio::time::sleep(delay).await;
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = cw.shutdown().await;
                    });
                    // The client is done once it closes: free the slot then.
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    down.abort();
                });
            }
        });
        Ok(DelayProxy {
            addr,
            _runtime: runtime,
        })
    }
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

pub use rdp_doctor_testing::measure::Run;

/// Runs `cmd` to its end: wall time, peak RSS and peak open files (see `rdp_doctor_testing::measure`).
pub fn measure(cmd: Command) -> Run {
    rdp_doctor_testing::measure::measure(&cmd, false)
}
