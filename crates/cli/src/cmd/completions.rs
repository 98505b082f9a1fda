//! `rdp-doctor completions SHELL` and `rdp-doctor man`: the shell completion
//! scripts and the roff manual page, both made from the argument definitions
//! themselves so that they never fall behind the commands.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::{Cli, Outcome};

/// The name users type, which completion scripts register themselves under.
const BIN: &str = "rdp-doctor";

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to print the completion script for.
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {}

/// Prints the completion script for the shell.
pub fn run_completions(args: &CompletionsArgs) -> Result<Outcome> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut out);
    if args.shell == Shell::Bash {
        out = bash_state_names_agree(&out).into_bytes();
    }
    write_all(&out)
}

/// clap_complete's bash script names the state for `rdp-doctor explain`
/// `rdp__doctor__subcmd__explain` where it walks the words typed, but
/// `rdp__subcmd__doctor__subcmd__explain` where it offers that subcommand's
/// options (clap-rs/clap#6421, for every program with a hyphen in its name), so
/// nothing after a subcommand would complete. Spells the second like the first.
fn bash_state_names_agree(script: &[u8]) -> String {
    String::from_utf8_lossy(script)
        .replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"))
}

/// Prints the manual page (roff, section 1): the top-level page, then one
/// section per subcommand with its own options.
pub fn run_man(_args: &ManArgs) -> Result<Outcome> {
    write_all(&man_page()?)
}

/// The roff source of `rdp-doctor(1)`: one page, with a section per subcommand
/// (and a sub-section per nested one) instead of references to per-command
/// pages that are not installed.
pub fn man_page() -> Result<Vec<u8>> {
    let mut cmd = Cli::command();
    // Gives each subcommand its full name for the synopses (`rdp-doctor explain`).
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    for sub in subcommands(&cmd) {
        subcommand_section(sub, 1, &mut out)?;
    }
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra)?;
    out.extend(retitle_extra(&extra, "\"EXAMPLES AND EXIT STATUS\"").bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

fn subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "help")
}

/// A subcommand's synopsis, description, options and examples, rendered by
/// clap_mangen as parts of a page of its own and set one heading level down:
/// `.SH` at depth 1, `.SS` at depth 2, bold paragraphs below that.
fn subcommand_section(sub: &clap::Command, depth: usize, out: &mut Vec<u8>) -> Result<()> {
    let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
    let man = clap_mangen::Man::new(sub.clone());
    let mut text = Vec::new();
    man.render_synopsis_section(&mut text)?;
    man.render_description_section(&mut text)?;
    man.render_options_section(&mut text)?;
    if sub.get_after_help().is_some() || sub.get_after_long_help().is_some() {
        man.render_extra_section(&mut text)?;
    }
    writeln!(out, "{} \"{}\"", heading(depth), name.to_uppercase())?;
    for line in retitle_extra(&text, "EXAMPLES").lines() {
        match line.strip_prefix(".SH ") {
            Some(title) if depth == 1 => writeln!(out, ".SS {title}")?,
            Some(title) => writeln!(out, ".PP\n.B {title}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    for nested in subcommands(sub) {
        subcommand_section(nested, depth + 1, out)?;
    }
    Ok(())
}

/// clap_mangen heads the `after_help` text "EXTRA"; here it holds examples.
fn retitle_extra(roff: &[u8], title: &str) -> String {
    String::from_utf8_lossy(roff).replace(".SH EXTRA", &format!(".SH {title}"))
}

fn heading(depth: usize) -> &'static str {
    if depth == 1 {
        ".SH"
    } else {
        ".SS"
    }
}

fn write_all(bytes: &[u8]) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(Outcome::Healthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_has_a_section_per_subcommand() {
        let page = man_page().map(|p| String::from_utf8_lossy(&p).into_owned());
        let page = page.unwrap_or_default();
        assert!(page.starts_with(".ie"), "{}", &page[..page.len().min(200)]);
        for sub in ["EXPLAIN", "DIAGNOSE", "SERVE", "COMPLETIONS", "MAN"] {
            assert!(
                page.contains(&format!(".SH \"RDP-DOCTOR {sub}\"")),
                "no {sub} section"
            );
        }
        // Nested subcommands are sub-sections; no page refers to pages not installed.
        assert!(
            page.contains(".SS \"RDP-DOCTOR HOST CHECK\""),
            "no host check"
        );
        assert!(
            !page.contains("rdp-doctor-explain(1)"),
            "refers to a missing page"
        );
    }
}
