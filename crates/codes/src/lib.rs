//! Decoding Remote Desktop error codes.
//!
//! `rdp-doctor-codes` knows the numbers users meet when Remote Desktop fails:
//! mstsc's "Error code" (disconnect reason) and "Extended error code", the
//! server's ERRINFO, RDP_NEG_FAILURE codes, FreeRDP's ERRCONNECT codes, SSPI and
//! NTSTATUS values, RD Gateway error codes (E_PROXY_*, and the Win32 / Winsock
//! errors the gateway reports), and the RDP-related Windows event IDs. The tables are the
//! CSV files in `data/`, embedded and parsed on first use; every row keeps its
//! source. On top of the tables, [`explain_codes`] reads mstsc's pair together
//! and ranks the likely causes, each with the check that confirms it.
//!
//! The crate does no I/O.
//!
//! ```
//! let e = rdp_doctor_codes::explain_codes("0x904", Some("0x7"), None).unwrap();
//! assert!(e.known);
//! assert_eq!(e.extended.unwrap().readings[0].name, "exDiscReasonServerDeniedConnection");
//! ```

#![forbid(unsafe_code)]

pub mod causes;
pub mod compose;
mod explain;
pub mod layer;
mod logon_causes;
pub mod pasted;
pub mod query;
mod reported;
mod table;

pub use causes::{Cause, CauseId};
pub use explain::{
    decode, explain_codes, explain_event, CodeReading, EventReading, Explanation, RankedCause,
    Reading, SCHEMA,
};
pub use layer::Layer;
pub use pasted::{parse_reported, CodeKind, ReportedCode, ReportedCodes};
pub use query::QueryError;
pub use reported::{explain_pasted, explain_reported, findings, ranked_causes};
pub use table::{tables, Entry, EventEntry, Namespace, Tables};

pub use rdp_doctor_model::Severity;
