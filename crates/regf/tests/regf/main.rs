//! The hive reader, log replay and editor on real hives, each value read also
//! by independent readers (hivex, chntpw's reged, regipy, python-registry,
//! notatin), and bad input. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod common;

mod bad_input;
mod edit;
mod hives;
mod replay;
