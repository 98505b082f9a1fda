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

    fn start_in(
        netns: Option<&str>,
        address: &str,
        layer: SecurityLayer,
        cert: CertCase,
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
            .replace("@SSL_PROTOCOLS@", "TLSv1.2, TLSv1.3")
            .replace(
                "@LOG_FILE@",
                &dir.path().join("xrdp.log").display().to_string(),
            );
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
