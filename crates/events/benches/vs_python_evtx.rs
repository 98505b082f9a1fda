//! Benchmark: events per second reading the largest corpus log (60,189
//! records), rdp-doctor's reader beside python-evtx on the same file, in one run.
//!
//! Run: cargo bench -p rdp-doctor-events --bench vs_python_evtx  (python-evtx from PyPI).
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::process::Command;
use std::time::Instant;

fn main() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let compressed = std::fs::read(data.join("szechuan_DC01_System.evtx.xz")).expect("corpus log");
    let mut bytes = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut bytes).expect("xz");
    let path = std::env::temp_dir().join(format!("rdp-doctor-bench-{}.evtx", std::process::id()));
    std::fs::write(&path, &bytes).expect("write");

    let mut best = f64::MAX;
    let mut records = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let f = rdp_doctor_events::read_evtx(&bytes).expect("read");
        best = best.min(t.elapsed().as_secs_f64());
        records = f.records;
    }
    println!(
        "{} ({} bytes, {records} records)",
        path.display(),
        bytes.len()
    );
    println!(
        "  rdp-doctor   {:>8.3} s  {:>10.0} events/s",
        best,
        records as f64 / best
    );

    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python_evtx_records.py");
    let t = Instant::now();
    let out = Command::new("python3").arg(&script).arg(&path).output();
    let secs = t.elapsed().as_secs_f64();
    match out {
        Ok(o) if o.status.success() => {
            let n = String::from_utf8_lossy(&o.stdout)
                .lines()
                .count()
                .saturating_sub(1);
            println!(
                "  python-evtx  {:>8.3} s  {:>10.0} events/s  -> rdp-doctor is {:.0}x faster",
                secs,
                n as f64 / secs,
                (n as f64 / secs).recip() * (records as f64 / best)
            );
        }
        _ => println!("  python-evtx not available"),
    }
    let _ = std::fs::remove_file(&path);
}
