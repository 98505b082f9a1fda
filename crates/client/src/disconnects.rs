//! The RDPClient/Operational log's disconnect events (1026: the code mstsc's
//! dialog shows), each decoded as `explain` decodes it.

use std::collections::BTreeMap;

use rdp_doctor_codes::{decode, Namespace};
use rdp_doctor_events::RdpEvent;
use rdp_doctor_model::{Evidence, Finding, FindingId, Remedy, Severity};
use serde::Serialize;

use crate::Error;

/// The client's disconnects with one code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disconnect {
    pub code: u32,
    /// The code's name and meaning (`explain`), when known.
    pub name: Option<String>,
    pub meaning: Option<String>,
    /// Not a user's own disconnect (low byte above 2).
    pub error: bool,
    pub count: usize,
    pub first: String,
    pub last: String,
    /// Up to 10 record numbers.
    pub records: Vec<u64>,
    /// The computers that logged them.
    pub computers: Vec<String>,
}

fn number(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse::<i64>().ok().map(|n| n as u32),
    }
}

/// The 1026 events of the client's log, by code, in code order.
pub fn disconnects(events: &[RdpEvent]) -> Vec<Disconnect> {
    let mut by: BTreeMap<u32, Disconnect> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.event_id == 1026 && e.provider.contains("ClientActiveXCore"))
    {
        let Some(code) = ["Value", "Reason"]
            .iter()
            .find_map(|k| e.fields.get(*k))
            .and_then(|v| number(v))
        else {
            continue;
        };
        let d = by.entry(code).or_insert_with(|| {
            let r = decode(Namespace::DisconnectReason, code);
            Disconnect {
                code,
                name: r.as_ref().map(|r| r.name.clone()),
                meaning: r.map(|r| r.meaning),
                error: code & 0xFF > 2,
                count: 0,
                first: e.time.clone(),
                last: e.time.clone(),
                records: Vec::new(),
                computers: Vec::new(),
            }
        });
        d.count += 1;
        d.last = e.time.clone();
        if d.records.len() < 10 {
            d.records.push(e.record_id);
        }
        if !d.computers.contains(&e.computer) {
            d.computers.push(e.computer.clone());
        }
    }
    by.into_values().collect()
}

/// CLIENT004 from the disconnects; `None` when there are none.
pub fn finding(list: &[Disconnect]) -> Option<Finding> {
    if list.is_empty() {
        return None;
    }
    let total: usize = list.iter().map(|d| d.count).sum();
    let errors: usize = list.iter().filter(|d| d.error).map(|d| d.count).sum();
    let severity = if errors > 0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut f = Finding::new(
        FindingId::ClientDisconnectCodes,
        severity,
        format!("the client logged {total} disconnect(s), {errors} with an error code"),
    );
    for d in list {
        f = f
            .evidence(Evidence::Code {
                namespace: "disconnect_reason".into(),
                code: d.code,
                name: d.name.clone().unwrap_or_else(|| "unknown".into()),
                meaning: d
                    .meaning
                    .clone()
                    .unwrap_or_else(|| "not in the tables".into()),
            })
            .evidence(Evidence::Events {
                event_ids: vec![1026],
                count: d.count,
                first: Some(d.first.clone()),
                last: Some(d.last.clone()),
                records: d.records.clone(),
                detail: format!("disconnect code {} on {}", d.code, d.computers.join(", ")),
            });
    }
    Some(f.remedy(Remedy::advice(
        "Read an error code's causes and checks with: rdp-doctor explain CODE",
    )))
}

/// The disconnects in one exported .evtx file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Disconnect>, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
    let events = rdp_doctor_events::read_evtx(&bytes)
        .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    Ok(disconnects(&events.events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u32, value: &str, record: u64) -> RdpEvent {
        RdpEvent {
            record_id: record,
            event_id: id,
            provider: "Microsoft-Windows-TerminalServices-ClientActiveXCore".into(),
            channel: "Microsoft-Windows-TerminalServices-RDPClient/Operational".into(),
            computer: "PC".into(),
            time: format!("t{record}"),
            time_unix: record as f64,
            fields: [("Value".to_string(), value.to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn codes_are_grouped_and_error_codes_make_a_warning() {
        let list = disconnects(&[
            event(1026, "2", 1),
            event(1026, "0x904", 2),
            event(1024, "x", 3),
            event(1026, "2308", 4),
            event(1026, "junk", 5),
        ]);
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].code, list[0].count, list[0].error), (2, 1, false));
        assert_eq!(
            (list[1].code, list[1].count, list[1].error),
            (0x904, 2, true)
        );
        assert_eq!(list[1].records, [2, 4]);
        let f = finding(&list).expect("finding");
        assert_eq!(f.severity, Severity::Warning);
        assert!(finding(&[]).is_none());
    }
}
