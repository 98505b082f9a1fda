//! Real hives for the tests, and broken copies of them made with the hive editor.

use std::path::{Path, PathBuf};

use rdp_doctor_host::fix::Target;
use rdp_doctor_host::Report;
use rdp_doctor_model::{Finding, FindingId, Severity};
use rdp_doctor_regf::{Data, HiveEditor};

/// What a check concluded, as a test compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    Error,
    Warning,
    Info,
    Passed,
}

fn id(code: &str) -> FindingId {
    FindingId::from_code(code).unwrap_or_else(|| panic!("no finding ID {code}"))
}

/// Every outcome of the check `code` in `r`: findings by severity, then passes.
pub fn seen(r: &Report, code: &str) -> Vec<Seen> {
    let id = id(code);
    r.found(id)
        .map(|f| match f.severity {
            Severity::Error => Seen::Error,
            Severity::Warning => Seen::Warning,
            Severity::Info => Seen::Info,
        })
        .chain(r.passed.iter().filter(|p| p.id == id).map(|_| Seen::Passed))
        .collect()
}

/// The findings of `code`.
pub fn found<'a>(r: &'a Report, code: &str) -> Vec<&'a Finding> {
    r.found(id(code)).collect()
}

/// The registry path or file a finding cites first.
pub fn cited(f: &Finding) -> String {
    Target::of(f).path
}

/// A hive of the corpus (`crates/regf/tests/data` or `crates/host/tests/data`), decompressed.
pub fn load(name: &str) -> Vec<u8> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = [base.join("../regf/tests/data"), base.join("tests/data")]
        .into_iter()
        .map(|d| d.join(format!("{name}.xz")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no test hive {name}"));
    let compressed = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    lzma_rs::xz_decompress(&mut &compressed[..], &mut out).unwrap();
    out
}

pub fn data_file(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// A copy of `bytes` edited by `f`.
pub fn edited(bytes: &[u8], f: impl FnOnce(&mut HiveEditor)) -> Vec<u8> {
    let mut ed = HiveEditor::new(bytes.to_vec()).unwrap();
    f(&mut ed);
    ed.finish()
}

pub fn dword(ed: &mut HiveEditor, key: &str, name: &str, v: u32) {
    ed.set_value(key, name, &Data::Dword(v)).unwrap();
}

/// The clean Windows 7 SYSTEM hive (Remote Desktop on, every check passes).
///
/// The corpus hive leaves its Public-profile Remote Desktop rule inactive (HOST006
/// warns about it, see corpus.rs); here it is active, as on a host reachable in
/// every profile.
pub fn clean_system() -> Vec<u8> {
    edited(&load("regipy_SYSTEM_win7_32bit"), |ed| {
        ed.set_value(
            "ControlSet001\\Services\\SharedAccess\\Parameters\\FirewallPolicy\\FirewallRules",
            "RemoteDesktop-In-TCP_1",
            &Data::String("v2.10|Action=Allow|Active=TRUE|Dir=In|Protocol=6|Profile=Public|LPort=3389|App=System|Name=@FirewallAPI.dll,-28753|Desc=@FirewallAPI.dll,-28756|EmbedCtxt=@FirewallAPI.dll,-28752|".into()),
        )
        .unwrap()
    })
}

pub const TS: &str = "ControlSet001\\Control\\Terminal Server";
pub const RDP_TCP: &str = "ControlSet001\\Control\\Terminal Server\\WinStations\\RDP-Tcp";
pub const POLICY: &str = "Policies\\Microsoft\\Windows NT\\Terminal Services";
pub const STORE: &str = "Microsoft\\SystemCertificates\\Remote Desktop\\Certificates";
pub const MACHINE_GUID: &str = "5a3f29b3-8e74-4c0e-9d4a-2f1b6c7d8e90";

/// A SOFTWARE hive: a real hive's layout (a Windows 7 user hive) with the keys the checks read.
pub fn software(f: impl FnOnce(&mut HiveEditor)) -> Vec<u8> {
    edited(&load("regipy_NTUSER_win7"), |ed| {
        ed.set_value(
            "Microsoft\\Cryptography",
            "MachineGuid",
            &Data::String(MACHINE_GUID.into()),
        )
        .unwrap();
        // What makes it a SOFTWARE hive for the role check.
        ed.set_value(
            "Microsoft\\Windows NT\\CurrentVersion",
            "CurrentVersion",
            &Data::String("6.1".into()),
        )
        .unwrap();
        f(ed)
    })
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// A certificate store `Blob`: CRYPT_KEY_PROV_INFO (property 2) and the DER (property 0x20).
pub fn blob(der: &[u8], container: &str, provider: &str) -> Vec<u8> {
    let c = utf16z(container);
    let p = utf16z(provider);
    let mut kpi = Vec::new();
    for v in [28u32, 28 + c.len() as u32, 24, 0x20, 0, 0, 1] {
        kpi.extend_from_slice(&v.to_le_bytes());
    }
    kpi.extend_from_slice(&c);
    kpi.extend_from_slice(&p);
    let mut out = Vec::new();
    for (id, data) in [(2u32, &kpi), (0x20, &der.to_vec())] {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

pub fn sha1_upper(b: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(b)
        .iter()
        .map(|x| format!("{x:02X}"))
        .collect()
}

/// A CryptoAPI key file (MachineKeys) header naming `container`, with some key bytes.
pub fn capi_key_file(container: &str) -> Vec<u8> {
    let name = format!("{container}\0");
    let mut f = Vec::new();
    for v in [2u32, 0, name.len() as u32, 0, 0, 148, 0, 0, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(name.as_bytes());
    f.extend_from_slice(&[0x52; 148]);
    f
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A file's SHA-256, as the backups' manifests record it.
pub fn sha(path: &Path) -> String {
    rdp_doctor_host::apply::sha256_hex(&std::fs::read(path).unwrap())
}
