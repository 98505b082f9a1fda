//! The security upgrade (TLS) and CredSSP with the credentials.

use std::sync::Arc;

use ironrdp_connector::credssp::CredsspSequence;
use ironrdp_connector::sspi::credssp::ClientState;
use ironrdp_connector::{ConnectorErrorKind, ServerName};
use ironrdp_core::WriteBuf;
use ironrdp_pdu::nego::SecurityProtocol;
use rdp_doctor_codes::Namespace;
use tokio_rustls::rustls;

use super::codes::{decode_code, decode_status};
use super::config::{connector_message, server_public_key};
use super::driver::Run;
use super::io::{is_closed, IoEnd, Wire};
use super::report::*;
use crate::phases::{ms, tls_config};
use crate::wire::errinfo;

/// Round trips of CredSSP before the exchange is declared endless (NTLM needs three).
pub(super) const MAX_CREDSSP_ROUNDS: usize = 8;

impl Run<'_> {
    /// TLS on the connection, as the security upgrade.
    pub(super) async fn upgrade(&mut self) -> Result<Vec<u8>, ConnectOutcome> {
        let during = ConnectStep::Tls;
        let config = tls_config().map_err(|message| ConnectOutcome::Failed { during, message })?;
        let name = rustls::pki_types::ServerName::try_from(self.host.to_string())
            .or_else(|_| rustls::pki_types::ServerName::try_from("rdp-server"))
            .map_err(|e| ConnectOutcome::Failed {
                during,
                message: e.to_string(),
            })?;
        let tcp = match std::mem::replace(&mut self.io.wire, Wire::Gone) {
            Wire::Tcp(s) => s,
            other => {
                self.io.wire = other;
                return Err(ConnectOutcome::Failed {
                    during,
                    message: "TLS requested on a connection that is not plain TCP".into(),
                });
            }
        };
        let deadline = self.io.deadline();
        let connector =
            tokio_rustls::TlsConnector::from(Arc::<rustls::ClientConfig>::clone(&config));
        let tls = match tokio::time::timeout(deadline, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) if is_closed(&e) => return Err(ConnectOutcome::Closed { during }),
            Ok(Err(e)) => {
                return Err(ConnectOutcome::Failed {
                    during,
                    message: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ConnectOutcome::TimedOut {
                    during,
                    waited_ms: ms(deadline),
                })
            }
        };
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace('_', "."))
            .unwrap_or_default();
        let key = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| server_public_key(der.as_ref()));
        self.steps.note(version);
        self.io.wire = Wire::Tls(Box::new(tls));
        key.ok_or(ConnectOutcome::Failed {
            during,
            message: "the server's certificate has no readable public key".into(),
        })
    }

    /// CredSSP with the credentials, reading every server message for an
    /// error code before the SSPI client sees it.
    pub(super) async fn credssp(
        &mut self,
        protocol: SecurityProtocol,
        server_key: Vec<u8>,
    ) -> Result<(), ConnectOutcome> {
        let during = ConnectStep::Credssp;
        let failed = |message: String| ConnectOutcome::AuthFailed { message };
        let (mut seq, mut request) = CredsspSequence::init(
            ironrdp_connector::Credentials::UsernamePassword {
                username: self.creds.user.clone(),
                password: self.creds.password.as_str().to_owned(),
            },
            self.creds.domain.as_deref(),
            protocol,
            ServerName::new(self.host),
            server_key,
            None,
        )
        .map_err(|e| failed(connector_message(&e)))?;
        let mut out = WriteBuf::new();
        for round in 0..MAX_CREDSSP_ROUNDS {
            let result = seq.process_ts_request(request).resolve_to_result();
            let result = result.map_err(|e| failed(format!("the CredSSP client stopped: {e}")))?;
            let final_message = matches!(result, ClientState::FinalMessage(_));
            seq.handle_process_result(result, &mut out)
                .map_err(|e| failed(connector_message(&e)))?;
            self.write(&mut out).await?;
            let Some(hint) = seq.next_pdu_hint() else {
                return Ok(());
            };
            let frame = match self.io.read_frame(hint).await {
                Ok(f) => f,
                Err(IoEnd::Closed) => {
                    return Err(failed(closed_during_credssp(round, final_message).into()))
                }
                Err(end) => return Err(self.io_end(end)),
            };
            let early_result = final_message && protocol.contains(SecurityProtocol::HYBRID_EX);
            if let Some(refusal) = logon_refusal(&frame, early_result) {
                return Err(refusal);
            }
            match seq.decode_server_message(&frame) {
                Ok(Some(next)) => request = next,
                Ok(None) => return Ok(()),
                Err(e) if matches!(e.kind(), ConnectorErrorKind::AccessDenied) => {
                    return Err(ConnectOutcome::LogonFailed {
                        code: decode_code(&[Namespace::EarlyUserAuthorization], 5),
                    })
                }
                Err(e) => {
                    return Err(ConnectOutcome::Failed {
                        during,
                        message: connector_message(&e),
                    })
                }
            }
        }
        Err(ConnectOutcome::Failed {
            during,
            message: format!("CredSSP did not finish in {MAX_CREDSSP_ROUNDS} round trips"),
        })
    }
}

/// Why the server closed CredSSP without a code, from where it did.
fn closed_during_credssp(round: usize, final_message: bool) -> &'static str {
    if final_message {
        "the server closed the connection after the client's credentials (CredSSP authInfo), without an error code"
    } else if round >= 1 {
        // NEGOTIATE, then AUTHENTICATE (the proof of the password) with pubKeyAuth.
        "the server closed the connection right after the NTLM AUTHENTICATE message (the proof of the password), without an error code: the usual reading is a wrong user name or password"
    } else {
        "the server closed the connection after the NTLM NEGOTIATE message, without an error code"
    }
}

/// A logon refusal with a code in a server's CredSSP message: the Early User
/// Authorization Result after the credentials (CredSSP-EX), or a TSRequest errorCode.
fn logon_refusal(frame: &[u8], early_result: bool) -> Option<ConnectOutcome> {
    let code = if early_result {
        let code = errinfo::early_user_auth_result(frame).filter(|c| *c != 0)?;
        decode_code(&[Namespace::EarlyUserAuthorization], code)
    } else {
        decode_status(errinfo::ts_request_error_code(frame).ok()??)
    };
    Some(ConnectOutcome::LogonFailed { code })
}
