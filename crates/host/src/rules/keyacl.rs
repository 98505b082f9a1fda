//! HOST035: can TermService (NETWORK SERVICE) read the listener's private
//! key, and can anyone else?

use rdp_doctor_model::{Action, Evidence, Finding, FindingId as Id, Machine, Remedy, Severity};

use super::Outcome;
use crate::facts::{HostFacts, KeyAcl};
use crate::report::Passed;
use crate::secdesc::{AceKind, SecurityDescriptor, READ_BITS};

/// NETWORK SERVICE and the groups its token holds (Everyone, SERVICE, Authenticated Users, Users).
const NETWORK_SERVICE: [&str; 5] = ["S-1-5-20", "S-1-1-0", "S-1-5-6", "S-1-5-11", "S-1-5-32-545"];
/// Groups an allow should not reach: the key is then readable by any user.
const BROAD: [(&str, &str); 6] = [
    ("S-1-1-0", "Everyone"),
    ("S-1-5-11", "Authenticated Users"),
    ("S-1-5-32-545", "Users"),
    ("S-1-5-4", "INTERACTIVE"),
    ("S-1-5-7", "ANONYMOUS LOGON"),
    ("S-1-5-32-546", "Guests"),
];

fn broad_readers(sd: &SecurityDescriptor) -> Vec<&'static str> {
    let mut out = Vec::new();
    for a in sd
        .effective()
        .filter(|a| a.kind == AceKind::Allow && a.mask & READ_BITS != 0)
    {
        if let Some((_, name)) = a
            .sid
            .as_ref()
            .and_then(|s| BROAD.iter().find(|(sid, _)| s.is(sid)))
        {
            if !out.contains(name) {
                out.push(*name);
            }
        }
    }
    out
}

/// The commands Microsoft's reset amounts to: SYSTEM and Administrators full
/// control, NETWORK SERVICE read, nothing inherited; the old ACL saved first.
fn reset(acl: &KeyAcl) -> Remedy {
    let name = acl
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = format!("%ProgramData%\\Microsoft\\Crypto\\RSA\\MachineKeys\\{name}");
    Remedy::new(
        "Reset the key file's ACL: SYSTEM and Administrators full control, NETWORK SERVICE read",
        "Run in an elevated prompt on the host; the first command saves the current ACL (undo: icacls %ProgramData%\\Microsoft\\Crypto\\RSA\\MachineKeys /restore %TEMP%\\rdp-key-acl.txt). Then restart TermService.",
    )
    .actions(vec![
        Action::run(Machine::Host, format!("icacls \"{file}\" /save \"%TEMP%\\rdp-key-acl.txt\"")),
        Action::run(Machine::Host, format!("icacls \"{file}\" /inheritance:r /grant:r \"*S-1-5-18:F\" \"*S-1-5-32-544:F\" \"*S-1-5-20:R\"")),
    ])
}

pub fn key_acl(f: &HostFacts) -> Option<Outcome> {
    let acl = f.machine_key.as_ref()?.acl.as_ref()?;
    let path = acl.path.display().to_string();
    let sd = match &acl.descriptor {
        Ok(sd) => sd,
        Err(e) => {
            return Some(Outcome::Found(
                Finding::new(
                    Id::KeyFileAcl,
                    Severity::Warning,
                    "the key file's security descriptor could not be read",
                )
                .evidence(Evidence::File {
                    path,
                    detail: e.clone(),
                }),
            ));
        }
    };
    let shown = sd
        .effective()
        .filter_map(|a| {
            Some(format!(
                "{}{}:{:#x}",
                if a.kind == AceKind::Deny { "deny " } else { "" },
                a.sid.as_ref()?,
                a.mask
            ))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let detail = if sd.dacl.is_none() {
        "no DACL (everyone has full access)".to_string()
    } else {
        format!("DACL: {shown}")
    };
    let evidence = Evidence::File {
        path: path.clone(),
        detail: detail.clone(),
    };
    let can_read = sd.can_read(&NETWORK_SERVICE);
    let broad = broad_readers(sd);
    let (severity, title) = match (can_read, broad.is_empty() && sd.dacl.is_some()) {
        (false, _) => (Severity::Error, "NETWORK SERVICE cannot read the listener's private key file: TermService cannot use the certificate and TLS fails right after X.224".to_string()),
        (true, false) => (Severity::Warning, format!("the listener's private key file is readable by {}: any local user can copy the key", if broad.is_empty() { "everyone (no DACL)".to_string() } else { broad.join(", ") })),
        (true, true) => {
            return Some(Outcome::Passed(Passed { id: Id::KeyFileAcl, path, value: detail, message: "NETWORK SERVICE can read the key; no broad group can".into() }));
        }
    };
    Some(Outcome::Found(
        Finding::new(Id::KeyFileAcl, severity, title)
            .evidence(evidence)
            .remedy(reset(acl)),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use crate::facts::MachineKey;
    use crate::secdesc::{Ace, Sid};

    fn with(aces: Vec<(AceKind, u32, &str)>) -> HostFacts {
        let mut f = facts();
        let path = std::path::PathBuf::from(
            "/w/ProgramData/Microsoft/Crypto/RSA/MachineKeys/f686aace6942fb7f7ceb231212eef4a4_x",
        );
        let dacl = aces
            .into_iter()
            .map(|(kind, mask, sid)| Ace {
                kind,
                flags: 0,
                mask,
                sid: Sid::parse_str(sid),
            })
            .collect();
        f.machine_key = Some(MachineKey {
            path: path.clone(),
            size: Some(10),
            acl: Some(KeyAcl {
                path,
                descriptor: Ok(SecurityDescriptor {
                    control: 4,
                    owner: None,
                    dacl: Some(dacl),
                }),
            }),
        });
        f
    }

    #[test]
    fn network_service_without_read_is_an_error_and_everyone_a_warning() {
        let ok = with(vec![
            (AceKind::Allow, 0x1f01ff, "S-1-5-18"),
            (AceKind::Allow, 0x1f01ff, "S-1-5-32-544"),
            (AceKind::Allow, 0x120089, "S-1-5-20"),
        ]);
        assert!(matches!(key_acl(&ok), Some(Outcome::Passed(_))));
        let no_ns = with(vec![(AceKind::Allow, 0x1f01ff, "S-1-5-18")]);
        let Some(Outcome::Found(x)) = key_acl(&no_ns) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Error);
        assert!(x.remedies[0].actions.iter().all(|a| !a.is_registry()));
        let everyone = with(vec![
            (AceKind::Allow, 0x1f01ff, "S-1-5-18"),
            (AceKind::Allow, 0x120089, "S-1-1-0"),
        ]);
        let Some(Outcome::Found(x)) = key_acl(&everyone) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        assert!(x.title.contains("Everyone"));
        assert!(key_acl(&facts()).is_none());
    }
}
