//! The `rdp-doctor` binary as a user runs it: against real peers (xrdp, the
//! FreeRDP shadow server, Nagios, Prometheus and promtool, Chromium), real hives
//! and logs, and the official SARIF schema. One test binary: it builds once.
#![allow(clippy::unwrap_used)] // a test stops at the first unexpected value

mod support;

mod accounts_cli;
mod check_nagios;
mod client_cli;
mod completions_cli;
mod credentials_cli;
mod deps;
mod diagnose_cli;
mod explain_cli;
mod host_cli;
mod host_live_cli;
mod hostile_memory;
mod logs_cli;
mod path_cli;
mod process_cli;
mod prometheus_rules;
mod rdpfile_cli;
mod report_html;
mod report_sarif;
mod scan;
mod serve;
mod serve_credentials;
