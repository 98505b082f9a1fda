//! Findings as a SARIF 2.1.0 log, for code-scanning dashboards and CI annotations.
//!
//! ```no_run
//! # let findings: Vec<rdp_doctor_model::Finding> = Vec::new();
//! let log = rdp_doctor::sarif::to_sarif("rdp-doctor rdpfile lint Work.rdp", &findings, Some("Work.rdp"));
//! serde_json::to_writer_pretty(std::io::stdout().lock(), &log)?;
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! One run; one rule per finding ID used (from the `FindingId` registry: the code as
//! `id`, the meaning as `shortDescription`); one result per finding with its level,
//! its title as the message, and a location per piece of evidence: `.rdp` lines as a
//! region of the artifact, registry values as logical locations (and the hive file
//! when read offline), probe evidence as the phase. SARIF's `fixes` must be edits of
//! artifact regions, which registry changes and commands are not: the remedies go in
//! each result's property bag (`properties.remedies`), with their typed actions.

use rdp_doctor_model::{Evidence, Finding, FindingId, RegistryOrigin, Severity};
use serde_json::{json, Map, Value};

/// The schema URI SARIF 2.1.0 logs name (the OASIS standard with its errata).
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A SARIF 2.1.0 log of `findings`.
///
/// `tool_command` is the command line as run (the invocation's `commandLine`); `artifact`
/// is the file the findings are about (the .rdp file of `rdpfile lint`), used as the
/// artifact of `.rdp` line evidence. Pure: the caller prints it.
pub fn to_sarif(tool_command: &str, findings: &[Finding], artifact: Option<&str>) -> Value {
    let rules = used_rules(findings);
    let results: Vec<Value> = findings
        .iter()
        .map(|f| result(f, &rules, artifact))
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "rdp-doctor",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| rule(*id)).collect::<Vec<_>>(),
            }},
            "invocations": [{
                "commandLine": tool_command,
                "executionSuccessful": true,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// The finding IDs the findings use, in registry order (their `ruleIndex` is their place here).
fn used_rules(findings: &[Finding]) -> Vec<FindingId> {
    let mut ids: Vec<FindingId> = findings.iter().map(|f| f.id).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn rule(id: FindingId) -> Value {
    let info = id.info();
    let mut properties = Map::new();
    properties.insert("source".into(), json!(info.source.name()));
    if let Some(cause) = info.cause {
        properties.insert("cause".into(), json!(cause));
    }
    json!({
        "id": info.code,
        "name": format!("{id:?}"),
        "shortDescription": { "text": info.meaning },
        "defaultConfiguration": { "level": default_level(info.severity) },
        "properties": properties,
    })
}

/// The registry's severity column ("error/warning") names the usual one first.
fn default_level(severity: &str) -> &'static str {
    match severity.split('/').next().unwrap_or("") {
        "error" => "error",
        "info" => "note",
        _ => "warning",
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn result(f: &Finding, rules: &[FindingId], artifact: Option<&str>) -> Value {
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.id.code()));
    if let Some(i) = rules.iter().position(|id| *id == f.id) {
        r.insert("ruleIndex".into(), json!(i));
    }
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({ "text": f.title }));
    let mut locations: Vec<Value> = Vec::new();
    for e in &f.evidence {
        let l = location(e, artifact);
        if !locations.contains(&l) {
            locations.push(l);
        }
    }
    if locations.is_empty() {
        if let Some(a) = artifact {
            locations
                .push(json!({ "physicalLocation": { "artifactLocation": { "uri": uri(a) } } }));
        }
    }
    if !locations.is_empty() {
        r.insert("locations".into(), Value::Array(locations));
    }
    r.insert("properties".into(), properties(f));
    Value::Object(r)
}

/// The cause, every evidence line, and the remedies with their commands.
fn properties(f: &Finding) -> Value {
    let remedies: Vec<Value> = f
        .remedies
        .iter()
        .map(|r| {
            json!({
                "title": r.title,
                "explanation": r.explanation,
                "actions": r.actions,
                "downgrade": r.downgrade,
            })
        })
        .collect();
    let mut p = Map::new();
    if let Some(c) = f.cause {
        p.insert("cause".into(), json!(c));
    }
    p.insert(
        "evidence".into(),
        json!(f.evidence.iter().map(Evidence::line).collect::<Vec<_>>()),
    );
    p.insert("remedies".into(), Value::Array(remedies));
    Value::Object(p)
}

fn location(e: &Evidence, artifact: Option<&str>) -> Value {
    match e {
        Evidence::RdpFile { line, text, detail } => {
            rdp_file_location(*line, text, detail, artifact)
        }
        Evidence::Registry { path, origin, .. } => {
            let logical = json!([{
                "name": path.rsplit('\\').next().unwrap_or(path),
                "fullyQualifiedName": path,
            }]);
            match origin {
                RegistryOrigin::Hive { file } => json!({
                    "physicalLocation": { "artifactLocation": { "uri": uri(file) } },
                    "logicalLocations": logical,
                }),
                RegistryOrigin::Live => json!({ "logicalLocations": logical }),
            }
        }
        Evidence::Probe { phase, .. } => json!({ "logicalLocations": [{
            "name": phase.label(),
            "fullyQualifiedName": format!("probe/{}", phase.label()),
        }]}),
        Evidence::Events { event_ids, .. } => {
            let ids: Vec<String> = event_ids.iter().map(u32::to_string).collect();
            json!({ "logicalLocations": [{
                "name": format!("event {}", ids.join("/")),
                "fullyQualifiedName": format!("events/{}", ids.join("/")),
            }]})
        }
        Evidence::Code {
            namespace, code, ..
        } => json!({ "logicalLocations": [{
            "name": format!("0x{code:X}"),
            "fullyQualifiedName": format!("{namespace}/0x{code:X}"),
        }]}),
        Evidence::File { path, .. } => {
            json!({ "physicalLocation": { "artifactLocation": { "uri": uri(path) } } })
        }
    }
}

fn rdp_file_location(
    line: Option<usize>,
    text: &Option<String>,
    detail: &str,
    artifact: Option<&str>,
) -> Value {
    let Some(a) = artifact else {
        let name = line.map_or_else(|| ".rdp file".to_string(), |l| format!("line {l}"));
        return json!({ "logicalLocations": [{ "name": name }], "message": { "text": detail } });
    };
    let mut physical = Map::new();
    physical.insert("artifactLocation".into(), json!({ "uri": uri(a) }));
    if let Some(l) = line.filter(|l| *l >= 1) {
        let mut region = Map::new();
        region.insert("startLine".into(), json!(l));
        if let Some(t) = text {
            region.insert("snippet".into(), json!({ "text": t }));
        }
        physical.insert("region".into(), Value::Object(region));
    }
    json!({ "physicalLocation": physical, "message": { "text": detail } })
}

/// A file path as a URI reference: relative paths stay relative, absolute ones become
/// `file:` URIs; backslashes become slashes and bytes outside the unreserved set are
/// percent-encoded.
pub fn uri(path: &str) -> String {
    let slashed = path.replace('\\', "/");
    let drive = slashed.len() >= 2 && slashed.as_bytes()[1] == b':';
    let mut out = String::new();
    if slashed.starts_with('/') {
        out.push_str("file://");
    } else if drive {
        out.push_str("file:///");
    }
    for (i, b) in slashed.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (drive && i == 1 && b == b':');
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdp_doctor_model::{Machine, PhaseName, Remedy};

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("Work.rdp"), "Work.rdp");
        assert_eq!(uri("/tmp/my file.rdp"), "file:///tmp/my%20file.rdp");
        assert_eq!(uri("C:\\Users\\a\\x.rdp"), "file:///C:/Users/a/x.rdp");
        assert_eq!(uri("dir/a#b?.rdp"), "dir/a%23b%3F.rdp");
    }

    #[test]
    fn levels_rules_and_locations() {
        let findings = vec![
            Finding::new(FindingId::TlsFailsAfterX224, Severity::Error, "TLS fails")
                .evidence(Evidence::probe(PhaseName::Tls, "reset"))
                .remedy(Remedy::run("Renew", Machine::Host, "certutil -repairstore")),
            Finding::new(FindingId::UnknownProperty, Severity::Info, "unknown").evidence(
                Evidence::RdpFile {
                    line: Some(3),
                    text: Some("x:s:y".into()),
                    detail: "not in the catalog".into(),
                },
            ),
            Finding::new(FindingId::TlsFailsAfterX224, Severity::Warning, "again"),
        ];
        let v = to_sarif("rdp-doctor probe h", &findings, Some("a.rdp"));
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        assert_eq!(rules.len(), 2, "one rule per ID used");
        assert_eq!(rules[0]["id"], "CERT001");
        assert_eq!(rules[1]["id"], "RDPF010");
        let r = &run["results"];
        assert_eq!(r[0]["level"], "error");
        assert_eq!(r[1]["level"], "note");
        assert_eq!(r[2]["level"], "warning");
        assert_eq!(r[2]["ruleIndex"], 0);
        assert_eq!(r[0]["locations"][0]["logicalLocations"][0]["name"], "TLS");
        let region = &r[1]["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], 3);
        let remedy = &r[0]["properties"]["remedies"][0];
        assert_eq!(remedy["title"], "Renew");
        assert_eq!(remedy["actions"][0]["command"], "certutil -repairstore");
    }
}
