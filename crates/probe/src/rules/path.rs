//! Path rules: stalls and cuts per phase, the MTU black hole, repeated
//! handshakes, and a limit of one connection at a time.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Remedy, Severity};

use super::{advice, on_client, phase_evidence};
use crate::path::{PhaseEnd, PhaseTraffic, RepeatStats};
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

/// The path rules name what ended `phase`: a stall, or a cut.
pub(crate) fn explains_phase_end(r: &ProbeReport, phase: PhaseName) -> bool {
    r.path.traffic_of(phase).is_some_and(|t| {
        matches!(
            t.end,
            PhaseEnd::TimedOut | PhaseEnd::Reset | PhaseEnd::Closed
        )
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
    for phase in [PhaseName::Tls, PhaseName::Credssp, PhaseName::Mcs] {
        let Some(t) = r.path.traffic_of(phase) else {
            continue;
        };
        let mut ev: Vec<Evidence> = vec![Evidence::probe(phase, t.describe())];
        ev.extend(phase_evidence(r, phase));
        let cut = matches!(t.end, PhaseEnd::Reset | PhaseEnd::Closed)
            && (phase != PhaseName::Tls || server_began_tls(r));
        if t.end == PhaseEnd::TimedOut {
            out.push(stall(r, phase, t, ev));
        } else if cut {
            out.push(cut_mid_handshake(phase, t, ev));
        }
    }
}

/// A phase that timed out: an MTU black hole when the small-MSS retry completed TLS, else a stall.
fn stall(r: &ProbeReport, phase: PhaseName, t: &PhaseTraffic, mut ev: Vec<Evidence>) -> Finding {
    let retry = r
        .path
        .mss_retry
        .as_ref()
        .filter(|_| phase == PhaseName::Tls);
    if let Some(retry) = retry.filter(|m| m.tls_completed) {
        ev.push(Evidence::probe(
            phase,
            format!(
                "a retry with MSS {} (segments of at most {} bytes) completed TLS: {} byte(s) came back",
                retry.mss, retry.mss, retry.tls_bytes_received
            ),
        ));
        return Finding::new(
            FindingId::MtuBlackHole,
            Severity::Error,
            "MTU black hole on the path (confirmed by a small-MSS retry): small packets pass, the server's full-size TLS packets never arrive",
        )
        .evidences(ev)
        .remedies(mtu_remedies());
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
    Finding::new(FindingId::StallAtPhase, Severity::Error, stall_title(phase, t))
        .evidences(ev)
        .remedy(advice("A middlebox (VPN, IPS, proxy) swallows the connection after the TCP handshake, or the listener hangs (restart TermService)"))
}

fn stall_title(phase: PhaseName, t: &PhaseTraffic) -> String {
    let at = phase.label();
    if !t.counted {
        format!("stall at {at}: no answer before the deadline")
    } else if t.bytes_received == 0 {
        format!(
            "stall at {at}: {} byte(s) sent ({} acknowledged), nothing came back",
            t.bytes_sent, t.bytes_acked
        )
    } else {
        format!(
            "stall at {at}: {} byte(s) sent, {} byte(s) came back, then nothing",
            t.bytes_sent, t.bytes_received
        )
    }
}

fn cut_mid_handshake(phase: PhaseName, t: &PhaseTraffic, ev: Vec<Evidence>) -> Finding {
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
    Finding::new(
        FindingId::ResetDuringSecurity,
        Severity::Error,
        format!("the connection was {how} during {} {after}", phase.label()),
    )
    .evidences(ev)
    .remedy(advice("Something on the path (IPS, proxy, load balancer idle or size limit) cuts the connection mid-handshake; compare with a client on the server's own network"))
}

/// The series in one line, then up to five failures.
fn repeat_evidence(s: &RepeatStats) -> Vec<Evidence> {
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
    let failures = s.runs.iter().filter(|a| !a.ok).take(5).map(|a| {
        let at = a.failed_at.unwrap_or(PhaseName::Tcp);
        Evidence::probe(at, a.error.clone().unwrap_or_default())
    });
    std::iter::once(Evidence::probe(PhaseName::Tcp, summary))
        .chain(failures)
        .collect()
}

fn repeat_rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    let Some(s) = &r.path.repeat else { return };
    // Nothing ever connected: the phases' own finding (refused, filtered, …) says it all.
    if s.attempts == 0 || (s.succeeded == 0 && r.tcp != Some(TcpOutcome::Connected)) {
        return;
    }
    let ev = repeat_evidence(s);
    let found = [intermittent(s), packet_loss(s), high_jitter(s)];
    out.extend(found.into_iter().flatten().map(|f| f.evidences(ev.clone())));
}

fn intermittent(s: &RepeatStats) -> Option<Finding> {
    if s.failed == 0 {
        return None;
    }
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
    Some(
        Finding::new(FindingId::IntermittentHandshakes, severity, title)
            .remedy(advice("Look for loss on the path: a saturated or flaky link, Wi-Fi, or a VPN; run again from a client closer to the server to find the segment")),
    )
}

fn packet_loss(s: &RepeatStats) -> Option<Finding> {
    (s.retransmits > 0 || s.timeouts > 0).then(|| {
        Finding::new(
            FindingId::PacketLoss,
            Severity::Warning,
            format!(
                "packet loss: {} retransmission(s) and {} timeout(s) in {} handshakes",
                s.retransmits, s.timeouts, s.attempts
            ),
        )
        .remedy(advice("RDP over a lossy path freezes and drops; fix the link, or use RDP over UDP where the loss is in bursts"))
    })
}

fn high_jitter(s: &RepeatStats) -> Option<Finding> {
    let (j, h) = (s.jitter_ms?, s.handshake_ms?);
    (s.succeeded >= 3 && j > 30.0 && j > h.median * 0.1).then(|| {
        Finding::new(
            FindingId::HighJitter,
            Severity::Warning,
            format!(
                "high jitter: consecutive handshakes differ by {j:.1} ms on average (median {:.1} ms)",
                h.median
            ),
        )
        .remedy(advice("Queues on the path (bufferbloat, a saturated uplink or VPN) delay packets unevenly; apply QoS or find the congested hop"))
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Attempt, MssRetry};
    use crate::rules::test_reports::*;

    fn tls_stalled() -> ProbeReport {
        let mut r = report();
        r.phases
            .push(phase(PhaseName::Tls, Status::Fail, "TLS failed"));
        r.path.traffic.push(PhaseTraffic {
            phase: PhaseName::Tls,
            bytes_sent: 300,
            bytes_acked: 300,
            bytes_received: 0,
            retransmits: 2,
            end: PhaseEnd::TimedOut,
            counted: true,
        });
        r
    }

    #[test]
    fn a_tls_stall_is_net005_and_an_mtu_black_hole_with_a_good_retry() {
        let mut out = Vec::new();
        stall_rules(&tls_stalled(), &mut out);
        assert_eq!(out[0].id, FindingId::StallAtPhase);
        assert!(
            out[0].title.contains("300 byte(s) sent"),
            "{}",
            out[0].title
        );
        let mut r = tls_stalled();
        r.path.mss_retry = Some(MssRetry {
            mss: 536,
            effective_mss: Some(536),
            connected: true,
            x224_ok: true,
            tls_completed: true,
            tls_bytes_received: 1200,
            duration_ms: 5.0,
            error: None,
        });
        let mut out = Vec::new();
        stall_rules(&r, &mut out);
        assert_eq!(out[0].id, FindingId::MtuBlackHole);
    }

    #[test]
    fn repeats_that_fail_sometimes_are_intermittent_and_lossy() {
        let mut r = report();
        r.tcp = Some(TcpOutcome::Connected);
        let ok = Attempt {
            ok: true,
            handshake_ms: 5.0,
            ..Attempt::default()
        };
        let mut lost = Attempt::default();
        lost.fail(PhaseName::Tcp, "no answer to SYN".into(), true);
        let runs = vec![ok.clone(), lost, ok.clone(), ok];
        r.path.repeat = Some(RepeatStats::from_attempts(6, "tcp+x224", runs));
        let mut out = Vec::new();
        repeat_rules(&r, &mut out);
        let ids: Vec<FindingId> = out.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [FindingId::IntermittentHandshakes, FindingId::PacketLoss]
        );
        assert!(out[0].evidence[0]
            .line()
            .contains("2 of the 6 asked for not run"));
    }
}
