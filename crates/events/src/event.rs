//! Reading .evtx bytes into typed RDP events. No I/O: bytes in, events out.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One event, with the fields of its EventData / UserData flattened by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RdpEvent {
    pub record_id: u64,
    pub event_id: u32,
    pub provider: String,
    pub channel: String,
    pub computer: String,
    /// TimeCreated, as written (UTC).
    pub time: String,
    /// TimeCreated in seconds since the Unix epoch.
    pub time_unix: f64,
    pub fields: BTreeMap<String, String>,
}

/// What one file held.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileEvents {
    /// Records that decoded.
    pub records: usize,
    /// Records the parser could not decode (damaged chunks), skipped.
    pub failed_records: usize,
    /// Records per event ID (all providers, not only RDP).
    pub counts: BTreeMap<u32, usize>,
    /// The RDP-relevant events, in file order.
    pub events: Vec<RdpEvent>,
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not an .evtx file: {0}")]
    NotEvtx(String),
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix seconds as RFC 3339 UTC, to the second (`2024-05-01T00:00:00Z`).
pub fn format_time(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac][Z|+00:00]` (also with a space) to Unix seconds.
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<i64>().ok());
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut frac = 0.0;
    let mut rest = &s[19..];
    if let Some(f) = rest.strip_prefix('.') {
        let digits: String = f.chars().take_while(|c| c.is_ascii_digit()).collect();
        frac = format!("0.{digits}").parse().unwrap_or(0.0);
        rest = &f[digits.len()..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let oh: i64 = tz[1..3].parse().ok()?;
            let om: i64 = tz[4..6].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset) as f64 + frac)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        Value::Object(o) => o.get("#text").and_then(scalar),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
    }
}

/// Flattens EventData / UserData into name -> value, one level of nesting
/// (UserData wraps its fields in an element such as EventXML).
fn flatten(v: &Value, out: &mut BTreeMap<String, String>, depth: u8) {
    let Value::Object(map) = v else { return };
    for (k, val) in map {
        if k.starts_with('#') {
            continue;
        }
        match val {
            Value::Object(inner) if depth < 2 && !inner.contains_key("#text") => {
                flatten(val, out, depth + 1)
            }
            _ => {
                if let Some(s) = scalar(val) {
                    out.insert(k.clone(), s);
                }
            }
        }
    }
}

fn event_id(system: &Value) -> Option<u32> {
    let raw = system.get("EventID")?;
    let n: u64 = match raw {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        Value::Object(o) => scalar(o.get("#text")?)?.trim().parse().ok()?,
        _ => return None,
    };
    // Classic events carry qualifiers in the high bits; Event Viewer shows the low 16.
    Some((n & 0xFFFF) as u32)
}

fn attr<'a>(v: &'a Value, element: &str, name: &str) -> Option<&'a Value> {
    v.get(element)?.get("#attributes")?.get(name)
}

/// Providers and Security events that tell the RDP story.
pub fn is_rdp_relevant(
    provider: &str,
    channel: &str,
    event_id: u32,
    fields: &BTreeMap<String, String>,
) -> bool {
    let p = provider.to_ascii_lowercase();
    if p.contains("terminalservices")
        || p.contains("remotedesktopservices")
        || p.contains("termdd")
        || p == "termservice"
    {
        return true;
    }
    if p == "schannel" && (36860..=36890).contains(&event_id) {
        return true;
    }
    if p.contains("lsasrv") && event_id == 6041 {
        return true;
    }
    if channel.eq_ignore_ascii_case("Security") || p == "microsoft-windows-security-auditing" {
        return match event_id {
            // RDP logons are type 10 (7 on reconnect); NLA failures show as type 3. Machine
            // accounts (NAME$) are never RDP users.
            4624 | 4625 => {
                let machine = fields
                    .get("TargetUserName")
                    .is_some_and(|u| u.ends_with('$'));
                let ty = fields.get("LogonType").map(String::as_str);
                !machine
                    && (matches!(ty, Some("10") | Some("7"))
                        || (event_id == 4625 && ty == Some("3")))
            }
            4778 | 4779 | 4825 => true,
            _ => false,
        };
    }
    false
}

/// Reads every record of one .evtx file.
pub fn read_evtx(bytes: &[u8]) -> Result<FileEvents, ReadError> {
    if bytes.len() < 8 || &bytes[..8] != b"ElfFile\0" {
        return Err(ReadError::NotEvtx("no ElfFile signature".into()));
    }
    let mut parser = evtx::EvtxParser::from_buffer(bytes.to_vec())
        .map_err(|e| ReadError::NotEvtx(e.to_string()))?;
    let mut out = FileEvents::default();
    for record in parser.records_json_value() {
        let record = match record {
            Ok(r) => r,
            Err(_) => {
                out.failed_records += 1;
                continue;
            }
        };
        let event = record.data.get("Event").unwrap_or(&Value::Null);
        let system = event.get("System").unwrap_or(&Value::Null);
        let Some(id) = event_id(system) else {
            out.failed_records += 1;
            continue;
        };
        out.records += 1;
        *out.counts.entry(id).or_default() += 1;
        let provider = attr(system, "Provider", "Name")
            .and_then(scalar)
            .unwrap_or_default();
        let channel = system.get("Channel").and_then(scalar).unwrap_or_default();
        let mut fields = BTreeMap::new();
        if let Some(d) = event.get("EventData") {
            flatten(d, &mut fields, 0);
        }
        if let Some(d) = event.get("UserData") {
            flatten(d, &mut fields, 0);
        }
        if !is_rdp_relevant(&provider, &channel, id, &fields) {
            continue;
        }
        let time = attr(system, "TimeCreated", "SystemTime")
            .and_then(scalar)
            .unwrap_or_default();
        let record_id = system
            .get("EventRecordID")
            .and_then(scalar)
            .and_then(|s| s.parse().ok())
            .unwrap_or(record.event_record_id);
        out.events.push(RdpEvent {
            record_id,
            event_id: id,
            time_unix: parse_time(&time).unwrap_or(0.0),
            time,
            provider,
            channel,
            computer: system.get("Computer").and_then(scalar).unwrap_or_default(),
            fields,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("2021-10-23T21:50:11Z"), Some(1_635_025_811.0));
        assert_eq!(
            parse_time("2021-10-23 21:50:11.5+00:00"),
            Some(1_635_025_811.5)
        );
        assert_eq!(
            parse_time("2021-10-23T23:50:11+02:00"),
            Some(1_635_025_811.0)
        );
        assert_eq!(parse_time("2021-13-23T21:50:11Z"), None);
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(format_time(1_635_025_811.7), "2021-10-23T21:50:11Z");
        assert_eq!(format_time(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(read_evtx(b"").is_err());
        assert!(read_evtx(b"MZ\x90\x00not a log").is_err());
        // A valid signature with nothing behind it: an error or an empty file, never a panic.
        let _ = read_evtx(b"ElfFile\0\0\0\0\0");
    }
}
