//! Turning a pasted code (or pair, or event ID) into an [`Explanation`].

use serde::Serialize;

use crate::causes::{self, CauseId};
use crate::compose::{self, Composition, DiscReason};
use crate::layer::Layer;
use crate::query::{self, QueryError, Term};
use crate::table::{self, Entry, EventEntry, Namespace};

/// Version of the JSON document `explain --json` prints.
pub const SCHEMA: &str = "rdp-doctor.explain/v1";

/// Everything `explain` says about a query.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub schema: &'static str,
    /// The terms as given.
    pub query: Vec<String>,
    /// One sentence: what it means, first.
    pub verdict: String,
    /// True when at least one table row matched.
    pub known: bool,
    /// The (first) code: mstsc "Error code" when two are given.
    pub code: Option<CodeReading>,
    /// The second code: mstsc "Extended error code".
    pub extended: Option<CodeReading>,
    /// The reading of the pair together.
    pub combined: Option<String>,
    /// Event rows, for `explain event ID [VALUE]`.
    pub events: Vec<EventReading>,
    /// Likely causes, most likely first.
    pub causes: Vec<RankedCause>,
}

/// What one term decodes to.
#[derive(Debug, Clone, Serialize)]
pub struct CodeReading {
    pub input: String,
    /// The numeric value, when the term is a number or a known name.
    pub value: Option<u32>,
    pub hex: Option<String>,
    /// Decimal as Windows prints it (signed for values with the top bit set).
    pub dec: Option<i64>,
    /// Table rows that match, most relevant first.
    pub readings: Vec<Reading>,
    /// The disconnect-reason bit split, when read as an mstsc Error code.
    pub composition: Option<Composition>,
    /// What the ERRINFO ranges say, when read as an extended code.
    pub errinfo_range: Option<String>,
    /// What the top bits say about a number no table knows.
    pub family: Option<String>,
}

/// One table row matching a term.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    pub namespace: Namespace,
    pub namespace_label: &'static str,
    pub hex: String,
    pub dec: i64,
    pub name: String,
    pub aliases: Vec<String>,
    pub meaning: String,
    pub message: Option<String>,
    pub hint: Option<String>,
    pub layer: Layer,
    pub confidence: String,
    pub source: String,
}

/// One event row.
#[derive(Debug, Clone, Serialize)]
pub struct EventReading {
    #[serde(flatten)]
    pub event: EventEntry,
    /// For reason / status fields: the value decoded as `explain` decodes codes.
    pub decoded_value: Option<Reading>,
}

/// A cause with its rank and why it is listed.
#[derive(Debug, Clone, Serialize)]
pub struct RankedCause {
    pub rank: usize,
    #[serde(flatten)]
    pub cause: causes::Cause,
    /// Which code led to it.
    pub because: String,
}

/// Which numbering a term is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A lone code: every default namespace.
    Single,
    /// First of a pair: mstsc Error code.
    ErrorCode,
    /// Second of a pair: mstsc Extended error code.
    Extended,
}

fn signed_dec(v: u32) -> i64 {
    if v >= 0x8000_0000 && (v >> 28 == 0x8 || v >> 28 == 0xC) {
        i64::from(v as i32)
    } else {
        i64::from(v)
    }
}

fn reading(e: &Entry) -> Reading {
    Reading {
        namespace: e.namespace,
        namespace_label: e.namespace.label(),
        hex: format!("0x{:X}", e.code),
        dec: signed_dec(e.code),
        name: e.name.clone(),
        aliases: e.aliases.clone(),
        meaning: e.meaning.clone(),
        message: e.message.clone(),
        hint: e.hint.clone(),
        layer: table::layer_of(e),
        confidence: e.confidence.clone(),
        source: e.source.clone(),
    }
}

fn namespaces_for(role: Role, forced: Option<Namespace>) -> Vec<Namespace> {
    if let Some(ns) = forced {
        return vec![ns];
    }
    match role {
        Role::ErrorCode => vec![Namespace::DisconnectReason],
        Role::Extended => vec![Namespace::ExtendedReason, Namespace::ErrInfo],
        Role::Single => Namespace::ALL
            .into_iter()
            .filter(|ns| ns.is_searched_by_default())
            .collect(),
    }
}

fn read_term(
    input: &str,
    role: Role,
    forced: Option<Namespace>,
) -> Result<CodeReading, QueryError> {
    let tables = table::tables();
    let term = query::parse_term(input)?;
    let namespaces = namespaces_for(role, forced);
    let (value, rows): (Option<u32>, Vec<&Entry>) = match &term {
        Term::Number(n) => {
            let mut rows: Vec<&Entry> = namespaces
                .iter()
                .flat_map(|&ns| tables.lookup(ns, *n))
                .collect();
            // A pair's first term that is no disconnect reason may still be another kind of code.
            if rows.is_empty() && role == Role::ErrorCode && forced.is_none() {
                rows = namespaces_for(Role::Single, None)
                    .iter()
                    .flat_map(|&ns| tables.lookup(ns, *n))
                    .collect();
            }
            (Some(*n), rows)
        }
        Term::Name(name) => {
            let mut rows: Vec<&Entry> = tables
                .lookup_name(name)
                .filter(|e| forced.is_none_or(|ns| e.namespace == ns))
                .collect();
            // A row whose own name matches beats one that only has it as an alias.
            rows.sort_by_key(|e| {
                (
                    !e.name.eq_ignore_ascii_case(name),
                    namespaces
                        .iter()
                        .position(|&ns| ns == e.namespace)
                        .unwrap_or(usize::MAX),
                )
            });
            if rows.is_empty() {
                return Err(QueryError(format!(
                    "'{name}' is not a symbolic name in any table (names look like \
                     ERRINFO_SERVER_DENIED_CONNECTION, disconnectReasonAtClientWinsockFDCLOSE, \
                     SEC_E_NO_CREDENTIALS, ERRCONNECT_TLS_CONNECT_FAILED, HYBRID_REQUIRED_BY_SERVER, \
                     E_PROXY_NAP_ACCESSDENIED)"
                )));
            }
            (rows.first().map(|e| e.code), rows)
        }
    };
    // The same value and name can appear twice in one namespace (a spec row and a
    // FreeRDP-only row); keep the first.
    let mut readings: Vec<Reading> = Vec::new();
    for e in rows {
        if !readings.iter().any(|r| {
            r.namespace == e.namespace && r.hex == format!("0x{:X}", e.code) && r.name == e.name
        }) {
            readings.push(reading(e));
        }
    }

    let as_disc = readings
        .first()
        .map(|r| r.namespace == Namespace::DisconnectReason)
        .unwrap_or(false);
    let composition = value.and_then(|v| {
        let show = match role {
            Role::ErrorCode => true,
            Role::Single => as_disc || (readings.is_empty() && v >> 24 <= 3),
            Role::Extended => false,
        };
        (show && forced.is_none_or(|ns| ns == Namespace::DisconnectReason))
            .then(|| DiscReason(v).composition())
    });
    let errinfo_range = value.and_then(|v| {
        let show = match role {
            Role::Extended => true,
            Role::Single => {
                readings.is_empty()
                    || readings.first().is_some_and(|r| {
                        matches!(r.namespace, Namespace::ExtendedReason | Namespace::ErrInfo)
                    })
            }
            Role::ErrorCode => false,
        };
        let ns_ok =
            forced.is_none_or(|ns| matches!(ns, Namespace::ExtendedReason | Namespace::ErrInfo));
        (show && ns_ok).then(|| compose::errinfo_range(v).to_string())
    });
    let family = value.and_then(|v| {
        if readings.is_empty() {
            compose::family_of_unknown(v)
        } else {
            None
        }
    });
    Ok(CodeReading {
        input: input.to_string(),
        value,
        hex: value.map(|v| format!("0x{v:X}")),
        dec: value.map(signed_dec),
        readings,
        composition,
        errinfo_range,
        family,
    })
}

fn causes_of(cr: &CodeReading) -> Vec<CauseId> {
    if let Some(r) = cr.readings.first() {
        let v = cr.value.unwrap_or(0);
        let own = causes::causes_for(r.namespace, v, &r.name);
        // A code with no rule of its own still points at its layer.
        return if own.is_empty() && r.namespace == Namespace::DisconnectReason {
            causes::layer_causes(r.layer)
        } else {
            own
        };
    }
    // Unknown code: the composition rule still points at a layer.
    match (&cr.composition, cr.value) {
        (Some(c), Some(v)) => {
            let own = causes::causes_for(Namespace::DisconnectReason, v, "");
            if own.is_empty() {
                causes::layer_causes(c.layer)
            } else {
                own
            }
        }
        _ => Vec::new(),
    }
}

fn rank(list: Vec<(CauseId, String)>) -> Vec<RankedCause> {
    let mut out: Vec<RankedCause> = Vec::new();
    for (id, because) in list {
        if out.iter().any(|c| c.cause.id == id) {
            continue;
        }
        out.push(RankedCause {
            rank: out.len() + 1,
            cause: causes::cause(id).clone(),
            because,
        });
    }
    out
}

fn short(cr: &CodeReading) -> String {
    let hex = cr.hex.clone().unwrap_or_else(|| cr.input.clone());
    match cr.readings.first() {
        Some(r) => format!("{hex} {}", r.name),
        None => format!("{hex} (not in the tables)"),
    }
}

fn describe(cr: &CodeReading) -> String {
    match cr.readings.first() {
        Some(r) => {
            let text = if r.meaning.is_empty() {
                r.message.as_deref().unwrap_or_default()
            } else {
                &r.meaning
            };
            format!("{} ({})", text.trim_end_matches('.'), r.name)
        }
        None => match (&cr.composition, &cr.errinfo_range, &cr.family) {
            (_, _, Some(f)) => f.clone(),
            (Some(c), _, _) => format!(
                "an undocumented code; by the composition rule: {} (category {}, subcode {})",
                c.category_meaning, c.category, c.subcode
            ),
            (None, Some(r), _) => format!("an undocumented value in the range of {r}"),
            _ => "a value no table or composition rule covers".to_string(),
        },
    }
}

/// The reading of mstsc's two codes together: (verdict sentence, explanation).
fn combine(code: &CodeReading, ext: &CodeReading) -> (String, String) {
    let disc = code.value.map(DiscReason);
    let ext_value = ext.value.unwrap_or(0);
    let disc_layer = disc.map(|d| d.layer()).unwrap_or(Layer::Client);
    let what = describe(code);
    let ext_what = describe(ext);
    match (disc, ext_value) {
        (Some(d), 0) if d.0 == 0x904 => (
            "the connection was closed and the server gave no reason".to_string(),
            format!(
                "The connection was closed ({what}) and the server gave no reason (extended 0x0): \
                 mid-session this is a plain network drop; during connection setup, look at the \
                 path and the listener."
            ),
        ),
        (Some(_), 0) => (
            format!(
                "a {}-layer failure; the server gave no reason",
                disc_layer.name()
            ),
            format!(
                "{what}. The server gave no reason (extended 0x0): the failure is at the {} layer \
                 the error code names.",
                disc_layer.name()
            ),
        ),
        (Some(d), 7) if d.category() == 0x04 => (
            "the server, or something in front of it, dropped the connection while it was being \
             set up"
                .to_string(),
            format!(
                "The socket was closed during connection setup ({what}) and the client reports \
                 'server denied connection' (extended 0x7). A server can only send ERRINFO after \
                 MCS Connect Initial, i.e. after X.224 and TLS/CredSSP; a drop before that point \
                 gets extended 0x7 from the client itself. Read together: the server, or something \
                 in front of it, dropped the connection while it was being set up: the listener's \
                 certificate or key, TLS settings, security layer, connection limits or drain mode \
                 on the host, or the network path."
            ),
        ),
        (Some(d), _) if d.category() == 0x03 => (
            format!("the server ended the connection: {ext_what}"),
            format!(
                "The server ended the connection; its reason is the extended code: {ext_what}."
            ),
        ),
        (Some(d), _) if d.category() == 0x04 => (
            format!("the server sent a reason, then the connection closed: {ext_what}"),
            format!(
                "The connection was closed ({what}); the server had sent a reason first: \
                 {ext_what}. The reason is the cause, the closed socket its consequence."
            ),
        ),
        _ => (
            format!("{what}; server reason: {ext_what}"),
            format!("The client reports {what}; the server's reason is {ext_what}."),
        ),
    }
}

/// Explains one code, or mstsc's pair (Error code, Extended error code).
///
/// `forced` reads the (first) code in one namespace only (`--as`).
pub fn explain_codes(
    code: &str,
    extended: Option<&str>,
    forced: Option<Namespace>,
) -> Result<Explanation, QueryError> {
    let mut query = vec![code.to_string()];
    let (code_reading, ext_reading) = match extended {
        Some(ext) => {
            query.push(ext.to_string());
            (
                read_term(code, Role::ErrorCode, forced)?,
                Some(read_term(ext, Role::Extended, None)?),
            )
        }
        None => (read_term(code, Role::Single, forced)?, None),
    };
    let known = !code_reading.readings.is_empty()
        || ext_reading.as_ref().is_some_and(|e| !e.readings.is_empty());

    let (verdict, combined, cause_list) = match &ext_reading {
        Some(ext) => {
            let (sentence, combined) = combine(&code_reading, ext);
            let ext_value = ext.value.unwrap_or(0);
            let disc_first = ext_value == 0
                || code_reading
                    .value
                    .is_some_and(|v| DiscReason(v).category() == 0x04 && ext_value == 7);
            let mut list: Vec<(CauseId, String)> = Vec::new();
            let ext_causes = causes_of(ext)
                .into_iter()
                .map(|c| (c, format!("extended {}", short(ext))));
            let code_causes = causes_of(&code_reading)
                .into_iter()
                .map(|c| (c, format!("error code {}", short(&code_reading))));
            if disc_first && ext_value != 7 {
                list.extend(code_causes);
                list.extend(ext_causes);
            } else {
                // The server's reason says more than the transport symptom.
                list.extend(ext_causes);
                list.extend(code_causes);
            }
            let verdict = format!(
                "Error code {} + extended {}: {}",
                short(&code_reading),
                short(ext),
                sentence
            );
            (verdict, Some(combined), list)
        }
        None => {
            let list = causes_of(&code_reading)
                .into_iter()
                .map(|c| (c, short(&code_reading)))
                .collect();
            let layer = code_reading
                .readings
                .first()
                .map(|r| r.layer)
                .or(code_reading.composition.as_ref().map(|c| c.layer));
            let verdict = match (code_reading.readings.first(), layer) {
                (Some(r), Some(l)) => format!(
                    "{} = {} ({}): {} [{} layer]",
                    code_reading.hex.clone().unwrap_or_default(),
                    r.name,
                    r.namespace_label,
                    if r.meaning.is_empty() {
                        r.message.as_deref().unwrap_or_default()
                    } else {
                        &r.meaning
                    },
                    l.name()
                ),
                _ => format!(
                    "{} ({}) is in no table: {}",
                    code_reading.hex.clone().unwrap_or_else(|| code.to_string()),
                    code_reading.dec.unwrap_or_default(),
                    describe(&code_reading)
                ),
            };
            (verdict, None, list)
        }
    };

    Ok(Explanation {
        schema: SCHEMA,
        query,
        verdict,
        known,
        code: Some(code_reading),
        extended: ext_reading,
        combined,
        events: Vec::new(),
        causes: rank(cause_list),
    })
}

/// Explains a Windows event ID, and optionally one value of its reason / status field.
pub fn explain_event(event: &str, value: Option<&str>) -> Result<Explanation, QueryError> {
    let Some(id) = query::parse_number(event).filter(|&n| n <= 0xFFFF) else {
        return Err(QueryError(format!(
            "'{event}' is not an event ID (a decimal number such as 1058 or 36870)"
        )));
    };
    let value_num = match value {
        Some(v) => Some(query::parse_number(v).ok_or_else(|| {
            QueryError(format!("'{v}' is not a number (the event field's value)"))
        })?),
        None => None,
    };
    let tables = table::tables();
    let rows = tables.lookup_event(id);
    let mut events: Vec<EventReading> = Vec::new();
    for e in rows {
        let is_sub = e.sub_code.is_some();
        if let (true, Some(v)) = (is_sub, value_num) {
            if e.sub_code_value() != Some(v) {
                continue;
            }
        }
        events.push(EventReading {
            event: e.clone(),
            decoded_value: None,
        });
    }
    // Fields whose numbering is a code table: decode the value as explain does.
    let decoded = value_num.and_then(|v| {
        let ns = match id {
            1026 | 1105 => Some(Namespace::DisconnectReason),
            40 => Some(Namespace::ExtendedReason),
            4625 => Some(Namespace::NtStatus),
            36870 | 139 | 97 => Some(Namespace::SecurityStatus),
            _ => None,
        }?;
        tables.lookup(ns, v).next().map(reading)
    });
    if let Some(d) = decoded {
        events.push(EventReading {
            event: EventEntry {
                log: String::new(),
                provider: String::new(),
                event_id: id,
                provider_metadata_id: None,
                sub_code_field: Some("value".to_string()),
                sub_code: value.map(str::to_string),
                message: d.meaning.clone(),
                meaning: d.hint.clone(),
                confidence: d.confidence.clone(),
                source: d.source.clone(),
            },
            decoded_value: Some(d),
        });
    }
    let known = !events.is_empty();
    let main = events.iter().find(|e| e.event.sub_code.is_none());
    let verdict = match (main, value_num) {
        (Some(m), _) => format!(
            "Event {id} ({}{}): {}",
            m.event.provider,
            if m.event.log.is_empty() {
                String::new()
            } else {
                format!(", {}", m.event.log)
            },
            m.event.message
        ),
        (None, Some(_)) if known => format!("Event {id}, value {}", value.unwrap_or_default()),
        _ => format!("Event {id} is not in the RDP event table"),
    };
    // The field's value is more specific than the event ID: its causes rank first.
    let mut cause_ids: Vec<(CauseId, String)> = Vec::new();
    if let Some(d) = events.iter().find_map(|e| e.decoded_value.as_ref()) {
        let v = value_num.unwrap_or(0);
        cause_ids.extend(
            causes::causes_for(d.namespace, v, &d.name)
                .into_iter()
                .map(|c| (c, format!("event {id} value {}", d.name))),
        );
    }
    cause_ids.extend(
        causes::causes_for_event(id)
            .into_iter()
            .map(|c| (c, format!("event {id}"))),
    );
    let mut query = vec!["event".to_string(), event.to_string()];
    query.extend(value.map(str::to_string));
    Ok(Explanation {
        schema: SCHEMA,
        query,
        verdict,
        known,
        code: None,
        extended: None,
        combined: None,
        events,
        causes: rank(cause_ids),
    })
}

/// Decodes a numeric code in one namespace, for other parts of rdp-doctor
/// (probe, logs) that meet codes on the wire or in events.
pub fn decode(namespace: Namespace, code: u32) -> Option<Reading> {
    table::tables().lookup(namespace, code).next().map(reading)
}
