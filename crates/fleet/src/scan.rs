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
        rdp_doctor_probe::authority(&self.host, self.port)
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

/// The addresses of a CIDR range (without IPv4 network and broadcast addresses).
fn expand_cidr(word: &str) -> Result<Vec<String>, String> {
    let net = word
        .parse::<IpNet>()
        .map_err(|_| "not a CIDR range (like 10.0.0.0/24)".to_string())?;
    let size = match net {
        IpNet::V4(n) => 1u64 << (32 - n.prefix_len()),
        IpNet::V6(n) if n.prefix_len() >= 112 => 1u64 << (128 - n.prefix_len()),
        IpNet::V6(_) => u64::MAX,
    };
    if size > MAX_CIDR_ADDRESSES {
        return Err(format!(
            "range has more than {MAX_CIDR_ADDRESSES} addresses"
        ));
    }
    Ok(net.hosts().map(|ip| ip.to_string()).collect())
}

/// One entry of the list: a target, or the targets of a CIDR range.
fn parse_entry(word: &str, default_port: u16) -> Result<Vec<Target>, String> {
    if word.contains('/') && !word.contains(char::is_whitespace) {
        return Ok(expand_cidr(word)?
            .into_iter()
            .map(|ip| Target {
                input: ip.clone(),
                host: ip,
                port: default_port,
            })
            .collect());
    }
    let t = rdp_doctor_probe::Target::parse(word, default_port).map_err(|e| e.to_string())?;
    Ok(vec![Target {
        input: word.to_string(),
        host: t.host,
        port: t.port,
    }])
}

/// Reads targets: one per line or several separated by commas, `#`
/// comments, `host`, `host:port`, `[v6]:port`, bare IPv6, or a CIDR range.
/// An entry that is not a target (`this is not a host`) is an error, not
/// several targets; a target listed twice is probed once.
pub fn parse_targets(text: &str, default_port: u16) -> (Vec<Target>, Vec<TargetError>) {
    let mut targets: Vec<Target> = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let content = line.split('#').next().unwrap_or_default();
        for word in content.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match parse_entry(word, default_port) {
                Ok(found) => targets.extend(
                    found
                        .into_iter()
                        .filter(|t| seen.insert((t.host.to_ascii_lowercase(), t.port))),
                ),
                Err(reason) => errors.push(TargetError {
                    line: i + 1,
                    text: word.to_string(),
                    reason,
                }),
            }
        }
    }
    (targets, errors)
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
            "# fleet\nhost1, host2:3390\n[::1]:13389, ::1\n10.1.2.0/30 # four addresses\n\nbad:port, x/y,10.0.0.0/8\n",
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
    fn a_phrase_is_one_bad_entry_and_duplicates_are_probed_once() {
        let (t, e) = parse_targets(
            "this is not a host\nhost1\nhost1:3389, HOST1\nhost1:3390",
            3389,
        );
        let auth: Vec<String> = t.iter().map(Target::authority).collect();
        assert_eq!(auth, ["host1:3389", "host1:3390"]);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!((e[0].line, e[0].text.as_str()), (1, "this is not a host"));
    }

    #[test]
    fn host_port_edge_cases() {
        for bad in ["h:0", "h:70000", "[::1", "[nothex]:1", "a;b", "::g"] {
            let (t, e) = parse_targets(bad, 1);
            assert!(t.is_empty() && e.len() == 1, "{bad}");
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn bounded_concurrency_deadline_and_order() {
        let (targets, _) = parse_targets("a\nb\nc\nd\ne\nf", 1);
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
