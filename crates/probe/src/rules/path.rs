//! Path rules: stalls and cuts per phase, the MTU black hole, repeated
//! handshakes, and a limit of one connection at a time.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Remedy, Severity};

use super::{advice, on_client, phase_evidence};
use crate::path::PhaseEnd;
use crate::report::*;
use crate::text;

/// Some repeated handshakes succeeded: a failure of the main attempt is intermittent.
pub(crate) fn connects_sometimes(r: &ProbeReport) -> bool {
    r.path.repeat.as_ref().is_some_and(|s| s.succeeded > 0)
}

/// The TLS failure is explained by the path (a stall, or a cut after the
/// server began its answer), not by the certificate or the TLS settings.
pub(crate) fn explains_tls_failure(r: &ProbeReport) -> bool {
    r.path
        .traffic_of(PhaseName::Tls)
        .is_some_and(|t| match t.end {
            PhaseEnd::TimedOut => true,
            PhaseEnd::Reset | PhaseEnd::Closed => server_began_tls(r),
            _ => false,
        })
}

/// The server's first bytes in the TLS phase were a TLS handshake record.
fn server_began_tls(r: &ProbeReport) -> bool {
    r.tls
        .as_ref()
        .is_some_and(|t| t.server_first_byte == Some(0x16))
}

fn mtu_remedies() -> Vec<Remedy> {
    vec![
        Remedy::run(
            "Clamp the TCP MSS on the VPN gateway or firewall to the tunnel's MTU",
            rdp_doctor_model::Machine::Elsewhere,
            "iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
        ),
        on_client(
            "Or lower the MTU of the tunnel interface on the client (netsh interface ipv4 show subinterfaces lists the names)",
            "netsh interface ipv4 set subinterface \"VPN-ADAPTER\" mtu=1350 store=persistent",
        ),
        advice("Let ICMP 'fragmentation needed' (type 3 code 4; ICMPv6 packet too big) through the firewalls, so path MTU discovery works"),
    ]
}

/// The path rules: stalls and cuts per phase, the MTU black hole, repeated
/// handshakes, and a limit of one connection at a time.
pub(super) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    stall_rules(r, out);
    repeat_rules(r, out);
    connection_limit_rule(r, out);
}

fn stall_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    for phase in [PhaseName::Tls, PhaseName::Credssp] {
        let Some(t) = r.path.traffic_of(phase) else {
            continue;
        };
        let mut ev: Vec<Evidence> = vec![Evidence::probe(phase, t.describe())];
        ev.extend(phase_evidence(r, phase));
        match t.end {
            PhaseEnd::TimedOut => {
                let retry = r
                    .path
                    .mss_retry
                    .as_ref()
                    .filter(|_| phase == PhaseName::Tls);
                if let Some(retry) = retry.filter(|m| m.tls_completed) {
                    ev.push(Evidence::probe(phase, format!(
                        "a retry with MSS {} (segments of at most {} bytes) completed TLS: {} byte(s) came back",
                        retry.mss, retry.mss, retry.tls_bytes_received
                    )));
                    out.push(Finding::new(FindingId::MtuBlackHole, Severity::Error, "MTU black hole on the path (confirmed by a small-MSS retry): small packets pass, the server's full-size TLS packets never arrive").evidences(ev).remedies(mtu_remedies()));
                    continue;
                }
                if let Some(retry) = retry {
                    ev.push(Evidence::probe(
                        phase,
                        format!(
                        "a retry with MSS {} did not complete TLS either ({}): not an MTU problem",
                        retry.mss,
                        retry.error.as_deref().unwrap_or("no answer")
                    ),
                    ));
                }
                let title = if !t.counted {
                    format!("stall at {}: no answer before the deadline", phase.label())
                } else if t.bytes_received == 0 {
                    format!(
                        "stall at {}: {} byte(s) sent ({} acknowledged), nothing came back",
                        phase.label(),
                        t.bytes_sent,
                        t.bytes_acked
                    )
                } else {
                    format!(
                        "stall at {}: {} byte(s) sent, {} byte(s) came back, then nothing",
                        phase.label(),
                        t.bytes_sent,
                        t.bytes_received
                    )
                };
                out.push(Finding::new(FindingId::StallAtPhase, Severity::Error, title).evidences(ev).remedy(advice("A middlebox (VPN, IPS, proxy) swallows the connection after the TCP handshake, or the listener hangs (restart TermService)")));
            }
            PhaseEnd::Reset | PhaseEnd::Closed
                if phase == PhaseName::Credssp || server_began_tls(r) =>
            {
                let how = if t.end == PhaseEnd::Reset {
                    "reset"
                } else {
                    "closed"
                };
                let after = if t.bytes_received == 0 {
                    "before the server answered".to_string()
                } else {
                    format!("after {} byte(s) came back", t.bytes_received)
                };
                out.push(Finding::new(FindingId::ResetDuringSecurity, Severity::Error, format!("the connection was {how} during {} {after}", phase.label())).evidences(ev).remedy(advice("Something on the path (IPS, proxy, load balancer idle or size limit) cuts the connection mid-handshake; compare with a client on the server's own network")));
            }
            _ => {}
        }
    }
}

fn repeat_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(s) = &r.path.repeat else { return };
    // Nothing ever connected: the phases' own finding (refused, filtered, …) says it all.
    if s.attempts == 0 || (s.succeeded == 0 && r.tcp != Some(TcpOutcome::Connected)) {
        return;
    }
    let mut summary = format!(
        "{} of {} {} handshakes succeeded ({:.0}%), {} timed out",
        s.succeeded,
        s.attempts,
        s.handshake,
        s.success_rate * 100.0,
        s.timeouts
    );
    if let Some(h) = s.handshake_ms {
        summary.push_str(&format!(
            "; handshake min/median/max {:.1}/{:.1}/{:.1} ms",
            h.min, h.median, h.max
        ));
    }
    if let Some(j) = s.jitter_ms {
        summary.push_str(&format!(", jitter {j:.1} ms"));
    }
    if s.not_run > 0 {
        summary.push_str(&format!(
            "; {} of the {} asked for not run (the time budget ran out)",
            s.not_run, s.requested
        ));
    }
    let mut ev = vec![Evidence::probe(PhaseName::Tcp, summary)];
    for a in s.runs.iter().filter(|a| !a.ok).take(5) {
        let at = a.failed_at.unwrap_or(PhaseName::Tcp);
        ev.push(Evidence::probe(at, a.error.clone().unwrap_or_default()));
    }
    if s.failed > 0 {
        let severity = if s.success_rate < 0.9 {
            Severity::Error
        } else {
            Severity::Warning
        };
        let title = if s.succeeded == 0 {
            format!("every one of {} repeated handshakes failed", s.attempts)
        } else {
            format!(
                "intermittent failures: {} of {} repeated handshakes failed ({} by timeout: packet loss)",
                s.failed, s.attempts, s.timeouts
            )
        };
        out.push(Finding::new(FindingId::IntermittentHandshakes, severity, title).evidences(ev.clone()).remedy(advice("Look for loss on the path: a saturated or flaky link, Wi-Fi, or a VPN; run again from a client closer to the server to find the segment")));
    }
    if s.retransmits > 0 || s.timeouts > 0 {
        out.push(Finding::new(FindingId::PacketLoss, Severity::Warning, format!(
                "packet loss: {} retransmission(s) and {} timeout(s) in {} handshakes",
                s.retransmits, s.timeouts, s.attempts
            )).evidences(ev.clone()).remedy(advice("RDP over a lossy path freezes and drops; fix the link, or use RDP over UDP where the loss is in bursts")));
    }
    if let (Some(j), Some(h)) = (s.jitter_ms, s.handshake_ms) {
        if s.succeeded >= 3 && j > 30.0 && j > h.median * 0.1 {
            out.push(Finding::new(FindingId::HighJitter, Severity::Warning, format!(
                    "high jitter: consecutive handshakes differ by {j:.1} ms on average (median {:.1} ms)",
                    h.median
                )).evidences(ev).remedy(advice("Queues on the path (bufferbloat, a saturated uplink or VPN) delay packets unevenly; apply QoS or find the congested hop")));
        }
    }
}

/// The main connection got an answer while the concurrent ones were refused or cut.
fn connection_limit_rule(r: &ProbeReport, out: &mut Vec<Finding>) {
    let main_answered = r.negotiated.as_ref().is_some_and(|n| n.outcome.answered());
    if !main_answered || r.protocols.is_empty() {
        return;
    }
    let turned_away: Vec<&ProtocolProbe> = r
        .protocols
        .iter()
        .filter(|p| {
            matches!(
                p.outcome,
                NegotiationOutcome::Closed
                    | NegotiationOutcome::ConnectFailed {
                        outcome: TcpOutcome::Refused | TcpOutcome::Reset
                    }
            )
        })
        .collect();
    if turned_away.is_empty() {
        return;
    }
    let ev: Vec<Evidence> = turned_away
        .iter()
        .map(|p| {
            let name = p.requested.first().map(|p| p.name()).unwrap_or_default();
            let what = match &p.outcome {
                NegotiationOutcome::Closed => "accepted, then closed without an answer".to_string(),
                other => text::negotiation(other),
            };
            Evidence::probe(PhaseName::X224, format!("{name}: {what}"))
        })
        .collect();
    out.push(Finding::new(FindingId::ConcurrentConnectionsRefused, Severity::Warning, format!(
            "connection limit: the server answered one connection while {} of {} concurrent ones were turned away",
            turned_away.len(),
            r.protocols.len()
        )).evidences(ev).remedy(advice("A second user (or a reconnect while the old session's connection lingers) is refused: check MaxOutstandingConnections, a per-source connection limit on the firewall (connlimit, Azure/AWS security appliances), and TermService event 1006")));
}
