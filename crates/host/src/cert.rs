//! The listener's certificates, from the registry certificate store, and
//! their private keys in `ProgramData\Microsoft\Crypto`.
//!
//! A certificate in `SOFTWARE\Microsoft\SystemCertificates\<store>\Certificates\<thumbprint>`
//! is stored in the value `Blob` as a serialized property list: entries of
//! {property id u32, reserved u32, length u32, data}. Property 0x20 is the DER
//! certificate, property 2 the CRYPT_KEY_PROV_INFO naming the key container
//! (pointers stored as offsets from the start of the property). The key name
//! is the SHA-1 of the DER. Nothing here panics on bad bytes: every length is
//! checked against what is left.

use std::path::{Path, PathBuf};

use rdp_doctor_model::cert::parse_cert;
pub use rdp_doctor_model::cert::{rfc3339, CertInfo};
use rdp_doctor_regf::Data;
use serde::Serialize;

use crate::facts::{MY_CERT_STORE, RDP_CERT_STORE};
use crate::registry::{Registry, Root};
use crate::Error;

/// The machine's CryptoAPI key containers, under the Windows volume's root.
pub const MACHINE_KEYS: &str = "ProgramData/Microsoft/Crypto/RSA/MachineKeys";
/// The machine's CNG (key storage provider) keys, under the Windows volume's root.
pub const CNG_KEYS: &str = "ProgramData/Microsoft/Crypto/Keys";
/// The file-name hash of the TSSecKeySet1 container (`<hash>_<MachineGuid>`).
pub const TS_KEY_CONTAINER_FILE: &str = "f686aace6942fb7f7ceb231212eef4a4";

const PROP_KEY_PROV_INFO: u32 = 2;
const PROP_CERT: u32 = 0x20;
/// No real blob has more properties; a bound against garbage.
const MAX_PROPERTIES: usize = 256;

/// Why a blob could not be read, naming the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobError(pub String);

impl std::fmt::Display for BlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    b.get(o..o.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The property list of a `Blob` value: (property id, data).
pub fn properties(blob: &[u8]) -> Result<Vec<(u32, &[u8])>, BlobError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < blob.len() {
        let (Some(id), Some(len)) = (u32_at(blob, at), u32_at(blob, at + 8)) else {
            return Err(BlobError(format!(
                "property header at offset {at} is cut short ({} bytes left)",
                blob.len() - at
            )));
        };
        let start = at + 12;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= blob.len())
            .ok_or_else(|| {
                BlobError(format!(
                    "property 0x{id:X} at offset {at} claims {len} bytes, {} are left",
                    blob.len() - start
                ))
            })?;
        out.push((id, &blob[start..end]));
        if out.len() > MAX_PROPERTIES {
            return Err(BlobError(format!("more than {MAX_PROPERTIES} properties")));
        }
        at = end;
    }
    Ok(out)
}

/// CRYPT_KEY_PROV_INFO: where the private key is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyProvInfo {
    pub container: String,
    pub provider: String,
    pub provider_type: u32,
    /// CRYPT_MACHINE_KEYSET (0x20) set: a machine key.
    pub machine_keyset: bool,
}

fn utf16z_at(b: &[u8], offset: u32) -> Option<String> {
    let rest = b.get(offset as usize..)?;
    let units: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Reads a serialized CRYPT_KEY_PROV_INFO (offsets in place of pointers).
pub fn key_prov_info(data: &[u8]) -> Result<KeyProvInfo, BlobError> {
    let field = |i: usize| {
        u32_at(data, i * 4).ok_or_else(|| {
            BlobError(format!(
                "CRYPT_KEY_PROV_INFO of {} bytes is shorter than its 28-byte header",
                data.len()
            ))
        })
    };
    let (c_off, p_off, kind, flags) = (field(0)?, field(1)?, field(2)?, field(3)?);
    let text = |off: u32, what: &str| match off {
        0 => Ok(String::new()),
        o if (o as usize) < 28 || o as usize >= data.len() => Err(BlobError(format!(
            "CRYPT_KEY_PROV_INFO {what} offset {o} is outside its {} bytes",
            data.len()
        ))),
        o => Ok(utf16z_at(data, o).unwrap_or_default()),
    };
    Ok(KeyProvInfo {
        container: text(c_off, "container name")?,
        provider: text(p_off, "provider name")?,
        provider_type: kind,
        machine_keyset: flags & 0x20 != 0,
    })
}

/// A certificate of the store: what the certificate says about itself, and
/// where its private key is (a property of the store entry, not of the certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreCert {
    #[serde(flatten)]
    pub cert: CertInfo,
    pub key: Option<KeyProvInfo>,
    /// A key-provider property that is there but unreadable.
    pub key_error: Option<String>,
}

/// The current Unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Reads a certificate store `Blob`.
pub fn parse_blob(blob: &[u8]) -> Result<StoreCert, BlobError> {
    let props = properties(blob)?;
    let der = props
        .iter()
        .find(|(id, _)| *id == PROP_CERT)
        .map(|(_, d)| *d)
        .ok_or_else(|| BlobError("no certificate property (0x20) in the blob".into()))?;
    let cert = parse_cert(der).map_err(|e| BlobError(format!("the DER {e}")))?;
    let (key, key_error) = match props.iter().find(|(id, _)| *id == PROP_KEY_PROV_INFO) {
        Some((_, d)) => match key_prov_info(d) {
            Ok(k) => (Some(k), None),
            Err(e) => (None, Some(e.0)),
        },
        None => (None, None),
    };
    Ok(StoreCert {
        cert,
        key,
        key_error,
    })
}

/// One certificate of a store.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The registry key's name.
    pub thumbprint: String,
    /// `HKLM\SOFTWARE\...\Certificates\<thumbprint>\Blob`.
    pub path: String,
    pub cert: Result<StoreCert, BlobError>,
}

fn read_entry(reg: &dyn Registry, store: &str, thumb: &str) -> Result<Entry, Error> {
    let key = format!("{store}\\{thumb}");
    let cert = match reg.value(Root::Software, &key, "Blob")? {
        Some(Data::Binary(b)) => parse_blob(&b),
        Some(other) => Err(BlobError(format!(
            "Blob is {}, not REG_BINARY",
            other.type_name()
        ))),
        None => Err(BlobError("no Blob value".into())),
    };
    Ok(Entry {
        thumbprint: thumb.to_string(),
        path: format!("HKLM\\SOFTWARE\\{key}\\Blob"),
        cert,
    })
}

/// Every certificate of the Remote Desktop store.
pub fn read_store(reg: &dyn Registry) -> Result<Vec<Entry>, Error> {
    reg.subkeys(Root::Software, RDP_CERT_STORE)?
        .iter()
        .map(|t| read_entry(reg, RDP_CERT_STORE, t))
        .collect()
}

/// The certificate `thumb` of the machine's My store, when there.
pub fn read_my_cert(reg: &dyn Registry, thumb: &str) -> Result<Option<Entry>, Error> {
    if !reg.has_root(Root::Software)
        || !reg.key_exists(Root::Software, &format!("{MY_CERT_STORE}\\{thumb}"))?
    {
        return Ok(None);
    }
    read_entry(reg, MY_CERT_STORE, thumb).map(Some)
}

/// A key file's header, as far as this needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub path: PathBuf,
    pub size: u64,
    /// The container name stored in the file.
    pub name: String,
}

/// Reads the container name from a CryptoAPI key file (MachineKeys): version 2,
/// ten u32 lengths, then the NUL-terminated ASCII name.
pub fn capi_key_name(b: &[u8]) -> Option<String> {
    let version = u32_at(b, 0)?;
    let name_len = u32_at(b, 8)? as usize;
    if version != 2 || name_len == 0 || name_len > 1024 {
        return None;
    }
    let lens: u64 = (3..10)
        .filter_map(|i| u32_at(b, i * 4))
        .map(u64::from)
        .sum();
    if 40 + name_len as u64 + lens > b.len() as u64 {
        return None;
    }
    let raw = b.get(40..40 + name_len)?;
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    std::str::from_utf8(&raw[..end]).ok().map(str::to_string)
}

/// Reads the key name from a CNG key file (Crypto\Keys): version 1, lengths,
/// sixteen reserved bytes, then the UTF-16LE name.
pub fn cng_key_name(b: &[u8]) -> Option<String> {
    let version = u32_at(b, 0)?;
    let name_len = u32_at(b, 8)? as usize;
    if version != 1 || name_len == 0 || name_len > 2048 {
        return None;
    }
    let raw = b.get(44..44 + name_len)?;
    let s = utf16z_at(raw, 0)?;
    Some(s)
}

/// The key file holding `container`: MachineKeys for CryptoAPI providers, Keys for CNG ones.
/// Files whose header does not parse are skipped. At most 4096 files are read, 64 KiB each.
pub fn find_key_file(windows: &Path, key: &KeyProvInfo) -> Option<KeyFile> {
    let cng = key.provider.contains("Key Storage Provider");
    let dir = windows.join(key_dir(key));
    let entries = std::fs::read_dir(&dir).ok()?;
    for e in entries.flatten().take(4096) {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let Ok(bytes) = read_head(&path, 64 * 1024) else {
            continue;
        };
        let name = if cng {
            cng_key_name(&bytes)
        } else {
            capi_key_name(&bytes)
        };
        if name.is_some_and(|n| n.eq_ignore_ascii_case(&key.container)) {
            return Some(KeyFile {
                path,
                size: meta.len(),
                name: key.container.clone(),
            });
        }
    }
    None
}

fn read_head(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// Where the key file of `key` lives, under the Windows volume's root.
pub fn key_dir(key: &KeyProvInfo) -> &'static str {
    if key.provider.contains("Key Storage Provider") {
        CNG_KEYS
    } else {
        MACHINE_KEYS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_lists_are_bounded() {
        assert!(properties(&[]).unwrap().is_empty());
        let mut b = Vec::new();
        b.extend_from_slice(&0x20u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&100u32.to_le_bytes());
        b.extend_from_slice(&[0; 10]);
        let e = properties(&b).unwrap_err();
        assert!(e.0.contains("claims 100 bytes, 10 are left"), "{e}");
        assert!(properties(&b[..5]).unwrap_err().0.contains("cut short"));
        assert!(parse_blob(&[]).unwrap_err().0.contains("no certificate"));
    }

    #[test]
    fn key_prov_info_offsets() {
        let name: Vec<u8> = "TSSecKeySet1\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut d = Vec::new();
        for v in [28u32, 0, 24, 0x20, 0, 0, 1] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(&name);
        let k = key_prov_info(&d).unwrap();
        assert_eq!(k.container, "TSSecKeySet1");
        assert!(k.machine_keyset);
        d[0] = 200;
        assert!(key_prov_info(&d).unwrap_err().0.contains("outside"));
        assert!(key_prov_info(&d[..10]).is_err());
    }

    #[test]
    fn capi_key_file_header() {
        let mut f = Vec::new();
        for v in [2u32, 0, 13, 0, 0, 4, 0, 0, 0, 0] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(b"TSSecKeySet1\0");
        f.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(capi_key_name(&f).as_deref(), Some("TSSecKeySet1"));
        assert_eq!(capi_key_name(&f[..45]), None);
        assert_eq!(capi_key_name(&[0; 3]), None);
    }
}
