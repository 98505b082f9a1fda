//! The documented .rdp properties (`data/rdp_file_properties.csv`, embedded):
//! type, allowed values where the documentation is unambiguous, signscope name.

use std::collections::HashMap;
use std::sync::LazyLock;

/// What values a property takes, when the catalog says so unambiguously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// An inclusive range, e.g. `200-8192`.
    Range(i64, i64),
    /// A list of values, e.g. `0=…; 1=…; 2=…` or `100, 125, 150`.
    OneOf(Vec<i64>),
    /// The catalog gives no constraint this tool can check.
    Unchecked,
}

/// One catalog row.
#[derive(Debug, Clone)]
pub struct PropertySpec {
    pub name: String,
    /// `s`, `i` or `b`.
    pub kind: String,
    pub allowed: Allowed,
    pub allowed_text: String,
    pub default: String,
    /// Name used in `signscope`, if the property can be signed.
    pub signscope_name: Option<String>,
    pub source: String,
}

fn parse_allowed(text: &str, kind: &str) -> Allowed {
    if kind != "i" {
        return Allowed::Unchecked;
    }
    let t = text.trim();
    if let Some((a, b)) = t.split_once('-') {
        if let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse()) {
            return Allowed::Range(a, b);
        }
    }
    let list: Vec<Result<i64, _>> = t.split(',').map(|v| v.trim().parse::<i64>()).collect();
    if list.len() > 1 && list.iter().all(Result::is_ok) {
        return Allowed::OneOf(list.into_iter().flatten().collect());
    }
    // "0=…; 1=…" : every `;`-separated item starts with a number and `=`.
    let items: Vec<&str> = t
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let values: Vec<Option<i64>> = items
        .iter()
        .map(|item| {
            item.split_once('=')
                .and_then(|(n, _)| n.trim().parse().ok())
        })
        .collect();
    if items.len() >= 2 && values.iter().all(Option::is_some) {
        return Allowed::OneOf(values.into_iter().flatten().collect());
    }
    Allowed::Unchecked
}

struct Catalog {
    by_name: HashMap<String, PropertySpec>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let mut by_name = HashMap::new();
    let mut reader =
        csv::Reader::from_reader(include_str!("../data/rdp_file_properties.csv").as_bytes());
    let headers = reader.headers().cloned().unwrap_or_default();
    let idx = |n: &str| headers.iter().position(|h| h == n);
    let (name_i, kind_i, allowed_i, default_i, sign_i, source_i) = (
        idx("name"),
        idx("type"),
        idx("allowed_values"),
        idx("default"),
        idx("signscope_name"),
        idx("source"),
    );
    for rec in reader.records().flatten() {
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let name = get(name_i).to_ascii_lowercase();
        if name.is_empty() {
            continue;
        }
        let kind = get(kind_i);
        let allowed_text = get(allowed_i);
        let spec = PropertySpec {
            allowed: parse_allowed(&allowed_text, &kind),
            name: name.clone(),
            kind,
            allowed_text,
            default: get(default_i),
            signscope_name: Some(get(sign_i)).filter(|s| !s.is_empty()),
            source: get(source_i),
        };
        by_name.insert(name, spec);
    }
    Catalog { by_name }
});

/// The catalog row of a property (case-insensitive).
pub fn lookup(name: &str) -> Option<&'static PropertySpec> {
    CATALOG.by_name.get(&name.trim().to_ascii_lowercase())
}

/// The property whose signscope name is `scope_name` (case-insensitive).
pub fn by_signscope_name(scope_name: &str) -> Option<&'static PropertySpec> {
    CATALOG.by_name.values().find(|s| {
        s.signscope_name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(scope_name.trim()))
    })
}

/// Number of properties in the catalog.
pub fn len() -> usize {
    CATALOG.by_name.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_values() {
        assert_eq!(parse_allowed("200-8192", "i"), Allowed::Range(200, 8192));
        assert_eq!(
            parse_allowed("100, 125, 150", "i"),
            Allowed::OneOf(vec![100, 125, 150])
        );
        assert_eq!(
            parse_allowed("0=Static; 1=Updates as the local window resizes", "i"),
            Allowed::OneOf(vec![0, 1])
        );
        assert_eq!(
            parse_allowed("Determines whether … 0 - Do not", "i"),
            Allowed::Unchecked
        );
        assert_eq!(parse_allowed("0=a; 1=b", "s"), Allowed::Unchecked);
    }

    #[test]
    fn catalog_rows() {
        assert!(len() > 100);
        let fa = lookup("Full Address").unwrap();
        assert_eq!(fa.kind, "s");
        assert_eq!(fa.signscope_name.as_deref(), Some("Full Address"));
        assert_eq!(
            lookup("authentication level").unwrap().allowed,
            Allowed::OneOf(vec![0, 1, 2, 3])
        );
        assert_eq!(
            by_signscope_name("gatewayhostname").unwrap().name,
            "gatewayhostname"
        );
    }
}
