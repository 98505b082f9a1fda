//! `host check` on the largest SYSTEM hive of the corpus beside the peer
//! readers on the same file: hivexregedit --export (libhivex, Perl) of the
//! Terminal Server key, and python regipy / python-registry reading the
//! Terminal Server values. Prints medians, ratios and each process's peak RSS
//! (wait4) beside the hive's size.
//!
//! `cargo bench -p rdp-doctor-host --bench vs_peers`. The rdp-doctor side is
//! `rdp-doctor host check` (RDP_DOCTOR_BIN, else target/release/rdp-doctor when
//! built), else this bench binary re-run as a child (`--check HIVE`), which
//! maps the hive and runs the same library entry point. Peak RSS is read with
//! GNU time when installed (`/usr/bin/time -f %M`), else from wait4.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 15;
const PEER_RUNS: usize = 5;

fn child_check(path: &Path) -> i32 {
    let bytes = match rdp_doctor_host::apply::map_file(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return 3;
        }
    };
    let hive = match rdp_doctor_regf::Hive::new(&bytes) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return 3;
        }
    };
    match rdp_doctor_host::check(&hive, None, None) {
        Ok(r) => {
            println!(
                "{} findings, {} passed, {} failure(s)",
                r.findings.len(),
                r.passed.len(),
                r.failures()
            );
            // What is resident at the end: anonymous memory (this process's
            // own) and pages of the mapped file (page cache, shared).
            if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
                for l in status.lines().filter(|l| {
                    l.starts_with("VmHWM") || l.starts_with("RssAnon") || l.starts_with("RssFile")
                }) {
                    println!("{}", l.split_whitespace().collect::<Vec<_>>().join(" "));
                }
            }
            0
        }
        Err(e) => {
            eprintln!("{e}");
            3
        }
    }
}

/// Runs `cmd` once: wall time and the child's own peak RSS in KiB (wait4).
fn measure(cmd: &mut Command) -> Option<(Duration, i64)> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let t = Instant::now();
    let child = cmd.spawn().ok()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; status and usage are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    std::mem::forget(child);
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) > 1 {
        return None;
    }
    Some((elapsed, usage.ru_maxrss))
}

/// The peak RSS in KiB of `cmd` run under GNU time (`/usr/bin/time -f %M`):
/// a child spawned from this process would count this process's own pages
/// (vfork shares them), time's are few.
fn peak_rss_under_time(cmd: &Command) -> Option<i64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Row {
    name: String,
    median: Duration,
    max_rss_kib: i64,
}

fn bench(name: &str, runs: usize, mut make: impl FnMut() -> Command) -> Option<Row> {
    let mut times = Vec::new();
    let mut rss = 0;
    let under_time = peak_rss_under_time(&make());
    for _ in 0..runs {
        match measure(&mut make()) {
            Some((t, m)) => {
                times.push(t);
                rss = rss.max(m);
            }
            None => {
                println!("{name:<34} skipped: not installed or failed");
                return None;
            }
        }
    }
    Some(Row {
        name: name.into(),
        median: median(times),
        max_rss_kib: under_time.unwrap_or(rss),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--check") {
        let path = args.get(i + 1).map(PathBuf::from).unwrap_or_default();
        std::process::exit(child_check(&path));
    }
    if let Some(i) = args.iter().position(|a| a == "--decompress") {
        let path = args.get(i + 1).map(PathBuf::from).unwrap_or_default();
        let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../regf/tests/data/regipy_SYSTEM_win10_1709.xz");
        let compressed = std::fs::read(&src).expect("the corpus hive");
        let mut raw = Vec::new();
        lzma_rs::xz_decompress(&mut &compressed[..], &mut raw).expect("xz");
        // Written in 64 KiB pieces, as xz -d and cp write files: one huge
        // write leaves the page cache with large folios, which a mapping then
        // counts whole in RSS however little of them is read.
        let mut f = std::fs::File::create(&path).expect("create hive");
        for chunk in raw.chunks(64 * 1024) {
            std::io::Write::write_all(&mut f, chunk).expect("write hive");
        }
        std::process::exit(0);
    }
    // `cargo bench` passes --bench; anything else is ignored. The hive is
    // decompressed by a child, so this process stays small: a forked child's
    // peak RSS starts from its parent's.
    let dir = tempfile::tempdir().expect("temp dir");
    let hive = dir.path().join("SYSTEM");
    let me = std::env::current_exe().expect("own path");
    let ok = Command::new(&me).arg("--decompress").arg(&hive).status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "decompressing the hive failed"
    );
    let size_kib = std::fs::metadata(&hive).expect("hive").len() as i64 / 1024;
    println!(
        "hive: regipy_SYSTEM_win10_1709, {:.1} MB",
        size_kib as f64 / 1024.0
    );

    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/release/rdp-doctor");
    let bin = std::env::var_os("RDP_DOCTOR_BIN")
        .map(PathBuf::from)
        .or_else(|| built.exists().then_some(built));
    let ours = match bin {
        Some(bin) => bench("rdp-doctor host check", RUNS, || {
            let mut c = Command::new(&bin);
            c.args(["host", "check", "--system"]).arg(&hive);
            c
        }),
        None => bench("host check (library, own process)", RUNS, || {
            let mut c = Command::new(&me);
            c.arg("--check").arg(&hive);
            c
        }),
    };
    let ts = r"ControlSet001\Control\Terminal Server";
    let peers = [
        bench("hivexregedit --export (TS key)", PEER_RUNS, || {
            let mut c = Command::new("hivexregedit");
            c.arg("--export").arg(&hive).arg(format!("\\{ts}"));
            c
        }),
        bench("python3 regipy (TS values)", PEER_RUNS, || {
            let mut c = Command::new("python3");
            c.args([
                "-c",
                "import sys\nfrom regipy.registry import RegistryHive\nh = RegistryHive(sys.argv[1])\nk = h.get_key(r'\\ControlSet001\\Control\\Terminal Server')\nprint([v.value for v in k.iter_values()])",
            ])
            .arg(&hive);
            c
        }),
        bench("python3 python-registry (TS)", PEER_RUNS, || {
            let mut c = Command::new("python3");
            c.args([
                "-c",
                "import sys\nfrom Registry import Registry\nr = Registry.Registry(sys.argv[1])\nprint([v.value() for v in r.open(r'ControlSet001\\Control\\Terminal Server').values()])",
            ])
            .arg(&hive);
            c
        }),
    ];
    let Some(ours) = ours else {
        eprintln!("the rdp-doctor side failed");
        std::process::exit(1);
    };
    println!();
    println!(
        "{:<34} {:>10} {:>9} {:>12}",
        "", "median", "vs ours", "peak RSS"
    );
    let line = |r: &Row| {
        println!(
            "{:<34} {:>8.1}ms {:>8.1}x {:>9.1} MB",
            r.name,
            r.median.as_secs_f64() * 1e3,
            r.median.as_secs_f64() / ours.median.as_secs_f64(),
            r.max_rss_kib as f64 / 1024.0
        )
    };
    line(&ours);
    let mut fastest: Option<&Row> = None;
    for p in peers.iter().flatten() {
        line(p);
        if fastest.is_none_or(|f| p.median < f.median) {
            fastest = Some(p);
        }
    }
    println!();
    if let Some(f) = fastest {
        println!(
            "fastest peer: {} — rdp-doctor is {:.1}x faster (target >= 10x)",
            f.name,
            f.median.as_secs_f64() / ours.median.as_secs_f64()
        );
    }
    if let Ok(out) = Command::new(&me).arg("--check").arg(&hive).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        let parts: Vec<&str> = text.lines().skip(1).collect();
        if !parts.is_empty() {
            println!("host check (library) at exit: {}", parts.join(", "));
        }
    }
    println!(
        "rdp-doctor peak RSS {:.1} MB = {:.0}% of the {:.1} MB hive (target < 100%)",
        ours.max_rss_kib as f64 / 1024.0,
        100.0 * ours.max_rss_kib as f64 / size_kib as f64,
        size_kib as f64 / 1024.0
    );
}
