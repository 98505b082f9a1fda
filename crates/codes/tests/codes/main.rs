//! The codes catalog against the sourced reference tables, pasted dialogs and
//! bad input. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod explain;
mod pasted;
mod reference_tables;
mod sspi_ntstatus;
