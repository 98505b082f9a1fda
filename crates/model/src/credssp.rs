//! CredSSP encryption oracle remediation (CVE-2018-0886): what the
//! `AllowEncryptionOracle` policy of each side makes of a connection.
//!
//! Microsoft's interoperability matrix (KB4093492 and the CVE-2018-0886
//! update notes): only three combinations are blocked, and a connection is
//! exposed only when one side lacks the update and the other lets it.

use serde::Serialize;

/// One side's CredSSP state: without the 2018 update, or updated with a policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OracleSide {
    /// CredSSP without the March 2018 update.
    Unpatched,
    /// `AllowEncryptionOracle=0`: talks only to updated peers.
    ForceUpdatedClients,
    /// `1` (the default of updated systems since May 2018): an updated client
    /// refuses unpatched servers; an updated server refuses unpatched clients.
    Mitigated,
    /// `2`: falls back to the old protocol with unpatched peers.
    Vulnerable,
}

impl OracleSide {
    /// An updated machine's side from its `AllowEncryptionOracle` value:
    /// absent or not 0..=2 is the default, Mitigated.
    pub fn from_value(v: Option<u32>) -> Self {
        match v {
            Some(0) => OracleSide::ForceUpdatedClients,
            Some(2) => OracleSide::Vulnerable,
            _ => OracleSide::Mitigated,
        }
    }

    /// The policy's name in the Group Policy editor ("Encryption Oracle Remediation").
    pub fn name(self) -> &'static str {
        match self {
            OracleSide::Unpatched => "not updated",
            OracleSide::ForceUpdatedClients => "Force Updated Clients",
            OracleSide::Mitigated => "Mitigated",
            OracleSide::Vulnerable => "Vulnerable",
        }
    }
}

/// Which side refuses a blocked connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refuser {
    /// The updated client refuses the unpatched server: the client shows
    /// "This could be due to CredSSP encryption oracle remediation".
    Client,
    /// The updated server refuses the unpatched client.
    Server,
}

/// What a connection between the two sides does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "by")]
pub enum OracleOutcome {
    /// Both sides use the updated protocol.
    Secure,
    /// It connects with the old protocol: exposed to CVE-2018-0886.
    Vulnerable,
    /// CredSSP fails.
    Blocked(Refuser),
}

/// The matrix, one cell per pair of sides.
pub fn outcome(host: OracleSide, client: OracleSide) -> OracleOutcome {
    use OracleSide::*;
    match (host, client) {
        (Unpatched, Unpatched) | (Unpatched, Vulnerable) | (Vulnerable, Unpatched) => {
            OracleOutcome::Vulnerable
        }
        (Unpatched, ForceUpdatedClients | Mitigated) => OracleOutcome::Blocked(Refuser::Client),
        (ForceUpdatedClients | Mitigated, Unpatched) => OracleOutcome::Blocked(Refuser::Server),
        _ => OracleOutcome::Secure,
    }
}

/// The outcome for two updated machines with these `AllowEncryptionOracle`
/// values (`None`: not set). Both are updated, so the matrix says Secure; a
/// side that may lack the update is asked about with [`outcome`].
pub fn oracle_outcome(host: Option<u32>, client: Option<u32>) -> OracleOutcome {
    outcome(OracleSide::from_value(host), OracleSide::from_value(client))
}

/// What an unpatched peer meets on a host with this value: whether such
/// clients are refused or connect exposed.
pub fn unpatched_client_against(host: Option<u32>) -> OracleOutcome {
    outcome(OracleSide::from_value(host), OracleSide::Unpatched)
}

#[cfg(test)]
mod tests {
    use super::OracleOutcome::{Blocked, Secure, Vulnerable as Exposed};
    use super::OracleSide::*;
    use super::Refuser::{Client, Server};
    use super::*;

    /// Microsoft's matrix: rows are the server, columns the client
    /// (unpatched, Force Updated Clients, Mitigated, Vulnerable).
    #[test]
    fn the_matrix_is_microsofts() {
        let cols = [Unpatched, ForceUpdatedClients, Mitigated, Vulnerable];
        let rows = [
            (
                Unpatched,
                [Exposed, Blocked(Client), Blocked(Client), Exposed],
            ),
            (
                ForceUpdatedClients,
                [Blocked(Server), Secure, Secure, Secure],
            ),
            (Mitigated, [Blocked(Server), Secure, Secure, Secure]),
            (Vulnerable, [Exposed, Secure, Secure, Secure]),
        ];
        for (server, want) in rows {
            for (client, w) in cols.iter().zip(want) {
                assert_eq!(outcome(server, *client), w, "{server:?} x {client:?}");
            }
        }
    }

    #[test]
    fn values_map_to_sides_and_updated_machines_are_secure() {
        assert_eq!(OracleSide::from_value(Some(0)), ForceUpdatedClients);
        assert_eq!(OracleSide::from_value(Some(1)), Mitigated);
        assert_eq!(OracleSide::from_value(Some(2)), Vulnerable);
        assert_eq!(OracleSide::from_value(None), Mitigated);
        assert_eq!(OracleSide::from_value(Some(7)), Mitigated);
        for h in [None, Some(0), Some(1), Some(2)] {
            for c in [None, Some(0), Some(1), Some(2)] {
                assert_eq!(oracle_outcome(h, c), Secure, "{h:?} {c:?}");
            }
        }
        assert_eq!(unpatched_client_against(Some(2)), Exposed);
        assert_eq!(unpatched_client_against(Some(0)), Blocked(Server));
        assert_eq!(unpatched_client_against(None), Blocked(Server));
    }
}
