//! Every SSPI and NTSTATUS row: its name, Microsoft's meaning, and the cause
//! ranked first. The meanings are the texts of Microsoft's "SSPI Status Codes"
//! page and [MS-ERREF] / the event 4625 table; the rankings are this tool's reading.

use rdp_doctor_codes::causes::cause;
use rdp_doctor_codes::{explain_codes, explain_event, tables, CauseId, Namespace};

use CauseId::*;

/// (value, name, start of the meaning, cause ranked first).
const ROWS: &[(u32, &str, &str, Option<CauseId>)] = &[
    (
        0x00000000,
        "SEC_E_OK",
        "The operation completed successfully.",
        None,
    ),
    (
        0x00090312,
        "SEC_I_CONTINUE_NEEDED",
        "The function completed successfully, but",
        None,
    ),
    (
        0x00090313,
        "SEC_I_COMPLETE_NEEDED",
        "The function completed successfully, but",
        None,
    ),
    (
        0x00090314,
        "SEC_I_COMPLETE_AND_CONTINUE",
        "The function completed successfully, but",
        None,
    ),
    (
        0x00090315,
        "SEC_I_LOCAL_LOGON",
        "The logon was completed, but no network ",
        None,
    ),
    (
        0x00090317,
        "SEC_I_CONTEXT_EXPIRED",
        "The message sender has finished using th",
        None,
    ),
    (
        0x00090320,
        "SEC_I_INCOMPLETE_CREDENTIALS",
        "The credentials supplied were not comple",
        None,
    ),
    (
        0x00090321,
        "SEC_I_RENEGOTIATE",
        "Information (not an error): renegotiate ",
        None,
    ),
    (
        0x00090323,
        "SEC_I_NO_LSA_CONTEXT",
        "Information (not an error): no lsa conte",
        None,
    ),
    (
        0x0009035C,
        "SEC_I_SIGNATURE_NEEDED",
        "Information (not an error): signature ne",
        None,
    ),
    (
        0x00090360,
        "SEC_I_NO_RENEGOTIATION",
        "Information (not an error): no renegotia",
        None,
    ),
    (
        0x80090300,
        "SEC_E_INSUFFICIENT_MEMORY",
        "Not enough memory is available to comple",
        Some(ServerResources),
    ),
    (
        0x80090301,
        "SEC_E_INVALID_HANDLE",
        "The handle passed to the function is not",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090302,
        "SEC_E_UNSUPPORTED_FUNCTION",
        "The requested function is not supported.",
        Some(CredsspPolicy),
    ),
    (
        0x80090303,
        "SEC_E_TARGET_UNKNOWN",
        "The target was not recognized.",
        Some(TargetName),
    ),
    (
        0x80090304,
        "SEC_E_INTERNAL_ERROR",
        "An error occurred that did not map to an",
        Some(CertificateOrKey),
    ),
    (
        0x80090305,
        "SEC_E_SECPKG_NOT_FOUND",
        "The security package was not recognized.",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090306,
        "SEC_E_NOT_OWNER",
        "The caller of the function does not own ",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090307,
        "SEC_E_CANNOT_INSTALL",
        "The security package cannot initialize s",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090308,
        "SEC_E_INVALID_TOKEN",
        "The token passed to the function is not ",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090309,
        "SEC_E_CANNOT_PACK",
        "The package is unable to pack the contex",
        Some(SecurityLayerMismatch),
    ),
    (
        0x8009030A,
        "SEC_E_QOP_NOT_SUPPORTED",
        "The quality of protection attribute is n",
        Some(SecurityLayerMismatch),
    ),
    (
        0x8009030B,
        "SEC_E_NO_IMPERSONATION",
        "No impersonation is allowed for this con",
        Some(SecurityLayerMismatch),
    ),
    (
        0x8009030C,
        "SEC_E_LOGON_DENIED",
        "The logon attempt failed. (The SSPI stat",
        Some(Credentials),
    ),
    (
        0x8009030D,
        "SEC_E_UNKNOWN_CREDENTIALS",
        "The credentials provided were not recogn",
        Some(CertificateOrKey),
    ),
    (
        0x8009030E,
        "SEC_E_NO_CREDENTIALS",
        "No credentials are available.",
        Some(CertificateOrKey),
    ),
    (
        0x8009030F,
        "SEC_E_MESSAGE_ALTERED",
        "The message supplied for verification ha",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090310,
        "SEC_E_OUT_OF_SEQUENCE",
        "The message supplied for verification is",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090311,
        "SEC_E_NO_AUTHENTICATING_AUTHORITY",
        "No authority could be contacted for auth",
        Some(DomainController),
    ),
    (
        0x80090316,
        "SEC_E_BAD_PKGID",
        "The requested package identifier does no",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090317,
        "SEC_E_CONTEXT_EXPIRED",
        "The application is referencing a context",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090318,
        "SEC_E_INCOMPLETE_MESSAGE",
        "The message supplied was incomplete. The",
        Some(TlsSettings),
    ),
    (
        0x80090320,
        "SEC_E_INCOMPLETE_CREDENTIALS",
        "The credentials supplied were not comple",
        Some(Credentials),
    ),
    (
        0x80090321,
        "SEC_E_BUFFER_TOO_SMALL",
        "The buffers supplied to the function are",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090322,
        "SEC_E_WRONG_PRINCIPAL",
        "The target principal name is incorrect.",
        Some(TargetName),
    ),
    (
        0x80090324,
        "SEC_E_TIME_SKEW",
        "The clocks on the client and server comp",
        Some(DomainController),
    ),
    (
        0x80090325,
        "SEC_E_UNTRUSTED_ROOT",
        "The certificate chain was issued by an a",
        Some(CertificateOrKey),
    ),
    (
        0x80090326,
        "SEC_E_ILLEGAL_MESSAGE",
        "The message received was unexpected or b",
        Some(TlsSettings),
    ),
    (
        0x80090327,
        "SEC_E_CERT_UNKNOWN",
        "An unknown error occurred while processi",
        Some(CertificateOrKey),
    ),
    (
        0x80090328,
        "SEC_E_CERT_EXPIRED",
        "The received certificate has expired.",
        Some(CertificateOrKey),
    ),
    (
        0x80090329,
        "SEC_E_ENCRYPT_FAILURE",
        "The specified data could not be encrypte",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090330,
        "SEC_E_DECRYPT_FAILURE",
        "The specified data could not be decrypte",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090331,
        "SEC_E_ALGORITHM_MISMATCH",
        "The client and server cannot communicate",
        Some(TlsSettings),
    ),
    (
        0x80090332,
        "SEC_E_SECURITY_QOS_FAILED",
        "The security context could not be establ",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090333,
        "SEC_E_UNFINISHED_CONTEXT_DELETED",
        "A security context was deleted before th",
        Some(Credentials),
    ),
    (
        0x80090334,
        "SEC_E_NO_TGT_REPLY",
        "The client is trying to negotiate a cont",
        Some(DomainController),
    ),
    (
        0x80090335,
        "SEC_E_NO_IP_ADDRESSES",
        "Unable to accomplish the requested task ",
        Some(NetworkPath),
    ),
    (
        0x80090336,
        "SEC_E_WRONG_CREDENTIAL_HANDLE",
        "The supplied credential handle does not ",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090337,
        "SEC_E_CRYPTO_SYSTEM_INVALID",
        "The cryptographic system or checksum fun",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090338,
        "SEC_E_MAX_REFERRALS_EXCEEDED",
        "The number of maximum ticket referrals h",
        Some(DomainController),
    ),
    (
        0x80090339,
        "SEC_E_MUST_BE_KDC",
        "The local computer must be a Kerberos do",
        Some(DomainController),
    ),
    (
        0x8009033A,
        "SEC_E_STRONG_CRYPTO_NOT_SUPPORTED",
        "The other end of the security negotiatio",
        Some(TlsSettings),
    ),
    (
        0x8009033B,
        "SEC_E_TOO_MANY_PRINCIPALS",
        "The KDC reply contained more than one pr",
        Some(DomainController),
    ),
    (
        0x8009033C,
        "SEC_E_NO_PA_DATA",
        "Policy administrator (PA) data is needed",
        Some(DomainController),
    ),
    (
        0x8009033D,
        "SEC_E_PKINIT_NAME_MISMATCH",
        "The client certificate does not contain ",
        Some(SmartCard),
    ),
    (
        0x8009033E,
        "SEC_E_SMARTCARD_LOGON_REQUIRED",
        "Smart card logon is required and was not",
        Some(SmartCard),
    ),
    (
        0x8009033F,
        "SEC_E_SHUTDOWN_IN_PROGRESS",
        "A system shutdown is in progress.",
        Some(ServerResources),
    ),
    (
        0x80090340,
        "SEC_E_KDC_INVALID_REQUEST",
        "A request that is not valid was sent to ",
        Some(DomainController),
    ),
    (
        0x80090341,
        "SEC_E_KDC_UNABLE_TO_REFER",
        "The KDC was unable to generate a referra",
        Some(DomainController),
    ),
    (
        0x80090342,
        "SEC_E_KDC_UNKNOWN_ETYPE",
        "The requested encryption type is not sup",
        Some(DomainController),
    ),
    (
        0x80090343,
        "SEC_E_UNSUPPORTED_PREAUTH",
        "An unsupported preauthentication mechani",
        Some(DomainController),
    ),
    (
        0x80090345,
        "SEC_E_DELEGATION_REQUIRED",
        "The requested operation cannot be comple",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090346,
        "SEC_E_BAD_BINDINGS",
        "The SSPI channel bindings supplied by th",
        Some(NetworkPath),
    ),
    (
        0x80090347,
        "SEC_E_MULTIPLE_ACCOUNTS",
        "The received certificate was mapped to m",
        Some(SmartCard),
    ),
    (
        0x80090348,
        "SEC_E_NO_KERB_KEY",
        "No Kerberos key was found.",
        Some(DomainController),
    ),
    (
        0x80090349,
        "SEC_E_CERT_WRONG_USAGE",
        "The certificate is not valid for the req",
        Some(CertificateOrKey),
    ),
    (
        0x80090350,
        "SEC_E_DOWNGRADE_DETECTED",
        "The system detected a possible attempt t",
        Some(DomainController),
    ),
    (
        0x80090351,
        "SEC_E_SMARTCARD_CERT_REVOKED",
        "The smart card certificate used for auth",
        Some(SmartCard),
    ),
    (
        0x80090352,
        "SEC_E_ISSUING_CA_UNTRUSTED",
        "An untrusted certification authority (CA",
        Some(SmartCard),
    ),
    (
        0x80090353,
        "SEC_E_REVOCATION_OFFLINE_C",
        "The revocation status of the smart card ",
        Some(SmartCard),
    ),
    (
        0x80090354,
        "SEC_E_PKINIT_CLIENT_FAILURE",
        "The smart card certificate used for auth",
        Some(SmartCard),
    ),
    (
        0x80090355,
        "SEC_E_SMARTCARD_CERT_EXPIRED",
        "The smart card certificate used for auth",
        Some(SmartCard),
    ),
    (
        0x80090356,
        "SEC_E_NO_S4U_PROT_SUPPORT",
        "The Kerberos subsystem encountered an er",
        Some(DomainController),
    ),
    (
        0x80090357,
        "SEC_E_CROSSREALM_DELEGATION_FAILURE",
        "The server attempted to make a Kerberos-",
        Some(DomainController),
    ),
    (
        0x80090358,
        "SEC_E_REVOCATION_OFFLINE_KDC",
        "The revocation status of the domain cont",
        Some(DomainController),
    ),
    (
        0x80090359,
        "SEC_E_ISSUING_CA_UNTRUSTED_KDC",
        "An untrusted CA was detected while proce",
        Some(DomainController),
    ),
    (
        0x8009035A,
        "SEC_E_KDC_CERT_EXPIRED",
        "The domain controller certificate used f",
        Some(DomainController),
    ),
    (
        0x8009035B,
        "SEC_E_KDC_CERT_REVOKED",
        "The domain controller certificate used f",
        Some(DomainController),
    ),
    (
        0x8009035D,
        "SEC_E_INVALID_PARAMETER",
        "Error: invalid parameter (reading of the",
        Some(SecurityLayerMismatch),
    ),
    (
        0x8009035E,
        "SEC_E_DELEGATION_POLICY",
        "Error: delegation policy (reading of the",
        Some(SecurityLayerMismatch),
    ),
    (
        0x8009035F,
        "SEC_E_POLICY_NLTM_ONLY",
        "Error: policy nltm only (reading of the ",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090361,
        "SEC_E_NO_CONTEXT",
        "Error: no context (reading of the consta",
        Some(SecurityLayerMismatch),
    ),
    (
        0x80090362,
        "SEC_E_PKU2U_CERT_FAILURE",
        "Error: pku2u cert failure (reading of th",
        Some(SmartCard),
    ),
    (
        0x80090363,
        "SEC_E_MUTUAL_AUTH_FAILED",
        "Error: mutual auth failed (reading of th",
        Some(TargetName),
    ),
    (
        0x00000000,
        "STATUS_SUCCESS",
        "The operation completed successfully.",
        None,
    ),
    (
        0xC000005E,
        "STATUS_NO_LOGON_SERVERS",
        "There are currently no logon servers ava",
        Some(DomainController),
    ),
    (
        0xC0000064,
        "STATUS_NO_SUCH_USER",
        "The specified account does not exist.",
        Some(Credentials),
    ),
    (
        0xC000006A,
        "STATUS_WRONG_PASSWORD",
        "User logon with misspelled or bad passwo",
        Some(Credentials),
    ),
    (
        0xC000006D,
        "STATUS_LOGON_FAILURE",
        "The attempted logon is invalid. This is ",
        Some(Credentials),
    ),
    (
        0xC000006E,
        "STATUS_ACCOUNT_RESTRICTION",
        "Indicates a referenced user name and aut",
        Some(AccountRestriction),
    ),
    (
        0xC000006F,
        "STATUS_INVALID_LOGON_HOURS",
        "User logon outside authorized hours.",
        Some(AccountRestriction),
    ),
    (
        0xC0000070,
        "STATUS_INVALID_WORKSTATION",
        "User logon from unauthorized workstation",
        Some(AccountRestriction),
    ),
    (
        0xC0000071,
        "STATUS_PASSWORD_EXPIRED",
        "User logon with expired password.",
        Some(Credentials),
    ),
    (
        0xC0000072,
        "STATUS_ACCOUNT_DISABLED",
        "User logon to account disabled by admini",
        Some(Credentials),
    ),
    (
        0xC00000DC,
        "STATUS_INVALID_SERVER_STATE",
        "Indicates the Sam Server was in the wron",
        Some(Credentials),
    ),
    (
        0xC0000133,
        "STATUS_TIME_DIFFERENCE_AT_DC",
        "Clocks between DC and other computer too",
        Some(DomainController),
    ),
    (
        0xC000015B,
        "STATUS_LOGON_TYPE_NOT_GRANTED",
        "The user has not been granted the reques",
        Some(NoRemoteLogonRight),
    ),
    (
        0xC000018C,
        "STATUS_TRUSTED_DOMAIN_FAILURE",
        "The logon request failed because the tru",
        Some(DomainController),
    ),
    (
        0xC0000192,
        "STATUS_NETLOGON_NOT_STARTED",
        "An attempt was made to logon, but the Ne",
        Some(DomainController),
    ),
    (
        0xC0000193,
        "STATUS_ACCOUNT_EXPIRED",
        "User logon with expired account.",
        Some(Credentials),
    ),
    (
        0xC0000224,
        "STATUS_PASSWORD_MUST_CHANGE",
        "User is required to change password at n",
        Some(Credentials),
    ),
    (
        0xC0000225,
        "STATUS_NOT_FOUND",
        "The object was not found.",
        Some(Credentials),
    ),
    (
        0xC0000234,
        "STATUS_ACCOUNT_LOCKED_OUT",
        "User logon with account locked.",
        Some(Credentials),
    ),
    (
        0xC00002EE,
        "STATUS_UNFINISHED_CONTEXT_DELETED",
        "A security context was deleted before th",
        Some(Credentials),
    ),
    (
        0xC0000413,
        "STATUS_AUTHENTICATION_FIREWALL_FAILED",
        "Logon Failure: The machine you are loggi",
        Some(AccountRestriction),
    ),
];

fn namespace_of(value: u32, name: &str) -> Namespace {
    if name.starts_with("STATUS_") || value >> 30 == 0b11 {
        Namespace::NtStatus
    } else {
        Namespace::SecurityStatus
    }
}

#[test]
fn every_row_has_its_name_meaning_and_first_cause() {
    for &(value, name, meaning, first) in ROWS {
        let ns = namespace_of(value, name);
        let e = explain_codes(&format!("0x{value:X}"), None, Some(ns))
            .unwrap_or_else(|err| panic!("0x{value:X}: {err}"));
        let r = &e.code.as_ref().expect("reading").readings[0];
        assert_eq!(r.name, name, "0x{value:X}");
        assert!(
            r.meaning.starts_with(meaning),
            "0x{value:X} {name}: meaning {:?}",
            r.meaning
        );
        assert_eq!(
            e.causes.first().map(|c| c.cause.id),
            first,
            "0x{value:X} {name}"
        );
    }
}

#[test]
fn the_table_above_covers_every_row() {
    for ns in [Namespace::SecurityStatus, Namespace::NtStatus] {
        let n = tables()
            .entries
            .iter()
            .filter(|e| e.namespace == ns)
            .count();
        let listed = ROWS
            .iter()
            .filter(|(v, name, _, _)| namespace_of(*v, name) == ns)
            .count();
        assert_eq!(n, listed, "{ns:?}");
    }
}

#[test]
fn sspi_meanings_are_microsofts_not_readings_of_the_name() {
    // Only constants missing from the SSPI status-code page keep a reading of their name.
    let guessed: Vec<&str> = tables()
        .entries
        .iter()
        .filter(|e| e.namespace == Namespace::SecurityStatus)
        .filter(|e| e.meaning.ends_with("(reading of the constant name)"))
        .map(|e| e.name.as_str())
        .collect();
    for name in [
        "SEC_E_LOGON_DENIED",
        "SEC_E_NO_AUTHENTICATING_AUTHORITY",
        "SEC_E_WRONG_PRINCIPAL",
        "SEC_E_UNSUPPORTED_FUNCTION",
    ] {
        assert!(!guessed.contains(&name), "{name}");
    }
    assert!(guessed.len() <= 10, "{guessed:?}");
}

#[test]
fn account_restriction_is_not_a_bad_password() {
    let e = explain_codes("0xC000006E", None, None).expect("explain");
    let r = &e.code.as_ref().expect("reading").readings[0];
    assert_eq!(r.name, "STATUS_ACCOUNT_RESTRICTION");
    assert!(r.meaning.contains("user account restriction"));
    assert!(!r.meaning.to_lowercase().contains("bad password"));
    let hint = r.hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains("blank password") && hint.contains("logon hours"),
        "{hint}"
    );
    assert_eq!(e.causes[0].cause.id, AccountRestriction);
    // The event table says the same.
    let ev = explain_event("4625", Some("0xC000006E")).expect("event");
    assert!(ev.events.iter().all(|x| !x
        .event
        .message
        .contains("Unknown user name or bad password")));
}

#[test]
fn credssp_oracle_dialog_ranks_the_oracle_policy_first() {
    let e = explain_codes("0x80090302", None, None).expect("explain");
    assert_eq!(e.causes[0].cause.id, CredsspPolicy);
    let r = &e.code.as_ref().expect("reading").readings[0];
    assert!(r
        .message
        .as_deref()
        .is_some_and(|m| m.contains("CredSSP encryption oracle")));
}

#[test]
fn no_authority_is_domain_controller_dns_and_time_not_machinekeys() {
    let e = explain_codes("0x80090311", None, None).expect("explain");
    let ids: Vec<CauseId> = e.causes.iter().map(|c| c.cause.id).collect();
    assert_eq!(ids[0], DomainController);
    assert!(ids.contains(&NameResolution));
    assert!(!ids.contains(&CertificateOrKey), "{ids:?}");
    let checks = cause(DomainController).checks.join(" ");
    assert!(
        checks.contains("w32tm") && checks.contains("nltest"),
        "{checks}"
    );
}

#[test]
fn wrong_principal_is_a_name_mismatch_not_wrong_credentials() {
    let e = explain_codes("0x80090322", None, None).expect("explain");
    assert_eq!(e.causes[0].cause.id, TargetName);
    assert!(e.causes.iter().all(|c| c.cause.id != Credentials));
    let fixes = cause(TargetName).fixes.join(" ");
    assert!(
        fixes.contains("IP address") && fixes.contains("certificate"),
        "{fixes}"
    );
}

#[test]
fn event_4625_ranks_by_its_status_value() {
    let by_event = explain_event("4625", Some("0xC000015B")).expect("event");
    let by_code = explain_codes("0xC000015B", None, None).expect("code");
    assert_eq!(by_event.causes[0].cause.id, NoRemoteLogonRight);
    assert_eq!(by_event.causes[0].cause.id, by_code.causes[0].cause.id);
}

#[test]
fn logon_failures_show_their_names_and_the_text_users_see() {
    let sspi = explain_codes("0x8009030C", None, None).expect("explain");
    let r = &sspi.code.as_ref().expect("reading").readings[0];
    assert_eq!(r.name, "SEC_E_LOGON_DENIED");
    assert_eq!(r.message.as_deref(), Some("The logon attempt failed"));
    assert!(
        sspi.verdict.contains("SEC_E_LOGON_DENIED"),
        "{}",
        sspi.verdict
    );

    let nt = explain_codes("0xC000006D", None, None).expect("explain");
    let r = &nt.code.as_ref().expect("reading").readings[0];
    assert_eq!(r.name, "STATUS_LOGON_FAILURE");
    assert_eq!(
        r.message.as_deref(),
        Some("The user name or password is incorrect.")
    );
    assert!(
        nt.verdict.contains("STATUS_LOGON_FAILURE"),
        "{}",
        nt.verdict
    );
}

#[test]
fn every_4625_status_has_an_ntstatus_name() {
    for ev in tables()
        .events
        .iter()
        .filter(|e| e.sub_code_field.as_deref() == Some("Status / Sub Status"))
    {
        let v = ev.sub_code_value().expect("numeric status");
        let row = tables().lookup(Namespace::NtStatus, v).next();
        assert!(
            row.is_some_and(|r| r.name.starts_with("STATUS_")),
            "0x{v:08X} has no NTSTATUS name"
        );
    }
}

#[test]
fn no_text_points_at_files_an_installed_binary_lacks() {
    let t = tables();
    let texts = t.entries.iter().flat_map(|e| {
        [
            Some(e.meaning.as_str()),
            e.message.as_deref(),
            e.hint.as_deref(),
            Some(e.source.as_str()),
        ]
    });
    let event_texts = t.events.iter().flat_map(|e| {
        [
            Some(e.message.as_str()),
            e.meaning.as_deref(),
            Some(e.source.as_str()),
        ]
    });
    for text in texts.chain(event_texts).flatten() {
        assert!(!text.contains("NOTES.md"), "{text}");
    }
}
