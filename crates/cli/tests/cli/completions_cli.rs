//! `rdp-doctor completions` and `rdp-doctor man`, loaded by the programs they
//! are for: bash sources the completion script and completes with it, man and
//! groff render the page without a warning.

use std::process::{Command, Output};

use rdp_doctor_testing::require_tool;

fn rdp_doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdp-doctor"))
        .args(args)
        .output()
        .expect("run rdp-doctor")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What bash's completion function offers for the words typed so far.
fn complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source {script:?} || exit 9\n\
         COMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE={line:?}\nCOMP_POINT={point}\n\
         func=$(complete -p rdp-doctor | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')\n\
         \"$func\" rdp-doctor {cur:?} {prev:?}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = words
            .iter()
            .map(|w| format!("{w:?}"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        point = line.len(),
        cur = words[words.len() - 1],
        prev = words[words.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{program}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out).lines().map(str::to_string).collect()
}

#[test]
fn bash_loads_the_completion_and_completes_subcommands_and_flags() {
    let out = rdp_doctor(&["completions", "bash"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("rdp-doctor.bash");
    std::fs::write(&script, &out.stdout).expect("write");

    let registered = Command::new("bash")
        .args(["--norc", "-c", "source \"$0\" && complete -p rdp-doctor"])
        .arg(&script)
        .output()
        .expect("run bash");
    assert!(registered.status.success(), "{registered:?}");
    assert!(
        stdout(&registered).trim_end().ends_with(" rdp-doctor"),
        "{}",
        stdout(&registered)
    );

    assert_eq!(complete(&script, &["rdp-doctor", "ex"]), ["explain"]);
    let all = complete(&script, &["rdp-doctor", ""]);
    for sub in ["diagnose", "serve", "completions", "man"] {
        assert!(all.iter().any(|w| w == sub), "{sub} not offered: {all:?}");
    }
    assert_eq!(
        complete(&script, &["rdp-doctor", "completions", "fi"]),
        ["fish"]
    );
    assert!(complete(&script, &["rdp-doctor", "explain", "--j"]).contains(&"--json".to_string()));
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_one_is_a_usage_error() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef rdp-doctor"),
        ("fish", "complete -c rdp-doctor"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = rdp_doctor(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains(marker), "{shell}: no {marker:?}");
    }
    assert_eq!(rdp_doctor(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_and_groff_render_the_manual_page_without_warnings() {
    if !require_tool("man") || !require_tool("groff") {
        return;
    }
    let out = rdp_doctor(&["man"]);
    assert!(out.status.success());
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("rdp-doctor.1");
    std::fs::write(&page, &out.stdout).expect("write");

    // -ww: every warning; -z: no output, only the check.
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
        .expect("run groff");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&groff.stderr)
    );

    let man = Command::new("man")
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_STDERR", "1")
        .args(["-P", "cat", "-l"])
        .arg(&page)
        .output()
        .expect("run man");
    let text = stdout(&man);
    assert!(
        man.status.success() && man.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&man.stderr)
    );
    for heading in [
        "NAME",
        "SYNOPSIS",
        "RDP-DOCTOR EXPLAIN",
        "RDP-DOCTOR HOST",
        "RDP-DOCTOR SERVE",
        "EXAMPLES AND EXIT STATUS",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == heading),
            "no {heading} heading:\n{text}"
        );
    }
    assert!(
        text.contains("rdp-doctor explain 0x904 0x7"),
        "no example:\n{text}"
    );
    assert!(
        text.contains("rdp-doctor host check"),
        "no nested subcommand:\n{text}"
    );
}
