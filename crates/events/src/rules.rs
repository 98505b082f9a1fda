//! Rules: small pure functions from [`Facts`] to findings. No events, no clock, no files.

use rdp_doctor_model::{Evidence, Finding, FindingId, Machine, Remedy, Severity};

use crate::analysis::Options;
use crate::facts::{
    Breakdown, Facts, FailedLogons, GatewayProblem, LogonSource, Tally, TruncatedFile,
};

/// Every rule, most important finding first.
pub fn findings(f: &Facts, o: &Options) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    out.extend(truncated_logs(&f.truncated));
    out.extend(listener_key_unusable(&f.key_unusable));
    out.extend(tls_handshakes_fail(&f.tls_failures));
    out.extend(
        f.failed_logons
            .iter()
            .filter_map(|(source, failed)| brute_force(source, failed, o)),
    );
    out.extend(no_remote_desktop_right(&f.denied));
    out.extend(failed_logons(&f.bad_credentials));
    out.extend(incomplete_connections_refused(&f.refused_incomplete));
    out.extend(
        f.addresses
            .iter()
            .filter_map(|(a, act)| connection_flood(a, &act.connections, &act.connection_times, o)),
    );
    out.extend(listener_errors(&f.listener_errors));
    out.extend(client_disconnects(
        &f.client_disconnects,
        f.client_error_disconnects,
    ));
    out.extend(
        f.gateway
            .iter()
            .map(|(problem, refusals)| gateway_refusals(*problem, refusals)),
    );
    out.extend(f.addresses.iter().filter_map(|(a, act)| {
        never_authenticated(
            a,
            &act.attempts,
            act.successful_logons + act.failed_logons,
            act.server.as_deref(),
        )
    }));
    rdp_doctor_model::finding::sort(&mut out);
    out
}

/// `n x what` lines of a breakdown, most frequent first, at most `max`.
fn breakdown_lines(b: &Breakdown, max: usize) -> Vec<String> {
    let mut v: Vec<(&String, &usize)> = b.by.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter()
        .take(max)
        .map(|(k, n)| format!("{n} x {k}"))
        .collect()
}

/// The code (first word) of a breakdown's most frequent decoded value.
fn most_frequent_code(b: &Breakdown) -> Option<&str> {
    b.by.iter()
        .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
        .and_then(|(k, _)| k.split_whitespace().next())
        .filter(|c| *c != "?")
}

fn explain(what: &str, query: &str) -> Remedy {
    Remedy::run(
        format!("Read what {what} means"),
        Machine::Elsewhere,
        format!("rdp-doctor explain {query}"),
    )
}

/// The largest number of `times` (sorted) inside any window of `window` seconds.
pub fn max_in_window(times: &[f64], window: f64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

pub fn truncated_logs(files: &[TruncatedFile]) -> Option<Finding> {
    if files.is_empty() {
        return None;
    }
    let names: Vec<&str> = files.iter().map(|t| t.path.as_str()).collect();
    Some(
        Finding::new(
            FindingId::LogTruncated,
            Severity::Warning,
            format!(
                "{} log file(s) cut short, read up to the cut: {}",
                files.len(),
                names.join(", ")
            ),
        )
        .evidences(files.iter().map(|t| Evidence::File {
            path: t.path.clone(),
            detail: t.truncation.describe(),
        }))
        .remedy(Remedy::advice(
            "Export the log again (wevtutil epl, or copy it whole from Windows\\System32\\winevt\\Logs) and read the new copy",
        )),
    )
}

pub fn listener_key_unusable(t: &Tally) -> Option<Finding> {
    (!t.is_empty()).then(|| {
        Finding::new(
            FindingId::ListenerKeyUnusable,
            Severity::Error,
            "the listener cannot create or use its certificate's private key",
        )
        .evidence(t.evidence("the listener's certificate key could not be used"))
        .remedy(
            Remedy::new(
                "Delete the Remote Desktop certificate so TermService creates a new one",
                "Reset the ACL of C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys first if it was changed (NETWORK SERVICE needs read access)",
            )
            .action(rdp_doctor_model::Action::run(
                Machine::Host,
                "Remove-Item -Path 'Cert:\\LocalMachine\\Remote Desktop\\*'",
            ))
            .action(rdp_doctor_model::Action::run(
                Machine::Host,
                "Restart-Service TermService -Force",
            )),
        )
        .remedy(explain("event 1058", "event 1058"))
    })
}

pub fn tls_handshakes_fail(b: &Breakdown) -> Option<Finding> {
    (!b.tally.is_empty()).then(|| {
        Finding::new(
            FindingId::TlsHandshakesFail,
            Severity::Warning,
            "TLS handshakes fail (Schannel)",
        )
        .evidence(b.tally.evidence(format!("Schannel: {}", breakdown_lines(b, 10).join(", "))))
        .remedy(Remedy::advice(
            "Check the TLS versions and cipher suites enabled under HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL",
        ))
        .remedy(explain("event 36871", "event 36871"))
    })
}

pub fn brute_force(source: &LogonSource, f: &FailedLogons, o: &Options) -> Option<Finding> {
    let peak = max_in_window(&f.times, o.brute_force_window);
    if peak < o.brute_force_threshold {
        return None;
    }
    let span = match (f.times.first(), f.times.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let accounts: Vec<&str> = f.accounts.keys().map(String::as_str).collect();
    let mut title = format!(
        "brute force from {source}: {peak} failed logons within {:.0} s ({} in all over {span:.0} s)",
        o.brute_force_window, f.tally.count
    );
    if f.then_succeeded.is_some() {
        title.push_str(", then a successful logon");
    }
    let mut finding = Finding::new(FindingId::BruteForce, Severity::Warning, title).evidence(
        f.tally.evidence(format!(
            "failed logons of {} (threshold {} within {:.0} s)",
            if accounts.is_empty() {
                "?".to_string()
            } else {
                accounts.join(", ")
            },
            o.brute_force_threshold,
            o.brute_force_window
        )),
    );
    if let Some(s) = &f.then_succeeded {
        finding = finding.evidence(s.event.evidence(format!(
            "then a successful logon of {}{}{}: check that it was not the attacker's",
            s.account.as_deref().unwrap_or("?"),
            s.logon_type
                .as_deref()
                .map(|t| format!(" (logon type {t})"))
                .unwrap_or_default(),
            s.address
                .as_deref()
                .map(|a| format!(" from {a}"))
                .unwrap_or_default(),
        )));
    }
    if let LogonSource::Address(a) = source {
        finding = finding.remedy(Remedy::run(
            format!("Block {a} at the host's firewall"),
            Machine::Host,
            format!(
                "New-NetFirewallRule -DisplayName 'Block RDP brute force {a}' -Direction Inbound -RemoteAddress {a} -Action Block"
            ),
        ));
    }
    Some(finding.remedy(Remedy::advice(
        "Require NLA, put RDP behind a VPN or an RD Gateway, and set an account lockout threshold",
    )))
}

pub fn no_remote_desktop_right(b: &Breakdown) -> Option<Finding> {
    if b.tally.is_empty() {
        return None;
    }
    let accounts: Vec<&str> = b.by.keys().map(String::as_str).collect();
    let mut f = Finding::new(
        FindingId::NoRemoteDesktopRight,
        Severity::Error,
        format!(
            "logons denied: {} may not log on through Remote Desktop",
            accounts.join(", ")
        ),
    )
    .evidence(b.tally.evidence(format!(
        "denied Remote Desktop logons: {}",
        breakdown_lines(b, 10).join(", ")
    )));
    for a in accounts {
        f = f.remedy(Remedy::run(
            format!("Add {a} to Remote Desktop Users (or grant it 'Allow log on through Remote Desktop Services')"),
            Machine::Host,
            format!("net localgroup \"Remote Desktop Users\" \"{a}\" /add"),
        ));
    }
    Some(f)
}

pub fn failed_logons(b: &Breakdown) -> Option<Finding> {
    (!b.tally.is_empty()).then(|| {
        Finding::new(
            FindingId::FailedLogons,
            Severity::Info,
            format!("{} failed logon(s)", b.tally.count),
        )
        .evidence(b.tally.evidence(breakdown_lines(b, 10).join(", ")))
        .remedy(Remedy::advice(
            "Check the account name, password, expiry and lockout",
        ))
        .remedies(most_frequent_code(b).map(|c| explain("the most frequent status", c)))
    })
}

pub fn incomplete_connections_refused(t: &Tally) -> Option<Finding> {
    (!t.is_empty()).then(|| {
        Finding::new(
            FindingId::ConnectionFlood,
            Severity::Error,
            "TermService saw a large number of incomplete connections and refused new ones",
        )
        .evidence(t.evidence("TermService refused new connections"))
        .remedy(Remedy::advice(
            "Block the flood's source; raise MaxOutstandingConnections only if the connections are legitimate",
        ))
    })
}

pub fn connection_flood(address: &str, t: &Tally, times: &[f64], o: &Options) -> Option<Finding> {
    let peak = max_in_window(times, o.flood_window);
    (peak >= o.flood_threshold).then(|| {
        Finding::new(
            FindingId::ConnectionFlood,
            Severity::Warning,
            format!(
                "connection flood from {address}: {peak} connections within {:.0} s",
                o.flood_window
            ),
        )
        .evidence(t.evidence(format!("connections from {address}")))
        .remedy(Remedy::run(
            format!("Block {address} at the host's firewall"),
            Machine::Host,
            format!(
                "New-NetFirewallRule -DisplayName 'Block RDP flood {address}' -Direction Inbound -RemoteAddress {address} -Action Block"
            ),
        ))
    })
}

pub fn listener_errors(t: &Tally) -> Option<Finding> {
    (!t.is_empty()).then(|| {
        Finding::new(
            FindingId::ListenerErrors,
            Severity::Warning,
            "the listener or the RDP protocol driver reported errors (RCM 1050-1055, TermDD 50/56)",
        )
        .evidence(t.evidence("listener or protocol driver errors"))
        .remedy(Remedy::advice(
            "Check the listener's security layer settings and certificate",
        ))
        .remedy(explain("event 56", "event 56"))
    })
}

pub fn client_disconnects(b: &Breakdown, errors: usize) -> Option<Finding> {
    if b.tally.is_empty() {
        return None;
    }
    let severity = if errors > 0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    Some(
        Finding::new(
            FindingId::ClientDisconnects,
            severity,
            format!(
                "the client logged {} disconnect(s), {errors} with an error reason",
                b.tally.count
            ),
        )
        .evidence(b.tally.evidence(breakdown_lines(b, 10).join(", ")))
        .remedy(Remedy::advice(
            "Read each error reason with: rdp-doctor explain REASON",
        )),
    )
}

pub fn gateway_refusals(problem: GatewayProblem, b: &Breakdown) -> Finding {
    let (id, severity, title, fix) = match problem {
        GatewayProblem::NoCap => (
            FindingId::GatewayNoCap,
            Severity::Error,
            "the RD Gateway refused users: no connection authorization policy (RD CAP) admits them",
            "Add the user, or a group of theirs, to the user groups of an RD CAP and check its authentication method (RD Gateway Manager, Connection Authorization Policies)",
        ),
        GatewayProblem::NoRap => (
            FindingId::GatewayNoRap,
            Severity::Error,
            "the RD Gateway refused resources: no resource authorization policy (RD RAP) lets the user reach them",
            "Add the host, by the exact name the client uses (FQDN, NetBIOS name or address), to the computer group of an RD RAP that includes the user",
        ),
        GatewayProblem::HostUnreachable => (
            FindingId::GatewayCannotReachHost,
            Severity::Error,
            "the RD Gateway authorized the connection but could not reach the host",
            "Check the host from the gateway: Remote Desktop enabled, port 3389 open to the gateway, the name resolves there (rdp-doctor diagnose HOST)",
        ),
        GatewayProblem::Refused => (
            FindingId::GatewayRefused,
            Severity::Warning,
            "the RD Gateway did not let users in: connection limit, authentication method or tunnel",
            "Check the gateway's allowed authentication methods (password, smart card), its SSL certificate and its maximum number of connections",
        ),
    };
    Finding::new(id, severity, title)
        .evidence(b.tally.evidence(breakdown_lines(b, 10).join("; ")))
        .remedy(Remedy::advice(fix))
}

pub fn never_authenticated(
    address: &str,
    attempts: &Tally,
    logons: usize,
    server: Option<&str>,
) -> Option<Finding> {
    (attempts.count >= 3 && logons == 0).then(|| {
        Finding::new(
            FindingId::NeverAuthenticated,
            Severity::Warning,
            format!(
                "{address}: {} connections reached the server, none authenticated",
                attempts.count
            ),
        )
        .evidence(attempts.evidence(format!(
            "connections from {address}; no 1149/4624/4625 for this address: they ended during TLS or CredSSP (or were scans)"
        )))
        .remedy(Remedy::run(
            "Probe the host from the client",
            Machine::Client,
            format!("rdp-doctor diagnose {}", server.unwrap_or("HOST")),
        ))
        .remedy(Remedy::advice("Check the host's Schannel and TermService events"))
    })
}

#[cfg(test)]
mod tests;
