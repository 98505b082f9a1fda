//! The model's certificate parser against openssl's reading, and the READMEs'
//! finding tables against the registry. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod cert;
mod readme_tables;
