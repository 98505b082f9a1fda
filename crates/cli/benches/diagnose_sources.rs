//! Benchmark: `rdp-doctor diagnose` with every evidence source but the network
//! (a reported code, the corpus SYSTEM hive of 15 MB with its transaction logs
//! replayed, a SOFTWARE-layout hive, five corpus event logs, a .rdp file), and
//! the same with a probe of a closed loopback port, whose waits are nothing.
//! The budget: no more than 1 s beyond the network waits.
//!
//! Beside it, for scale: `hivexregedit --export` of the same SYSTEM hive (a
//! reader of one source only).
//!
//! Run: cargo bench -p rdp-doctor --bench diagnose_sources
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn unxz(dir: &Path, src: &str, name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let out = Command::new("xz")
        .arg("-dc")
        .arg(path)
        .output()
        .expect("xz");
    let dst = dir.join(name);
    std::fs::write(&dst, out.stdout).expect("write");
    dst
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let system = unxz(d, "../regf/tests/data/regipy_SYSTEM_B_win10.xz", "SYSTEM");
    unxz(
        d,
        "../regf/tests/data/regipy_SYSTEM_B.LOG1.xz",
        "SYSTEM.LOG1",
    );
    unxz(
        d,
        "../regf/tests/data/regipy_SYSTEM_B.LOG2.xz",
        "SYSTEM.LOG2",
    );
    // SOFTWARE: a real hive's layout with the keys a SOFTWARE hive has, written by hivexregedit.
    let software = unxz(d, "../regf/tests/data/regipy_NTUSER_win7.xz", "SOFTWARE");
    let reg = d.join("software.reg");
    std::fs::write(
        &reg,
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\n\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\n\n\
         [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\"CurrentBuildNumber\"=\"19045\"\n",
    )
    .expect("write");
    let merged = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE"])
        .arg(&software)
        .arg(&reg)
        .output()
        .expect("hivexregedit");
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let logs = d.join("Logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    for name in [
        "mdec_RdpCoreTS_131_bruteforce.evtx",
        "mdec_Security_4825_rdp_denied.evtx",
        "mdec_Security_4625_LT10_account_restriction.evtx",
        "mdec_RCM_1149_multiple_hosts.evtx",
        "szechuan_DC01_RDPClient_Operational.evtx",
    ] {
        unxz(&logs, &format!("../events/tests/data/{name}.xz"), name);
    }
    let rdp = d.join("client.rdp");
    std::fs::write(
        &rdp,
        "full address:s:server.example:3389\r\nenablecredsspsupport:i:0\r\n",
    )
    .expect("write");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");

    let bin = env!("CARGO_BIN_EXE_rdp-doctor");
    let sources = |cmd: &mut Command| {
        cmd.args(["--code", "0x904", "0x7", "--json", "--system"])
            .arg(&system)
            .arg("--software")
            .arg(&software)
            .arg("--evtx")
            .arg(&logs)
            .arg("--rdp-file")
            .arg(&rdp);
    };
    let runs = 5;
    let offline = time(runs, || {
        let mut cmd = Command::new(bin);
        cmd.arg("diagnose");
        sources(&mut cmd);
        let out = cmd.output().expect("diagnose");
        assert!(
            !out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let with_probe = time(runs, || {
        let mut cmd = Command::new(bin);
        cmd.args(["diagnose", &format!("127.0.0.1:{port}"), "--timeout", "3"]);
        sources(&mut cmd);
        let out = cmd.output().expect("diagnose");
        assert!(!out.stdout.is_empty());
    });
    let hivex = time(runs, || {
        let out = Command::new("hivexregedit")
            .args(["--export", "--prefix", "HKEY_LOCAL_MACHINE\\SYSTEM"])
            .arg(&system)
            .arg("\\")
            .output()
            .expect("hivexregedit");
        assert!(out.status.success());
    });
    println!("diagnose, every source but the network (median of {runs}): {offline:.2?}");
    println!("diagnose, every source + probe of a closed port:          {with_probe:.2?}");
    println!("hivexregedit --export of the SYSTEM hive alone:             {hivex:.2?}");
    println!(
        "ratio hivexregedit / diagnose (all sources): {:.1}x",
        hivex.as_secs_f64() / offline.as_secs_f64()
    );
    let budget = Duration::from_secs(1);
    println!(
        "budget 1 s beyond network waits: {}",
        if offline <= budget { "met" } else { "MISSED" }
    );
}
