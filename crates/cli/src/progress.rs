//! Progress bars on standard error for long work (`scan`, `logs`, `host collect`).
//!
//! A bar is drawn only when standard error is a terminal that can redraw a line
//! (not `TERM=dumb`) and the user did not pass `--no-progress`; otherwise nothing
//! at all is written. It never touches standard output, so reports and NDJSON are
//! the same bytes with or without a terminal. It has no colours: `NO_COLOR` needs
//! nothing from it.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{
    HumanBytes, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState, ProgressStyle,
};

/// How often the spinner and the elapsed time move while one unit takes long.
const TICK: Duration = Duration::from_millis(120);

/// Whether a bar may be drawn: standard error is a terminal able to redraw a line,
/// and `--no-progress` was not given.
pub fn wanted(no_progress: bool) -> bool {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    !no_progress && !dumb && std::io::stderr().is_terminal()
}

/// A byte count for people: "1.05 MiB".
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}

/// One bar: `done/total what`, elapsed time, optionally rate and time left, and a message.
/// Dropping it clears its line.
pub struct Progress {
    bar: ProgressBar,
    what: String,
    /// Standard output is the same terminal: lines printed there lift the bar first.
    shares_stdout: bool,
}

impl Progress {
    /// A bar over `total` units of `what` ("hosts", "files", "steps"); 0 is a total
    /// not known yet (see [`Progress::step`]). Draws nothing unless `enabled` (see [`wanted`]).
    pub fn new(total: u64, what: &str, enabled: bool) -> Progress {
        let bar = if enabled {
            let total = (total > 0).then_some(total);
            ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let progress = Progress {
            bar: bar.with_finish(ProgressFinish::AndClear),
            what: what.to_string(),
            shares_stdout: enabled && std::io::stdout().is_terminal(),
        };
        progress.set_style(false);
        if enabled {
            progress.bar.enable_steady_tick(TICK);
        }
        progress
    }

    /// Also shows units per second and the time left: for work whose units take
    /// about the same time each (hosts of a scan).
    pub fn with_rate(self) -> Progress {
        self.set_style(true);
        self
    }

    fn set_style(&self, rate: bool) {
        let what = self.what.replace(['{', '}'], "");
        let rate = if rate {
            format!("{{rate}} {what}/s, ETA {{eta}}  ")
        } else {
            String::new()
        };
        let template = format!(
            "{{spinner}} [{{bar:20}}] {{pos}}/{{len}} {what}  {{elapsed}}  {rate}{{wide_msg}}"
        );
        // The template is built here from fixed keys: it always parses.
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar
                .set_style(style.progress_chars("=> ").with_key("rate", average_rate));
        }
    }

    /// Whether the bar is drawn (to skip work done only for its messages).
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// One more unit done; `msg` says what.
    pub fn inc(&self, msg: impl Into<Cow<'static, str>>) {
        // Count first: a frame drawn in between shows the previous message, never a count behind it.
        self.bar.inc(1);
        self.bar.set_message(msg);
    }

    pub fn set_message(&self, msg: impl Into<Cow<'static, str>>) {
        self.bar.set_message(msg);
    }

    /// `done` of `total` units, now at `what`: the shape of a step callback
    /// (`on_step(done, total, what)`), where the total may be known late.
    pub fn step(&self, done: u64, total: u64, what: &str) {
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(what.to_string());
    }

    /// Runs `f`, which prints to standard output, with the bar lifted off the
    /// terminal when standard output shares it (so lines do not mix with the bar).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.shares_stdout {
            self.bar.suspend(f)
        } else {
            f()
        }
    }

    /// Draws the final count once, then clears the line.
    pub fn finish(self) {
        // A forced draw that keeps the position: the last frame is the true count.
        self.bar.abandon();
    }
}

/// Units per second since the start: steadier than a recent estimate when units
/// finish in bursts (hosts at a concurrency).
fn average_rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let secs = state.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        state.pos() as f64 / secs
    } else {
        0.0
    };
    let _ = if rate >= 10.0 {
        write!(w, "{rate:.0}")
    } else {
        write!(w, "{rate:.1}")
    };
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_bar_is_hidden_and_still_counts() {
        let p = Progress::new(3, "hosts", false).with_rate();
        assert!(!p.visible());
        p.inc("a");
        p.step(2, 5, "b");
        assert_eq!(p.bar.position(), 2);
        assert_eq!(p.bar.length(), Some(5));
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
    }

    #[test]
    fn no_progress_wins() {
        assert!(!wanted(true));
    }

    #[test]
    fn bytes_are_binary_units() {
        assert_eq!(bytes(1024 * 1024), "1.00 MiB");
    }
}
