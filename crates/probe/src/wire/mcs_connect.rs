//! The basic settings exchange without credentials: an MCS Connect Initial
//! carrying a GCC Conference Create Request with minimal client data blocks,
//! and the server's Connect Response ([MS-RDPBCGR] 2.2.1.3, 2.2.1.4). Built
//! and parsed with IronRDP's PDUs. No I/O.

use std::borrow::Cow;

use ironrdp_core::{decode, encode_vec};
use ironrdp_pdu::gcc::{
    ClientCoreData, ClientCoreOptionalData, ClientEarlyCapabilityFlags, ClientGccBlocks,
    ClientSecurityData, ColorDepth, ConnectionType, EncryptionMethod, HighColorDepth, KeyboardType,
    RdpVersion, SecureAccessSequence, SupportedColorDepths,
};
use ironrdp_pdu::mcs::{ConnectInitial, ConnectResponse};
use ironrdp_pdu::nego::SecurityProtocol;
use ironrdp_pdu::x224::{X224Data, X224};
use serde::Serialize;

use super::mcs::disconnect_ultimatum_reason;

/// What the server's Connect Response tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McsResponse {
    /// The server's RDP version (Server Core Data), e.g. 0x00080004.
    pub rdp_version: u32,
    /// The MCS I/O channel the server assigned.
    pub io_channel: u16,
    /// Static channels the server assigned (none: the probe asks for none).
    pub channels: usize,
    /// The server asks for Standard RDP Security encryption on top of TLS.
    pub rdp_encryption: bool,
}

/// The server's answer to the Connect Initial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum McsAnswer {
    Response(McsResponse),
    /// An MCS Disconnect Provider Ultimatum with its reason.
    Disconnect {
        reason: u8,
    },
}

fn client_blocks(selected: u32) -> ClientGccBlocks {
    ClientGccBlocks {
        core: ClientCoreData {
            version: RdpVersion::V5_PLUS,
            desktop_width: 1024,
            desktop_height: 768,
            color_depth: ColorDepth::Bpp8,
            sec_access_sequence: SecureAccessSequence::Del,
            keyboard_layout: 0x409,
            client_build: 19041,
            client_name: "rdp-doctor".into(),
            keyboard_type: KeyboardType::IBM_ENHANCED,
            keyboard_subtype: 0,
            keyboard_functional_keys_count: 12,
            ime_file_name: String::new(),
            optional_data: ClientCoreOptionalData {
                post_beta2_color_depth: Some(ColorDepth::Bpp8),
                client_product_id: Some(1),
                serial_number: Some(0),
                high_color_depth: Some(HighColorDepth::Bpp24),
                supported_color_depths: Some(
                    SupportedColorDepths::BPP24
                        | SupportedColorDepths::BPP16
                        | SupportedColorDepths::BPP15,
                ),
                early_capability_flags: Some(ClientEarlyCapabilityFlags::SUPPORT_ERR_INFO_PDU),
                dig_product_id: Some(String::new()),
                // Present because later fields are; ignored without VALID_CONNECTION_TYPE.
                connection_type: Some(ConnectionType::NotUsed),
                server_selected_protocol: Some(SecurityProtocol::from_bits_truncate(selected)),
                desktop_physical_width: None,
                desktop_physical_height: None,
                desktop_orientation: None,
                desktop_scale_factor: None,
                device_scale_factor: None,
            },
        },
        // TLS or CredSSP carries the security: no Standard RDP Security encryption.
        security: ClientSecurityData {
            encryption_methods: EncryptionMethod::empty(),
            ext_encryption_methods: 0,
        },
        network: None,
        cluster: None,
        monitor: None,
        message_channel: None,
        multi_transport_channel: None,
        monitor_extended: None,
    }
}

/// The TPKT + X.224 Data + MCS Connect Initial frame for the protocol X.224
/// selected (`selected`, the RDP_NEG_RSP value).
pub fn connect_initial(selected: u32) -> Result<Vec<u8>, String> {
    let initial =
        ConnectInitial::with_gcc_blocks(client_blocks(selected)).map_err(|e| e.to_string())?;
    let mcs = encode_vec(&initial).map_err(|e| e.to_string())?;
    encode_vec(&X224(X224Data {
        data: Cow::Owned(mcs),
    }))
    .map_err(|e| e.to_string())
}

/// Parses one TPKT frame the server sent after the Connect Initial.
pub fn parse_connect_answer(frame: &[u8]) -> Result<McsAnswer, String> {
    if let Some(reason) = disconnect_ultimatum_reason(frame) {
        return Ok(McsAnswer::Disconnect { reason });
    }
    let data = decode::<X224<X224Data<'_>>>(frame)
        .map_err(|e| format!("not an X.224 Data TPDU: {e}"))?
        .0;
    let response = decode::<ConnectResponse>(data.data.as_ref())
        .map_err(|e| format!("not an MCS Connect Response: {e}"))?;
    let blocks = response.conference_create_response.gcc_blocks();
    Ok(McsAnswer::Response(McsResponse {
        rdp_version: blocks.core.version.0,
        io_channel: blocks.network.io_channel,
        channels: blocks.network.channel_ids.len(),
        rdp_encryption: !blocks.security.encryption_method.is_empty(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::x224::tpkt_frame_len;

    #[test]
    fn connect_initial_is_one_tpkt_frame() {
        let frame = connect_initial(1).expect("encodes");
        assert_eq!(tpkt_frame_len(&frame).ok().flatten(), Some(frame.len()));
        assert_eq!(&frame[..3], &[3, 0, (frame.len() >> 8) as u8]);
        // X.224 Data, then BER application tag 101 (Connect-Initial).
        assert_eq!(&frame[4..9], &[2, 0xF0, 0x80, 0x7F, 0x65]);
        // A Connect Initial is not a Connect Response.
        assert!(parse_connect_answer(&frame).is_err());
    }

    #[test]
    fn disconnect_and_garbage() {
        let ultimatum = [0x03, 0x00, 0x00, 0x09, 0x02, 0xf0, 0x80, 0x21, 0x80];
        assert_eq!(
            parse_connect_answer(&ultimatum),
            Ok(McsAnswer::Disconnect { reason: 3 })
        );
        let frame = connect_initial(1).expect("encodes");
        for cut in 0..frame.len() {
            let _ = parse_connect_answer(&frame[..cut]);
        }
        assert!(parse_connect_answer(&[]).is_err());
    }
}
