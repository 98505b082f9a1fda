//! The programs a shell script runs: a small lexer, enough for the first words
//! of simple commands (quotes, expansions, substitutions, redirections), and the
//! script's own functions, followed when they run their arguments.

use std::collections::{BTreeMap, BTreeSet};

/// A word that can name a program (no expansion, not an option).
pub fn is_program_name(word: &str) -> bool {
    !word.is_empty()
        && !word.starts_with('-')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-/".contains(c))
}

#[derive(Debug, Clone)]
enum Tok {
    /// A word; `$` marks where an expansion was (so the word is not a literal name).
    Word(String),
    /// A command separator: newline, `;`, `|`, `&`, `(`, `)`, `{`, `}`.
    Sep,
}

struct Lexer<'a> {
    c: &'a [char],
    i: usize,
    toks: Vec<Tok>,
    /// Command and process substitutions, lexed on their own.
    subs: Vec<Tok>,
    word: String,
    in_word: bool,
    skip_word: bool,
}

/// The index just after the `)` that closes the `(` at `open`.
fn close_paren(c: &[char], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < c.len() {
        match c[i] {
            '\\' => i += 1,
            '\'' => i = find(c, i + 1, '\''),
            '"' => i = close_dquote(c, i),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    c.len()
}

/// The index of the `"` that closes the one at `open`.
fn close_dquote(c: &[char], open: usize) -> usize {
    let mut i = open + 1;
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' {
            i += 1;
        } else if c[i] == '$' && c.get(i + 1) == Some(&'(') {
            i = close_paren(c, i + 1) - 1;
        }
        i += 1;
    }
    i
}

fn find(c: &[char], from: usize, ch: char) -> usize {
    (from..c.len()).find(|&j| c[j] == ch).unwrap_or(c.len())
}

impl Lexer<'_> {
    fn end_word(&mut self) {
        if self.in_word {
            if self.skip_word {
                self.skip_word = false;
            } else {
                self.toks.push(Tok::Word(std::mem::take(&mut self.word)));
            }
        }
        self.word.clear();
        self.in_word = false;
    }

    fn sep(&mut self) {
        self.end_word();
        self.toks.push(Tok::Sep);
    }

    /// `$(...)`, `<(...)`: lexes the inside on its own; `$((...))` is arithmetic.
    fn substitution(&mut self, open: usize) -> usize {
        let end = close_paren(self.c, open);
        if self.c.get(open + 1) != Some(&'(') {
            let inner: String = self.c[open + 1..end.saturating_sub(1)].iter().collect();
            self.subs.push(Tok::Sep);
            self.subs.extend(lex(&inner));
            self.subs.push(Tok::Sep);
        }
        self.word.push('$');
        self.in_word = true;
        end
    }

    fn expansion(&mut self) {
        let c = self.c;
        match c.get(self.i + 1) {
            Some('(') => self.i = self.substitution(self.i + 1),
            Some('{') => {
                self.i = find(c, self.i + 2, '}') + 1;
                self.word.push('$');
            }
            Some('@') => {
                self.word.push_str("$@");
                self.i += 2;
            }
            _ => {
                self.word.push('$');
                self.i += 1;
            }
        }
        self.in_word = true;
    }

    fn dquote(&mut self) {
        let end = close_dquote(self.c, self.i);
        self.i += 1;
        self.in_word = true;
        while self.i < end {
            match self.c[self.i] {
                '$' => self.expansion(),
                '\\' => {
                    self.word.extend(self.c.get(self.i + 1));
                    self.i += 2;
                }
                ch => {
                    self.word.push(ch);
                    self.i += 1;
                }
            }
        }
        self.i = end + 1;
    }

    /// `[N]>file`, `2>&1`, `<<<word`: the target is not a command word.
    fn redirection(&mut self) {
        if self.word.chars().all(|c| c.is_ascii_digit()) {
            self.word.clear();
            self.in_word = false;
        }
        self.end_word();
        let mut last = ' ';
        while let Some(&ch) = self.c.get(self.i).filter(|ch| "<>&".contains(**ch)) {
            last = ch;
            self.i += 1;
        }
        if last == '&' {
            while self
                .c
                .get(self.i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '-')
            {
                self.i += 1;
            }
        } else {
            self.skip_word = true;
        }
    }

    fn run(&mut self) {
        let c = self.c;
        while self.i < c.len() {
            let ch = c[self.i];
            let next = c.get(self.i + 1).copied();
            match ch {
                '#' if !self.in_word => self.i = find(c, self.i, '\n'),
                '\\' if next == Some('\n') => self.i += 2,
                '\\' => {
                    self.word.extend(next);
                    self.in_word = true;
                    self.i += 2;
                }
                '\'' => {
                    let end = find(c, self.i + 1, '\'');
                    self.word.extend(&c[self.i + 1..end]);
                    self.in_word = true;
                    self.i = end + 1;
                }
                '"' => self.dquote(),
                '$' => self.expansion(),
                '`' => {
                    let end = find(c, self.i + 1, '`');
                    let inner: String = c[self.i + 1..end].iter().collect();
                    self.subs.extend(lex(&inner));
                    self.subs.push(Tok::Sep);
                    self.word.push('$');
                    self.in_word = true;
                    self.i = end + 1;
                }
                '<' | '>' if next == Some('(') => {
                    self.end_word();
                    self.i = self.substitution(self.i + 1);
                    self.end_word();
                }
                '<' | '>' => self.redirection(),
                ' ' | '\t' => {
                    self.end_word();
                    self.i += 1;
                }
                '\n' | ';' | '|' | '&' | '(' | ')' => {
                    self.sep();
                    self.i += 1;
                }
                '{' | '}' if !self.in_word => {
                    self.sep();
                    self.i += 1;
                }
                _ => {
                    self.word.push(ch);
                    self.in_word = true;
                    self.i += 1;
                }
            }
        }
        self.sep();
    }
}

fn lex(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut lexer = Lexer {
        c: &chars,
        i: 0,
        toks: Vec::new(),
        subs: Vec::new(),
        word: String::new(),
        in_word: false,
        skip_word: false,
    };
    lexer.run();
    let mut toks = lexer.toks;
    toks.append(&mut lexer.subs);
    toks
}

/// The simple commands of a script, as word lists.
fn commands(text: &str) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for tok in lex(text) {
        match tok {
            Tok::Word(w) => out.last_mut().map_or((), |c| c.push(w)),
            Tok::Sep => out.push(Vec::new()),
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "time", "in",
];
const BUILTINS: &[&str] = &[
    "echo", "printf", "cd", "set", "shift", "local", "export", "readonly", "return", "exit",
    "read", "trap", "test", "[", "[[", "true", "false", "eval", "declare", "wait", "kill",
    "source", ".", ":", "pwd", "type", "unset", "let", "break", "continue", "getopts", "umask",
];

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        let name = name.strip_suffix('+').unwrap_or(name);
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The functions a script defines, with the number of leading arguments a
/// function skips before running the rest as a command (`shift; "$@"`), if it does.
fn functions(text: &str) -> BTreeMap<String, Option<usize>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeMap::new();
    for (n, line) in lines.iter().enumerate() {
        let Some((name, rest)) = line.trim_start().split_once("()") else {
            continue;
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "_-".contains(c))
        {
            continue;
        }
        let body = if rest.trim_end().ends_with('}') {
            rest.to_string()
        } else {
            let end = (n + 1..lines.len())
                .find(|&j| lines[j] == "}")
                .unwrap_or(lines.len());
            lines[n + 1..end].join("\n")
        };
        let mut shifts = 0;
        let mut wrapper = false;
        for cmd in commands(&body) {
            let mut words = cmd
                .iter()
                .skip_while(|w| KEYWORDS.contains(&w.as_str()) || is_assignment(w));
            match words.next().map(String::as_str) {
                Some("shift") => shifts += words.next().and_then(|n| n.parse().ok()).unwrap_or(1),
                Some("$@") => wrapper = true,
                _ => {}
            }
        }
        out.insert(name.to_string(), wrapper.then_some(shifts));
    }
    out
}

/// Programs a shell script runs: the first word of each simple command after
/// assignments and keywords, through `timeout`, `exec`, `env`, `command -v` and
/// the script's own wrapper functions; `cargo fuzz` runs cargo-fuzz and
/// `python3 -m pip` pip.
pub fn shell_programs(text: &str) -> BTreeSet<String> {
    let funcs = functions(text);
    let mut found = BTreeSet::new();
    for cmd in commands(text) {
        let mut k = 0;
        while k < cmd.len() && (KEYWORDS.contains(&cmd[k].as_str()) || is_assignment(&cmd[k])) {
            k += 1;
        }
        if matches!(
            cmd.first().map(String::as_str),
            Some("for" | "case" | "select")
        ) {
            continue;
        }
        while let Some(word) = cmd.get(k) {
            match word.as_str() {
                "timeout" => {
                    found.insert(word.clone());
                    k += 1;
                    while cmd.get(k).is_some_and(|w| w.starts_with('-')) {
                        k += if cmd[k] == "-s" || cmd[k] == "-k" {
                            2
                        } else {
                            1
                        };
                    }
                    k += 1;
                }
                "exec" | "env" | "nohup" => {
                    k += 1;
                    while cmd
                        .get(k)
                        .is_some_and(|w| w.starts_with('-') || is_assignment(w))
                    {
                        k += 1;
                    }
                }
                "command" if cmd.get(k + 1).is_some_and(|w| w == "-v") => {
                    found.extend(cmd[k + 2..].iter().filter(|w| is_program_name(w)).cloned());
                    break;
                }
                "command" => k += 1,
                w if funcs.contains_key(w) => match funcs[w] {
                    Some(skip) => k += 1 + skip,
                    None => break,
                },
                w if BUILTINS.contains(&w) || !is_program_name(w) => break,
                w => {
                    found.insert(w.to_string());
                    match (w, cmd.get(k + 1).map(String::as_str), cmd.get(k + 2)) {
                        ("cargo", Some("fuzz"), _) => found.insert("cargo-fuzz".to_string()),
                        ("python3", Some("-m"), Some(module)) => {
                            found.insert(format!("python3 -m {module}"))
                        }
                        _ => false,
                    };
                    break;
                }
            }
        }
    }
    found
}
