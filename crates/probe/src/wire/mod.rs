//! Protocol code: encoding what the probe sends and decoding what servers
//! answer. No I/O, so every parser is unit-tested and fuzzed.

pub mod cert;
pub mod der;
pub mod errinfo;
pub mod foreign;
pub mod mcs;
pub mod ntlm;
pub mod x224;
