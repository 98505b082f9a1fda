//! The sections of the pages, each a function from typed data to escaped markup.

use std::fmt::Write;

use rdp_doctor_diagnose::{AgainstReason, Diagnosis, RankedCause};
use rdp_doctor_events::LogReport;
use rdp_doctor_model::{Action, Evidence, Finding, RegistryOrigin, Remedy};
use rdp_doctor_probe::{NegotiationOutcome, ProbeReport, Status};
use serde::Serialize;

use super::esc;
use super::svg::{self, ms, Bar, Point, Tone};

/// A value's serde name (`x224`, `mcs_connect`): the key the page's data attributes use.
fn key<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn tone(s: Status) -> Tone {
    match s {
        Status::Ok => Tone::Ok,
        Status::Warn => Tone::Warn,
        Status::Fail => Tone::Fail,
        Status::Skipped => Tone::Skipped,
    }
}

fn source_names(sources: &[rdp_doctor_model::Source]) -> String {
    sources
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn verdict(d: &Diagnosis) -> String {
    let (tone, state) = if d.healthy {
        ("healthy", "healthy")
    } else {
        ("problem", "problem found")
    };
    format!(
        r#"<header class="verdict {tone}"><p class="kicker">rdp-doctor diagnosis{target}</p><h1 id="verdict">{verdict}</h1><p class="sub"><span class="pill {pill}">{state}</span> sources: {sources}</p></header>"#,
        target = d
            .target
            .as_deref()
            .map(|t| format!(" · {}", esc(t)))
            .unwrap_or_default(),
        verdict = esc(&d.verdict),
        pill = if d.healthy { "ok" } else { "fail" },
        sources = esc(&source_names(&d.sources)),
    )
}

pub fn causes(d: &Diagnosis) -> String {
    let mut s = String::from(r#"<section id="causes"><h2>Likely causes</h2>"#);
    if d.causes.is_empty() {
        s.push_str(r#"<p class="empty">No cause has more evidence for it than against it.</p>"#);
    }
    for (i, c) in d.causes.iter().enumerate() {
        s.push_str(&cause(c, i == 0));
    }
    if let Some(n) = &d.next_check {
        let _ = write!(
            s,
            r#"<p><b>Next check</b> (tells {} from {}): <code>{}</code></p>"#,
            esc(rdp_doctor_codes::causes::cause(n.between[0]).title),
            esc(rdp_doctor_codes::causes::cause(n.between[1]).title),
            esc(&n.command)
        );
    }
    s.push_str("</section>");
    s
}

fn cause(c: &RankedCause, top: bool) -> String {
    let pct = (f64::from(c.confidence) * 100.0).clamp(0.0, 100.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<div class="cause{top}" data-cause="{key}"><div class="cause-head"><div><h3>{title}</h3><span class="sub">corroborated by {by}</span></div><div class="meter" title="confidence {pct:.0}%"><span style="width:{pct:.1}%"></span></div><div class="pct">{pct:.0}%</div></div><ul class="why">"#,
        top = if top { " top" } else { "" },
        key = esc(&key(&c.cause)),
        title = esc(c.title),
        by = esc(&source_names(&c.corroborated_by)),
    );
    let mut lines: Vec<String> = Vec::new();
    for e in c.evidence_for.iter().flat_map(|sup| &sup.evidence) {
        let line = e.line();
        if !lines.contains(&line) {
            let _ = write!(s, "<li>{}</li>", esc(&line));
            lines.push(line);
        }
    }
    for a in &c.against {
        let why = match a.reason {
            AgainstReason::PhaseCompleted { phase } => {
                format!("against: {} completed", phase.label())
            }
            AgainstReason::CheckPassed { check } => format!("against: check {check} passed"),
        };
        let _ = write!(s, r#"<li class="against">{}</li>"#, esc(&why));
    }
    s.push_str("</ul>");
    if !c.remedies.is_empty() || !c.checks.is_empty() {
        s.push_str("<details><summary>What to do</summary>");
        for r in &c.remedies {
            s.push_str(&remedy(&r.remedy));
        }
        for check in c.checks {
            let _ = write!(s, "<p>Check: <code>{}</code></p>", esc(check));
        }
        s.push_str("</details>");
    }
    s.push_str("</div>");
    s
}

const LEGEND: &str = r#"<p class="legend"><span><i class="ok"></i>completed</span><span><i class="warn"></i>warning</span><span><i class="fail"></i>failed</span><span><i class="skipped"></i>skipped</span></p>"#;

/// The probe's phases one after another, like a browser's network panel.
pub fn handshake(p: &ProbeReport) -> String {
    let mut start = 0.0;
    let bars: Vec<Bar> = p
        .phases
        .iter()
        .map(|ph| {
            let b = Bar {
                attr: "data-phase",
                key: key(&ph.name),
                label: ph.name.label().to_string(),
                start_ms: start,
                duration_ms: ph.duration_ms,
                tone: tone(ph.status),
                detail: ph.summary.clone(),
            };
            if ph.duration_ms.is_finite() && ph.duration_ms > 0.0 {
                start += ph.duration_ms;
            }
            b
        })
        .collect();
    let mut s = format!(
        r#"<section id="handshake"><h2>Handshake with {} <span class="sub">({} connection(s), {} in all)</span></h2>"#,
        esc(&p.authority()),
        p.connections_used,
        esc(&ms(p.total_ms))
    );
    if bars.is_empty() {
        s.push_str(r#"<p class="empty">No phase ran.</p>"#);
    } else {
        s.push_str(&svg::waterfall("handshake phases", &bars));
        s.push_str(LEGEND);
        s.push_str(&phase_table(p));
    }
    s.push_str("</section>");
    s
}

fn phase_table(p: &ProbeReport) -> String {
    let mut s = String::from(
        "<details><summary>Phase details</summary><table><tr><th>phase</th><th>status</th><th>time</th><th>what was seen</th></tr>",
    );
    for ph in &p.phases {
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td><span class="pill {cls}">{cls}</span></td><td class="num">{}</td><td>{}"#,
            esc(ph.name.label()),
            esc(&ms(ph.duration_ms)),
            esc(&ph.summary),
            cls = tone(ph.status).class(),
        );
        for e in &ph.evidence {
            let _ = write!(s, r#"<br><span class="sub">{}</span>"#, esc(e));
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</table></details>");
    s
}

/// The credentialed connection's sub-phases, when the probe made one.
pub fn connection(p: &ProbeReport) -> String {
    let Some(c) = &p.connection else {
        return String::new();
    };
    let mut start = 0.0;
    let bars: Vec<Bar> = c
        .steps
        .iter()
        .map(|st| {
            let b = Bar {
                attr: "data-step",
                key: key(&st.step),
                label: st.step.label().to_string(),
                start_ms: start,
                duration_ms: st.duration_ms,
                tone: tone(st.status),
                detail: st.detail.clone().unwrap_or_default(),
            };
            if st.duration_ms.is_finite() && st.duration_ms > 0.0 {
                start += st.duration_ms;
            }
            b
        })
        .collect();
    let mut s = format!(
        r#"<section id="connection"><h2>Connection as {} <span class="sub">({})</span></h2><p>{}</p>"#,
        esc(&c.account),
        esc(&ms(c.duration_ms)),
        esc(&rdp_doctor_probe::connect::outcome_summary(&c.outcome)),
    );
    if !bars.is_empty() {
        s.push_str(&svg::waterfall("connection sub-phases", &bars));
        s.push_str(LEGEND);
    }
    s.push_str("</section>");
    s
}

/// The `--repeat` handshakes: every one's time, failures marked.
pub fn repeats(p: &ProbeReport) -> String {
    let Some(r) = &p.path.repeat else {
        return String::new();
    };
    let points: Vec<Point> = r
        .runs
        .iter()
        .map(|a| Point {
            ok: a.ok,
            handshake_ms: a.handshake_ms,
            detail: if a.ok {
                format!("{} handshake", ms(a.handshake_ms))
            } else {
                format!(
                    "failed at {}{}: {}",
                    a.failed_at.map_or("?", |f| f.label()),
                    if a.timed_out { " (timed out)" } else { "" },
                    a.error.as_deref().unwrap_or("no detail")
                )
            },
        })
        .collect();
    let spread = |v: Option<rdp_doctor_probe::path::Spread>| v.map_or("-".into(), |v| ms(v.median));
    let mut s = format!(
        r#"<section id="repeats"><h2>Repeated handshakes <span class="sub">({} each)</span></h2><div class="stats"><div><b>{ok}/{n}</b><span>succeeded ({rate:.0}%)</span></div><div><b>{median}</b><span>median handshake</span></div><div><b>{jitter}</b><span>jitter</span></div><div><b>{answer}</b><span>median X.224 answer</span></div><div><b>{retrans}</b><span>retransmissions</span></div></div>"#,
        esc(&r.handshake),
        ok = r.succeeded,
        n = r.attempts,
        rate = r.success_rate * 100.0,
        median = esc(&spread(r.handshake_ms)),
        jitter = esc(&r.jitter_ms.map_or("-".into(), ms)),
        answer = esc(&spread(r.answer_ms)),
        retrans = r.retransmits,
    );
    s.push_str(&svg::repeat_plot(&points, r.handshake_ms.map(|m| m.median)));
    s.push_str(r#"<p class="legend"><span><i class="ok" style="background:var(--accent)"></i>handshake time</span><span><i class="fail"></i>failed (cross on top)</span><span>dashed: median</span></p>"#);
    if r.not_run > 0 {
        let _ = write!(
            s,
            "<p class=\"sub\">{} asked for but not run (time budget).</p>",
            r.not_run
        );
    }
    s.push_str("</section>");
    s
}

/// What the probe learned: protocol, TLS, certificate, server identity.
pub fn probe_facts(p: &ProbeReport) -> String {
    let mut rows: Vec<(&str, String)> = Vec::new();
    rows.push(("target", p.target.clone()));
    if let Some(a) = p.connected_to {
        rows.push(("connected to", a.to_string()));
    }
    if let Some(n) = &p.negotiated {
        rows.push((
            "mstsc's request",
            rdp_doctor_probe::text::negotiation(&n.outcome),
        ));
        if let NegotiationOutcome::Selected { selected_name, .. } = &n.outcome {
            rows.push(("protocol", selected_name.clone()));
        }
    }
    if let Some(t) = &p.tls {
        if let Some(v) = &t.version {
            rows.push(("TLS", format!("{v} {}", t.cipher.as_deref().unwrap_or(""))));
        }
        if let Some(c) = t.chain.first() {
            rows.push(("certificate", c.subject.clone()));
            rows.push((
                "issuer",
                format!(
                    "{}{}",
                    c.issuer,
                    if c.self_signed { " (self-signed)" } else { "" }
                ),
            ));
            rows.push(("valid", format!("{} .. {}", c.not_before, c.not_after)));
            rows.push(("SHA1 thumbprint", c.sha1_thumbprint.clone()));
        }
        if let Some(days) = t.days_left {
            rows.push(("days left", days.to_string()));
        }
    }
    if let Some(n) = &p.ntlm {
        let who = [
            &n.dns_computer,
            &n.netbios_computer,
            &n.netbios_domain,
            &n.os_version,
        ]
        .iter()
        .filter_map(|v| v.as_deref())
        .collect::<Vec<_>>()
        .join(" · ");
        if !who.is_empty() {
            rows.push(("server identity", who));
        }
    }
    let mut s = String::from(r#"<section id="probe"><h2>What the probe saw</h2><table>"#);
    for (k, v) in rows {
        let _ = write!(
            s,
            r#"<tr><th>{}</th><td class="mono">{}</td></tr>"#,
            esc(k),
            esc(&v)
        );
    }
    s.push_str("</table></section>");
    s
}

pub fn findings(heading: &str, fs: &[Finding]) -> String {
    let mut s = format!(
        r#"<section id="findings"><h2>{} <span class="sub">({})</span></h2>"#,
        esc(heading),
        fs.len()
    );
    if fs.is_empty() {
        s.push_str(r#"<p class="empty">Nothing found.</p>"#);
    }
    for f in fs {
        let sev = f.severity.label();
        let _ = write!(
            s,
            r#"<div class="finding" data-finding="{code}"><h3><span class="pill {sev}">{sev}</span> <code>{code}</code> {title}</h3>"#,
            code = esc(f.id.code()),
            title = esc(&f.title),
        );
        if !f.evidence.is_empty() {
            s.push_str(r#"<ul class="evidence">"#);
            for e in &f.evidence {
                let _ = write!(s, "<li>{}</li>", esc(&e.line()));
            }
            s.push_str("</ul>");
        }
        for r in &f.remedies {
            s.push_str(&remedy(r));
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
    s
}

fn remedy(r: &Remedy) -> String {
    let mut s = format!(r#"<div class="remedy"><b>{}</b>"#, esc(&r.title));
    if r.downgrade {
        s.push_str(r#" <span class="downgrade">lowers security</span>"#);
    }
    if !r.explanation.is_empty() {
        let _ = write!(s, "<p>{}</p>", esc(&r.explanation));
    }
    for a in &r.actions {
        let _ = write!(s, "<code>{}</code>", esc(&action(a)));
    }
    s.push_str("</div>");
    s
}

fn action(a: &Action) -> String {
    match a {
        Action::SetValue { data, .. } | Action::ClientPolicy { data, .. } => {
            format!("set {} = {} ({})", a.path(), data, data.type_name())
        }
        Action::DeleteValue { .. } => format!("delete {}", a.path()),
        Action::WriteCleanRdpFile { .. } => format!("rdp-doctor rdpfile clean {}", a.path()),
        Action::Run { on, command } => format!("on the {}: {command}", key(on)),
    }
}

/// Every registry value the diagnosis read, from the findings and the checks that passed.
pub fn registry(d: &Diagnosis) -> String {
    let mut seen: Vec<(&str, &str, &RegistryOrigin)> = Vec::new();
    let all = d.findings.iter().flat_map(|f| f.evidence.iter()).chain(
        d.causes
            .iter()
            .flat_map(|c| c.against.iter().flat_map(|a| a.evidence.iter())),
    );
    for e in all {
        if let Evidence::Registry {
            path,
            value,
            origin,
        } = e
        {
            if !seen
                .iter()
                .any(|(p, v, _)| *p == path.as_str() && *v == value.as_str())
            {
                seen.push((path, value, origin));
            }
        }
    }
    if seen.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        r#"<section id="registry"><h2>Host settings read</h2><table><tr><th>registry value</th><th>value</th><th>read from</th></tr>"#,
    );
    for (path, value, origin) in seen {
        let from = match origin {
            RegistryOrigin::Hive { file } => format!("hive {file}"),
            RegistryOrigin::Live => "live registry".into(),
        };
        let _ = write!(
            s,
            r#"<tr><td class="mono">{}</td><td class="mono">{}</td><td>{}</td></tr>"#,
            esc(path),
            esc(value),
            esc(&from)
        );
    }
    s.push_str("</table></section>");
    s
}

pub fn log_files(r: &LogReport) -> String {
    let mut s = String::from(
        r#"<section id="files"><h2>Files read</h2><table><tr><th>file</th><th>records</th><th>RDP events</th><th>state</th></tr>"#,
    );
    for f in &r.files {
        let state = match (&f.error, &f.truncated) {
            (Some(e), _) => format!("unreadable: {e}"),
            (None, Some(_)) => "cut short: complete chunks read".into(),
            (None, None) => "complete".into(),
        };
        let _ = write!(
            s,
            r#"<tr><td class="mono">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            esc(&f.path),
            f.records,
            f.rdp_events,
            esc(&state)
        );
    }
    for k in &r.skipped {
        let _ = write!(
            s,
            r#"<tr><td class="mono">{}</td><td></td><td></td><td>skipped: {}</td></tr>"#,
            esc(&k.path),
            esc(&k.reason)
        );
    }
    s.push_str("</table></section>");
    s
}

/// One timeline per client address: who tried what, when, and how it ended.
pub fn timelines(r: &LogReport) -> String {
    let mut s = String::from(r#"<section id="timelines"><h2>Clients</h2>"#);
    if r.timelines.is_empty() {
        s.push_str(r#"<p class="empty">No event names a client address.</p>"#);
    }
    for t in &r.timelines {
        let _ = write!(
            s,
            r#"<div class="finding" data-client="{addr}"><h3>{addr}</h3><p class="sub">{n} event(s), {failed} failed logon(s), {ok} successful · {first} .. {last}</p><ol class="timeline">"#,
            addr = esc(&t.address),
            n = t.events,
            failed = t.failed_logons,
            ok = t.successful_logons,
            first = esc(&t.first),
            last = esc(&t.last),
        );
        for e in &t.entries {
            let _ = write!(
                s,
                r#"<li class="{cls}"><time>{time}</time><span class="pill">{stage}</span> <code>{id}</code> {summary}</li>"#,
                cls = if e.ok { "ok" } else { "failed" },
                time = esc(&e.time),
                stage = esc(&key(&e.stage)),
                id = e.event_id,
                summary = esc(&e.summary),
            );
        }
        s.push_str("</ol>");
        if t.entries.len() < t.events {
            let _ = write!(
                s,
                r#"<p class="sub">the latest {} of {} shown</p>"#,
                t.entries.len(),
                t.events
            );
        }
        s.push_str("</div>");
    }
    s.push_str("</section>");
    s
}
