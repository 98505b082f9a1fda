//! Naming what a server sent when it is not RDP: an HTTP status line, an
//! HTML page, an MCS refusal, or unknown bytes (shown as hex). No I/O.

use crate::report::ForeignAnswer;
use crate::wire::{mcs, x224};

/// What the first bytes of a non-RDP answer are.
pub fn foreign_answer(buf: &[u8], reason: String) -> ForeignAnswer {
    if buf.starts_with(b"HTTP/") {
        let line = buf
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or(buf);
        let line = String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned();
        return ForeignAnswer::Http { status_line: line };
    }
    if looks_like_html(buf) {
        return ForeignAnswer::HttpPage {
            status: html_error_code(buf),
        };
    }
    if let Some(reason) = mcs::disconnect_ultimatum_reason(buf) {
        return ForeignAnswer::McsDisconnect { reason };
    }
    ForeignAnswer::Unknown {
        hex: x224::hex_prefix(buf, 16),
        reason,
    }
}

fn looks_like_html(buf: &[u8]) -> bool {
    let head: Vec<u8> = buf.iter().take(9).map(u8::to_ascii_lowercase).collect();
    head.starts_with(b"<!doctype") || head.starts_with(b"<html")
}

/// The code of an error page ("Error code: 400", as Python's and others' pages show it).
fn html_error_code(buf: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(buf);
    let at = text.find("Error code: ")? + "Error code: ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;

    #[test]
    fn an_http_answer_is_named_with_its_status_line() {
        let a = foreign_answer(b"HTTP/1.1 400 Bad Request\r\nServer: x\r\n", "bad".into());
        assert_eq!(
            a,
            ForeignAnswer::Http {
                status_line: "HTTP/1.1 400 Bad Request".into()
            }
        );
        assert_eq!(
            text::foreign(&a),
            "an HTTP server or proxy answered: HTTP/1.1 400 Bad Request"
        );
    }

    #[test]
    fn an_html_error_page_is_named_with_its_code() {
        let page = b"<!DOCTYPE HTML>\n<html lang=\"en\">\n<body><p>Error code: 400</p>";
        let a = foreign_answer(page, "bad".into());
        assert_eq!(a, ForeignAnswer::HttpPage { status: Some(400) });
        assert_eq!(
            text::foreign(&a),
            "an HTTP server or proxy answered: an HTML page, error 400"
        );
    }
}
