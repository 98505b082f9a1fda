//! Parsing what users paste: `0x904`, `2308`, `-2146893048`, `0x80090308`,
//! `ERRINFO_SERVER_DENIED_CONNECTION`, `event 1058`.

/// A parsed query term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// A number (hex or decimal; negatives as 32-bit two's complement).
    Number(u32),
    /// A symbolic name.
    Name(String),
}

/// Why a term could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

/// Parses a number as users write codes: `0x904`, `904h`, `2308`, `-2146893048`,
/// `0xC000006D`. Returns `None` for anything else, including values that do
/// not fit in 32 bits.
pub fn parse_number(text: &str) -> Option<u32> {
    let t = text.trim().replace(['_', ','], "");
    let t = t.as_str();
    if let Some(hex) = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_suffix('h').or_else(|| t.strip_suffix('H')))
    {
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u32::from_str_radix(hex, 16).ok();
    }
    if let Some(neg) = t.strip_prefix('-') {
        let v: i64 = neg.parse().ok()?;
        if v > i64::from(i32::MAX) + 1 || !neg.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        return Some((-v) as i32 as u32);
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse().ok();
    }
    None
}

/// Parses one term: a number, or a symbolic name (letters, digits, `_`, `-`, `.`).
pub fn parse_term(text: &str) -> Result<Term, QueryError> {
    if let Some(n) = parse_number(text) {
        return Ok(Term::Number(n));
    }
    let t = text.trim();
    let looks_numeric = t.starts_with("0x") || t.starts_with("0X") || t.starts_with('-');
    let is_name = !t.is_empty()
        && !looks_numeric
        && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if is_name {
        Ok(Term::Name(t.to_string()))
    } else {
        Err(QueryError(format!(
            "'{t}' is neither a code (hex like 0x904, decimal like 2308) nor a symbolic name \
             (like ERRINFO_SERVER_DENIED_CONNECTION)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_spelling() {
        assert_eq!(parse_number("0x904"), Some(0x904));
        assert_eq!(parse_number("0X904"), Some(0x904));
        assert_eq!(parse_number("904h"), Some(0x904));
        assert_eq!(parse_number("2308"), Some(2308));
        assert_eq!(parse_number(" 50331656 "), Some(0x3000008));
        assert_eq!(parse_number("-2146893048"), Some(0x80090308));
        assert_eq!(parse_number("-1"), Some(0xFFFF_FFFF));
        assert_eq!(parse_number("0xC000006D"), Some(0xC000_006D));
        assert_eq!(parse_number("0x1_0000_0000"), None);
        assert_eq!(parse_number("4294967296"), None);
        assert_eq!(parse_number("-2147483649"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number("12a"), None);
        assert_eq!(parse_number(""), None);
    }

    #[test]
    fn names_and_garbage() {
        assert_eq!(
            parse_term("errinfo_server_denied_connection"),
            Ok(Term::Name("errinfo_server_denied_connection".into()))
        );
        assert!(parse_term("0xZZ").is_err());
        assert!(parse_term("--").is_err());
        assert!(parse_term("a b").is_err());
    }
}
