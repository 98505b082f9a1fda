//! From a probe report to ranked findings: small pure rules over the evidence.

use rdp_doctor_codes::{causes, CauseId};
use serde::Serialize;

use crate::report::*;
use crate::wire::x224::Protocol;

/// Version of the JSON document `diagnose --json` prints.
pub const SCHEMA: &str = "rdp-doctor.diagnose/v1";

pub use rdp_doctor_codes::Severity;

/// One finding: a stable ID, what was seen, the cause it points at, and the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable identifier (documented in the probe crate's README).
    pub id: &'static str,
    pub severity: Severity,
    pub title: String,
    pub phase: Option<PhaseName>,
    pub evidence: Vec<String>,
    /// The root cause it points at (see `rdp-doctor explain`'s cause catalog).
    pub cause: CauseId,
    /// What to do, most specific first.
    pub fixes: Vec<String>,
}

/// The verdict and the findings, most important first.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub schema: &'static str,
    pub target: String,
    pub verdict: String,
    /// No finding of severity error.
    pub healthy: bool,
    pub findings: Vec<Finding>,
    pub probe: ProbeReport,
}

pub(crate) fn finding(
    id: &'static str,
    severity: Severity,
    title: impl Into<String>,
    phase: PhaseName,
    evidence: Vec<String>,
    cause: CauseId,
    specific_fixes: &[&str],
) -> Finding {
    let mut fixes: Vec<String> = specific_fixes.iter().map(|s| s.to_string()).collect();
    fixes.extend(causes::cause(cause).fixes.iter().map(|s| s.to_string()));
    Finding {
        id,
        severity,
        title: title.into(),
        phase: Some(phase),
        evidence,
        cause,
        fixes,
    }
}

pub(crate) fn phase_evidence(r: &ProbeReport, name: PhaseName) -> Vec<String> {
    r.phase(name)
        .map(|p| {
            std::iter::once(p.summary.clone())
                .chain(p.evidence.iter().cloned())
                .collect()
        })
        .unwrap_or_default()
}

fn network_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    if r.phase(PhaseName::Dns)
        .is_some_and(|p| p.status == Status::Fail)
    {
        out.push(finding(
            "NET001",
            Severity::Error,
            format!("{} does not resolve", r.host),
            PhaseName::Dns,
            phase_evidence(r, PhaseName::Dns),
            CauseId::NameResolution,
            &[],
        ));
        return;
    }
    let ev = phase_evidence(r, PhaseName::Tcp);
    match &r.tcp {
        Some(TcpOutcome::Refused) => out.push(finding(
            "NET002",
            Severity::Error,
            format!("nothing accepts connections on port {} (refused)", r.port),
            PhaseName::Tcp,
            ev,
            CauseId::FirewallOrPort,
            &[
                "On the host: is TermService running and the listener on this port? (rdp-doctor host check; qwinsta)",
                "If Remote Desktop is off: Set-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' fDenyTSConnections 0",
            ],
        )),
        // Filtered never connects; when repeated handshakes did, the path loses packets (PATH002).
        Some(TcpOutcome::TimedOut) if !crate::path::connects_sometimes(r) => out.push(finding(
            "NET003",
            Severity::Error,
            format!("port {} is filtered: SYN got no answer", r.port),
            PhaseName::Tcp,
            ev,
            CauseId::FirewallOrPort,
            &[],
        )),
        Some(TcpOutcome::Reset) | Some(TcpOutcome::Unreachable { .. }) | Some(TcpOutcome::Error { .. }) => {
            out.push(finding(
                "NET004",
                Severity::Error,
                "the TCP connection cannot be made (reset or unreachable)",
                PhaseName::Tcp,
                ev,
                CauseId::NetworkPath,
                &[],
            ))
        }
        _ => {}
    }
    if let Some(s) = r.tcp_stats {
        if s.retransmits_total > 0 || s.rtt_ms > 300.0 {
            out.push(finding(
                "PATH001",
                Severity::Warning,
                format!(
                    "the path is slow or lossy: RTT {:.1} ms, {} retransmission(s) during the probe",
                    s.rtt_ms, s.retransmits_total
                ),
                PhaseName::Tcp,
                vec![format!("kernel TCP_INFO: rtt {:.2} ms, rttvar {:.2} ms, retransmits {}", s.rtt_ms, s.rtt_var_ms, s.retransmits_total)],
                CauseId::NetworkPath,
                &[],
            ));
        }
    }
}

fn negotiation_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(neg) = &r.negotiated else { return };
    let ev = phase_evidence(r, PhaseName::X224);
    let supported = r.supported();
    match &neg.outcome {
        NegotiationOutcome::Closed => out.push(finding(
            "RDP001",
            Severity::Error,
            "the server accepts TCP, then closes without answering the RDP connection request",
            PhaseName::X224,
            ev,
            CauseId::ConnectionLimit,
            &[
                "If the host logs TermService 1006 or shows many half-open connections: raise MaxOutstandingConnections and block the flood source",
                "If it is not a Remote Desktop listener at all (a proxy or another service on this port): point the client at the right port",
            ],
        )),
        NegotiationOutcome::TimedOut { bytes_sent } => out.push(finding(
            "NET005",
            Severity::Error,
            format!("stall: {bytes_sent} bytes sent at X.224, nothing came back"),
            PhaseName::X224,
            ev,
            CauseId::NetworkPath,
            &["A middlebox swallows RDP after the TCP handshake, or the listener hangs (restart TermService)"],
        )),
        NegotiationOutcome::Garbage { message } => out.push(finding(
            "RDP002",
            Severity::Error,
            "the service on this port does not speak RDP",
            PhaseName::X224,
            std::iter::once(message.clone()).chain(ev).collect(),
            CauseId::FirewallOrPort,
            &["Check the listener's PortNumber (rdp-doctor host check) and the port the client uses"],
        )),
        NegotiationOutcome::ConnectFailed { .. } => out.push(finding(
            "NET004",
            Severity::Error,
            "the connection dropped while sending the RDP connection request",
            PhaseName::X224,
            ev,
            CauseId::NetworkPath,
            &[],
        )),
        NegotiationOutcome::Failure { code: 3, name, .. } => out.push(finding(
            "NEG001",
            Severity::Error,
            format!("the server has no usable certificate for TLS ({name})"),
            PhaseName::X224,
            ev,
            CauseId::CertificateOrKey,
            &[],
        )),
        NegotiationOutcome::Failure { code, name, meaning } => {
            let (id, title) = match code {
                5 => ("NEG002", "the server requires NLA (CredSSP); clients without it are refused".to_string()),
                6 => ("NEG003", "the server requires TLS with client certificate authentication".to_string()),
                _ => ("NEG003", format!("the server refuses what mstsc offers: {name}")),
            };
            let severity = if supported.is_empty() { Severity::Error } else { Severity::Warning };
            out.push(finding(
                id,
                severity,
                title,
                PhaseName::X224,
                std::iter::once(format!("RDP_NEG_FAILURE 0x{code:X} ({code}) {name}: {meaning}")).chain(ev).collect(),
                CauseId::SecurityLayerMismatch,
                &[],
            ))
        }
        NegotiationOutcome::Legacy => out.push(finding(
            "NEG004",
            Severity::Warning,
            "legacy server: no security negotiation, Standard RDP Security only",
            PhaseName::X224,
            ev,
            CauseId::SecurityLayerMismatch,
            &["Clients that require NLA or TLS cannot connect; upgrade the server or enable TLS (SecurityLayer=1 or 2)"],
        )),
        NegotiationOutcome::Selected { selected: 0, .. } => out.push(finding(
            "NEG005",
            Severity::Warning,
            "the server only offers Standard RDP Security (no TLS, no NLA)",
            PhaseName::X224,
            ev,
            CauseId::SecurityLayerMismatch,
            &["Clients set to require server authentication or NLA fail; on the host set SecurityLayer=1 (Negotiate) or 2 (TLS) and give the listener a certificate"],
        )),
        NegotiationOutcome::Selected { .. } => {}
    }
    if !supported.is_empty() && !supported.contains(&Protocol::Hybrid) && neg.accepted {
        out.push(finding(
            "NEG006",
            Severity::Info,
            "NLA (CredSSP) is not offered: anyone who reaches the port gets a logon screen",
            PhaseName::X224,
            vec![format!("supported: {}", supported.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "))],
            CauseId::SecurityLayerMismatch,
            &["Require NLA: UserAuthentication=1 on the RDP-Tcp listener (or the 'Require user authentication … NLA' policy)"],
        ));
    }
}

fn tls_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(tls) = &r.tls else { return };
    if tls.error.is_some() && crate::path::explains_tls_failure(r) {
        return; // a stall or a cut on the path (path rules), not the certificate
    }
    let ev = phase_evidence(r, PhaseName::Tls);
    if let Some(err) = &tls.error {
        if tls.chain.is_empty() {
            let lower = err.to_ascii_lowercase();
            let version_problem = lower.contains("protocolversion")
                || lower.contains("handshakefailure")
                || lower.contains("peerincompatible");
            if version_problem
                && tls
                    .server_sent
                    .as_deref()
                    .is_none_or(|s| s.starts_with("a TLS alert"))
            {
                out.push(finding(
                    "TLS001",
                    Severity::Error,
                    "no common TLS version or cipher with the server",
                    PhaseName::Tls,
                    ev,
                    CauseId::TlsSettings,
                    &["This probe speaks TLS 1.2 and 1.3 only: a server limited to TLS 1.0/1.1 is refused by current clients too; enable TLS 1.2 under SCHANNEL\\Protocols"],
                ));
            } else {
                out.push(finding(
                    "CERT001",
                    Severity::Error,
                    "TLS fails right after the server agreed to it: the listener cannot use its certificate or private key",
                    PhaseName::Tls,
                    ev,
                    CauseId::CertificateOrKey,
                    &[],
                ));
            }
            return;
        }
    }
    if tls.expired == Some(true) {
        out.push(finding(
            "CERT002",
            Severity::Warning,
            "the listener's certificate has expired",
            PhaseName::Tls,
            ev.clone(),
            CauseId::CertificateOrKey,
            &["Windows renews its self-signed certificate itself unless it cannot (TermService 1057/1058): check those events"],
        ));
    }
    if tls.not_yet_valid == Some(true) {
        out.push(finding(
            "CERT004",
            Severity::Warning,
            "the listener's certificate is not valid yet: the host's or this machine's clock is off",
            PhaseName::Tls,
            ev.clone(),
            CauseId::CertificateOrKey,
            &["Fix the clock (w32tm /resync on the host)"],
        ));
    }
    if tls.name_matches == Some(false) {
        out.push(finding(
            "CERT003",
            Severity::Info,
            format!("the certificate does not name {}: clients show an identity warning", r.host),
            PhaseName::Tls,
            ev,
            CauseId::CertificateOrKey,
            &["Connect by the name in the certificate, or install a certificate for this name (SSLCertificateSHA1Hash)"],
        ));
    }
}

fn credssp_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    if let Some(info) = &r.ntlm {
        out.push(Finding {
            id: "INFO001",
            severity: Severity::Info,
            title: format!(
                "the server identifies as {}\\{} (Windows {})",
                info.netbios_domain.as_deref().unwrap_or("?"),
                info.netbios_computer.as_deref().unwrap_or("?"),
                info.os_version.as_deref().unwrap_or("?")
            ),
            phase: Some(PhaseName::Credssp),
            evidence: phase_evidence(r, PhaseName::Credssp),
            cause: CauseId::Credentials,
            fixes: vec!["Use DOMAIN\\user with this domain, or .\\user for a local account".into()],
        });
    }
    if r.budget_exhausted {
        out.push(Finding {
            id: "PROBE001",
            severity: Severity::Warning,
            title: "the probe's time budget ran out before every phase was done".into(),
            phase: None,
            evidence: vec![format!("total {:.0} ms", r.total_ms)],
            cause: CauseId::NetworkPath,
            fixes: vec!["Run again with a larger --timeout to see the later phases".into()],
        });
    }
}

/// Turns a probe report into a verdict and ranked findings.
pub fn diagnose(report: ProbeReport) -> Diagnosis {
    let mut findings = Vec::new();
    network_rules(&report, &mut findings);
    negotiation_rules(&report, &mut findings);
    tls_rules(&report, &mut findings);
    credssp_rules(&report, &mut findings);
    crate::path::rules(&report, &mut findings);
    crate::connect::rules(&report, &mut findings);
    // Errors first, then by phase order (the earliest failure is the cause of the later ones).
    findings.sort_by_key(|f| (f.severity, f.phase.map(|p| p as u8).unwrap_or(u8::MAX)));
    let healthy = !findings.iter().any(|f| f.severity == Severity::Error);
    let target = format!("{}:{}", report.host, report.port);
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    let verdict = match findings.first() {
        Some(f) if f.severity == Severity::Error => format!(
            "RDP to {target} fails at {}: {}",
            f.phase.map(|p| p.label()).unwrap_or("the probe"),
            f.title
        ),
        _ if warnings > 0 => format!("RDP to {target} connects, with {warnings} warning(s)"),
        _ => {
            let via = report
                .negotiated
                .as_ref()
                .map(|n| match &n.outcome {
                    NegotiationOutcome::Selected { selected_name, .. } => selected_name.clone(),
                    _ => "RDP".into(),
                })
                .unwrap_or_default();
            format!("RDP to {target} connects ({via}); no problem found")
        }
    };
    Diagnosis {
        schema: SCHEMA,
        target,
        verdict,
        healthy,
        findings,
        probe: report,
    }
}
