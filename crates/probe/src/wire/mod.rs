//! Protocol code: encoding what the probe sends and decoding what servers
//! answer. No I/O, so every parser is unit-tested and fuzzed.

pub mod cert;
pub mod client_hello;
pub mod der;
pub mod errinfo;
pub mod foreign;
pub mod mcs;
pub mod mcs_connect;
pub mod ntlm;
pub mod rdg_http;
pub mod rdpeudp;
pub mod x224;
