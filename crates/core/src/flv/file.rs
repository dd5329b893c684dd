//! The FLV file container: 9-byte header, then tags each followed by
//! PreviousTagSize. Used by the built-in receiver to record what it gets.

/// FLV file header with both audio and video flags and PreviousTagSize0.
pub const FILE_HEADER: [u8; 13] = [b'F', b'L', b'V', 1, 0x05, 0, 0, 0, 9, 0, 0, 0, 0];

/// Appends one tag (11-byte header, body, PreviousTagSize) to `out`.
pub fn write_tag(tag_type: u8, timestamp_ms: u32, body: &[u8], out: &mut Vec<u8>) {
    let len = body.len() as u32;
    out.push(tag_type);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(&timestamp_ms.to_be_bytes()[1..]);
    out.push((timestamp_ms >> 24) as u8);
    out.extend_from_slice(&[0, 0, 0]); // stream id
    out.extend_from_slice(body);
    out.extend_from_slice(&(len + 11).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_golden_with_extended_timestamp() {
        let mut out = Vec::new();
        write_tag(9, 0x0102_0304, &[0xaa, 0xbb], &mut out);
        assert_eq!(
            out,
            [9, 0, 0, 2, 0x02, 0x03, 0x04, 0x01, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 13]
        );
    }
}
