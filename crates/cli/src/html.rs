//! Self-contained HTML reports: one file, no external assets, no script, readable offline.
//!
//! - [`diagnosis_page`]: the verdict, the ranked causes with confidence bars, the
//!   handshake waterfall (and the credentialed connection's sub-phases), the plot of
//!   `--repeat` handshakes, the findings with evidence and remedies, and the host
//!   settings read.
//! - [`logs_page`]: the findings of event logs and a timeline per client address.
//!
//! Every string from outside (server answers, certificate names, file contents, log
//! fields) goes through [`esc`]: the page is safe whatever the server sent.

mod sections;
mod svg;

use std::fmt::Write;

use rdp_doctor_diagnose::Diagnosis;
use rdp_doctor_events::LogReport;
use rdp_doctor_probe::ProbeReport;

pub use svg::{ms, tick_step};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline have no business in a page.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The diagnosis as one page; `probe` adds the waterfall, the repeat plot and the probe's facts.
pub fn diagnosis_page(d: &Diagnosis, probe: Option<&ProbeReport>) -> String {
    let title = match &d.target {
        Some(t) => format!("rdp-doctor: {t}"),
        None => "rdp-doctor diagnosis".to_string(),
    };
    let mut body = String::new();
    body.push_str(&sections::verdict(d));
    body.push_str(&sections::causes(d));
    if let Some(p) = probe {
        body.push_str(&sections::handshake(p));
        body.push_str(&sections::connection(p));
        body.push_str(&sections::repeats(p));
        body.push_str(&sections::probe_facts(p));
    }
    body.push_str(&sections::findings("Findings", &d.findings));
    body.push_str(&sections::registry(d));
    page(&title, &body)
}

/// The event-log report as one page: findings, then a timeline per client address.
pub fn logs_page(report: &LogReport) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<header class="verdict {tone}"><p class="kicker">rdp-doctor · event logs</p><h1>{n} RDP event(s) in {files} file(s)</h1><p class="sub">{records} record(s) read, {failed} unreadable; {problems} problem(s) found</p></header>"#,
        tone = if report.findings.iter().any(|f| f.severity.is_problem()) {
            "problem"
        } else {
            "healthy"
        },
        n = report.rdp_events,
        files = report.files.len(),
        records = report.records,
        failed = report.failed_records,
        problems = report
            .findings
            .iter()
            .filter(|f| f.severity.is_problem())
            .count(),
    );
    body.push_str(&sections::log_files(report));
    body.push_str(&sections::findings("Findings", &report.findings));
    body.push_str(&sections::timelines(report));
    page("rdp-doctor: event logs", &body)
}

/// The document around `body`, with the one stylesheet.
fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"generator\" content=\"rdp-doctor {version}\">\
         <title>{title}</title><style>{CSS}</style></head>\n<body><main>{body}\
         <footer>rdp-doctor {version}</footer></main></body></html>\n",
        title = esc(title),
        version = esc(env!("CARGO_PKG_VERSION")),
    )
}

const CSS: &str = r#"
:root{--ok:#2f9e5d;--warn:#d58a00;--fail:#d0413e;--skip:#aeb5bf;--ink:#1d2430;--muted:#5f6b7a;--line:#e3e7ec;--bg:#f5f7fa;--card:#fff;--accent:#2f6fd0}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:26px;line-height:1.25;margin:4px 0 6px}
h2{font-size:18px;margin:0 0 12px}
h3{font-size:15px;margin:0}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:13px}
section,.verdict{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:0 0 18px;box-shadow:0 1px 2px rgba(20,30,50,.04)}
.verdict{border-left:8px solid var(--fail)}
.verdict.healthy{border-left-color:var(--ok)}
.kicker{margin:0;color:var(--muted);font-size:13px;text-transform:uppercase;letter-spacing:.06em}
.sub{margin:0;color:var(--muted)}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;background:#eef1f5;color:var(--muted);margin-right:4px}
.pill.error,.pill.fail{background:#fde8e7;color:#a72c29}
.pill.warning,.pill.warn{background:#fff2d6;color:#8a5a00}
.pill.info,.pill.ok{background:#e4f5eb;color:#1f6e41}
.cause{border-top:1px solid var(--line);padding:12px 0}
.cause:first-of-type{border-top:0;padding-top:0}
.cause-head{display:grid;grid-template-columns:1fr 260px 56px;gap:14px;align-items:center}
.meter{height:12px;background:#edf0f4;border-radius:6px;overflow:hidden}
.meter span{display:block;height:100%;background:linear-gradient(90deg,#4d8ae6,var(--accent));border-radius:6px}
.cause.top .meter span{background:linear-gradient(90deg,#e0605c,var(--fail))}
.pct{font-weight:700;text-align:right;font-variant-numeric:tabular-nums}
.why{margin:6px 0 0;padding-left:18px;color:var(--muted);font-size:14px}
.why li.against{color:#1f6e41}
details{margin-top:6px}
summary{cursor:pointer;color:var(--accent);font-size:14px}
.chart{width:100%;height:auto;display:block}
.chart text{font:12px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;fill:var(--ink)}
.chart .tick{fill:var(--muted);font-size:11px}
.chart .grid{stroke:#e6e9ee;stroke-width:1}
.chart .stripe{fill:transparent}
.chart .stripe.odd{fill:#f6f7f9}
.chart .label{font-weight:600}
.chart .time{fill:var(--muted);font-variant-numeric:tabular-nums}
.bar.ok{fill:var(--ok)}.bar.warn{fill:var(--warn)}.bar.fail{fill:var(--fail)}.bar.skipped{fill:var(--skip)}
.point.ok{fill:var(--accent);fill-opacity:.85}
.failure{stroke:var(--fail);stroke-width:2.2}
.failure-drop{stroke:var(--fail);stroke-width:1;stroke-dasharray:2 3;opacity:.5}
.median{stroke:var(--ink);stroke-dasharray:6 4;opacity:.55}
.axis{stroke:#c9cfd8}
.legend{display:flex;gap:16px;flex-wrap:wrap;color:var(--muted);font-size:13px;margin:8px 0 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px}
.legend .ok{background:var(--ok)}.legend .warn{background:var(--warn)}.legend .fail{background:var(--fail)}.legend .skipped{background:var(--skip)}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:13px}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.finding{border-top:1px solid var(--line);padding:12px 0}
.finding:first-of-type{border-top:0;padding-top:0}
.finding ul{margin:6px 0 0;padding-left:18px}
.evidence li{color:var(--muted);font-size:14px;overflow-wrap:anywhere}
.remedy{margin-top:8px;padding:8px 12px;background:#f3f7fe;border-radius:8px}
.remedy p{margin:2px 0 0;color:var(--muted);font-size:14px}
.remedy code{display:block;white-space:pre-wrap;overflow-wrap:anywhere;margin-top:4px}
.downgrade{color:#a72c29;font-weight:600}
.stats{display:flex;gap:28px;flex-wrap:wrap;margin:0 0 10px}
.stats div{min-width:110px}.stats b{display:block;font-size:20px;font-variant-numeric:tabular-nums}.stats span{color:var(--muted);font-size:13px}
.timeline{list-style:none;margin:8px 0 0;padding:0 0 0 14px;border-left:2px solid var(--line)}
.timeline li{position:relative;padding:3px 0 3px 12px;font-size:14px}
.timeline li::before{content:"";position:absolute;left:-21px;top:10px;width:10px;height:10px;border-radius:50%;background:var(--ok);border:2px solid #fff}
.timeline li.failed::before{background:var(--fail)}
.timeline time{color:var(--muted);font-variant-numeric:tabular-nums;margin-right:8px}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:12px;text-align:center;margin:12px 0 0}
@media print{body{background:#fff}section,.verdict{box-shadow:none;break-inside:avoid}}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{0}b\u{1b}c\td"), "a\u{FFFD}b\u{FFFD}c\td");
    }
}
