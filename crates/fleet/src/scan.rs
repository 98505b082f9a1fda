//! The scan runner: many targets, bounded concurrency, a deadline per target.
//!
//! Protocol-agnostic: the caller passes the probe function. Results come back
//! as each finishes (for streaming output and progress), and the final list is
//! in input order.

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use ipnet::IpNet;

/// The most addresses one CIDR line may expand to: scanning is for fleets, not the Internet.
pub const MAX_CIDR_ADDRESSES: u64 = 65_536;

/// One target to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As written by the user (one address of an expanded CIDR is written out).
    pub input: String,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// "host:port", with brackets around IPv6 addresses.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A line of the target list that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {:?}: {}", self.line, self.text, self.reason)
    }
}

/// Reads targets: one or more per line (separated by spaces or commas), `#`
/// comments, `host`, `host:port`, `[v6]:port`, bare IPv6, or a CIDR range.
pub fn parse_targets(text: &str, default_port: u16) -> (Vec<Target>, Vec<TargetError>) {
    let mut targets = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let content = line.split('#').next().unwrap_or_default();
        for word in content.split([' ', '\t', ',']).filter(|w| !w.is_empty()) {
            let err = |reason: &str| TargetError {
                line: line_no,
                text: word.to_string(),
                reason: reason.to_string(),
            };
            if word.contains('/') {
                match word.parse::<IpNet>() {
                    Ok(net) => {
                        let size = match net {
                            IpNet::V4(n) => 1u64 << (32 - n.prefix_len()),
                            IpNet::V6(n) if n.prefix_len() >= 112 => 1u64 << (128 - n.prefix_len()),
                            IpNet::V6(_) => u64::MAX,
                        };
                        if size > MAX_CIDR_ADDRESSES {
                            errors.push(err(&format!(
                                "range has more than {MAX_CIDR_ADDRESSES} addresses"
                            )));
                            continue;
                        }
                        // hosts() leaves out network and broadcast addresses of IPv4 ranges.
                        for ip in net.hosts() {
                            targets.push(Target {
                                input: ip.to_string(),
                                host: ip.to_string(),
                                port: default_port,
                            });
                        }
                    }
                    Err(_) => errors.push(err("not a CIDR range (like 10.0.0.0/24)")),
                }
                continue;
            }
            match split_host_port(word) {
                Some((host, port)) => targets.push(Target {
                    input: word.to_string(),
                    host,
                    port: port.unwrap_or(default_port),
                }),
                None => errors.push(err("not host, host:port, [v6]:port or a CIDR range")),
            }
        }
    }
    (targets, errors)
}

/// Splits "host:port", "[v6]:port", "v6" or "host"; `None` when malformed.
pub fn split_host_port(target: &str) -> Option<(String, Option<u16>)> {
    let t = target.trim();
    let valid_host = |h: &str| {
        !h.is_empty()
            && h.len() <= 253
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'))
    };
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok().filter(|&p: &u16| p != 0)?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    if t.matches(':').count() > 1 {
        t.parse::<std::net::Ipv6Addr>().ok()?;
        return Some((t.to_string(), None));
    }
    match t.split_once(':') {
        Some((h, p)) if valid_host(h) => Some((
            h.to_string(),
            Some(p.parse().ok().filter(|&p: &u16| p != 0)?),
        )),
        Some(_) => None,
        None if valid_host(t) => Some((t.to_string(), None)),
        None => None,
    }
}

/// How one target ended.
#[derive(Debug, Clone)]
pub enum Completion<R> {
    /// The probe returned (its result says whether the host is healthy).
    Done(R),
    /// The probe did not return within the per-target deadline.
    DeadlinePassed,
}

/// One target's result.
#[derive(Debug, Clone)]
pub struct ScanResult<R> {
    /// Position in the input list.
    pub index: usize,
    pub target: Target,
    pub completion: Completion<R>,
    pub elapsed: Duration,
}

/// Probes every target, at most `concurrency` at once, each within `deadline`.
/// `on_result` sees each result as it finishes; the returned list is in input order.
pub async fn run<F, Fut, R>(
    targets: Vec<Target>,
    concurrency: usize,
    deadline: Duration,
    probe: F,
    mut on_result: impl FnMut(&ScanResult<R>),
) -> Vec<ScanResult<R>>
where
    F: Fn(Target) -> Fut,
    Fut: Future<Output = R>,
{
    let probe = &probe;
    let mut results: Vec<ScanResult<R>> = Vec::with_capacity(targets.len());
    let mut stream = stream::iter(targets.into_iter().enumerate())
        .map(|(index, target)| async move {
            let started = Instant::now();
            let completion = match tokio::time::timeout(deadline, probe(target.clone())).await {
                Ok(r) => Completion::Done(r),
                Err(_) => Completion::DeadlinePassed,
            };
            ScanResult {
                index,
                target,
                completion,
                elapsed: started.elapsed(),
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some(result) = stream.next().await {
        on_result(&result);
        results.push(result);
    }
    results.sort_by_key(|r| r.index);
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn target_lists() {
        let (t, e) = parse_targets(
            "# fleet\nhost1, host2:3390\n[::1]:13389 ::1\n10.1.2.0/30 # four addresses\n\nbad:port x/y 10.0.0.0/8\n",
            3389,
        );
        let auth: Vec<String> = t.iter().map(Target::authority).collect();
        assert_eq!(
            auth,
            [
                "host1:3389",
                "host2:3390",
                "[::1]:13389",
                "[::1]:3389",
                "10.1.2.1:3389",
                "10.1.2.2:3389"
            ]
        );
        let lines: Vec<(usize, &str)> = e.iter().map(|e| (e.line, e.text.as_str())).collect();
        assert_eq!(lines, [(6, "bad:port"), (6, "x/y"), (6, "10.0.0.0/8")]);
    }

    #[test]
    fn host_port_edge_cases() {
        assert_eq!(split_host_port("h:0"), None);
        assert_eq!(split_host_port("h:70000"), None);
        assert_eq!(split_host_port("[::1"), None);
        assert_eq!(split_host_port("[nothex]:1"), None);
        assert_eq!(split_host_port("a;b"), None);
        assert_eq!(split_host_port("::g"), None);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn bounded_concurrency_deadline_and_order() {
        let (targets, _) = parse_targets("a b c d e f", 1);
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut seen = 0;
        let results = run(
            targets,
            2,
            Duration::from_secs(5),
            |t: Target| {
                let running = &running;
                let peak = &peak;
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // "c" hangs past the deadline; the others take a moment.
                    let wait = if t.host == "c" { 60 } else { 1 };
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    t.host
                }
            },
            |_| seen += 1,
        )
        .await;
        assert_eq!(seen, 6);
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        let names: Vec<String> = results
            .iter()
            .map(|r| match &r.completion {
                Completion::Done(h) => h.clone(),
                Completion::DeadlinePassed => format!("{}!", r.target.host),
            })
            .collect();
        assert_eq!(names, ["a", "b", "c!", "d", "e", "f"]);
    }
}
