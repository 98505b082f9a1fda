//! Recognising what a server sends when it refuses: an MCS Disconnect
//! Provider Ultimatum in an X.224 Data TPDU ([MS-RDPBCGR] 2.2.2.3, T.125). No I/O.

/// If `frame` is TPKT + X.224 Data + MCS Disconnect Provider Ultimatum,
/// returns its reason (0 domain-disconnected … 4 channel-purged).
pub fn disconnect_ultimatum_reason(frame: &[u8]) -> Option<u8> {
    // 03 00 LL LL | 02 F0 80 | 0x20|… (choice 8 in PER: 001000rr r…)
    if frame.len() < 9 || frame[0] != 3 || frame[4] != 2 || frame[5] != 0xF0 {
        return None;
    }
    let b0 = frame[7];
    let b1 = frame[8];
    if b0 >> 2 != 8 {
        return None;
    }
    Some(((b0 & 0x03) << 1) | (b1 >> 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xrdp_refusal() {
        // Bytes xrdp sends when its TLS key is unusable (see the test peers notes).
        let frame = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
        assert_eq!(disconnect_ultimatum_reason(&frame), Some(3));
        assert_eq!(disconnect_ultimatum_reason(&frame[..8]), None);
        assert_eq!(
            disconnect_ultimatum_reason(&[0x16, 3, 1, 0, 5, 1, 0, 0, 0]),
            None
        );
    }
}
