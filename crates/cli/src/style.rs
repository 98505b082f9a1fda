//! Terminal styling: bold and dim on a TTY, plain text elsewhere or with NO_COLOR.

use std::io::IsTerminal;

/// Whether to emit ANSI styling.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    /// Styling for stdout: on only for a terminal and when NO_COLOR is unset.
    pub fn for_stdout() -> Self {
        Self {
            enabled: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// No styling (files, pipes, tests).
    #[allow(dead_code)]
    pub fn plain() -> Self {
        Self { enabled: false }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    pub fn heading(self, text: &str) -> String {
        self.wrap("1;4", text)
    }
}
