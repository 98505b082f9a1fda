//! The client read from real hives: a SOFTWARE hive laid out as a real hive
//! with its policy values written by hivexregedit, and real NTUSER.DAT files;
//! every value read is checked against an independent reader (hivexget,
//! python regipy). Then fix --apply and undo on the file, and the client's
//! RDPClient/Operational log.

use crate::{data, unxz};
use std::path::{Path, PathBuf};
use std::process::Command;

use rdp_doctor_client::check::Files;
use rdp_doctor_client::facts::read_facts;
use rdp_doctor_client::plan::{plan, Options, Transport};
use rdp_doctor_client::rules::Oracle;
use rdp_doctor_client::{apply, OfflineClient};
use rdp_doctor_model::FindingId;
use rdp_doctor_regf::Hive;

const UDP_KEY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services\\Client";
const ORACLE_KEY: &str =
    "Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters";

/// A .reg file setting `values` (key, line) with every parent key listed, as hivexregedit needs.
fn reg_file(values: &[(&str, &str)]) -> String {
    let mut out = vec![
        "Windows Registry Editor Version 5.00".to_string(),
        String::new(),
    ];
    let mut seen: Vec<String> = Vec::new();
    for (key, line) in values {
        let parts: Vec<&str> = key.split('\\').collect();
        for n in 1..=parts.len() {
            let p = parts[..n].join("\\");
            if !seen.contains(&p) {
                out.push(format!("[HKEY_LOCAL_MACHINE\\SOFTWARE\\{p}]"));
                seen.push(p.clone());
                out.push(String::new());
            }
        }
        let at = out
            .iter()
            .position(|l| *l == format!("[HKEY_LOCAL_MACHINE\\SOFTWARE\\{key}]"))
            .expect("section");
        out.insert(at + 1, line.to_string());
    }
    out.join("\n") + "\n"
}

/// A real hive's layout (regipy's NTUSER.DAT) with `values` merged by hivexregedit.
fn software(dir: &Path, values: &[(&str, &str)]) -> PathBuf {
    let hive = dir.join("SOFTWARE");
    std::fs::write(
        &hive,
        unxz(&data("../regf/tests/data/regipy_NTUSER_win7.xz")),
    )
    .expect("write");
    let reg = dir.join("values.reg");
    std::fs::write(&reg, reg_file(values)).expect("write");
    let out = Command::new("hivexregedit")
        .args(["--merge", "--prefix", "HKEY_LOCAL_MACHINE\\SOFTWARE"])
        .arg(&hive)
        .arg(&reg)
        .output()
        .expect("hivexregedit is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    hive
}

/// hivexget's reading of a value (None when absent).
fn hivexget(hive: &Path, key: &str, name: &str) -> Option<String> {
    let out = Command::new("hivexget")
        .arg(hive)
        .arg(key)
        .arg(name)
        .output()
        .expect("hivexget is installed");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

const TCP_ONLY: (&str, &str) = (UDP_KEY, "\"fClientDisableUDP\"=dword:00000001");
const HOST_TCP: (&str, &str) = (
    "Policies\\Microsoft\\Windows NT\\Terminal Services",
    "\"SelectTransport\"=dword:00000001",
);

fn vulnerable() -> (&'static str, &'static str) {
    (ORACLE_KEY, "\"AllowEncryptionOracle\"=dword:00000002")
}

fn facts_of(sw: &Path) -> rdp_doctor_client::facts::ClientFacts {
    let bytes = std::fs::read(sw).expect("read");
    let h = Hive::new(&bytes).expect("hive");
    let reg = OfflineClient::new(Some((&h, "SOFTWARE".into())), None);
    read_facts(&reg).expect("facts")
}

#[test]
fn policies_read_as_hivexget_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sw = software(dir.path(), &[TCP_ONLY, HOST_TCP, vulnerable()]);
    let f = facts_of(&sw);
    let num = |r: &rdp_doctor_client::facts::Read| r.number().map(|n| n.to_string());
    assert_eq!(
        num(&f.disable_udp),
        hivexget(&sw, UDP_KEY, "fClientDisableUDP")
    );
    assert_eq!(num(&f.disable_udp).as_deref(), Some("1"));
    assert_eq!(
        num(&f.oracle),
        hivexget(&sw, ORACLE_KEY, "AllowEncryptionOracle")
    );
    let st = f.select_transport.as_ref().expect("SelectTransport");
    assert_eq!(num(st), hivexget(&sw, HOST_TCP.0, "SelectTransport"));

    let findings = rdp_doctor_client::rules::all(&f);
    let t = findings
        .iter()
        .find(|x| x.id == FindingId::ClientTransportPolicy)
        .expect("CLIENT001");
    assert!(t.title.contains("TCP only"), "{}", t.title);
    assert!(t
        .evidence
        .iter()
        .any(|e| e.line().contains("SelectTransport = 0x00000001 (1)")));
    let c = findings
        .iter()
        .find(|x| x.id == FindingId::ClientCredsspPolicy)
        .expect("CLIENT002");
    assert_eq!(c.severity, rdp_doctor_model::Severity::Warning);
}

/// regipy's reading of the Terminal Server Client key: MRU list, then (host, hint, certhash) rows.
/// (host, UsernameHint, CertHash).
type ServerRow = (String, Option<String>, Option<String>);

fn regipy_servers(hive: &Path) -> (Vec<String>, Vec<ServerRow>) {
    let script = r#"
import json, sys
from regipy.registry import RegistryHive
h = RegistryHive(sys.argv[1])
base = '\\Software\\Microsoft\\Terminal Server Client'
mru, servers = [], []
try:
    vals = {v.name: v.value for v in h.get_key(base + '\\Default').iter_values()}
    mru = [vals[k] for k in sorted((k for k in vals if k.upper().startswith('MRU') and k[3:].isdigit()), key=lambda k: int(k[3:]))]
except Exception:
    pass
try:
    for s in h.get_key(base + '\\Servers').iter_subkeys():
        v = {x.name: x.value for x in s.iter_values()}
        c = v.get('CertHash')
        servers.append([s.name, v.get('UsernameHint'), c.upper() if c else None])
except Exception:
    pass
print(json.dumps([mru, servers]))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(hive)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn the_server_list_and_pinned_certificates_read_as_regipy_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nt = dir.path().join("NTUSER.DAT");
    std::fs::write(&nt, unxz(&data("tests/data/notatin_win7_ntuser.dat.xz"))).expect("write");
    let bytes = std::fs::read(&nt).expect("read");
    let h = Hive::new(&bytes).expect("hive");
    let reg = OfflineClient::new(None, Some((&h, "NTUSER.DAT".into())));
    let f = read_facts(&reg).expect("facts");
    let (mru, servers) = regipy_servers(&nt);
    assert_eq!(f.recent, mru);
    assert_eq!(f.recent.len(), 5);
    assert!(f.recent.contains(&"10.150.16.30:63389".to_string()));
    let ours: Vec<ServerRow> = f
        .servers
        .iter()
        .map(|s| (s.host.clone(), s.username_hint.clone(), s.cert_hash.clone()))
        .collect();
    assert_eq!(ours, servers);
    assert_eq!(ours.iter().filter(|s| s.2.is_some()).count(), 1);
    let finding = rdp_doctor_client::rules::history(&f).expect("CLIENT003");
    assert!(
        finding.title.contains("5 recent server(s)"),
        "{}",
        finding.title
    );
    assert!(finding.evidence.iter().any(|e| e
        .line()
        .contains("CertHash = F0CAB303AEEF9D77871D07953BCB60DC86E0F5E0")));

    // A user who never used mstsc: an empty key, and nothing listed.
    let plain = unxz(&data("../regf/tests/data/regipy_NTUSER_win7.xz"));
    let h = Hive::new(&plain).expect("hive");
    let f = read_facts(&OfflineClient::new(None, Some((&h, "NTUSER".into())))).expect("facts");
    assert!(f.recent.is_empty() && f.servers.is_empty());
}

fn sha(path: &Path) -> String {
    rdp_doctor_host::apply::sha256_hex(&std::fs::read(path).expect("read"))
}

#[test]
fn tcp_only_is_applied_read_back_and_undone_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sw = software(dir.path(), &[vulnerable()]);
    let before = sha(&sw);
    assert_eq!(hivexget(&sw, UDP_KEY, "fClientDisableUDP"), None);
    let opts = Options {
        transport: Some(Transport::TcpOnly),
        ..Options::default()
    };
    let p = plan(&facts_of(&sw), &opts);
    // TCP only, and the Vulnerable client raised to Mitigated (not a downgrade).
    assert_eq!(p.changes.len(), 2, "{p:?}");
    let backup = dir.path().join("backup");
    let applied = apply::apply(&sw, &p, &backup).expect("apply");
    assert_eq!(applied.file.sha256_before, before);
    assert_eq!(
        hivexget(&sw, UDP_KEY, "fClientDisableUDP").as_deref(),
        Some("1")
    );
    assert_eq!(
        hivexget(&sw, ORACLE_KEY, "AllowEncryptionOracle").as_deref(),
        Some("1")
    );
    assert!(plan(&facts_of(&sw), &opts).is_empty());

    // A second fix into the same backup directory is refused before anything is written.
    let again = apply::apply(&sw, &p, &backup);
    assert!(again.is_err());

    apply::undo(&backup, false).expect("undo");
    assert_eq!(sha(&sw), before);
    assert_eq!(hivexget(&sw, UDP_KEY, "fClientDisableUDP"), None);
    assert_eq!(
        hivexget(&sw, ORACLE_KEY, "AllowEncryptionOracle").as_deref(),
        Some("2")
    );
}

#[test]
fn udp_on_removes_the_policy_and_a_downgrade_waits_for_permission() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sw = software(
        dir.path(),
        &[
            TCP_ONLY,
            (ORACLE_KEY, "\"AllowEncryptionOracle\"=dword:00000000"),
        ],
    );
    let before = sha(&sw);
    let f = facts_of(&sw);
    let opts = Options {
        transport: Some(Transport::UdpOn),
        credssp: Some(Oracle::Mitigated),
        allow_downgrade: false,
    };
    let p = plan(&f, &opts);
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.held.len(), 1, "0 -> 1 lowers security: held");
    apply::apply(&sw, &p, &dir.path().join("b1")).expect("apply");
    assert_eq!(hivexget(&sw, UDP_KEY, "fClientDisableUDP"), None);
    assert_eq!(
        hivexget(&sw, ORACLE_KEY, "AllowEncryptionOracle").as_deref(),
        Some("0")
    );
    let p = plan(
        &facts_of(&sw),
        &Options {
            allow_downgrade: true,
            ..opts
        },
    );
    assert_eq!(p.changes.len(), 1);
    apply::apply(&sw, &p, &dir.path().join("b2")).expect("apply");
    assert_eq!(
        hivexget(&sw, ORACLE_KEY, "AllowEncryptionOracle").as_deref(),
        Some("1")
    );
    apply::undo(&dir.path().join("b2"), false).expect("undo 2");
    apply::undo(&dir.path().join("b1"), false).expect("undo 1");
    assert_eq!(sha(&sw), before);
}

#[test]
fn the_rdpclient_log_gives_the_disconnect_code_as_python_evtx_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("RDPClient.evtx");
    std::fs::write(
        &log,
        unxz(&data(
            "../events/tests/data/szechuan_DC01_RDPClient_Operational.evtx.xz",
        )),
    )
    .expect("write");
    let script = r#"
import sys, re, json, Evtx.Evtx as evtx
codes = []
with evtx.Evtx(sys.argv[1]) as log:
    for r in log.records():
        x = r.xml()
        if re.search(r'<EventID[^>]*>1026<', x) and 'ClientActiveXCore' in x:
            codes.append(int(re.search(r'<Data Name="Value">([^<]*)<', x).group(1)))
print(json.dumps(codes))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&log)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<u32> = serde_json::from_slice(&out.stdout).expect("json");
    let files = Files {
        evtx: vec![log],
        ..Files::default()
    };
    let report = rdp_doctor_client::check(None, &files).expect("check");
    let ours: Vec<u32> = report
        .disconnects
        .iter()
        .flat_map(|d| std::iter::repeat_n(d.code, d.count))
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours, [2]);
    let f = report
        .findings
        .iter()
        .find(|f| f.id == FindingId::ClientDisconnectCodes)
        .expect("CLIENT004");
    assert_eq!(
        f.severity,
        rdp_doctor_model::Severity::Info,
        "2 is the user's own disconnect"
    );
    assert!(!report.has_problem());
}
