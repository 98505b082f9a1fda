//! How bad a finding is.

use serde::{Deserialize, Serialize};

/// How bad a finding is, shared by every evidence source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The connection fails because of it.
    Error,
    /// It works, but something is wrong or fragile.
    Warning,
    /// A fact worth knowing.
    Info,
}

impl Severity {
    /// The word used in human output.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// Errors and warnings are problems; info is not.
    pub fn is_problem(self) -> bool {
        self != Severity::Info
    }
}
