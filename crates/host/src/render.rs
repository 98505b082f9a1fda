//! A plan's actions as a `.reg` file and as a PowerShell script, for live hosts.

use rdp_doctor_regf::Data;

use rdp_doctor_model::command;

use crate::fix::Plan;
use crate::registry::{Action, Root};

/// regedit starts a new line once a hex line reaches this many characters.
const MAX_HEX_LINE: usize = 77;

fn hklm(root: Root, key: &str) -> String {
    format!("HKEY_LOCAL_MACHINE\\{}\\{key}", root.name())
}

fn reg_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `prefix` (`"name"=hex(2):`) and the bytes as regedit writes them: two lowercase
/// digits each, commas between, `,\` and a two-space indent when a line reaches 77 characters.
fn hex_lines(prefix: &str, bytes: &[u8]) -> String {
    let mut out = String::from(prefix);
    let mut line = prefix.chars().count();
    for (i, b) in bytes.iter().enumerate() {
        out.push_str(&format!("{b:02x}"));
        if i + 1 == bytes.len() {
            break;
        }
        out.push(',');
        line += 3;
        if line >= MAX_HEX_LINE {
            out.push_str("\\\r\n  ");
            line = 2;
        }
    }
    out
}

/// One value line of a .reg file (without the line ending).
pub fn reg_value_line(name: &str, data: &Data) -> String {
    let lhs = if name.is_empty() {
        "@=".to_string()
    } else {
        format!("{}=", reg_string(name))
    };
    match data {
        Data::String(s) if !s.contains('\0') => format!("{lhs}{}", reg_string(s)),
        Data::Dword(v) => format!("{lhs}dword:{v:08x}"),
        Data::Binary(b) => hex_lines(&format!("{lhs}hex:"), b),
        other => {
            let (kind, bytes) = other.to_raw();
            hex_lines(&format!("{lhs}hex({kind:x}):"), &bytes)
        }
    }
}

/// Groups actions by key, keys in order of first appearance; one action per value (the last).
fn by_key(actions: &[Action]) -> Vec<((Root, String), Vec<&Action>)> {
    let mut groups: Vec<((Root, String), Vec<&Action>)> = Vec::new();
    for a in actions {
        // Only registry actions have a key; the others are not in a .reg file.
        let (Some(root), true) = (a.root(), a.is_registry()) else {
            continue;
        };
        let k = (root, a.key().to_string());
        match groups
            .iter_mut()
            .find(|(g, _)| g.0 == k.0 && g.1.eq_ignore_ascii_case(&k.1))
        {
            Some((_, v)) => {
                // A later action on the same value replaces the earlier one.
                v.retain(|b| !b.name().eq_ignore_ascii_case(a.name()));
                v.push(a)
            }
            None => groups.push((k, vec![a])),
        }
    }
    groups
}

/// The actions as a `.reg` file (text; regedit writes it as UTF-16LE with a
/// BOM, see [`to_utf16le_bom`]), CRLF line endings.
pub fn to_reg(actions: &[Action]) -> String {
    let mut out = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
    for ((root, key), list) in by_key(actions) {
        out.push_str(&format!("[{}]\r\n", hklm(root, &key)));
        for a in list {
            match a {
                Action::SetValue { name, data, .. } => out.push_str(&reg_value_line(name, data)),
                Action::DeleteValue { name, .. } => {
                    if name.is_empty() {
                        out.push_str("@=-");
                    } else {
                        out.push_str(&format!("{}=-", reg_string(name)));
                    }
                }
                _ => continue,
            }
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
    }
    out
}

/// Text as regedit writes .reg files: UTF-16LE with a byte-order mark.
pub fn to_utf16le_bom(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ps_value(data: &Data) -> (&'static str, String) {
    match data {
        Data::String(s) => ("String", ps_quote(s)),
        Data::ExpandString(s) => ("ExpandString", ps_quote(s)),
        Data::Dword(v) | Data::DwordBigEndian(v) => (
            "DWord",
            match i32::try_from(*v) {
                Ok(n) => n.to_string(),
                // The registry provider takes a DWORD as Int32: the same 32 bits.
                Err(_) => format!("{}", *v as i32),
            },
        ),
        Data::Qword(v) => ("QWord", format!("{}", *v as i64)),
        Data::MultiString(list) => (
            "MultiString",
            format!(
                "@({})",
                list.iter()
                    .map(|s| ps_quote(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        other => {
            let (_, bytes) = other.to_raw();
            (
                "Binary",
                format!(
                    "([byte[]]({}))",
                    bytes
                        .iter()
                        .map(|b| format!("0x{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            )
        }
    }
}

/// The plan as a PowerShell script for the live host: every touched key
/// exported with `reg export` first, then one change per line.
pub fn to_powershell(plan: &Plan) -> String {
    let mut out = String::new();
    out.push_str("# Remote Desktop fixes planned by rdp-doctor host fix. Run as Administrator on the host.\r\n");
    out.push_str("#Requires -RunAsAdministrator\r\n");
    out.push_str("$ErrorActionPreference = 'Stop'\r\n\r\n");
    if plan.actions.is_empty() {
        out.push_str("# Nothing to change.\r\n");
    } else {
        out.push_str("# Backup: every key this script changes, as .reg files (restore with reg import FILE; values this script creates are not in them).\r\n");
        out.push_str("$backup = Join-Path $env:TEMP ('rdp-doctor-backup-' + (Get-Date -Format 'yyyyMMdd-HHmmss'))\r\n");
        out.push_str("New-Item -ItemType Directory -Path $backup -Force | Out-Null\r\n");
        for (i, ((root, key), _)) in by_key(&plan.actions).iter().enumerate() {
            let reg_path = format!("HKLM\\{}\\{key}", root.name());
            let ps_path = format!("HKLM:\\{}\\{key}", root.name());
            out.push_str(&format!(
                "if (Test-Path -LiteralPath {}) {{ reg export {} (Join-Path $backup '{}.reg') /y | Out-Null; if ($LASTEXITCODE -ne 0) {{ throw 'reg export failed: {}' }} }}\r\n",
                ps_quote(&ps_path),
                ps_quote(&reg_path),
                i + 1,
                reg_path.replace('\'', "''")
            ));
        }
        out.push_str("Write-Host \"Backup written to $backup\"\r\n");
    }
    for step in &plan.steps {
        out.push_str(&format!(
            "\r\n# {} ({}): {}\r\n# Fix: {}{}\r\n",
            step.finding.id,
            step.finding.path,
            step.finding.message,
            step.remedy.title,
            if step.remedy.downgrade {
                " [security downgrade, allowed with --allow-downgrade]"
            } else {
                ""
            }
        ));
        for a in &step.remedy.actions {
            // Firewall rules through the cmdlets, as `host check` shows them.
            if let Some(cmdlet) = command::firewall_cmdlet(a) {
                out.push_str(&cmdlet);
                out.push_str("\r\n");
                continue;
            }
            let Some(root) = a.root().filter(|_| a.is_registry()) else {
                out.push_str(&format!("# By hand: {}\r\n", a.path()));
                continue;
            };
            let path = ps_quote(&format!("HKLM:\\{}\\{}", root.name(), a.key()));
            match a {
                Action::SetValue { name, data, .. } => {
                    let (kind, value) = ps_value(data);
                    out.push_str(&format!(
                        "if (-not (Test-Path -LiteralPath {path})) {{ New-Item -Path {path} -Force | Out-Null }}\r\n"
                    ));
                    out.push_str(&format!(
                        "New-ItemProperty -LiteralPath {path} -Name {} -PropertyType {kind} -Value {value} -Force | Out-Null\r\n",
                        ps_quote(name)
                    ));
                }
                Action::DeleteValue { name, .. } => out.push_str(&format!(
                    "if ($null -ne (Get-ItemProperty -LiteralPath {path} -Name {n} -ErrorAction SilentlyContinue)) {{ Remove-ItemProperty -LiteralPath {path} -Name {n} }}\r\n",
                    n = ps_quote(name)
                )),
                _ => {}
            }
        }
    }
    for h in &plan.held {
        out.push_str(&format!(
            "\r\n# Not done ({}): {} ({}): {}\r\n#   {}\r\n",
            match h.reason {
                crate::fix::HeldReason::Downgrade => "a security downgrade; give --allow-downgrade",
                crate::fix::HeldReason::Manual => "by hand",
                crate::fix::HeldReason::Conflict => "conflicts with another fix",
            },
            h.finding.id,
            h.finding.path,
            h.remedy.title,
            h.remedy.explanation
        ));
    }
    if !plan.actions.is_empty() {
        out.push_str("\r\nWrite-Host 'Done. Restart the Remote Desktop Services (Restart-Service TermService -Force) or reboot, then run rdp-doctor diagnose against this host.'\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_wraps_as_regedit_does() {
        let s = "%SystemRoot%\\system32\\rdpclip.exe and some more text";
        let line = reg_value_line("Path", &Data::ExpandString(s.into()));
        let lines: Vec<&str> = line.split("\r\n").collect();
        assert!(lines[0].starts_with("\"Path\"=hex(2):25,00,53,00,"));
        // 14 characters of prefix + 21 bytes, then the continuation mark.
        assert_eq!(lines[0].len(), 14 + 21 * 3 + 1);
        assert!(lines[0].ends_with(",\\"));
        for l in &lines[1..lines.len() - 1] {
            assert_eq!(l.len(), 2 + 25 * 3 + 1, "{l}");
        }
        assert!(lines.last().unwrap().ends_with("00,00"));
        assert_eq!(
            reg_value_line("a\"b", &Data::Dword(10)),
            "\"a\\\"b\"=dword:0000000a"
        );
        assert_eq!(
            reg_value_line("", &Data::String("c:\\x".into())),
            "@=\"c:\\\\x\""
        );
        assert_eq!(
            reg_value_line("q", &Data::Qword(1)),
            "\"q\"=hex(b):01,00,00,00,00,00,00,00"
        );
        assert_eq!(reg_value_line("e", &Data::Binary(vec![])), "\"e\"=hex:");
    }
}
