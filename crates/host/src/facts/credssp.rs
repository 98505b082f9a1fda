//! The CredSSP encryption oracle policy (CVE-2018-0886).

use super::Reading;
use crate::registry::{Registry, Root};
use crate::Error;

/// Under `HKLM\SOFTWARE`.
pub const CREDSSP_POLICY: &str =
    "Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters";

/// `AllowEncryptionOracle`; `None` without SOFTWARE.
pub fn read(reg: &dyn Registry) -> Result<Option<Reading>, Error> {
    if !reg.has_root(Root::Software) {
        return Ok(None);
    }
    Ok(Some(Reading::read(
        reg,
        Root::Software,
        CREDSSP_POLICY,
        "AllowEncryptionOracle",
    )?))
}
