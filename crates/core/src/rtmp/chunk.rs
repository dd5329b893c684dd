//! Media messages as RTMP chunks (RTMP 1.0 spec, 5.3.1), written straight into
//! a caller's buffer so the per-frame path allocates nothing.
//!
//! Every message starts with a type-0 header (full header: timestamp, length,
//! type, stream id), continuation chunks use type-3 headers, timestamps from
//! 0xFFFFFF up use the extended field (repeated in type-3 chunks, as
//! rml_rtmp and FFmpeg expect). Media uses its own chunk streams (7 video,
//! 8 audio) that rml_rtmp's serializer never uses (it takes 2..=6), so the two
//! writers never share header-compression state on one connection.

/// Chunk stream for video messages.
pub const CSID_VIDEO: u8 = 7;
/// Chunk stream for audio messages.
pub const CSID_AUDIO: u8 = 8;

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// RTMP message type 9 on chunk stream 7.
    Video,
    /// RTMP message type 8 on chunk stream 8.
    Audio,
}

/// Writes audio/video messages of one publish stream.
#[derive(Clone, Copy, Debug)]
pub struct MediaChunkWriter {
    chunk_size: usize,
    stream_id: u32,
}

impl MediaChunkWriter {
    /// A writer for message stream `stream_id` with the connection's outbound chunk size.
    pub fn new(chunk_size: usize, stream_id: u32) -> Self {
        MediaChunkWriter {
            chunk_size: chunk_size.max(1),
            stream_id,
        }
    }

    /// The bytes [`Self::write`] appends for a `body_len`-byte message at
    /// `ts_ms`: the message header, a one-byte header per further chunk,
    /// and an extended timestamp on each header from 0xffffff ms on.
    pub fn encoded_len(&self, ts_ms: u32, body_len: usize) -> usize {
        let ext = if ts_ms >= 0x00ff_ffff { 4 } else { 0 };
        let more_chunks = body_len.saturating_sub(1) / self.chunk_size;
        12 + ext + body_len + more_chunks * (1 + ext)
    }

    /// Appends `body` as one message with timestamp `ts_ms` to `out`.
    pub fn write(&self, media: Media, ts_ms: u32, body: &[u8], out: &mut Vec<u8>) {
        let (csid, type_id) = match media {
            Media::Video => (CSID_VIDEO, 9u8),
            Media::Audio => (CSID_AUDIO, 8u8),
        };
        let extended = ts_ms >= 0x00ff_ffff;
        out.push(csid); // fmt 0
        let ts_field = if extended { 0x00ff_ffff } else { ts_ms };
        out.extend_from_slice(&ts_field.to_be_bytes()[1..]);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&self.stream_id.to_le_bytes());
        if extended {
            out.extend_from_slice(&ts_ms.to_be_bytes());
        }
        let mut chunks = body.chunks(self.chunk_size);
        if let Some(first) = chunks.next() {
            out.extend_from_slice(first);
        }
        for c in chunks {
            out.push(0xc0 | csid); // fmt 3
            if extended {
                out.extend_from_slice(&ts_ms.to_be_bytes());
            }
            out.extend_from_slice(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rml_rtmp::chunk_io::ChunkDeserializer;

    #[test]
    fn encoded_len_is_what_write_appends() {
        let w = MediaChunkWriter::new(128, 1);
        for ts in [0, 0x00ff_fffe, 0x00ff_ffff, u32::MAX] {
            for len in [0, 1, 127, 128, 129, 256, 1000] {
                let mut out = Vec::new();
                w.write(Media::Video, ts, &vec![0; len], &mut out);
                assert_eq!(w.encoded_len(ts, len), out.len(), "ts {ts}, {len} bytes");
            }
        }
    }

    #[test]
    fn golden_small_message() {
        let mut out = Vec::new();
        MediaChunkWriter::new(4096, 1).write(Media::Audio, 0x0102_03, &[0xaf, 1, 7], &mut out);
        assert_eq!(
            out,
            [8, 0x01, 0x02, 0x03, 0, 0, 3, 8, 1, 0, 0, 0, 0xaf, 1, 7]
        );
    }

    #[test]
    fn rml_rtmp_reads_back_what_we_write() {
        let mut de = ChunkDeserializer::new();
        de.set_max_chunk_size(128).unwrap();
        let w = MediaChunkWriter::new(128, 5);
        let big: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut out = Vec::new();
        w.write(Media::Video, 40, &big, &mut out);
        w.write(Media::Audio, 41, &[1, 2, 3], &mut out);
        w.write(Media::Video, 0x0123_4567, &big[..300], &mut out); // extended timestamp
        let mut got = Vec::new();
        let mut input: &[u8] = &out;
        while let Some(p) = de.get_next_message(input).unwrap() {
            input = &[];
            got.push((
                p.type_id,
                p.message_stream_id,
                p.timestamp.value,
                p.data.to_vec(),
            ));
        }
        assert_eq!(
            got,
            vec![
                (9, 5, 40, big.clone()),
                (8, 5, 41, vec![1, 2, 3]),
                (9, 5, 0x0123_4567, big[..300].to_vec())
            ]
        );
    }
}
