//! Known-bad RTMP messages, as bytes a peer sends after the handshake. Each
//! one crashed rml_rtmp 0.8.0 / rml_amf0 0.3.0 (issue 11); the core's tests,
//! the hostile server and publisher in `tests/`, and the fuzz corpus use
//! them. A peer that has not announced a chunk size sends chunks of
//! [`INITIAL_CHUNK_SIZE`] bytes.

/// RTMP's chunk size until a SetChunkSize says otherwise.
pub const INITIAL_CHUNK_SIZE: usize = 128;

/// AMF0 markers used here.
const AMF0_NUMBER: u8 = 0x00;
const AMF0_STRING: u8 = 0x02;
const AMF0_OBJECT: u8 = 0x03;
const AMF0_NULL: u8 = 0x05;
const AMF0_OBJECT_END: u8 = 0x09;

/// RTMP message type of an AMF0 command.
pub const TYPE_AMF0_COMMAND: u8 = 20;
/// RTMP message type of AMF0 data.
pub const TYPE_AMF0_DATA: u8 = 18;

/// Appends an AMF0 string.
pub fn amf0_string(s: &str, out: &mut Vec<u8>) {
    out.push(AMF0_STRING);
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends an AMF0 number.
pub fn amf0_number(n: f64, out: &mut Vec<u8>) {
    out.push(AMF0_NUMBER);
    out.extend_from_slice(&n.to_be_bytes());
}

/// One message as chunks: a type 0 chunk, then type 3 continuations.
pub fn chunks(csid: u8, type_id: u8, stream_id: u32, payload: &[u8], chunk_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 12 + payload.len() / chunk_size.max(1) + 1);
    for (i, part) in chunk_parts(payload, chunk_size).into_iter().enumerate() {
        if i == 0 {
            out.extend(type0_header(csid, type_id, stream_id, payload.len()));
        } else {
            out.push(0xC0 | (csid & 0x3f));
        }
        out.extend_from_slice(part);
    }
    out
}

fn chunk_parts(payload: &[u8], chunk_size: usize) -> Vec<&[u8]> {
    if payload.is_empty() {
        // an empty message is one chunk with no data
        return vec![payload];
    }
    payload.chunks(chunk_size.max(1)).collect()
}

fn type0_header(csid: u8, type_id: u8, stream_id: u32, len: usize) -> Vec<u8> {
    let mut h = vec![csid & 0x3f, 0, 0, 0];
    h.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    h.push(type_id);
    h.extend_from_slice(&stream_id.to_le_bytes());
    h
}

/// An AMF0 command message with two values instead of three: 22 bytes in
/// all. rml_rtmp drained three values without checking and panicked.
pub fn short_command() -> Vec<u8> {
    let mut p = Vec::new();
    amf0_number(1.0, &mut p);
    p.push(AMF0_NULL);
    chunks(3, TYPE_AMF0_COMMAND, 0, &p, INITIAL_CHUNK_SIZE)
}

/// Two AMF0 data messages (`onTextData`-like, harmless when read correctly)
/// on chunk streams 4 and 5 whose chunks alternate, as some servers send
/// them. rml_rtmp kept one payload buffer for all chunk streams and
/// panicked ("capacity overflow") on the length underflow.
pub fn interleaved_messages() -> Vec<u8> {
    let message = |fill: u8| {
        let mut p = Vec::new();
        amf0_string("onTextData", &mut p);
        amf0_string(
            &String::from_utf8(vec![fill; 300]).unwrap_or_default(),
            &mut p,
        );
        p
    };
    let (a, b) = (message(b'a'), message(b'b'));
    let mut out = Vec::new();
    let mut pa = a.chunks(INITIAL_CHUNK_SIZE);
    let mut pb = b.chunks(INITIAL_CHUNK_SIZE);
    let mut first = true;
    loop {
        let (x, y) = (pa.next(), pb.next());
        if x.is_none() && y.is_none() {
            return out;
        }
        for (csid, part, len) in [(4u8, x, a.len()), (5u8, y, b.len())] {
            let Some(part) = part else { continue };
            if first {
                out.extend(type0_header(csid, TYPE_AMF0_DATA, 0, len));
            } else {
                out.push(0xC0 | csid);
            }
            out.extend_from_slice(part);
        }
        first = false;
    }
}

/// An `onStatus` command whose info object nests `depth` objects (12,500
/// levels is about 50 KB); rml_amf0 recursed once per level and overflowed
/// the stack.
pub fn deeply_nested_command(depth: usize) -> Vec<u8> {
    chunks(
        3,
        TYPE_AMF0_COMMAND,
        0,
        &deeply_nested_payload(depth),
        INITIAL_CHUNK_SIZE,
    )
}

/// The AMF0 payload of [`deeply_nested_command`].
pub fn deeply_nested_payload(depth: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(depth * 7 + 32);
    amf0_string("onStatus", &mut p);
    amf0_number(0.0, &mut p);
    p.push(AMF0_NULL);
    for _ in 0..depth {
        p.push(AMF0_OBJECT);
        p.extend_from_slice(&[0, 1, b'a']);
    }
    p.push(AMF0_NULL);
    for _ in 0..depth {
        p.extend_from_slice(&[0, 0, AMF0_OBJECT_END]);
    }
    p
}

/// A command chunk header announcing RTMP's largest message (16 MiB - 1)
/// followed by its first chunk: rml_rtmp reserved the whole length at once
/// (a 12-byte header, 16 MiB of memory); now it is refused at the header.
pub fn oversized_message() -> Vec<u8> {
    let mut b = type0_header(3, TYPE_AMF0_COMMAND, 0, 0xFF_FFFF);
    b.extend_from_slice(&[AMF0_NULL; INITIAL_CHUNK_SIZE]);
    b
}

/// Every known-bad message, named.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("short command", short_command()),
        ("interleaved chunk streams", interleaved_messages()),
        ("nested 12500 deep", deeply_nested_command(12_500)),
        ("16 MiB announced", oversized_message()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rml_rtmp::chunk_io::ChunkDeserializer;

    #[test]
    fn the_short_command_is_22_bytes() {
        assert_eq!(short_command().len(), 22);
    }

    #[test]
    fn the_interleaved_messages_read_back_whole_with_the_patched_reader() {
        let mut d = ChunkDeserializer::new();
        let bytes = interleaved_messages();
        let mut input = &bytes[..];
        let mut got = Vec::new();
        while let Some(m) = d.get_next_message(input).unwrap() {
            input = &[];
            got.push((m.type_id, m.data.len()));
        }
        assert_eq!(got, vec![(18, 316), (18, 316)]);
    }
}
