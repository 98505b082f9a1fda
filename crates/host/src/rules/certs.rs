//! Certificates and keys: the pinned certificate (HOST013), the store
//! (HOST016, HOST020), private keys (HOST021, HOST017), and the transport
//! policy read beside them (HOST015).

use rdp_doctor_model::{Evidence, Finding, FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::cert::{CertInfo, StoreCert};
use crate::facts::{CertFacts, HostFacts, KeyFileState, RDP_CERT_STORE};

pub fn pinned(f: &HostFacts) -> Option<Outcome> {
    let p = &f.pinned;
    let thumb = p.thumbprint.as_ref()?;
    let delete_hash = || {
        Remedy::new("Delete SSLCertificateSHA1Hash so TermService uses (and if need be regenerates) its self-signed certificate",
            "The listener is pinned to a certificate it cannot use; without the value, TermService takes the self-signed certificate of the Remote Desktop store and creates a new one when that is missing or expired. Clients that trusted the pinned certificate will see a new one.")
            .action(p.reading.delete())
    };
    let expired = p
        .cert
        .as_ref()
        .and_then(|e| e.cert.as_ref().ok())
        .map(|s| &s.cert)
        .filter(|c| c.expired_at(f.now));
    Some(match (p.in_store, expired) {
        (Some(false), _) => Outcome::Found(
            found(
                Id::PinnedCertificateMissing,
                Severity::Error,
                &p.reading,
                "the listener is configured for a certificate that is not in the machine's stores",
            )
            .remedy(delete_hash()),
        ),
        (_, Some(c)) => Outcome::Found(
            found(
                Id::PinnedCertificateMissing,
                Severity::Error,
                &p.reading,
                format!(
                    "the listener is configured for a certificate that expired on {}",
                    c.not_after
                ),
            )
            .remedy(delete_hash()),
        ),
        (Some(true), None) => passed(
            Id::PinnedCertificateMissing,
            &p.reading,
            format!("the configured certificate {thumb} is in the machine's store"),
        ),
        (None, _) => Outcome::Found(
            found(
                Id::PinnedCertificateMissing,
                Severity::Info,
                &p.reading,
                "a specific certificate is configured (give --software to check that it exists)",
            )
            .no_cause(),
        ),
    })
}

pub fn transport_policy(f: &HostFacts) -> Option<Outcome> {
    let r = f.transport_policy.as_ref()?;
    let what = match r.dword() {
        Some(1) => "transport policy: TCP only",
        Some(0) => "transport policy: UDP and TCP",
        _ => "transport policy set",
    };
    Some(Outcome::Found(found(
        Id::TransportPolicy,
        Severity::Info,
        r,
        what,
    )))
}

/// HOST016 and, for each certificate, HOST020 and HOST021.
pub fn store(f: &HostFacts) -> Vec<Outcome> {
    let Some(certs) = &f.certs else {
        return Vec::new();
    };
    let thumbs: Vec<&str> = certs.iter().map(|c| c.entry.thumbprint.as_str()).collect();
    let title = if thumbs.is_empty() {
        "no certificate in the Remote Desktop store: Windows creates one when TermService starts"
    } else {
        "certificate(s) in the Remote Desktop store"
    };
    let listing = Evidence::Registry {
        path: f.cert_store_path.clone(),
        value: if thumbs.is_empty() {
            "none".into()
        } else {
            thumbs.join(", ")
        },
        origin: f.pinned.reading.origin.clone(),
    };
    let mut out = vec![Outcome::Found(
        Finding::new(Id::RemoteDesktopCertificates, Severity::Info, title).evidence(listing),
    )];
    for c in certs {
        out.extend(certificate(f, c));
    }
    out
}

fn delete_cert(thumb: &str) -> Remedy {
    Remedy::new(
        format!("Delete the certificate {thumb} from the Remote Desktop store; TermService creates a new self-signed one"),
        format!("On the host: Remove-Item 'Cert:\\LocalMachine\\Remote Desktop\\{thumb}'; Restart-Service TermService -Force (offline: delete the key HKLM\\SOFTWARE\\{RDP_CERT_STORE}\\{thumb})."),
    )
}

fn cert_evidence(f: &HostFacts, path: &str, value: String) -> Evidence {
    Evidence::Registry {
        path: path.to_string(),
        value,
        origin: f.pinned.reading.origin.clone(),
    }
}

/// What is wrong with a readable certificate, if anything.
fn problem(f: &HostFacts, c: &CertFacts, info: &CertInfo) -> Option<String> {
    let thumb = &c.entry.thumbprint;
    let pinned_here = f
        .pinned
        .thumbprint
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(thumb));
    if !info.sha1_thumbprint.eq_ignore_ascii_case(thumb) {
        Some(format!(
            "the certificate's SHA-1 is {}, not its key name {thumb}: the store entry is damaged",
            info.sha1_thumbprint
        ))
    } else if info.expired_at(f.now) {
        // An expired certificate the listener is pinned to is HOST013's failure.
        let then = if pinned_here {
            " and the listener is pinned to it (HOST013)"
        } else {
            ": TermService replaces its expired self-signed certificate when it starts"
        };
        Some(format!(
            "the certificate {thumb} expired on {}{then}",
            info.not_after
        ))
    } else if info.not_yet_valid_at(f.now) {
        Some(format!(
            "the certificate {thumb} is valid only from {} (is the host's clock wrong?)",
            info.not_before
        ))
    } else {
        None
    }
}

fn certificate(f: &HostFacts, c: &CertFacts) -> Vec<Outcome> {
    let e = &c.entry;
    let stored = match &e.cert {
        Err(err) => {
            return vec![Outcome::Found(
                Finding::new(Id::CertificateBlob, Severity::Warning, format!("the certificate {} cannot be read ({err}): TermService cannot use it (TermService 1057)", e.thumbprint))
                    .evidence(cert_evidence(f, &e.path, "unreadable".into()))
                    .remedy(delete_cert(&e.thumbprint)),
            )]
        }
        Ok(s) => s,
    };
    let info = &stored.cert;
    let key = stored.key.as_ref().map_or("none", |k| k.container.as_str());
    let value = format!(
        "{}; valid {} to {}; key container {key}",
        info.subject, info.not_before, info.not_after
    );
    let mut out = vec![match problem(f, c, info) {
        Some(title) => Outcome::Found(
            Finding::new(Id::CertificateBlob, Severity::Warning, title)
                .evidence(cert_evidence(f, &e.path, value))
                .remedy(delete_cert(&e.thumbprint)),
        ),
        None => Outcome::Passed(crate::report::Passed {
            id: Id::CertificateBlob,
            path: e.path.clone(),
            value,
            message: format!(
                "the certificate {} is valid until {}",
                e.thumbprint, info.not_after
            ),
        }),
    }];
    out.extend(key_file(f, c, stored));
    out
}

/// HOST021 (needs the Windows volume).
fn key_file(f: &HostFacts, c: &CertFacts, stored: &StoreCert) -> Option<Outcome> {
    let state = c.key_file.as_ref();
    let thumb = &c.entry.thumbprint;
    let Some(k) = &stored.key else {
        // Only judged when the volume was given, as the key file is.
        if !f.volume_given {
            return None;
        }
        let why = stored
            .key_error
            .clone()
            .unwrap_or_else(|| "no key provider property".into());
        return Some(Outcome::Found(
            Finding::new(
                Id::CertificateKeyFile,
                Severity::Warning,
                format!("the certificate {thumb} does not say where its private key is"),
            )
            .evidence(cert_evidence(f, &c.entry.path, why)),
        ));
    };
    Some(match state? {
        KeyFileState::Found { path, size } if *size > 0 => Outcome::Passed(crate::report::Passed { id: Id::CertificateKeyFile, path: path.display().to_string(), value: format!("{size} bytes, container {}", k.container), message: format!("the private key of {thumb} is there") }),
        KeyFileState::Found { path, .. } | KeyFileState::Missing { dir: path } => Outcome::Found(
            Finding::new(Id::CertificateKeyFile, Severity::Error, format!("the private key of the certificate {thumb} is missing: TLS to the listener fails (TermService 1057/1058, Schannel 36870)"))
                .evidence(Evidence::File { path: path.display().to_string(), detail: format!("container {} ({}) not found or empty", k.container, k.provider) })
                .remedy(delete_cert(thumb)),
        ),
    })
}

/// HOST017: the TSSecKeySet1 container file (needs SOFTWARE and the Windows volume).
pub fn machine_key(f: &HostFacts) -> Option<Outcome> {
    let m = f.machine_key.as_ref()?;
    let shown = m.path.display().to_string();
    let recreate = Remedy::new("Delete the key container and the Remote Desktop certificate; TermService recreates both",
        format!("On the host (or on this volume): delete {shown} and the certificate under HKLM\\SOFTWARE\\{RDP_CERT_STORE}, then start TermService (Remove-Item 'Cert:\\LocalMachine\\Remote Desktop\\*'; Restart-Service TermService -Force)."));
    // The workaround when the key cannot be repaired now: RDP security, which does not use this key.
    let workaround = Remedy::new("Use RDP security instead of TLS (SecurityLayer=0, UserAuthentication=0): a security downgrade",
        "Gets you in while the key is broken: no TLS and no NLA, so the server is not authenticated and anyone who reaches the port gets a logon screen. Repair the key, then restore SecurityLayer=2 and UserAuthentication=1.")
        .actions(f.security_layer.set_to(0)).actions(f.nla.set_to(0)).downgrade();
    let file = |detail: &str| Evidence::File {
        path: shown.clone(),
        detail: detail.into(),
    };
    let tls_used = f.security_layer.dword() != Some(0);
    Some(match m.size {
        Some(n) if n > 0 => Outcome::Passed(crate::report::Passed {
            id: Id::MachineKeyFile,
            path: shown.clone(),
            value: format!("{n} bytes"),
            message: "the RDP key container (TSSecKeySet1) exists".into(),
        }),
        Some(_) if tls_used => Outcome::Found(
            Finding::new(
                Id::MachineKeyFile,
                Severity::Error,
                "the RDP key container is empty: TLS to the listener fails (Schannel 36870)",
            )
            .evidence(file("0 bytes"))
            .remedy(recreate)
            .remedy(workaround),
        ),
        Some(_) => Outcome::Found(
            Finding::new(
                Id::MachineKeyFile,
                Severity::Warning,
                "the RDP key container is empty (unused while SecurityLayer is 0)",
            )
            .evidence(file("0 bytes"))
            .remedy(recreate),
        ),
        None => Outcome::Found(
            Finding::new(
                Id::MachineKeyFile,
                Severity::Warning,
                "the RDP key container is missing: a certificate that points at it cannot be used",
            )
            .evidence(file("missing"))
            .remedy(recreate),
        ),
    })
}
