//! `rdp-doctor diagnose` as a user runs it: one diagnosis from every source,
//! against real peers on loopback (a closed port, xrdp, the FreeRDP shadow
//! server), real hives with values written by hivexregedit, and real event logs.

use crate::support::closed_port;
use crate::support::golden;
use crate::support::xz_bytes;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rdp_doctor_testing::freerdp::ShadowServer;
use rdp_doctor_testing::xrdp::{CertCase, SecurityLayer, Xrdp};

fn rdp_doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RDP_DOCTOR_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn top_cause(v: &serde_json::Value) -> &str {
    v["causes"][0]["cause"].as_str().unwrap_or("none")
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A corpus file, decompressed into `dir`.
fn unxz(dir: &Path, src: &str, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::write(&dst, xz_bytes(&data(src))).unwrap();
    dst
}

/// The clean Windows 7 SYSTEM hive (Select\Current = 1), with `reg` merged by hivexregedit.
fn system_hive(dir: &Path, reg: &str) -> PathBuf {
    let hive = unxz(
        dir,
        "../regf/tests/data/regipy_SYSTEM_win7_32bit.xz",
        "SYSTEM",
    );
    merge(&hive, "HKEY_LOCAL_MACHINE\\SYSTEM", reg);
    hive
}

fn merge(hive: &Path, prefix: &str, reg: &str) {
    let file = hive.with_extension("reg");
    std::fs::write(
        &file,
        format!("Windows Registry Editor Version 5.00\n\n{reg}\n"),
    )
    .unwrap();
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", prefix])
        .arg(hive)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hivexregedit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const TS: &str = "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server]";

#[test]
fn refused_port_alone_names_the_check_that_decides() {
    let target = format!("127.0.0.1:{}", closed_port());
    let out = rdp_doctor(&["diagnose", &target, "--timeout", "3", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["schema"], "rdp-doctor.diagnose/v2");
    assert_eq!(top_cause(&v), "firewall_or_port");
    assert_eq!(v["next_check"]["source"], "host");
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "NET002"));
}

#[test]
fn refused_port_with_remote_desktop_off_in_the_hive() {
    let dir = tempfile::tempdir().unwrap();
    let system = system_hive(
        dir.path(),
        &format!("{TS}\n\"fDenyTSConnections\"=dword:00000001"),
    );
    let target = format!("127.0.0.1:{}", closed_port());
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "3",
        "--json",
        "--system",
        system.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(top_cause(&v), "remote_desktop_disabled", "{v:#}");
    let sources = v["causes"][0]["corroborated_by"].as_array().unwrap();
    assert!(
        sources.contains(&"probe".into()) && sources.contains(&"host".into()),
        "{sources:?}"
    );

    // The human verdict says so first, and the fix is for the offline hive.
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "3",
        "--system",
        system.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap();
    assert!(first.contains("Remote Desktop is turned off"), "{first}");
    assert!(
        text.contains(&format!(
            "rdp-doctor host fix --system {} --only HOST001 --apply",
            system.display()
        )),
        "{text}"
    );
    assert!(
        !text.contains("Set-ItemProperty 'HKLM:"),
        "live PowerShell for an offline disk:\n{text}"
    );
}

#[test]
fn refused_port_with_termservice_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let system = system_hive(
        dir.path(),
        &format!(
            "{TS}\n\"fDenyTSConnections\"=dword:00000000\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\TermService]\n\"Start\"=dword:00000004"
        ),
    );
    let target = format!("127.0.0.1:{}", closed_port());
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "3",
        "--json",
        "--system",
        system.to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(top_cause(&v), "service_or_listener_down", "{v:#}");
    let causes: Vec<&str> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["cause"].as_str())
        .collect();
    assert!(!causes.contains(&"remote_desktop_disabled"), "{causes:?}");
}

#[test]
fn tls_broken_after_x224_with_the_key_file_empty_is_one_cause() {
    let server = Xrdp::start(SecurityLayer::Tls, CertCase::MissingKey).expect("xrdp");
    let dir = tempfile::tempdir().unwrap();
    let system = system_hive(
        dir.path(),
        &format!("{TS}\n\"fDenyTSConnections\"=dword:00000000"),
    );
    // SOFTWARE: a real hive's layout with the machine GUID the key file is named after.
    let software = unxz(
        dir.path(),
        "../regf/tests/data/regipy_NTUSER_win7.xz",
        "SOFTWARE",
    );
    let guid = "5a3f29b3-8e74-4c0e-9d4a-2f1b6c7d8e90";
    merge(
        &software,
        "HKEY_LOCAL_MACHINE\\SOFTWARE",
        &format!(
            "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft]\n\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT]\n\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\n\
             [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography]\n\"MachineGuid\"=\"{guid}\""
        ),
    );
    let keys = dir
        .path()
        .join("win/ProgramData/Microsoft/Crypto/RSA/MachineKeys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join(format!("f686aace6942fb7f7ceb231212eef4a4_{guid}")),
        b"",
    )
    .unwrap();
    let target = server.addr.to_string();
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "5",
        "--json",
        "--system",
        system.to_str().unwrap(),
        "--software",
        software.to_str().unwrap(),
        "--windows",
        dir.path().join("win").to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(top_cause(&v), "certificate_or_key", "{v:#}");
    let c = &v["causes"][0];
    let sources = c["corroborated_by"].as_array().unwrap();
    assert!(
        sources.contains(&"probe".into()) && sources.contains(&"host".into()),
        "{c:#}"
    );
}

#[test]
fn nla_required_and_a_file_without_credssp_blames_the_line() {
    let server = ShadowServer::start().expect("shadow server");
    let dir = tempfile::tempdir().unwrap();
    let rdp = dir.path().join("client.rdp");
    std::fs::write(
        &rdp,
        format!(
            "full address:s:{}\r\nenablecredsspsupport:i:0\r\nauthentication level:i:2\r\n",
            server.addr
        ),
    )
    .unwrap();
    let target = server.addr.to_string();
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "5",
        "--json",
        "--rdp-file",
        rdp.to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(top_cause(&v), "security_layer_mismatch", "{v:#}");
    let remedy = v["causes"][0]["remedies"][0]["title"].as_str().unwrap();
    assert!(remedy.contains("line 2"), "{remedy}");
}

#[test]
fn healthy_xrdp_with_code_0x904_0x7_and_a_connection_flood_in_the_logs() {
    let server = Xrdp::start(
        SecurityLayer::Negotiate,
        CertCase::Valid("localhost".into()),
    )
    .expect("xrdp");
    let dir = tempfile::tempdir().unwrap();
    let log = unxz(
        dir.path(),
        "../events/tests/data/mdec_RdpCoreTS_131_bruteforce.evtx.xz",
        "RdpCoreTS.evtx",
    );
    let target = server.addr.to_string();
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "5",
        "--json",
        "--code",
        "Error code: 0x904, Extended error code: 0x7",
        "--evtx",
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a reported code is a problem");
    let v = json(&out);
    assert_eq!(top_cause(&v), "connection_limit", "{v:#}");
}

#[test]
fn only_a_code_gives_its_causes_with_what_to_run_next() {
    let out = rdp_doctor(&["diagnose", "--code", "0x904", "0x7", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let causes = v["causes"].as_array().unwrap();
    assert!(causes.len() >= 3, "{v:#}");
    assert!(causes
        .iter()
        .all(|c| !c["checks"].as_array().unwrap().is_empty()));
    assert!(v.get("probe").is_none());

    // FreeRDP's code as it prints it.
    let out = rdp_doctor(&["diagnose", "--code", "[0x0002000D]", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!json(&out)["causes"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors() {
    for args in [
        vec!["diagnose"],
        vec!["diagnose", "a b"],
        vec!["diagnose", "h", "--timeout", "0"],
        vec!["diagnose", "--code", "not a code at all"],
        vec!["probe"],
    ] {
        let out = rdp_doctor(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_dirty_hive_is_replayed_as_host_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let system = unxz(
        dir.path(),
        "../regf/tests/data/regipy_SYSTEM_B_win10.xz",
        "SYSTEM",
    );
    unxz(
        dir.path(),
        "../regf/tests/data/regipy_SYSTEM_B.LOG1.xz",
        "SYSTEM.LOG1",
    );
    unxz(
        dir.path(),
        "../regf/tests/data/regipy_SYSTEM_B.LOG2.xz",
        "SYSTEM.LOG2",
    );
    let sys = system.to_str().unwrap();
    let host = json(&rdp_doctor(&["host", "check", "--system", sys, "--json"]));
    let diag = json(&rdp_doctor(&["diagnose", "--system", sys, "--json"]));
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["id"], f["severity"]))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&host), ids(&diag));
    assert!(
        ids(&diag)
            .iter()
            .any(|i| i.starts_with("\"HOST000\" \"info\"")),
        "{:?}",
        ids(&diag)
    );
}

#[test]
fn human_output_matches_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let rdp = dir.path().join("client.rdp");
    std::fs::write(
        &rdp,
        "full address:s:192.0.2.10:3389\r\nenablecredsspsupport:i:0\r\nscreen mode id:i:9\r\n",
    )
    .unwrap();
    let log = data("../events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz");
    let log = unxz(
        dir.path(),
        log.strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_str()
            .unwrap(),
        "Security.evtx",
    );
    let out = rdp_doctor(&[
        "diagnose",
        "--code",
        "0x904",
        "0x7",
        "--rdp-file",
        rdp.to_str().unwrap(),
        "--evtx",
        log.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).replace(dir.path().to_str().unwrap(), "TMP");
    golden("diagnose_code_file_logs.txt", &text);
}

#[test]
fn a_collected_folder_is_read_like_a_rescued_disk() {
    let dir = tempfile::tempdir().unwrap();
    let collected = dir.path().join("collected");
    std::fs::create_dir_all(collected.join("hives")).unwrap();
    std::fs::create_dir_all(collected.join("logs")).unwrap();
    let system = system_hive(
        dir.path(),
        &format!("{TS}\n\"fDenyTSConnections\"=dword:00000001"),
    );
    std::fs::rename(&system, collected.join("hives/SYSTEM")).unwrap();
    unxz(
        &collected.join("logs"),
        "../events/tests/data/mdec_Security_4825_rdp_denied.evtx.xz",
        "Security.evtx",
    );
    let target = format!("127.0.0.1:{}", closed_port());
    let out = rdp_doctor(&[
        "diagnose",
        &target,
        "--timeout",
        "3",
        "--json",
        "--collected",
        collected.to_str().unwrap(),
    ]);
    let v = json(&out);
    assert_eq!(top_cause(&v), "remote_desktop_disabled", "{v:#}");
    let sources: Vec<&str> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(sources, ["probe", "host", "events"]);
}

#[test]
fn html_report_is_written_and_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let target = format!("127.0.0.1:{}", closed_port());
    let args = [
        "diagnose",
        &target,
        "--timeout",
        "3",
        "--html",
        page.to_str().unwrap(),
    ];
    let out = rdp_doctor(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let verdict = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(html.contains(&verdict.replace('\'', "&#39;")), "{verdict}");
    assert!(html.contains("data-phase=\"tcp\""));
    assert!(!html.contains("<script"));
    // A second run refuses to replace it, unless --force.
    assert_eq!(rdp_doctor(&args).status.code(), Some(2));
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(rdp_doctor(&forced).status.code(), Some(1));
}

#[test]
fn udp_and_gateway_evidence_reach_the_diagnosis() {
    // A closed loopback port answers the RDP-UDP SYN with ICMP port unreachable.
    let target = format!("127.0.0.1:{}", closed_port());
    let v = json(&rdp_doctor(&[
        "diagnose",
        &target,
        "--udp",
        "--timeout",
        "3",
        "--json",
    ]));
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(ids.contains(&"UDP001"), "{ids:?}");
    let causes: Vec<&str> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["cause"].as_str())
        .collect();
    assert!(causes.contains(&"udp_transport"), "{causes:?}");
    // Nothing listens where the gateway should be.
    let v = json(&rdp_doctor(&[
        "diagnose",
        &target,
        "--gateway",
        "--timeout",
        "3",
        "--json",
    ]));
    assert_eq!(top_cause(&v), "gateway", "{v:#}");
}
