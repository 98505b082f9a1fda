//! xrdp test servers: TLS, Standard RDP Security or negotiate, with good,
//! expired, missing, broken or mismatched certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{free_port, wait_for_port, PeerProcess};

/// xrdp's `security_layer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityLayer {
    Rdp,
    Tls,
    Negotiate,
}

/// The certificate situation of the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertCase {
    /// A valid self-signed certificate for this name.
    Valid(String),
    /// A certificate that expired a year ago.
    Expired,
    /// The key file does not exist.
    MissingKey,
    /// The key file is not a key.
    BrokenKey,
    /// A valid key that belongs to another certificate.
    MismatchedKey,
    /// An RSA key of `bits` bits signed with `digest` (`sha1`, `sha256`), made by the openssl tool.
    Rsa { bits: u32, digest: String },
}

/// Listener settings beyond the security layer and the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// xrdp's `ssl_protocols` (default `TLSv1.2, TLSv1.3`).
    pub ssl_protocols: String,
    /// xrdp's `tls_ciphers` (OpenSSL cipher string), when set.
    pub tls_ciphers: Option<String>,
    /// An OpenSSL security level for xrdp's process (its own openssl.cnf via
    /// OPENSSL_CONF): 0 lets xrdp use TLS 1.0/1.1, small keys and SHA-1.
    pub openssl_seclevel: Option<u8>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            ssl_protocols: "TLSv1.2, TLSv1.3".into(),
            tls_ciphers: None,
            openssl_seclevel: None,
        }
    }
}

/// A self-signed RSA certificate made by the openssl tool (rcgen cannot make small RSA keys).
fn write_openssl_cert(
    dir: &Path,
    bits: u32,
    digest: &str,
) -> std::io::Result<(PathBuf, PathBuf, Vec<u8>)> {
    let cert = dir.join("rsa-cert.pem");
    let key = dir.join("rsa-key.pem");
    let der = dir.join("rsa-cert.der");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            &format!("rsa:{bits}"),
            &format!("-{digest}"),
        ])
        .args(["-nodes", "-subj", "/CN=rsa.test", "-days", "30", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()?;
    if !status.status.success() {
        return Err(std::io::Error::other(format!(
            "openssl req: {}",
            String::from_utf8_lossy(&status.stderr)
        )));
    }
    Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert)
        .arg("-out")
        .arg(&der)
        .output()?;
    let bytes = std::fs::read(&der)?;
    Ok((cert, key, bytes))
}

/// An openssl.cnf that sets the default security level (and allows TLS 1.0).
fn write_openssl_conf(dir: &Path, level: u8) -> std::io::Result<PathBuf> {
    let path = dir.join("openssl.cnf");
    let text = format!(
        "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = defaults\n[defaults]\nMinProtocol = TLSv1\nCipherString = DEFAULT:@SECLEVEL={level}\n"
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A running xrdp, killed on drop.
pub struct Xrdp {
    pub addr: SocketAddr,
    /// The certificate the listener serves (DER), when it has a usable one.
    pub cert_der: Option<Vec<u8>>,
    _dir: tempfile::TempDir,
    _process: PeerProcess,
}

fn write_cert(
    dir: &Path,
    name: &str,
    not_before: i64,
    not_after: i64,
) -> (PathBuf, PathBuf, Vec<u8>) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("cert params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).expect("time");
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).expect("time");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .or_else(|_| rcgen::KeyPair::generate())
        .expect("key pair");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    let cert_path = dir.join(format!("{name}-cert.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    (cert_path, key_path, cert.der().to_vec())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Xrdp {
    /// Starts xrdp on 127.0.0.1 with a free port. Needs root (socket dir, rsakeys.ini).
    pub fn start(layer: SecurityLayer, cert: CertCase) -> std::io::Result<Self> {
        Self::start_at("127.0.0.1", layer, cert)
    }

    /// Starts xrdp on `address` (a loopback address, IPv4 or IPv6) with a free port.
    pub fn start_at(address: &str, layer: SecurityLayer, cert: CertCase) -> std::io::Result<Self> {
        Self::start_in(None, address, layer, cert)
    }

    /// Starts xrdp inside the network namespace `ns`, on its address there.
    pub fn start_in_netns(
        ns: &crate::netns::Netns,
        layer: SecurityLayer,
        cert: CertCase,
    ) -> std::io::Result<Self> {
        Self::start_in(Some(&ns.name), &ns.ns_addr.to_string(), layer, cert)
    }

    /// Starts xrdp on 127.0.0.1 with TLS settings of the test's choosing.
    pub fn start_with_tls(
        layer: SecurityLayer,
        cert: CertCase,
        tls: TlsSettings,
    ) -> std::io::Result<Self> {
        Self::start_full(None, "127.0.0.1", layer, cert, &tls)
    }

    fn start_in(
        netns: Option<&str>,
        address: &str,
        layer: SecurityLayer,
        cert: CertCase,
    ) -> std::io::Result<Self> {
        Self::start_full(netns, address, layer, cert, &TlsSettings::default())
    }

    fn start_full(
        netns: Option<&str>,
        address: &str,
        layer: SecurityLayer,
        cert: CertCase,
        tls: &TlsSettings,
    ) -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let day = 86_400;
        let (cert_path, key_path, der) = match &cert {
            CertCase::Valid(name) => {
                let (c, k, d) = write_cert(dir.path(), name, now() - day, now() + 90 * day);
                (c, k, Some(d))
            }
            CertCase::Expired => {
                let (c, k, d) = write_cert(
                    dir.path(),
                    "expired.test",
                    now() - 400 * day,
                    now() - 30 * day,
                );
                (c, k, Some(d))
            }
            CertCase::MissingKey => {
                let (c, _, _) = write_cert(dir.path(), "nokey.test", now() - day, now() + 90 * day);
                (c, dir.path().join("no-such-key.pem"), None)
            }
            CertCase::BrokenKey => {
                let (c, k, _) =
                    write_cert(dir.path(), "broken.test", now() - day, now() + 90 * day);
                std::fs::write(
                    &k,
                    "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
                )?;
                (c, k, None)
            }
            CertCase::Rsa { bits, digest } => {
                let (c, k, d) = write_openssl_cert(dir.path(), *bits, digest)?;
                (c, k, Some(d))
            }
            CertCase::MismatchedKey => {
                let (c, _, _) = write_cert(dir.path(), "one.test", now() - day, now() + 90 * day);
                let (_, k, _) = write_cert(dir.path(), "other.test", now() - day, now() + 90 * day);
                (c, k, None)
            }
        };
        let port = free_port();
        let template = include_str!("../data/xrdp.ini.in");
        // xrdp spells an IPv6 listener tcp6://{::1}:PORT.
        let listen = if address.contains(':') {
            format!("tcp6://{{{address}}}:{port}")
        } else {
            format!("tcp://{address}:{port}")
        };
        let ini = template
            .replace("tcp://@ADDRESS@:@PORT@", &listen)
            .replace(
                "@SECURITY_LAYER@",
                match layer {
                    SecurityLayer::Rdp => "rdp",
                    SecurityLayer::Tls => "tls",
                    SecurityLayer::Negotiate => "negotiate",
                },
            )
            .replace("@CRYPT_LEVEL@", "high")
            .replace("@CERTIFICATE@", &cert_path.display().to_string())
            .replace("@KEY_FILE@", &key_path.display().to_string())
            .replace("@SSL_PROTOCOLS@", &tls.ssl_protocols)
            .replace(
                "@LOG_FILE@",
                &dir.path().join("xrdp.log").display().to_string(),
            );
        let ini = match &tls.tls_ciphers {
            Some(c) => ini.replace(
                "ssl_protocols=",
                &format!("tls_ciphers={c}\nssl_protocols="),
            ),
            None => ini,
        };
        let ini_path = dir.path().join("xrdp.ini");
        std::fs::write(&ini_path, ini)?;
        if !Path::new("/run/xrdp/sockdir").exists() {
            let _ = Command::new("sh").arg("/usr/share/xrdp/socksetup").status();
        }
        let mut command = match netns {
            // `ip netns exec` execs xrdp itself: the PID (and process group) stay xrdp's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "xrdp"]);
                c
            }
            None => Command::new("xrdp"),
        };
        if let Some(level) = tls.openssl_seclevel {
            command.env("OPENSSL_CONF", write_openssl_conf(dir.path(), level)?);
        }
        let mut process = PeerProcess::spawn(
            "xrdp",
            command.arg("--nodaemon").arg("--config").arg(&ini_path),
            &dir.path().join("stdout.log"),
        )?;
        let ip: std::net::IpAddr = address.parse().map_err(std::io::Error::other)?;
        let addr = SocketAddr::new(ip, port);
        wait_for_port(addr, &mut process, Duration::from_secs(10))?;
        Ok(Self {
            addr,
            cert_der: der,
            _dir: dir,
            _process: process,
        })
    }
}
