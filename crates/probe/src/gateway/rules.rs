//! Rules from a [`GatewayReport`] to findings. Pure.

use rdp_doctor_codes::{tables, Namespace};
use rdp_doctor_model::{Evidence, Finding, FindingId, Machine, PhaseName, Remedy, Severity};

use super::{decoded_codes, Exchange, GatewayReport};
use crate::report::{TcpOutcome, TlsFacts};
use crate::wire::rdg_http::{AuthScheme, HttpAnswer, NamedCode};

/// The findings of one gateway check, in the order a connection meets them.
pub fn gateway_findings(r: &GatewayReport) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(reachability(r));
    if let Some(tls) = &r.tls {
        out.extend(certificate(tls, &r.host));
    }
    out.extend(out_channel(&r.out_data));
    out.extend(websocket(&r.websocket));
    out
}

fn probe(phase: PhaseName, observed: String) -> Evidence {
    Evidence::probe(phase, observed)
}

fn reachability(r: &GatewayReport) -> Option<Finding> {
    let Some(tcp) = &r.tcp else {
        return Some(
            Finding::new(
                FindingId::NameDoesNotResolve,
                Severity::Error,
                "the RD Gateway's name does not resolve",
            )
            .evidence(probe(PhaseName::Dns, format!("{} has no address", r.host)))
            .remedy(Remedy::advice(
                "Use the gateway's public name, and check that clients' DNS resolves it",
            )),
        );
    };
    let said = match tcp {
        TcpOutcome::Connected => return None,
        TcpOutcome::Refused => "TCP refused: nothing listens on the port, or a firewall rejects",
        TcpOutcome::TimedOut => "no answer to the TCP SYN: a firewall drops, or the host is down",
        TcpOutcome::Reset => "reset during the TCP handshake",
        TcpOutcome::Unreachable { .. } => "ICMP unreachable or no route",
        TcpOutcome::Error { .. } => "the connection failed",
    };
    let address = r.address.map_or_else(|| r.host.clone(), |a| a.to_string());
    Some(
        Finding::new(
            FindingId::GatewayNotReachable,
            Severity::Error,
            "the RD Gateway's HTTPS port does not answer",
        )
        .evidence(probe(PhaseName::Tcp, format!("{address}: {said}")))
        .remedy(Remedy::run(
            "Check that the Remote Desktop Gateway service runs and IIS listens on the port",
            Machine::Host,
            "Get-Service TSGateway, W3SVC; Get-NetTCPConnection -State Listen -LocalPort 443",
        ))
        .remedy(Remedy::advice(
            "Allow inbound TCP to the gateway's HTTPS port in every firewall on the way",
        )),
    )
}

fn certificate(tls: &TlsFacts, host: &str) -> Option<Finding> {
    let mut evidence = Vec::new();
    let mut severity = Severity::Warning;
    if let Some(failure) = &tls.failure {
        severity = Severity::Error;
        evidence.push(probe(
            PhaseName::Tls,
            format!("the TLS handshake failed: {failure:?}"),
        ));
    }
    if let Some(leaf) = tls.chain.first() {
        let mut problem = |error: bool, text: String| {
            if error {
                severity = Severity::Error;
            }
            evidence.push(probe(PhaseName::Tls, text));
        };
        // Clients refuse a gateway whose certificate they cannot verify: no "connect anyway".
        if tls.expired == Some(true) {
            problem(
                true,
                format!("the certificate expired on {}", leaf.not_after),
            );
        }
        if tls.not_yet_valid == Some(true) {
            problem(
                true,
                format!("the certificate is valid only from {}", leaf.not_before),
            );
        }
        if tls.name_matches == Some(false) {
            problem(
                true,
                format!(
                    "the certificate ({}; SAN {}) does not name {host}",
                    leaf.subject,
                    leaf.subject_alt_names.join(", ")
                ),
            );
        }
        if leaf.self_signed {
            problem(
                false,
                format!(
                    "self-signed ({}): every client must trust it in its Trusted Root store",
                    leaf.sha1_thumbprint
                ),
            );
        }
    }
    if evidence.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            FindingId::GatewayCertificate,
            severity,
            "the RD Gateway's TLS certificate will not be accepted by every client",
        )
        .evidences(evidence)
        .remedy(Remedy::advice(
            "Bind a certificate that names the gateway (subject or SAN), is valid now and chains to a \
             CA clients trust: RD Gateway Manager > server Properties > SSL Certificate",
        )),
    )
}

fn out_channel(x: &Exchange) -> Option<Finding> {
    let no_gateway = |observed: String| {
        Finding::new(
            FindingId::GatewayNoHttpTransport,
            Severity::Error,
            "the server does not answer as an RD Gateway",
        )
        .evidence(probe(PhaseName::Gateway, observed))
        .remedy(Remedy::advice(
            "Check the gateway name and port in the client (a web server or a reverse proxy that \
             does not pass RDG_OUT_DATA to /remoteDesktopGateway/ answers otherwise)",
        ))
    };
    match x {
        Exchange::NoConnection => None,
        Exchange::Closed { received } => Some(no_gateway(format!(
            "the connection closed after RDG_OUT_DATA ({received} bytes of answer)"
        ))),
        Exchange::TimedOut { received } => Some(no_gateway(format!(
            "no complete answer to RDG_OUT_DATA before the deadline ({received} bytes)"
        ))),
        Exchange::NotHttp { bytes, error } => Some(no_gateway(format!(
            "the answer to RDG_OUT_DATA is not HTTP ({error}): {}",
            bytes
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))),
        Exchange::Answered { answer, .. } => answered(answer, no_gateway),
    }
}

fn status_line(a: &HttpAnswer) -> String {
    let server = a
        .header("server")
        .map(|s| format!(", Server: {s}"))
        .unwrap_or_default();
    format!("HTTP {} {}{server}", a.status, a.reason)
}

fn answered(a: &HttpAnswer, no_gateway: impl Fn(String) -> Finding) -> Option<Finding> {
    if !a.codes.is_empty() || matches!(a.status, 403 | 500 | 502 | 503) {
        return Some(refused(a));
    }
    match a.status {
        401 => Some(schemes(a)),
        200 => Some(
            Finding::new(
                FindingId::GatewayAuthSchemes,
                Severity::Info,
                "the RD Gateway opened the OUT channel without authentication",
            )
            .evidence(probe(PhaseName::Gateway, status_line(a))),
        ),
        _ => Some(no_gateway(format!(
            "RDG_OUT_DATA /remoteDesktopGateway/ was answered {}",
            status_line(a)
        ))),
    }
}

fn refused(a: &HttpAnswer) -> Finding {
    let t = tables();
    let mut f = Finding::new(
        FindingId::GatewayRefusesRequest,
        Severity::Error,
        "the RD Gateway refuses the connection",
    )
    .evidence(probe(PhaseName::Gateway, status_line(a)))
    .evidences(decoded_codes(a));
    for code in &a.codes {
        let entry = match code {
            NamedCode::Name(n) => t.lookup_name(n).find(|e| e.namespace == Namespace::Gateway),
            NamedCode::Number(n) => t.lookup(Namespace::Gateway, *n).next(),
        };
        if let Some(hint) = entry.and_then(|e| e.hint.clone()) {
            f = f.remedy(Remedy::advice(hint));
        }
    }
    if f.remedies.is_empty() {
        f = f.remedy(Remedy::advice(
            "Look at the gateway's TerminalServices-Gateway/Operational log at this time \
             (rdp-doctor logs) for the request's event and code",
        ));
    }
    f
}

fn schemes(a: &HttpAnswer) -> Finding {
    let names: Vec<&str> = a.auth_schemes.iter().map(AuthScheme::name).collect();
    let usable = a
        .auth_schemes
        .iter()
        .any(|s| matches!(s, AuthScheme::Negotiate | AuthScheme::Ntlm));
    let observed = if names.is_empty() {
        format!("{}, no WWW-Authenticate scheme", status_line(a))
    } else {
        format!("{}, WWW-Authenticate: {}", status_line(a), names.join(", "))
    };
    let f = Finding::new(
        FindingId::GatewayAuthSchemes,
        if usable {
            Severity::Info
        } else {
            Severity::Warning
        },
        if usable {
            "the RD Gateway asks for authentication"
        } else {
            "the RD Gateway offers no scheme Windows clients use (Negotiate, NTLM)"
        },
    )
    .evidence(probe(PhaseName::Gateway, observed));
    if usable {
        f
    } else {
        f.remedy(Remedy::advice(
            "Enable Windows authentication (Negotiate and NTLM) for the gateway's \
             /remoteDesktopGateway/ resource, or use a client that speaks the offered scheme",
        ))
    }
}

fn websocket(x: &Exchange) -> Option<Finding> {
    let Exchange::Answered { answer, .. } = x else {
        return None;
    };
    let title = if answer.is_websocket_upgrade() {
        "the RD Gateway accepts the websocket upgrade without authentication"
    } else if answer.status == 401 {
        "the RD Gateway asks for authentication before the websocket upgrade"
    } else {
        "the RD Gateway does not offer the websocket transport: clients use RDG_IN_DATA/RDG_OUT_DATA"
    };
    Some(
        Finding::new(FindingId::GatewayWebsocket, Severity::Info, title)
            .evidence(probe(PhaseName::Gateway, status_line(answer))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rdg_http::parse_answer;

    fn report(out_data: &[u8]) -> GatewayReport {
        GatewayReport {
            host: "gw.example".into(),
            port: 443,
            address: None,
            tcp: Some(TcpOutcome::Connected),
            tls: None,
            out_data: Exchange::Answered {
                answer: parse_answer(out_data).expect("answer"),
                elapsed_ms: 1,
            },
            websocket: Exchange::NoConnection,
        }
    }

    fn ids(r: &GatewayReport) -> Vec<(FindingId, Severity)> {
        gateway_findings(r)
            .iter()
            .map(|f| (f.id, f.severity))
            .collect()
    }

    #[test]
    fn a_401_with_negotiate_is_info_and_basic_alone_a_warning() {
        let ok = report(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n\r\n");
        assert_eq!(ids(&ok), [(FindingId::GatewayAuthSchemes, Severity::Info)]);
        let basic =
            report(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n");
        assert_eq!(
            ids(&basic),
            [(FindingId::GatewayAuthSchemes, Severity::Warning)]
        );
    }

    #[test]
    fn an_e_proxy_code_is_decoded_with_its_hint() {
        let r = report(b"HTTP/1.1 403 Forbidden\r\n\r\nE_PROXY_RAP_ACCESSDENIED");
        let f = gateway_findings(&r);
        assert_eq!(f[0].id, FindingId::GatewayRefusesRequest);
        assert!(f[0].evidence.iter().any(|e| matches!(
            e,
            Evidence::Code { code: 23002, name, .. } if name == "E_PROXY_RAP_ACCESSDENIED"
        )));
        assert!(
            f[0].remedies[0].title.contains("RD RAP"),
            "{:?}",
            f[0].remedies
        );
    }

    #[test]
    fn a_web_server_is_not_a_gateway() {
        let r = report(b"HTTP/1.1 404 Not Found\r\nServer: nginx\r\n\r\n");
        assert_eq!(
            ids(&r),
            [(FindingId::GatewayNoHttpTransport, Severity::Error)]
        );
    }

    #[test]
    fn an_unreachable_port_is_gw002() {
        let mut r = report(b"HTTP/1.1 401 x\r\n\r\n");
        r.tcp = Some(TcpOutcome::Refused);
        r.out_data = Exchange::NoConnection;
        assert_eq!(ids(&r), [(FindingId::GatewayNotReachable, Severity::Error)]);
    }
}
