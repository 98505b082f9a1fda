//! Benchmark: time and connections to learn a server's security protocols,
//! TLS certificate and NTLM identity (and, without NLA, the MCS Connect
//! round trip beyond the handshake), beside nmap (rdp-enum-encryption +
//! rdp-ntlm-info) and sslyze (--starttls rdp --certinfo; for a TLS 1.0-only
//! xrdp, sslyze's version scans beside the probe's own ClientHellos), against the same local
//! servers in one run. Each tool reaches the server through a counting TCP
//! relay on loopback, so connections are counted the same way for all.
//!
//! The UDP step: whether RDP-UDP answers, beside `nmap -sU` on the same port.
//! No peer here speaks RDP-UDP: the answering side is the scripted responder
//! that replays a captured SYN+ACK (`rdp_doctor_testing::rdpeudp`); a closed
//! port answers with the kernel's ICMP port unreachable.
//!
//! Run: cargo bench -p rdp-doctor-probe --bench vs_peers  (needs root, xrdp,
//! freerdp-shadow-cli, Xvfb, nmap, sslyze). BENCH_VERBOSE=1 prints what each
//! peer tool found, once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdp_doctor_probe::ProbeOptions;
use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::have_tool;
use rdp_doctor_testing::rdpeudp::SynAckResponder;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, TlsSettings, Xrdp};
use tokio::net::{TcpListener, TcpStream};

const RUNS: usize = 5;

/// A loopback relay to `upstream` that counts the connections it accepts.
async fn counting_relay(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
    let addr = listener.local_addr().expect("relay addr");
    let count = Arc::new(AtomicU32::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    // Transparent: no Nagle delay added to anyone's small writes.
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (addr, count)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn time_tool(
    name: &str,
    relay: SocketAddr,
    count: &AtomicU32,
    cmd: impl Fn() -> Command,
) -> Option<(Duration, u32)> {
    if !have_tool(name) {
        println!("  {name:<12} not installed");
        return None;
    }
    let mut times = Vec::new();
    let before = count.load(Ordering::SeqCst);
    for _ in 0..3 {
        let mut c = cmd();
        let t = Instant::now();
        let out = tokio::task::spawn_blocking(move || c.output())
            .await
            .ok()?
            .ok()?;
        times.push(t.elapsed());
        if !out.status.success() {
            println!("  {name} exited {:?}", out.status.code());
        }
        if std::env::var_os("BENCH_VERBOSE").is_some() && times.len() == 1 {
            println!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    let conns = (count.load(Ordering::SeqCst) - before) / 3;
    let _ = relay;
    Some((median(times), conns))
}

async fn bench(label: &str, upstream: SocketAddr, sslyze_scans: &[&str]) {
    let (relay, count) = counting_relay(upstream).await;
    let port = relay.port().to_string();
    println!("{label} (relay 127.0.0.1:{port} -> {upstream})");

    let opts = ProbeOptions::default();
    let mut times = Vec::new();
    let before = count.load(Ordering::SeqCst);
    let mut facts = String::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = rdp_doctor_probe::probe(&relay.to_string(), &opts)
            .await
            .expect("probe");
        times.push(t.elapsed());
        facts = format!(
            "protocols {:?}, cert {}, ntlm {}",
            r.supported(),
            r.tls
                .as_ref()
                .and_then(|t| t.chain.first())
                .map(|c| c.sha1_thumbprint.clone())
                .unwrap_or("-".into()),
            r.ntlm
                .as_ref()
                .and_then(|n| n.netbios_computer.clone())
                .unwrap_or("-".into())
        );
        if let Some(m) = &r.mcs {
            facts.push_str(&format!(", mcs {}", mcs_fact(m)));
        }
        if let Some(scan) = &r.tls_scan {
            let versions: Vec<&str> = scan.versions.iter().map(|v| v.name()).collect();
            facts.push_str(&format!(", TLS accepted {versions:?}"));
        }
    }
    let ours = median(times);
    let our_conns = (count.load(Ordering::SeqCst) - before) / RUNS as u32;
    println!(
        "  rdp-doctor   {:>8.1} ms  {our_conns:>3} connections  ({facts})",
        ours.as_secs_f64() * 1000.0
    );
    // Without the one-connection-per-protocol matrix: what mstsc gets, TLS and NTLM.
    let quick = ProbeOptions {
        protocol_matrix: false,
        ..ProbeOptions::default()
    };
    let mut times = Vec::new();
    let before = count.load(Ordering::SeqCst);
    for _ in 0..RUNS {
        let t = Instant::now();
        rdp_doctor_probe::probe(&relay.to_string(), &quick)
            .await
            .expect("probe");
        times.push(t.elapsed());
    }
    let quick_time = median(times);
    let quick_conns = (count.load(Ordering::SeqCst) - before) / RUNS as u32;
    println!(
        "  --no-matrix  {:>8.1} ms  {quick_conns:>3} connections  (negotiated protocol, cert, ntlm)",
        quick_time.as_secs_f64() * 1000.0
    );
    let mut rows = Vec::new();
    if let Some((t, c)) = time_tool("nmap", relay, &count, || {
        let mut cmd = Command::new("nmap");
        cmd.args([
            "-Pn",
            "-n",
            "-p",
            &port,
            "--script",
            "+rdp-enum-encryption,+rdp-ntlm-info",
            "127.0.0.1",
        ]);
        cmd
    })
    .await
    {
        rows.push(("nmap", t, c));
    }
    let sslyze_scans: Vec<String> = sslyze_scans.iter().map(|a| a.to_string()).collect();
    if let Some((t, c)) = time_tool("sslyze", relay, &count, || {
        let mut cmd = Command::new("sslyze");
        cmd.args(["--starttls", "rdp", "--mozilla_config", "disable"])
            .args(&sslyze_scans)
            .arg(format!("127.0.0.1:{port}"));
        cmd
    })
    .await
    {
        rows.push(("sslyze", t, c));
    }
    for (name, t, c) in rows {
        println!(
            "  {name:<12} {:>8.1} ms  {c:>3} connections  -> rdp-doctor is {:.1}x faster ({:.1}x with --no-matrix)",
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() / ours.as_secs_f64(),
            t.as_secs_f64() / quick_time.as_secs_f64()
        );
    }
}

fn mcs_fact(m: &rdp_doctor_probe::report::McsOutcome) -> &'static str {
    use rdp_doctor_probe::report::McsOutcome;
    match m {
        McsOutcome::Response(_) => "Connect Response",
        McsOutcome::Disconnect { .. } => "Disconnect",
        _ => "no Connect Response",
    }
}

/// The bytes of the captured SYN+ACK the responder replays.
fn captured_syn_ack() -> Vec<u8> {
    let path = format!(
        "{}/tests/data/rdpeudp-synack.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What `nmap -sU` says of the port: open, closed, open|filtered.
fn nmap_udp_state(port: u16) -> Option<(Duration, String)> {
    let mut times = Vec::new();
    let mut state = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new("nmap")
            .args(["-sU", "-Pn", "-n", "-p", &port.to_string(), "-oG", "-"])
            .arg("127.0.0.1")
            .output()
            .ok()?;
        times.push(t.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
        state = text
            .split(&format!("{port}/"))
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("?")
            .to_string();
    }
    Some((median(times), state))
}

async fn bench_udp(label: &str, port: u16) {
    println!("{label} (UDP 127.0.0.1:{port})");
    let mut times = Vec::new();
    let mut fact = String::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let outcome = rdp_doctor_probe::udp::probe_udp(
            Ipv4Addr::LOCALHOST.into(),
            port,
            Duration::from_secs(3),
        )
        .await;
        times.push(t.elapsed());
        fact = rdp_doctor_probe::udp::udp_findings(&outcome)
            .first()
            .map(|f| f.id.code().to_string())
            .unwrap_or_default();
    }
    let ours = median(times);
    println!(
        "  rdp-doctor   {:>8.1} ms  ({fact})",
        ours.as_secs_f64() * 1000.0
    );
    if !have_tool("nmap") {
        println!("  nmap         not installed");
        return;
    }
    if let Some((t, state)) = tokio::task::spawn_blocking(move || nmap_udp_state(port))
        .await
        .ok()
        .flatten()
    {
        println!(
            "  nmap -sU     {:>8.1} ms  ({state}) -> rdp-doctor is {:.1}x faster",
            t.as_secs_f64() * 1000.0,
            t.as_secs_f64() / ours.as_secs_f64()
        );
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let xrdp = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("bench.test".into()),
    )
    .expect("xrdp");
    let shadow = ShadowServer::start().expect("shadow server");
    let old_tls = Xrdp::start_with_tls(
        SecurityLayer::Tls,
        CertCase::Valid("old.test".into()),
        TlsSettings {
            ssl_protocols: "TLSv1".into(),
            tls_ciphers: None,
            openssl_seclevel: Some(0),
        },
    )
    .expect("xrdp with TLS 1.0 only");
    rt.block_on(async {
        // sslyze learns the certificate (--certinfo); rdp-doctor that and more.
        bench(
            "xrdp negotiate (TLS + RDP security)",
            xrdp.addr,
            &["--certinfo"],
        )
        .await;
        bench("FreeRDP shadow (NLA)", shadow.addr, &["--certinfo"]).await;
        // The old-TLS step: which versions the server accepts, and with which suites.
        bench(
            "xrdp TLS 1.0 only",
            old_tls.addr,
            &["--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3"],
        )
        .await;
        let answering = SynAckResponder::start(captured_syn_ack()).expect("UDP responder");
        bench_udp(
            "RDP-UDP answering (captured SYN+ACK)",
            answering.addr.port(),
        )
        .await;
        // Bound, then closed: the kernel answers ICMP port unreachable.
        let closed = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        bench_udp("RDP-UDP closed port", closed).await;
    });
}
