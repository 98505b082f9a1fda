#![no_main]
//! Whatever a server sends, the probe's parsers answer or refuse; never a panic.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_probe::wire::{cert, client_hello, der, errinfo, foreign, mcs, mcs_connect, ntlm, x224};

fuzz_target!(|data: &[u8]| {
    let _ = x224::tpkt_frame_len(data);
    let _ = x224::parse_confirm(data);
    let _ = mcs::disconnect_ultimatum_reason(data);
    let _ = ntlm::der_frame_len(data);
    let _ = ntlm::parse_ts_request(data);
    let _ = ntlm::parse_challenge(data);
    let _ = cert::parse_cert(data);
    let _ = errinfo::server_stop(data);
    let _ = errinfo::ts_request_error_code(data);
    let _ = errinfo::early_user_auth_result(data);
    let _ = der::read(data);
    let _ = client_hello::record_len(data);
    let _ = client_hello::parse_answer(data);
    let _ = mcs_connect::parse_connect_answer(data);
    let _ = foreign::foreign_answer(data, String::new());
    let _ = rdp_doctor_probe::Target::parse(&String::from_utf8_lossy(data), 3389);
});
