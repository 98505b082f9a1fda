//! DNS and TCP: the name, the port, the route.

use rdp_doctor_model::{Evidence, Finding, FindingId, PhaseName, Remedy, Severity};

use super::{advice, on_client, on_host, phase_evidence, set_on_host};
use crate::report::*;

pub(super) fn rules(r: &ProbeReport, out: &mut Vec<Finding>) {
    if r.phase(PhaseName::Dns)
        .is_some_and(|p| p.status == Status::Fail)
    {
        out.push(name_does_not_resolve(r));
        return;
    }
    out.extend(tcp_failure(r));
    out.extend(slow_or_lossy(r));
}

fn name_does_not_resolve(r: &ProbeReport) -> Finding {
    Finding::new(
        FindingId::NameDoesNotResolve,
        Severity::Error,
        format!("{} does not resolve", r.host),
    )
    .evidences(phase_evidence(r, PhaseName::Dns))
    .remedy(on_client("Check what the client's resolver answers", &format!("nslookup {}", r.host)))
    .remedy(advice("Correct the DNS record or connect by IP address; check the DNS suffix and the VPN's split DNS"))
}

/// Routing, VPN and gateway: what an address without a route needs.
fn unreachable_remedies(r: &ProbeReport, what: Unreachable) -> Vec<Remedy> {
    let target = r
        .addresses
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| r.host.clone());
    let mut v = vec![
        on_client("See which route (if any) the client has to the address", &format!("route print (Windows) / ip route get {target} (Linux)")),
        advice("Connect the VPN that reaches the host's network, or add its route (split tunnelling may leave this network out)"),
        advice("Connect through an RD Gateway (gatewayhostname in the .rdp file) when the host is not routed from here"),
    ];
    if what == Unreachable::Host {
        v.insert(1, advice("The last router cannot reach the host: check that it is up and on the subnet (ARP), and the router's ACLs"));
    }
    v
}

fn tcp_failure(r: &ProbeReport) -> Option<Finding> {
    let ev = phase_evidence(r, PhaseName::Tcp);
    let f = match r.tcp.as_ref()? {
        TcpOutcome::Refused => Finding::new(
            FindingId::PortRefused,
            Severity::Error,
            format!("nothing accepts connections on port {} (refused)", r.port),
        )
        .remedy(on_host("Is TermService running and the listener on this port?", "qwinsta; Get-Service TermService"))
        .remedy(set_on_host("If Remote Desktop is off, turn it on", "CurrentControlSet\\Control\\Terminal Server", "fDenyTSConnections", 0))
        .remedy(advice("Check the host's firewall for an inbound rule allowing TCP to this port (rdp-doctor host check)")),
        // Filtered never connects; when repeated handshakes did, the path loses packets (PATH002).
        TcpOutcome::TimedOut if !super::path::connects_sometimes(r) => Finding::new(
            FindingId::PortFiltered,
            Severity::Error,
            format!("port {} is filtered: SYN got no answer", r.port),
        )
        .remedy(advice("A firewall drops the SYN (host, network or cloud security group): allow TCP to this port from the client, or the host is down")),
        TcpOutcome::Unreachable { what } => Finding::new(
            FindingId::TcpUnreachable,
            Severity::Error,
            match what {
                Unreachable::Network => "no route to the host's network from this machine".to_string(),
                Unreachable::Host => "the host is unreachable (ICMP host unreachable)".to_string(),
            },
        )
        .remedies(unreachable_remedies(r, *what)),
        TcpOutcome::Reset | TcpOutcome::Error { .. } => Finding::new(
            FindingId::TcpUnreachable,
            Severity::Error,
            "the TCP connection cannot be made (reset)",
        )
        .remedy(advice("Something on the path resets the connection: compare with a client on the host's own network")),
        _ => return None,
    };
    Some(f.evidences(ev))
}

fn slow_or_lossy(r: &ProbeReport) -> Option<Finding> {
    let s = r.tcp_stats?;
    if s.retransmits_total == 0 && s.rtt_ms <= 300.0 {
        return None;
    }
    Some(
        Finding::new(
            FindingId::SlowOrLossyPath,
            Severity::Warning,
            format!(
                "the path is slow or lossy: RTT {:.1} ms, {} retransmission(s) during the probe",
                s.rtt_ms, s.retransmits_total
            ),
        )
        .evidence(Evidence::probe(
            PhaseName::Tcp,
            format!(
                "kernel TCP_INFO: rtt {:.2} ms, rttvar {:.2} ms, retransmits {}",
                s.rtt_ms, s.rtt_var_ms, s.retransmits_total
            ),
        ))
        .remedy(advice("Find the slow or lossy hop (a saturated link, Wi-Fi, a VPN): run the probe from a client nearer the host")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_reports::*;
    use rdp_doctor_model::Action;

    #[test]
    fn no_route_gets_routing_vpn_and_gateway_remedies_not_mtu_ones() {
        let mut r = report();
        r.tcp = Some(TcpOutcome::Unreachable {
            what: Unreachable::Network,
        });
        r.phases
            .push(phase(PhaseName::Tcp, Status::Fail, "network unreachable"));
        let f = tcp_failure(&r).expect("a finding");
        assert_eq!(f.id, FindingId::TcpUnreachable);
        let words: Vec<String> = f
            .remedies
            .iter()
            .map(|m| {
                let cmds: Vec<String> = m.actions.iter().map(Action::path).collect();
                format!("{} {}", m.title, cmds.join(" "))
            })
            .collect();
        let all = words.join("\n");
        for needed in ["route", "VPN", "Gateway"] {
            assert!(all.contains(needed), "{needed}: {all}");
        }
        for wrong in ["MTU", "fClientDisableUDP", "MSS"] {
            assert!(!all.contains(wrong), "{wrong}: {all}");
        }
    }

    #[test]
    fn refused_and_filtered_are_told_apart() {
        let mut r = report();
        r.tcp = Some(TcpOutcome::Refused);
        assert_eq!(tcp_failure(&r).map(|f| f.id), Some(FindingId::PortRefused));
        r.tcp = Some(TcpOutcome::TimedOut);
        assert_eq!(tcp_failure(&r).map(|f| f.id), Some(FindingId::PortFiltered));
        r.tcp = Some(TcpOutcome::Connected);
        assert!(tcp_failure(&r).is_none());
    }
}
