//! The one DER reader and writer of the probe: TLV elements as CredSSP's
//! TSRequest uses them ([MS-CSSP] 2.2.1), lengths of at most 4 bytes. No I/O.

/// A DER element: tag, content, and what follows it.
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub rest: &'a [u8],
}

/// Reads the element at the start of `data`.
pub fn read(data: &[u8]) -> Result<Tlv<'_>, String> {
    let (&tag, after_tag) = data.split_first().ok_or("DER: no tag")?;
    let (&first, mut after_len) = after_tag.split_first().ok_or("DER: no length")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || after_len.len() < n {
            return Err(format!("DER: bad length of length {n}"));
        }
        let len = after_len[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        after_len = &after_len[n..];
        len
    };
    if after_len.len() < len {
        return Err(format!(
            "DER: element of {len} bytes, only {} left",
            after_len.len()
        ));
    }
    Ok(Tlv {
        tag,
        content: &after_len[..len],
        rest: &after_len[len..],
    })
}

/// The total length of the DER element at the start of `data`, once its
/// header is there (for framing the server's answer on the wire); `Some(0)`
/// for a length no TSRequest has.
pub fn frame_len(data: &[u8]) -> Option<usize> {
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 4 {
        return Some(0);
    }
    let bytes = data.get(2..2 + n)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Some(2 + n + len)
}

/// Encodes a DER length.
fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

/// One element: `tag`, its length, `content`.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    encode_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_short_and_long_lengths() {
        for len in [0usize, 5, 127, 128, 300, 70_000] {
            let content = vec![7u8; len];
            let e = encode(0x30, &content);
            assert_eq!(frame_len(&e), Some(e.len()));
            let t = read(&e).expect("reads");
            assert_eq!((t.tag, t.content.len(), t.rest.len()), (0x30, len, 0));
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(read(&[]).is_err());
        assert!(read(&[0x30]).is_err());
        assert!(read(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_err());
        assert!(read(&[0x30, 0x05, 1]).is_err());
        assert_eq!(frame_len(&[0x30, 0x80]), Some(0));
        assert_eq!(frame_len(&[0x30, 0x82, 1]), None);
    }
}
