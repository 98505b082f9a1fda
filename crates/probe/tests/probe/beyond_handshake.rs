//! After the handshake: the MCS round trip (TLS without NLA) and the NTLM
//! round trip (NLA) are phases with their own bytes and time, and a path that
//! passes the handshake and then loses or resets every packet is never
//! "healthy". Kernel faults (iptables connbytes after N bytes) inside a
//! namespace of the test's own, against real xrdp and the FreeRDP shadow server.

use std::time::Duration;

use rdp_doctor_model::{FindingId, PhaseName};
use rdp_doctor_probe::diagnose::{diagnose, phase_of, Diagnosis};
use rdp_doctor_probe::path::PhaseEnd;
use rdp_doctor_probe::{McsOutcome, ProbeOptions, ProbeReport, Status};
use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::netns::{self, Netns};
use rdp_doctor_testing::require_tool;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn options() -> ProbeOptions {
    ProbeOptions {
        total_budget: Duration::from_secs(8),
        connect_timeout: Duration::from_secs(1),
        io_timeout: Duration::from_millis(1200),
        protocol_matrix: false,
        ..ProbeOptions::default()
    }
}

async fn run(target: &str) -> Diagnosis {
    diagnose(
        rdp_doctor_probe::probe(target, &options())
            .await
            .expect("probe runs"),
    )
}

fn sent(r: &ProbeReport, phase: PhaseName) -> u64 {
    r.path
        .traffic_of(phase)
        .map(|t| t.bytes_sent)
        .unwrap_or_else(|| panic!("no traffic for {phase:?}: {:#?}", r.path.traffic))
}

#[tokio::test]
async fn mcs_round_trip_after_tls_against_xrdp() {
    if !require_tool("xrdp") {
        return;
    }
    let server =
        Xrdp::start(SecurityLayer::Tls, CertCase::Valid("mcs.test".into())).expect("xrdp starts");
    let d = run(&server.addr.to_string()).await;
    assert!(d.healthy, "{}: {:#?}", d.verdict, d.findings);
    let mcs = d.probe.phase(PhaseName::Mcs).expect("an MCS phase");
    assert_eq!(mcs.status, Status::Ok, "{mcs:?}");
    assert!(
        matches!(d.probe.mcs, Some(McsOutcome::Response(ref r)) if r.io_channel >= 1001),
        "{:?}",
        d.probe.mcs
    );
    let t = d
        .probe
        .path
        .traffic_of(PhaseName::Mcs)
        .expect("MCS traffic");
    assert!(
        t.counted && t.bytes_sent > 100 && t.bytes_received > 50,
        "{t:?}"
    );
    assert_eq!(t.end, PhaseEnd::Completed);
}

#[tokio::test]
async fn ntlm_round_trip_is_a_phase_and_the_server_clock_is_read() {
    if !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let server = ShadowServer::start().expect("shadow server starts");
    let d = run(&server.addr.to_string()).await;
    let t = d
        .probe
        .path
        .traffic_of(PhaseName::Credssp)
        .expect("CredSSP traffic");
    assert!(
        t.counted && t.bytes_sent > 40 && t.bytes_received > 100,
        "{t:?}"
    );
    assert_eq!(t.end, PhaseEnd::Completed);
    assert!(d.probe.mcs.is_none(), "no MCS phase on an NLA connection");
    // The shadow server sends MsvAvTimestamp: its clock is this machine's.
    let clock = d.probe.clock.expect("both clocks in the report");
    assert!(
        (clock.server_unix - clock.local_unix).abs() <= 2,
        "{clock:?}"
    );
    assert!(
        d.findings.iter().all(|f| f.id != FindingId::ClockSkew),
        "{:#?}",
        d.findings
    );
}

/// Client bytes (IP packets, as conntrack counts them) before each phase's
/// first packet, estimated from a clean run: SYN 60, other packets 52 + payload.
fn boundaries(clean: &ProbeReport, last: PhaseName) -> Vec<(&'static str, u64)> {
    let x224 = sent(clean, PhaseName::X224);
    let tls = sent(clean, PhaseName::Tls);
    let handshake = 60 + 52;
    let hello = handshake + 52 + x224;
    // The client's last flight (ChangeCipherSpec and Finished) is about 80
    // bytes; an acknowledgement of the server's flight comes before it.
    let finished = hello + 52 + tls.saturating_sub(80) + 52;
    let after = hello + 52 * 3 + tls;
    vec![
        ("X.224", handshake),
        ("TLS ClientHello", hello),
        ("TLS Finished", finished),
        (
            if last == PhaseName::Mcs {
                "MCS"
            } else {
                "NTLM"
            },
            after,
        ),
    ]
}

/// The Ns to test around each boundary.
fn sweep(bounds: &[(&'static str, u64)]) -> Vec<(&'static str, u64)> {
    bounds
        .iter()
        .flat_map(|(name, b)| [b.saturating_sub(20), b + 10, b + 50].map(|n| (*name, n)))
        .collect()
}

fn connbytes_rule<'a>(port: &'a str, n: &'a str, reset: bool) -> Vec<&'a str> {
    let mut rule = vec![
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        port,
        "-m",
        "connbytes",
        "--connbytes",
        n,
        "--connbytes-dir",
        "original",
        "--connbytes-mode",
        "bytes",
        "-j",
    ];
    if reset {
        rule.extend(["REJECT", "--reject-with", "tcp-reset"]);
    } else {
        rule.push("DROP");
    }
    rule
}

/// Runs the sweep against a server in `ns`; asserts every fault is named.
async fn faults_are_never_healthy(ns: &Netns, target: &str, port: u16, last: PhaseName) {
    let clean = run(target).await;
    assert!(
        clean.healthy,
        "clean run: {}: {:#?}",
        clean.verdict, clean.findings
    );
    assert_eq!(
        clean.probe.phase(last).map(|p| p.status),
        Some(Status::Ok),
        "{:#?}",
        clean.probe.phases
    );
    let port = port.to_string();
    for reset in [false, true] {
        for (boundary, n) in sweep(&boundaries(&clean.probe, last)) {
            ns.iptables(&["-F", "INPUT"]).expect("flush");
            let from = format!("{n}:");
            ns.iptables(&connbytes_rule(&port, &from, reset))
                .expect("connbytes rule");
            let d = run(target).await;
            let f = d.findings.first();
            let what = if reset { "reset" } else { "drop" };
            eprintln!(
                "{what} after {n} bytes (near {boundary}): {} [{:?} at {:?}]",
                d.verdict,
                f.map(|f| f.id),
                f.and_then(phase_of)
            );
            assert!(
                !d.healthy,
                "{what} after {n} bytes (near {boundary}) looks healthy: {:#?}\n{:#?}",
                d.findings, d.probe.path.traffic
            );
            // Once the handshake is done, the finding names the phase after it.
            let done = d
                .probe
                .phase(PhaseName::Tls)
                .is_some_and(|p| p.status == Status::Ok);
            if done {
                let f = f.expect("a finding");
                let expected = if reset {
                    [FindingId::ResetDuringSecurity, FindingId::StallAtPhase]
                } else {
                    [FindingId::StallAtPhase, FindingId::StallAtPhase]
                };
                assert!(
                    expected.contains(&f.id) && phase_of(f) == Some(last),
                    "{what} after {n}: {:#?}",
                    d.findings
                );
                if !reset {
                    assert!(f.title.contains(last.label()), "{}", f.title);
                }
            }
        }
    }
}

#[tokio::test]
async fn faults_after_every_phase_boundary_xrdp_tls() {
    if !netns::require() || !require_tool("xrdp") {
        return;
    }
    let ns = Netns::create(30).expect("namespace");
    let server = Xrdp::start_in_netns(&ns, SecurityLayer::Tls, CertCase::Valid("f.test".into()))
        .expect("xrdp in the namespace");
    let target = server.addr.to_string();
    faults_are_never_healthy(&ns, &target, server.addr.port(), PhaseName::Mcs).await;
}

#[tokio::test]
async fn faults_after_every_phase_boundary_shadow_nla() {
    if !netns::require() || !require_tool("freerdp-shadow-cli") || !require_tool("Xvfb") {
        return;
    }
    let ns = Netns::create(31).expect("namespace");
    let server = ShadowServer::start_in_netns(&ns, "nla").expect("shadow server in the namespace");
    let target = server.addr.to_string();
    faults_are_never_healthy(&ns, &target, server.addr.port(), PhaseName::Credssp).await;
}
