//! `rdp-doctor explain`: decode what users paste.

use std::io::Write;

use anyhow::Result;
use rdp_doctor_codes::{self as codes, CodeReading, Explanation, Namespace, Reading};

use crate::style::Style;
use crate::{Outcome, UsageError};

/// Decode an mstsc / FreeRDP / ERRINFO / negotiation / SSPI / NTSTATUS / RD Gateway code, or an event ID.
///
/// Examples:
///   rdp-doctor explain 0x904 0x7          mstsc "Error code" and "Extended error code" together
///   rdp-doctor explain 2308               decimal works too
///   rdp-doctor explain ERRINFO_SERVER_DENIED_CONNECTION
///   rdp-doctor explain 0x80090308         SSPI status from RdpCoreTS / Schannel events
///   rdp-doctor explain 23003              RD Gateway ErrorCode (E_PROXY_NAP_ACCESSDENIED)
///   rdp-doctor explain event 1058         an RDP-related Windows event
///   rdp-doctor explain event 40 7         one value of an event's reason field
///   rdp-doctor explain "Error code: 0x904, Extended error code: 0x7"
///                                         text copied from the mstsc dialog, whole or in part
///   rdp-doctor explain "[0x0002000D]"     FreeRDP's code (ERRCONNECT class 0x0002, ERRINFO 0x0001)
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// CODE [EXTENDED], or `event ID [VALUE]`. Hex (0x904), decimal (2308),
    /// negative decimal (-2146893048), a symbolic name (case-insensitive),
    /// FreeRDP's 0x0002000D, or text pasted from the error dialog.
    #[arg(required = true, num_args = 1.., value_name = "CODE")]
    terms: Vec<String>,

    /// Read CODE in one numbering only: disconnect, extended, errinfo,
    /// errconnect, sspi, ntstatus, neg-failure, logon-error, neg-protocol,
    /// neg-flag, neg-type, early-authz, mcs-disconnect, status-info,
    /// logon-notification-type, logon-notification-data, gateway (RD Gateway
    /// E_PROXY_* / Win32 / Winsock codes, decimal as logged or the HRESULT).
    #[arg(long = "as", value_name = "NUMBERING")]
    as_namespace: Option<String>,

    /// Print JSON (schema rdp-doctor.explain/v1, see docs/json.md).
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<Outcome> {
    let forced = match &args.as_namespace {
        Some(key) => Some(Namespace::from_key(key).ok_or_else(|| {
            UsageError(format!(
                "--as {key}: unknown numbering; one of: {}",
                Namespace::ALL.map(|n| n.key()).join(", ")
            ))
        })?),
        None => None,
    };
    let terms = &args.terms;
    let result = if terms[0].eq_ignore_ascii_case("event") {
        match terms.len() {
            1 => {
                return Err(UsageError(
                    "explain event needs an event ID, e.g. `rdp-doctor explain event 1058`".into(),
                )
                .into())
            }
            2 | 3 => codes::explain_event(&terms[1], terms.get(2).map(String::as_str)),
            _ => return Err(UsageError("explain event takes ID [VALUE]".into()).into()),
        }
    } else if forced.is_some() && terms.len() == 2 {
        codes::explain_codes(&terms[0], Some(&terms[1]), forced)
    } else {
        // Terms are read as pasted text: "0x904, 0x7", a dialog's lines, [0x0002000D].
        codes::explain_pasted(&terms.join(" "), forced)
    };
    let explanation = result.map_err(|e| UsageError(e.to_string()))?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &explanation)?;
        writeln!(out)?;
    } else {
        render(&mut out, &explanation, Style::for_stdout())?;
    }
    Ok(if explanation.known {
        Outcome::Healthy
    } else {
        Outcome::ProblemFound
    })
}

fn dec_hex(r: &CodeReading) -> String {
    match (&r.hex, r.dec) {
        (Some(h), Some(d)) => format!("{h} ({d})"),
        _ => r.input.clone(),
    }
}

fn render_reading(
    out: &mut impl Write,
    r: &Reading,
    st: Style,
    first: bool,
) -> std::io::Result<()> {
    if !first {
        writeln!(
            out,
            "  {} {} = {}",
            st.dim("also, as"),
            r.namespace_label,
            st.bold(&r.name)
        )?;
        writeln!(out, "      {}", r.meaning)?;
        return Ok(());
    }
    writeln!(out, "  {}: {}", r.namespace_label, st.bold(&r.name))?;
    if !r.aliases.is_empty() {
        writeln!(out, "    also named: {}", r.aliases.join(", "))?;
    }
    writeln!(out, "    meaning:    {}", r.meaning)?;
    if let Some(m) = r.message.as_deref().filter(|m| *m != r.meaning) {
        writeln!(out, "    message:    {m}")?;
    }
    writeln!(
        out,
        "    layer:      {} ({})",
        r.layer.name(),
        r.layer.description()
    )?;
    if let Some(h) = &r.hint {
        writeln!(out, "    reading:    {h}")?;
    }
    writeln!(out, "    confidence: {}", r.confidence)?;
    writeln!(out, "    source:     {}", r.source)?;
    Ok(())
}

fn render_code(
    out: &mut impl Write,
    title: &str,
    r: &CodeReading,
    st: Style,
) -> std::io::Result<()> {
    writeln!(out, "{} {}", st.heading(title), st.bold(&dec_hex(r)))?;
    for (i, reading) in r.readings.iter().enumerate() {
        render_reading(out, reading, st, i == 0)?;
    }
    if r.readings.is_empty() {
        writeln!(
            out,
            "  not in any table (nothing is invented; only the rules below apply)"
        )?;
    }
    if let Some(c) = &r.composition {
        writeln!(
            out,
            "  composition: category {} = {}; subcode {}; facility {} = {} (category names inferred)",
            c.category, c.category_meaning, c.subcode, c.facility, c.facility_meaning
        )?;
    }
    if let Some(range) = &r.errinfo_range {
        writeln!(out, "  ERRINFO range: {range}")?;
    }
    if let Some(f) = &r.family {
        writeln!(out, "  number family: {f}")?;
    }
    writeln!(out)
}

/// Human rendering: verdict first, then each code, the pair, the ranked causes.
pub fn render(out: &mut impl Write, e: &Explanation, st: Style) -> std::io::Result<()> {
    writeln!(out, "{}", st.bold(&e.verdict))?;
    writeln!(out)?;
    match (&e.code, &e.extended) {
        (Some(code), Some(ext)) => {
            render_code(out, "Error code", code, st)?;
            render_code(out, "Extended error code", ext, st)?;
        }
        (Some(code), None) => render_code(out, "Code", code, st)?,
        _ => {}
    }
    if let Some(c) = &e.combined {
        writeln!(out, "{}", st.heading("Read together"))?;
        writeln!(out, "  {c}")?;
        writeln!(out)?;
    }
    for ev in &e.events {
        let ev_row = &ev.event;
        match (&ev_row.sub_code_field, &ev.decoded_value) {
            (_, Some(d)) => {
                writeln!(
                    out,
                    "{} {} = {}",
                    st.heading("Value"),
                    d.hex,
                    st.bold(&d.name)
                )?;
                writeln!(out, "  {} ({})", d.meaning, d.namespace_label)?;
                if let Some(h) = &d.hint {
                    writeln!(out, "  reading: {h}")?;
                }
            }
            (Some(field), None) => {
                let value = ev_row.sub_code.as_deref().unwrap_or("");
                writeln!(out, "  {field} {value}: {}", ev_row.message)?;
                if let Some(m) = ev_row.meaning.as_deref().filter(|m| *m != ev_row.message) {
                    writeln!(out, "      {m}")?;
                }
            }
            (None, None) => {
                writeln!(
                    out,
                    "{} {} {}",
                    st.heading("Event"),
                    st.bold(&ev_row.event_id.to_string()),
                    ev_row.provider
                )?;
                if !ev_row.log.is_empty() {
                    writeln!(out, "  log:        {}", ev_row.log)?;
                }
                writeln!(out, "  message:    {}", ev_row.message)?;
                if let Some(m) = &ev_row.meaning {
                    writeln!(out, "  reading:    {m}")?;
                }
                writeln!(out, "  confidence: {}", ev_row.confidence)?;
                writeln!(out, "  source:     {}", ev_row.source)?;
            }
        }
    }
    if !e.events.is_empty() {
        writeln!(out)?;
    }
    if e.causes.is_empty() {
        writeln!(
            out,
            "No cause to check: this code does not point at a fault to repair."
        )?;
        return Ok(());
    }
    writeln!(out, "{}", st.heading("Likely causes, most likely first"))?;
    for c in &e.causes {
        writeln!(
            out,
            "  {}. {}  [{}]",
            c.rank,
            st.bold(c.cause.title),
            c.cause.layer.name()
        )?;
        for check in c.cause.checks {
            writeln!(out, "     check: {check}")?;
        }
        for fix in c.cause.fixes {
            writeln!(out, "     fix:   {fix}")?;
        }
        writeln!(
            out,
            "     {}",
            st.dim(&format!("from {}; source {}", c.because, c.cause.source))
        )?;
    }
    Ok(())
}
