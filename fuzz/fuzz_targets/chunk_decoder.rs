//! The RTMP chunk stream reader (both sides use it) and the message decoding
//! behind it (AMF0 commands and data, control messages). The first byte
//! says how the rest arrives (1..=256 bytes per read), as a socket splits it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let mut d = ChunkDeserializer::new();
    d.set_max_message_size(LIMIT);
    for piece in data.chunks(usize::from(split) + 1) {
        let mut input = piece;
        loop {
            match d.get_next_message(input) {
                Ok(Some(m)) => {
                    input = &[];
                    assert!(m.data.len() <= LIMIT, "a message over the limit");
                    if let Ok(RtmpMessage::SetChunkSize { size }) = m.to_rtmp_message() {
                        let _ = d.set_max_chunk_size(size as usize);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
