#![no_main]
//! Whatever comes back to the RDP-UDP SYN, the decoder answers or refuses; never a panic.
//! A datagram that decodes is re-encoded as a SYN and must decode to the same fields.

use libfuzzer_sys::fuzz_target;
use rdp_doctor_probe::udp::{classify_answer, udp_findings};
use rdp_doctor_probe::wire::rdpeudp::{decode_syn, Syn, SYN_DATAGRAM_LEN};

fuzz_target!(|data: &[u8]| {
    let outcome = classify_answer(data, 0x0102_0304, 1, std::time::Duration::ZERO);
    let _ = udp_findings(&outcome);
    let Ok(d) = decode_syn(data) else {
        return;
    };
    let _ = (d.is_syn_ack(), d.mtus_valid(), d.version());
    let syn = Syn {
        receive_window: d.receive_window,
        initial_sequence: d.initial_sequence,
        upstream_mtu: d.upstream_mtu,
        downstream_mtu: d.downstream_mtu,
        lossy: false,
        correlation_id: d.correlation_id,
        synex: d.synex.clone(),
    };
    let bytes = syn.encode();
    assert_eq!(bytes.len(), SYN_DATAGRAM_LEN);
    let again = decode_syn(&bytes).expect("an encoded SYN decodes");
    assert_eq!(again.initial_sequence, d.initial_sequence);
    assert_eq!(again.correlation_id, d.correlation_id);
});
