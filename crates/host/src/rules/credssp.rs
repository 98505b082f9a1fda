//! HOST031: the CredSSP encryption oracle policy, read with Microsoft's matrix.

use rdp_doctor_model::credssp::{unpatched_client_against, OracleOutcome, OracleSide};
use rdp_doctor_model::{FindingId as Id, Remedy, Severity};

use super::{found, passed, Outcome};
use crate::facts::HostFacts;

pub fn oracle(f: &HostFacts) -> Option<Outcome> {
    let r = f.credssp_oracle.as_ref()?;
    let value = r.dword().and_then(|v| u32::try_from(v).ok());
    let side = OracleSide::from_value(value);
    Some(match (side, unpatched_client_against(value)) {
        (OracleSide::Vulnerable, OracleOutcome::Vulnerable) => Outcome::Found(
            found(Id::CredsspOracle, Severity::Warning, r, "CredSSP encryption oracle remediation is Vulnerable (2): clients without the 2018 update connect with the old, exposed protocol (CVE-2018-0886)")
                .remedy(Remedy::new(
                    "Set AllowEncryptionOracle to 1 (Mitigated), the updated default",
                    "Updated clients are unaffected; clients without the 2018 CredSSP update are then refused and must be updated. If Group Policy sets it (Encryption Oracle Remediation), change the GPO.",
                ).actions(vec![r.set_dword(1)])),
        ),
        (OracleSide::ForceUpdatedClients, _) => Outcome::Found(found(
            Id::CredsspOracle,
            Severity::Info,
            r,
            "CredSSP encryption oracle remediation is Force Updated Clients (0): clients without the 2018 CredSSP update are refused",
        )),
        _ => passed(Id::CredsspOracle, r, format!("CredSSP encryption oracle remediation: {}", side.name())),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::facts;
    use super::*;
    use rdp_doctor_model::Data;

    #[test]
    fn each_value_reads_as_the_matrix_says() {
        let mut f = facts();
        assert!(matches!(oracle(&f), Some(Outcome::Passed(_))));
        let set =
            |f: &mut HostFacts, v| f.credssp_oracle.as_mut().unwrap().value = Some(Data::Dword(v));
        set(&mut f, 2);
        let Some(Outcome::Found(x)) = oracle(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Warning);
        assert_eq!(x.cause, Some(rdp_doctor_model::CauseId::CredsspPolicy));
        set(&mut f, 0);
        let Some(Outcome::Found(x)) = oracle(&f) else {
            panic!("passed")
        };
        assert_eq!(x.severity, Severity::Info);
        set(&mut f, 1);
        assert!(matches!(oracle(&f), Some(Outcome::Passed(_))));
        f.credssp_oracle = None;
        assert!(oracle(&f).is_none());
    }
}
