#![no_main]
//! Whatever an RD Gateway (or anything on its port) answers, the HTTP reader
//! and the gateway rules answer or refuse; never a panic.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_probe::gateway::{decoded_codes, gateway_findings, Exchange, GatewayReport};
use rdp_doctor_probe::wire::rdg_http;

fuzz_target!(|data: &[u8]| {
    let _ = rdg_http::head_len(data);
    let _ = rdg_http::looks_like_http(data);
    let Ok(answer) = rdg_http::parse_answer(data) else {
        return;
    };
    let _ = answer.is_websocket_upgrade();
    let _ = decoded_codes(&answer);
    let exchange = Exchange::Answered {
        answer,
        elapsed_ms: 1,
    };
    let report = GatewayReport {
        host: "gw.example".into(),
        port: 443,
        address: None,
        tcp: Some(rdp_doctor_probe::TcpOutcome::Connected),
        tls: None,
        out_data: exchange.clone(),
        websocket: exchange,
    };
    let _ = gateway_findings(&report);
});
