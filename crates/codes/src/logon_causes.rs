//! Ranked causes of logon results: NTSTATUS values and SSPI statuses.
//!
//! The meanings come from Microsoft's tables (see `data/ntstatus.csv` and the
//! SSPI rows of `data/errinfo.csv`); the ranking is this tool's reading.

use crate::causes::CauseId::{self, *};

/// Causes of an NTSTATUS logon result (Security 4625 Status / Sub Status).
pub(crate) fn ntstatus_causes(code: u32) -> Vec<CauseId> {
    match code {
        0 => Vec::new(),
        0xC000_015B => vec![NoRemoteLogonRight],
        0xC000_006E | 0xC000_006F | 0xC000_0070 | 0xC000_0413 => {
            vec![AccountRestriction, Credentials]
        }
        0xC000_0133 => vec![DomainController],
        0xC000_005E | 0xC000_0192 => vec![DomainController, NameResolution],
        0xC000_018C => vec![DomainController, Credentials],
        0xC000_0064 | 0xC000_006A | 0xC000_006D | 0xC000_0071 | 0xC000_0072 | 0xC000_0193
        | 0xC000_0224 | 0xC000_0234 => vec![Credentials],
        _ => vec![Credentials],
    }
}

/// Causes of an SSPI status, by its constant name (the name says more than the
/// number: the values are consecutive).
pub(crate) fn sspi_causes(name: &str) -> Vec<CauseId> {
    let n = name.to_ascii_uppercase();
    let n = n.as_str();
    match n {
        "SEC_E_OK" => Vec::new(),
        // The dialog "The function requested is not supported ... CredSSP
        // encryption oracle remediation" carries this code.
        "SEC_E_UNSUPPORTED_FUNCTION" => vec![CredsspPolicy, SecurityLayerMismatch, TlsSettings],
        "SEC_E_NO_AUTHENTICATING_AUTHORITY" => {
            vec![DomainController, NameResolution, NetworkPath]
        }
        "SEC_E_TIME_SKEW" => vec![DomainController],
        "SEC_E_WRONG_PRINCIPAL" | "SEC_E_MUTUAL_AUTH_FAILED" => {
            vec![TargetName, NameResolution, DomainController]
        }
        "SEC_E_TARGET_UNKNOWN" => vec![TargetName, DomainController, NameResolution],
        "SEC_E_LOGON_DENIED" | "SEC_E_UNFINISHED_CONTEXT_DELETED" => {
            vec![Credentials, AccountRestriction, NoRemoteLogonRight]
        }
        "SEC_E_UNKNOWN_CREDENTIALS" | "SEC_E_NO_CREDENTIALS" | "SEC_E_INTERNAL_ERROR" => {
            vec![CertificateOrKey, Credentials]
        }
        "SEC_E_INCOMPLETE_CREDENTIALS" => vec![Credentials, CertificateOrKey],
        "SEC_E_CERT_UNKNOWN"
        | "SEC_E_CERT_EXPIRED"
        | "SEC_E_UNTRUSTED_ROOT"
        | "SEC_E_CERT_WRONG_USAGE" => vec![CertificateOrKey],
        "SEC_E_ALGORITHM_MISMATCH" | "SEC_E_STRONG_CRYPTO_NOT_SUPPORTED" => vec![TlsSettings],
        "SEC_E_ILLEGAL_MESSAGE" | "SEC_E_INCOMPLETE_MESSAGE" => vec![TlsSettings, NetworkPath],
        "SEC_E_INVALID_TOKEN"
        | "SEC_E_MESSAGE_ALTERED"
        | "SEC_E_DECRYPT_FAILURE"
        | "SEC_E_OUT_OF_SEQUENCE" => vec![SecurityLayerMismatch, CredsspPolicy, NetworkPath],
        "SEC_E_BAD_BINDINGS" => vec![NetworkPath, CertificateOrKey],
        "SEC_E_DOWNGRADE_DETECTED" => vec![DomainController, NetworkPath],
        "SEC_E_DELEGATION_POLICY" | "SEC_E_POLICY_NLTM_ONLY" => {
            vec![SecurityLayerMismatch, Credentials]
        }
        "SEC_E_INSUFFICIENT_MEMORY" | "SEC_E_SHUTDOWN_IN_PROGRESS" => vec![ServerResources],
        "SEC_E_NO_IP_ADDRESSES" => vec![NetworkPath],
        "SEC_E_ISSUING_CA_UNTRUSTED_KDC"
        | "SEC_E_REVOCATION_OFFLINE_KDC"
        | "SEC_E_KDC_CERT_EXPIRED"
        | "SEC_E_KDC_CERT_REVOKED" => vec![DomainController, SmartCard],
        _ if n.contains("KDC")
            || n.contains("TGT")
            || n.contains("KERB")
            || n.contains("PREAUTH")
            || n.contains("REFERRAL")
            || n.contains("PA_DATA")
            || n.contains("PRINCIPALS")
            || n.contains("CROSSREALM")
            || n.contains("S4U") =>
        {
            vec![DomainController, Credentials]
        }
        _ if n.contains("SMARTCARD")
            || n.contains("PKINIT")
            || n.contains("ISSUING_CA")
            || n.contains("REVOCATION")
            || n.contains("MULTIPLE_ACCOUNTS")
            || n.contains("PKU2U") =>
        {
            vec![SmartCard, Credentials]
        }
        _ if n.starts_with("SEC_E") => vec![SecurityLayerMismatch, Credentials],
        _ => Vec::new(),
    }
}
