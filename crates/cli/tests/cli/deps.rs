//! Every external program the tests, benches and scripts run is installed on a
//! fresh Debian 12 machine: by `scripts/deps/apt.txt` or `pip.txt`, or as part of
//! Debian's required base system or the Rust toolchain. `scripts/deps/programs.tsv`
//! says which, per program; this test collects the programs from the sources and
//! fails on any without a row, and checks each row against the package lists
//! (and against dpkg's file lists where dpkg is present).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "deps/shell.rs"]
mod shell;

use shell::{is_program_name, shell_programs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where a program comes from, as `programs.tsv` says.
#[derive(Debug)]
struct Source {
    from: String,
    package: String,
    line: usize,
}

/// `programs.tsv`: program, from (apt, pip, base, rust), package; `#` starts a comment.
fn mapping() -> BTreeMap<String, Source> {
    let mut rows = BTreeMap::new();
    for (n, line) in read(&root().join("scripts/deps/programs.tsv"))
        .lines()
        .enumerate()
    {
        let line = line.split('#').next().unwrap_or("").trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').filter(|c| !c.is_empty()).collect();
        let [program, from, package] = cols[..] else {
            panic!(
                "programs.tsv:{}: want program<TAB>from<TAB>package: {line:?}",
                n + 1
            );
        };
        let row = Source {
            from: from.to_string(),
            package: package.to_string(),
            line: n + 1,
        };
        assert!(
            rows.insert(program.to_string(), row).is_none(),
            "programs.tsv:{}: {program} listed twice",
            n + 1
        );
    }
    rows
}

/// A package list as scripts/test.sh reads it.
fn package_list(name: &str) -> BTreeSet<String> {
    read(&root().join("scripts/deps").join(name))
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace().map(str::to_string))
        .collect()
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The string literals that follow `prefix` (which ends in a quote) where `prefix`
/// starts a word.
fn literals_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter(|(i, _)| {
            let before = text[..*i].chars().next_back();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Programs a Rust source runs: `Command::new("x")`, the test helpers that look a
/// program up (`have_tool`, `require_tool`, `have`, `command -v x`), the program
/// `timeout` runs, and the argument vectors the namespace helpers run.
fn rust_programs(text: &str, in_harness: bool) -> BTreeSet<String> {
    let mut prefixes = vec![
        "Command::new(\"",
        "have_tool(\"",
        "require_tool(\"",
        "have(\"",
        "time_tool(\"",
    ];
    if in_harness {
        prefixes.extend(["run(&[\"", "exec(&[\"", ".command(\"", "vec![\""]);
    }
    let mut found: BTreeSet<String> = prefixes
        .iter()
        .flat_map(|p| literals_after(text, p))
        .map(str::to_string)
        .collect();
    for (i, _) in text.match_indices("command -v ") {
        let word: String = text[i + 11..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_.+-".contains(*c))
            .collect();
        found.insert(word);
    }
    // `timeout [-s SIGNAL] SECONDS program`: the first lower-case word argument.
    for (i, _) in text.match_indices("Command::new(\"timeout\")") {
        let statement = text[i..].split(';').next().unwrap_or("");
        if let Some(program) = literals_after(statement, ".arg(\"")
            .into_iter()
            .find(|a| a.starts_with(|c: char| c.is_ascii_lowercase()) && is_program_name(a))
        {
            found.insert(program.to_string());
        }
    }
    found.retain(|p| is_program_name(p));
    found
}

/// Programs a Python helper runs through `subprocess`.
fn python_programs(text: &str) -> BTreeSet<String> {
    ["run", "check_output", "check_call", "call", "Popen"]
        .iter()
        .flat_map(|f| literals_after(text, &format!("subprocess.{f}([\"")))
        .map(str::to_string)
        .collect()
}

/// Every program run by the sources, with the first file that runs it.
fn used_programs() -> BTreeMap<String, String> {
    let root = root();
    let mut used = BTreeMap::new();
    let mut note = |programs: BTreeSet<String>, file: &Path| {
        for p in programs {
            let rel = file
                .strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string();
            used.entry(p).or_insert(rel);
        }
    };
    let mut sources = Vec::new();
    files(&root.join("crates"), "rs", &mut sources);
    files(&root.join("fuzz"), "rs", &mut sources);
    // These files' own literals are examples for their readers, not programs they run.
    let own = root.join("crates/cli/tests/cli/deps");
    sources.retain(|f| !f.starts_with(&own) && !f.ends_with("cli/tests/cli/deps.rs"));
    for file in &sources {
        let harness = file.starts_with(root.join("crates/testing"));
        note(rust_programs(&read(file), harness), file);
    }
    let mut python = Vec::new();
    files(&root.join("crates"), "py", &mut python);
    files(&root.join("scripts"), "py", &mut python);
    for file in &python {
        note(python_programs(&read(file)), file);
    }
    let mut scripts = Vec::new();
    files(&root.join("scripts"), "sh", &mut scripts);
    scripts.push(root.join(".ci/run"));
    for file in &scripts {
        note(shell_programs(&read(file)), file);
    }
    used
}

#[test]
fn the_shell_reader_finds_the_commands() {
    let script = r#"
f() { grep -q x "$1"; }
wrap() { local n=$1; shift; if out=$("$@" 2>&1); then echo ok; fi; }
X=1 apt-get install -y a b >/dev/null 2>&1 && f file
for p in $(sort list); do dpkg-query -W "$p" | awk '{print $1}'; done
n=$((n + 1)); [ -x "$bin" ] || { echo "no"; exit 1; }
wrap a-name cmp one two
timeout -s KILL 10 xz -dc a <<<"$(tail -n 1 <<<"$x")"
v=$(command -v wine64 || echo /usr/lib/wine/wine64)
python3 -c 'import json
for l in sys.stdin: print(l)' | diff <(head a) - 
cargo fuzz run t -- -max_total_time=1
"$v" wineboot --init
"#;
    let want = [
        "apt-get",
        "awk",
        "cargo",
        "cargo-fuzz",
        "cmp",
        "diff",
        "dpkg-query",
        "grep",
        "head",
        "python3",
        "sort",
        "tail",
        "timeout",
        "wine64",
        "xz",
    ];
    assert_eq!(
        shell_programs(script),
        want.iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn the_rust_reader_finds_the_programs() {
    let source = r#"
        let a = Command::new("xrdp").arg("-n");
        let b = Command::new("timeout").arg("-s").arg("KILL").arg(format!("{}", 5)).arg("xfreerdp").output();
        if !require_tool("Xvfb") || !have("hivexget") {}
        Command::new("sh").args(["-c", "command -v hivexregedit"]);
        Command::new(env!("CARGO_BIN_EXE_rdp-doctor"));
        behave("not-a-program");
    "#;
    let want = [
        "Xvfb",
        "hivexget",
        "hivexregedit",
        "sh",
        "timeout",
        "xfreerdp",
        "xrdp",
    ];
    assert_eq!(
        rust_programs(source, false),
        want.iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn every_program_the_tests_and_scripts_run_is_installed_by_scripts_deps() {
    let rows = mapping();
    let apt = package_list("apt.txt");
    let pip = package_list("pip.txt");
    let mut problems = Vec::new();
    for (program, file) in used_programs() {
        if !rows.contains_key(&program) {
            problems.push(format!(
                "{program} (run by {file}) has no row in scripts/deps/programs.tsv"
            ));
        }
    }
    for (program, row) in &rows {
        let listed = match row.from.as_str() {
            "apt" => apt.contains(&row.package),
            "pip" => pip.contains(&row.package),
            "base" | "rust" => true,
            other => {
                problems.push(format!("programs.tsv:{}: unknown source {other}", row.line));
                true
            }
        };
        if !listed {
            problems.push(format!(
                "programs.tsv:{}: {program} needs {} package {}, which scripts/deps/{}.txt does not list",
                row.line, row.from, row.package, row.from
            ));
        }
    }
    problems.extend(dpkg_disagreements(&rows));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// --- dpkg: the packages named for apt and base programs really ship them. ---

fn dpkg_query(args: &[&str]) -> Option<String> {
    let out = Command::new("dpkg-query").args(args).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// For each program, the installed packages that ship it: files named
/// `*bin/program` (or the path itself when absolute), and the file it resolves
/// to on PATH (which follows the alternatives system's links). One dpkg call:
/// each takes a while.
fn owners<'a>(programs: impl Iterator<Item = &'a String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut patterns = Vec::new();
    for program in programs {
        if program.starts_with('/') {
            patterns.push((program.clone(), program.clone()));
            continue;
        }
        patterns.push((format!("*bin/{program}"), program.clone()));
        patterns.push((format!("*/lib/wine/{program}"), program.clone()));
        let dirs = std::env::var_os("PATH").unwrap_or_default();
        let found = std::env::split_paths(&dirs)
            .map(|d| d.join(program))
            .find(|p| p.is_file());
        if let Some(real) = found.and_then(|p| std::fs::canonicalize(p).ok()) {
            patterns.push((real.display().to_string(), program.clone()));
        }
    }
    let args: Vec<&str> = ["-S"]
        .into_iter()
        .chain(patterns.iter().map(|(p, _)| p.as_str()))
        .collect();
    let out = dpkg_query(&args).unwrap_or_default();
    let mut owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines() {
        let Some((pkgs, path)) = line.split_once(": ") else {
            continue;
        };
        let pkgs = pkgs
            .split(", ")
            .map(|p| p.split(':').next().unwrap_or(p).to_string());
        let base = path.rsplit('/').next().unwrap_or(path);
        // A path named exactly, or a glob's match that ends in the program's name.
        for (pattern, program) in &patterns {
            let named = if pattern.contains('*') {
                Some(base) == program.rsplit('/').next()
                    && (path.contains("bin/") || path.contains("/lib/wine/"))
            } else {
                pattern == path
            };
            if named {
                owners
                    .entry(program.clone())
                    .or_default()
                    .extend(pkgs.clone());
            }
        }
    }
    owners
}

fn dpkg_disagreements(rows: &BTreeMap<String, Source>) -> Vec<String> {
    if dpkg_query(&["--version"]).is_none() {
        eprintln!("no dpkg-query here: the packages in programs.tsv are not checked against dpkg");
        return Vec::new();
    }
    let checked = rows
        .iter()
        .filter(|(p, r)| !p.contains(' ') && (r.from == "apt" || r.from == "base"))
        .map(|(p, _)| p);
    let owners = owners(checked);
    let mut problems = Vec::new();
    for (program, row) in rows {
        let base = match row.from.as_str() {
            "apt" => false,
            "base" => true,
            _ => continue,
        };
        if program.contains(' ') {
            continue; // `python3 -m pip`: a module, not a file
        }
        let owners = owners.get(program).cloned().unwrap_or_default();
        let fields = dpkg_query(&[
            "-W",
            "-f=${Depends}, ${Pre-Depends}|${Essential} ${Priority}",
            &row.package,
        ])
        .unwrap_or_default();
        let (depends, priority) = fields.split_once('|').unwrap_or(("", ""));
        let depends: BTreeSet<&str> = depends
            .split([',', '|'])
            .filter_map(|d| d.split_whitespace().next())
            .collect();
        if owners.is_empty() {
            // Not installed here: only CI, which installs everything, must have it.
            if std::env::var_os("CI").is_some() {
                problems.push(format!("{program} ({}) is not installed", row.package));
            }
            continue;
        }
        if !owners.contains(&row.package) && !owners.iter().any(|o| depends.contains(o.as_str())) {
            problems.push(format!(
                "programs.tsv:{}: dpkg says {program} comes from {owners:?}, not {}",
                row.line, row.package
            ));
        }
        if base && !(priority.starts_with("yes") || priority.ends_with("required")) {
            problems.push(format!(
                "programs.tsv:{}: {} ({program}) is not in Debian's required base system ({priority}): list it as apt",
                row.line, row.package
            ));
        }
    }
    problems
}
