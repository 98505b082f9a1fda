//! `host check`, `fix` and `undo` on real hives (and copies broken with the
//! hive editor or hivexregedit), each value read also by an independent
//! reader. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod common;

mod accounts;
mod cert;
mod corpus;
mod fix;
mod key_acl;
mod render;
mod settings;
