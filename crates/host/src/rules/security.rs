//! The security layer, NLA and encryption level.

use rdp_doctor_model::{FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::HostFacts;

/// HOST010: RDP security only.
pub fn security_layer(f: &HostFacts) -> Outcome {
    let (r, by_policy) = f.security_layer.effective();
    if r.dword() != Some(0) {
        return passed(Id::RdpSecurityOnly, r, "security layer negotiate or TLS");
    }
    // Raise to TLS when NLA is required (NLA needs it), else to Negotiate, which old clients still pass.
    let to = if f.nla.dword() == Some(1) { 2 } else { 1 };
    let policy_note = if by_policy {
        " The value is set by Group Policy, so the policy copy is changed; change the GPO too."
    } else {
        ""
    };
    let why = if to == 2 {
        "NLA (UserAuthentication=1) requires it"
    } else {
        "Negotiate still lets RDP-security-only clients in"
    };
    let remedy = Remedy::new(
        format!("Raise SecurityLayer to {to} ({})", if to == 2 { "TLS" } else { "Negotiate" }),
        format!("TLS protects the logon; {why}. It needs a usable certificate: TermService makes a self-signed one when none is configured.{policy_note}"),
    )
    .actions(f.security_layer.set_to(to));
    let how = if by_policy { ", set by policy" } else { "" };
    Outcome::Found(found(Id::RdpSecurityOnly, Severity::Warning, r, format!("security layer RDP only (no TLS){how}: clients that require server authentication or NLA fail")).remedy(remedy))
}

/// HOST011: NLA with RDP security (a contradiction), or NLA off.
pub fn nla(f: &HostFacts) -> Outcome {
    let (r, _) = f.nla.effective();
    match (r.dword(), f.security_layer.dword()) {
        (Some(1), Some(0)) => Outcome::Found(
            found(Id::NlaSetting, Severity::Error, r, "NLA is required but the security layer is RDP only: the two settings contradict each other (RCM event 1050)")
                .evidence(f.security_layer.effective().0.evidence())
                .remedy(Remedy::new("Raise SecurityLayer to 2 (TLS), which NLA requires", "Keeps NLA; needs a usable certificate (TermService makes a self-signed one when none is configured).").actions(f.security_layer.set_to(2)))
                .remedy(Remedy::new("Turn NLA off (UserAuthentication=0): a security downgrade", "Anyone who reaches the port gets a logon screen without authenticating first; use it only to get in, then restore NLA.").actions(f.nla.set_to(0)).downgrade()),
        ),
        (Some(0), _) => Outcome::Found(found(Id::NlaSetting, Severity::Info, r, "NLA is not required: anyone who reaches the port gets a logon screen")),
        _ => passed(Id::NlaSetting, r, "NLA is required"),
    }
}

/// HOST012: FIPS encryption.
pub fn fips(f: &HostFacts) -> Option<Outcome> {
    let (r, _) = f.min_encryption.effective();
    (r.dword() == Some(4)).then(|| {
        Outcome::Found(found(
            Id::FipsEncryption,
            Severity::Info,
            r,
            "FIPS encryption is required: older clients are refused (extended code 0x8)",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::{Action, Data};

    #[test]
    fn rdp_security_with_nla_is_an_error_whose_first_remedy_raises_the_layer() {
        let mut f = facts();
        f.security_layer.local.value = Some(Data::Dword(0));
        f.nla.local.value = Some(Data::Dword(1));
        let Outcome::Found(n) = nla(&f) else {
            panic!("passed")
        };
        assert_eq!(n.severity, Severity::Error);
        assert!(
            matches!(&n.remedies[0].actions[0], Action::SetValue { name, data: Data::Dword(2), .. } if name == "SecurityLayer")
        );
        assert!(n.remedies[1].downgrade);
        let Outcome::Found(l) = security_layer(&f) else {
            panic!("passed")
        };
        assert!(l.remedies[0].title.contains("to 2"));
    }

    #[test]
    fn a_policy_copy_wins_and_is_the_value_changed() {
        let mut f = facts();
        f.security_layer.local.value = Some(Data::Dword(2));
        if let Some(p) = f.security_layer.policy.as_mut() {
            p.value = Some(Data::Dword(0));
        }
        let Outcome::Found(l) = security_layer(&f) else {
            panic!("passed")
        };
        // The local value already reads 2: only the policy copy changes.
        assert_eq!(
            l.remedies[0].actions.len(),
            1,
            "{:?}",
            l.remedies[0].actions
        );
        assert!(l.remedies[0].actions[0]
            .path()
            .starts_with("HKLM\\SOFTWARE\\Policies"));
        f.security_layer.local.value = Some(Data::Dword(0));
        let Outcome::Found(l) = security_layer(&f) else {
            panic!("passed")
        };
        assert_eq!(
            l.remedies[0].actions.len(),
            2,
            "{:?}",
            l.remedies[0].actions
        );
        // The policy's RDP-only layer is the one NLA contradicts.
        assert!(matches!(nla(&f), Outcome::Found(n) if n.severity == Severity::Error));
    }
}
