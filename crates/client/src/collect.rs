//! `host collect`: a live Windows host's Remote Desktop evidence exported into
//! one folder (see [`crate::collected`] for the layout): the hives the checks
//! read (`reg save`; when it cannot save a hive, the keys the checks read are
//! copied through the registry API into a new hive, marked partial: see
//! [`export`]), the RDP-related event logs (`wevtutil epl`, Security and
//! System filtered to RDP events; without wevtutil they are listed as left
//! out) and the Remote Desktop certificate store's certificates, with a
//! manifest. Never collected: user profiles, passwords (SAM and SECURITY only
//! with `--accounts`), private keys.
//!
//! The steps are plain data ([`steps`]), so what is run is tested everywhere;
//! running them needs Windows (`reg`, `wevtutil`, the registry API).

use std::path::Path;

use rdp_doctor_regf::{Data, Hive};

use crate::collected::{Item, LeftOut, Manifest, CERTIFICATES, HIVES, LOGS, MANIFEST, SCHEMA};
use crate::Error;

pub mod export;

/// What the collect commands say on a build for another system.
pub const NOT_WINDOWS: &str = "host collect exports the live registry and event logs: run it on the Windows host (the folder it writes is read anywhere with --collected DIR)";

/// The Security events about Remote Desktop logons, kept by the filter.
pub const SECURITY_EVENTS: [u32; 7] = [4624, 4625, 4634, 4647, 4778, 4779, 4825];
/// The System log's providers kept by the filter.
pub const SYSTEM_PROVIDERS: [&str; 4] = [
    "Schannel",
    "TermService",
    "TermDD",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
];
/// The Remote Desktop logs exported whole.
pub const CHANNELS: [&str; 7] = [
    "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin",
    "Microsoft-Windows-TerminalServices-RDPClient/Operational",
    "Microsoft-Windows-TerminalServices-Gateway/Operational",
    "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational",
    "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Admin",
];
/// Where the Remote Desktop certificates are, in the SOFTWARE hive.
pub const RD_STORE: &str = "Microsoft\\SystemCertificates\\Remote Desktop\\Certificates";

/// One export: the program, its arguments, and the file it writes (relative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: &'static str,
    pub args: Vec<String>,
    /// Relative to the folder, `/`-separated.
    pub file: String,
    pub kind: &'static str,
    /// The hive (`SYSTEM`) or the log's channel.
    pub name: String,
    /// What is exported, as the manifest names it.
    pub source: String,
}

/// The channel as a file name: `Microsoft-Windows-X/Operational` -> `Microsoft-Windows-X%4Operational.evtx`, as Windows names them.
pub fn log_file_name(channel: &str) -> String {
    format!("{}.evtx", channel.replace('/', "%4"))
}

fn security_query() -> String {
    let ids: Vec<String> = SECURITY_EVENTS
        .iter()
        .map(|i| format!("EventID={i}"))
        .collect();
    format!("*[System[({})]]", ids.join(" or "))
}

fn system_query() -> String {
    let p: Vec<String> = SYSTEM_PROVIDERS
        .iter()
        .map(|p| format!("@Name='{p}'"))
        .collect();
    format!("*[System[Provider[{}]]]", p.join(" or "))
}

/// Every export, in order. `dir` is the folder as Windows programs are given it.
pub fn steps(dir: &str, accounts: bool) -> Vec<Step> {
    let win = |rel: &str| format!("{dir}\\{}", rel.replace('/', "\\"));
    let mut out = Vec::new();
    let hives: &[&str] = if accounts {
        &["SYSTEM", "SOFTWARE", "SAM", "SECURITY"]
    } else {
        &["SYSTEM", "SOFTWARE"]
    };
    for h in hives {
        let file = format!("{HIVES}/{h}");
        out.push(Step {
            program: "reg",
            args: vec!["save".into(), format!("HKLM\\{h}"), win(&file), "/y".into()],
            file,
            kind: "hive",
            name: h.to_string(),
            source: format!("HKLM\\{h}"),
        });
    }
    let mut log = |channel: &str, query: Option<String>| {
        let file = format!("{LOGS}/{}", log_file_name(channel));
        let mut args = vec![
            "epl".into(),
            channel.to_string(),
            win(&file),
            "/ow:true".into(),
        ];
        let mut source = channel.to_string();
        if let Some(q) = query {
            source = format!("{channel} filtered: {q}");
            args.push(format!("/q:{q}"));
        }
        out.push(Step {
            program: "wevtutil",
            args,
            file,
            kind: "log",
            name: channel.to_string(),
            source,
        });
    };
    for c in CHANNELS {
        log(c, None);
    }
    log("Security", Some(security_query()));
    log("System", Some(system_query()));
    out
}

/// What is never collected, and why (SAM and SECURITY unless `accounts`).
pub fn never_collected(accounts: bool) -> Vec<LeftOut> {
    let mut out = vec![
        LeftOut {
            what: "user profiles (NTUSER.DAT, Documents, .rdp files)".into(),
            why: "personal data; `client check` reads a user's files where they are".into(),
        },
        LeftOut {
            what: "private keys (MachineKeys, CNG Keys)".into(),
            why: "secrets: the certificates are exported without their keys".into(),
        },
    ];
    if !accounts {
        out.push(LeftOut {
            what: "HKLM\\SAM and HKLM\\SECURITY".into(),
            why: "they hold password hashes and LSA secrets: only with --accounts".into(),
        });
    }
    out
}

/// The DER certificates of the Remote Desktop store in a SOFTWARE hive, by thumbprint.
pub fn certificates(software: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let hive = Hive::new(software).map_err(|e| Error(format!("SOFTWARE hive: {e}")))?;
    let root = hive
        .root()
        .map_err(|e| Error(format!("SOFTWARE hive: {e}")))?;
    let Some(store) = root
        .path(RD_STORE)
        .map_err(|e| Error(format!("SOFTWARE hive: {e}")))?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for k in store
        .subkeys()
        .map_err(|e| Error(format!("SOFTWARE hive: {e}")))?
    {
        let thumb = k.name();
        // A thumbprint is a file name here: hex only.
        if thumb.is_empty() || !thumb.chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        let Ok(Some(Data::Binary(blob))) = k.value("Blob") else {
            continue;
        };
        let Ok(props) = rdp_doctor_host::cert::properties(&blob) else {
            continue;
        };
        if let Some((_, der)) = props.iter().find(|(id, _)| *id == 0x20) {
            out.push((thumb.to_uppercase(), der.to_vec()));
        }
    }
    Ok(out)
}

fn item(dir: &Path, file: &str, kind: &str, source: String) -> Result<Item, Error> {
    let path = dir.join(file);
    let bytes =
        std::fs::read(&path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    Ok(Item {
        path: file.into(),
        kind: kind.into(),
        source,
        size: bytes.len() as u64,
        sha256: rdp_doctor_host::apply::sha256_hex(&bytes),
        partial: None,
    })
}

/// What is said of a program that is not on this system.
fn missing(program: &str) -> String {
    format!("{program} is missing on this system")
}

/// The logs not exported (channel, why), one line per reason: the logs that
/// share a reason (wevtutil missing, say) are named together.
pub fn logs_left_out(failed: Vec<(String, String)>) -> Vec<LeftOut> {
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for (channel, why) in failed {
        match out.iter_mut().find(|(_, w)| *w == why) {
            Some((logs, _)) => logs.push(channel),
            None => out.push((vec![channel], why)),
        }
    }
    out.into_iter()
        .map(|(logs, why)| LeftOut {
            what: match logs.as_slice() {
                [one] => format!("the event log {one}"),
                _ => format!("the event logs {}", logs.join(", ")),
            },
            why,
        })
        .collect()
}

/// Why a step's program did not leave its file, if it did not; a hive must
/// also be one (`reg save` under Wine writes Wine's own text format).
fn failure(dir: &Path, s: &Step, run: std::io::Result<std::process::Output>) -> Option<String> {
    let o = match run {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(missing(s.program));
        }
        Err(e) => return Some(format!("cannot run {}: {e}", s.program)),
        Ok(o) => o,
    };
    let said = |o: &std::process::Output| {
        let text = String::from_utf8_lossy(if o.stderr.is_empty() {
            &o.stdout
        } else {
            &o.stderr
        });
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    if !o.status.success() {
        return Some(format!("{} failed ({}): {}", s.program, o.status, said(&o)));
    }
    let Ok(bytes) = std::fs::read(dir.join(&s.file)) else {
        return Some(format!("{} reported success but wrote no file", s.program));
    };
    if s.kind == "hive" {
        if let Err(e) = Hive::new(&bytes) {
            return Some(format!(
                "{} wrote a file that is not a regf hive ({e})",
                s.program
            ));
        }
    }
    None
}

/// The hive of `step` as selected keys read through the registry API, after
/// `reg save` failed for `why`: the item, and what could not be read.
fn hive_through_api(dir: &Path, step: &Step, why: &str) -> Result<(Item, Vec<LeftOut>), Error> {
    let exported = exported_live(&step.name)?;
    if exported.keys == 0 {
        return Err(Error(format!(
            "{why}; none of its selected keys could be read through the registry API either"
        )));
    }
    // Over whatever `reg save` left there.
    rdp_doctor_host::atomic::write(
        &dir.join(&step.file),
        &exported.bytes,
        rdp_doctor_host::atomic::Existing::Replace,
    )?;
    let mut it = item(dir, &step.file, step.kind, step.source.clone())?;
    it.partial = Some(format!(
        "selected keys, read through the registry API ({} keys, {} values): {why}",
        exported.keys, exported.values
    ));
    let unreadable = exported
        .unreadable
        .into_iter()
        .map(|(what, why)| LeftOut { what, why })
        .collect();
    Ok((it, unreadable))
}

#[cfg(windows)]
fn exported_live(hive: &str) -> Result<export::Exported, Error> {
    export::export(&export::Live, hive)
}

#[cfg(not(windows))]
fn exported_live(_: &str) -> Result<export::Exported, Error> {
    Err(Error(NOT_WINDOWS.into()))
}

/// Runs every step into `dir` (created; it must be empty), extracts the
/// certificates and writes the manifest. A hive `reg save` cannot save is
/// copied key by key through the registry API ([`export`]); any other step
/// that fails is recorded as left out, with the reason; the others go on.
/// `on_step(done, total, what)` is called before each step.
pub fn collect(
    dir: &Path,
    accounts: bool,
    on_step: &mut dyn FnMut(usize, usize, &str),
) -> Result<Manifest, Error> {
    if !cfg!(windows) {
        return Err(Error(NOT_WINDOWS.into()));
    }
    if dir.exists() && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error(format!("{} exists and is not empty", dir.display())));
    }
    for sub in [HIVES, LOGS, CERTIFICATES] {
        std::fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error(format!("cannot create {}: {e}", dir.join(sub).display())))?;
    }
    let shown = dir.display().to_string();
    let steps = steps(&shown, accounts);
    // Every step, the certificates, the manifest.
    let total = steps.len() + 2;
    let mut items = Vec::new();
    let mut left_out = never_collected(accounts);
    // Logs not exported, and why: grouped by reason once all have run.
    let mut logs_failed: Vec<(String, String)> = Vec::new();
    for (done, s) in steps.into_iter().enumerate() {
        on_step(done, total, &s.source);
        // A missing program is not looked for again.
        if let Some((_, why)) = logs_failed.iter().find(|(_, w)| *w == missing(s.program)) {
            let why = why.clone();
            logs_failed.push((s.name, why));
            continue;
        }
        let run = std::process::Command::new(s.program).args(&s.args).output();
        let Some(why) = failure(dir, &s, run) else {
            items.push(item(dir, &s.file, s.kind, s.source)?);
            continue;
        };
        if s.kind != "hive" {
            logs_failed.push((s.name, why));
            continue;
        }
        match hive_through_api(dir, &s, &why) {
            Ok((it, unreadable)) => {
                items.push(it);
                left_out.extend(unreadable);
            }
            Err(e) => left_out.push(LeftOut {
                what: s.source,
                why: e.0,
            }),
        }
    }
    left_out.extend(logs_left_out(logs_failed));
    on_step(total - 2, total, "certificates");
    if let Ok(sw) = std::fs::read(dir.join(HIVES).join("SOFTWARE")) {
        for (thumb, der) in certificates(&sw)? {
            let file = format!("{CERTIFICATES}/{thumb}.cer");
            rdp_doctor_host::atomic::write(
                &dir.join(&file),
                &der,
                rdp_doctor_host::atomic::Existing::Refuse,
            )?;
            items.push(item(
                dir,
                &file,
                "certificate",
                format!("HKLM\\SOFTWARE\\{RD_STORE}\\{thumb}"),
            )?);
        }
    }
    on_step(total - 1, total, MANIFEST);
    let manifest = Manifest {
        schema: SCHEMA.into(),
        created: rdp_doctor_host::cert::rfc3339(rdp_doctor_host::cert::now()),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        computer: std::env::var("COMPUTERNAME").unwrap_or_default(),
        items,
        left_out,
    };
    let mut text =
        serde_json::to_vec_pretty(&manifest).map_err(|e| Error(format!("manifest: {e}")))?;
    text.push(b'\n');
    rdp_doctor_host::atomic::write(
        &dir.join(MANIFEST),
        &text,
        rdp_doctor_host::atomic::Existing::Refuse,
    )?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_export_hives_and_filtered_logs_and_accounts_only_when_asked() {
        let s = steps("C:\\out", false);
        assert_eq!(
            s[0].args,
            ["save", "HKLM\\SYSTEM", "C:\\out\\hives\\SYSTEM", "/y"]
        );
        assert!(!s.iter().any(|x| x.source.contains("SAM")));
        assert!(steps("C:\\out", true)
            .iter()
            .any(|x| x.source == "HKLM\\SECURITY"));
        let sec = s
            .iter()
            .find(|x| x.args[1] == "Security")
            .expect("Security");
        assert!(sec.args.last().is_some_and(|q| q.contains("EventID=4625")));
        let rcm = s
            .iter()
            .find(|x| x.args[1].contains("RemoteConnectionManager/Operational"))
            .expect("RCM");
        assert_eq!(
            rcm.file,
            "logs/Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx"
        );
        assert!(never_collected(false)
            .iter()
            .any(|l| l.what.contains("SAM")));
        assert!(!never_collected(true).iter().any(|l| l.what.contains("SAM")));
    }

    #[test]
    fn logs_not_exported_for_one_reason_are_one_line() {
        let s = steps("C:\\out", false);
        let logs: Vec<(String, String)> = s
            .iter()
            .filter(|x| x.kind == "log")
            .map(|x| (x.name.clone(), missing("wevtutil")))
            .collect();
        let n = logs.len();
        let out = logs_left_out(logs);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].why, "wevtutil is missing on this system");
        assert!(out[0].what.starts_with("the event logs Microsoft-Windows-"));
        assert!(
            out[0].what.ends_with(", Security, System"),
            "{}",
            out[0].what
        );
        assert_eq!(out[0].what.matches(", ").count(), n - 1);
        let two = logs_left_out(vec![
            (
                "Security".into(),
                "wevtutil failed (exit code: 5): denied".into(),
            ),
            ("System".into(), missing("wevtutil")),
        ]);
        assert_eq!(two[0].what, "the event log Security");
        assert_eq!(two[1].why, "wevtutil is missing on this system");
    }
}
