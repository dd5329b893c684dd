//! Reading FLV (FLV spec 10.1): a file's tags one by one, and what AVC video
//! and AAC audio tag bodies hold. Every length is checked against the bytes
//! there before it is used; a tag not yet complete (a recording still being
//! written) ends the walk. Nothing allocates and nothing panics on any input
//! (the `flv` fuzz target runs these functions).
//!
//! Tests read back what `livepush receive` recorded with it; the soak test
//! measures A/V drift from the timestamps it gives.

use super::tag::{TAG_AUDIO, TAG_VIDEO};

/// One tag: its type (8 audio, 9 video, 18 script data), its 32-bit
/// timestamp (ms) and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The tag type (the filter bit and reserved bits dropped).
    pub kind: u8,
    /// Timestamp, ms (the extended byte included).
    pub timestamp_ms: u32,
    /// The tag's data.
    pub body: &'a [u8],
}

/// The tags of an FLV file, in order; see [`tags`].
#[derive(Debug, Clone)]
pub struct Tags<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Tags<'_> {
    /// The offset of the first byte not read (where an incomplete tag starts).
    pub fn offset(&self) -> usize {
        self.pos
    }
}

/// The tags of `file` when it starts with an FLV header (`FLV`, version 1),
/// walking from the header's data offset; None for anything else.
pub fn tags(file: &[u8]) -> Option<Tags<'_>> {
    if file.len() < 9 || &file[..3] != b"FLV" || file[3] != 1 {
        return None;
    }
    let header = u32::from_be_bytes([file[5], file[6], file[7], file[8]]) as usize;
    if header < 9 {
        return None;
    }
    // the header, then PreviousTagSize0
    let pos = header.checked_add(4)?;
    Some(Tags {
        data: file,
        pos: pos.min(file.len()),
    })
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        let d = self.data.get(self.pos..)?;
        if d.len() < 11 {
            return None;
        }
        let size = u32::from_be_bytes([0, d[1], d[2], d[3]]) as usize;
        // header, body, PreviousTagSize: at most 11 + 2^24 + 4, no overflow
        let end = 11 + size + 4;
        if end > d.len() {
            return None;
        }
        let tag = Tag {
            kind: d[0] & 0x1f,
            timestamp_ms: u32::from_be_bytes([d[7], d[4], d[5], d[6]]),
            body: &d[11..11 + size],
        };
        self.pos += end;
        Some(tag)
    }
}

/// What an AVC video tag body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Video<'a> {
    /// AVCPacketType 0: the AVCDecoderConfigurationRecord.
    SequenceHeader(&'a [u8]),
    /// AVCPacketType 1: a frame's NAL units, each with a 4-byte length.
    Frame {
        /// Frame type 1 (a key frame).
        key: bool,
        /// Composition time offset, ms (signed 24 bits).
        cts_ms: i32,
        /// The length-prefixed NAL units ([`avcc_nal_units`]).
        nalus: &'a [u8],
    },
    /// AVCPacketType 2: end of sequence.
    EndOfSequence,
    /// Not AVC, or too short to say.
    Other,
}

/// Reads an AVC video tag body.
pub fn video(body: &[u8]) -> Video<'_> {
    let [first, packet, c0, c1, c2, rest @ ..] = body else {
        return Video::Other;
    };
    if first & 0x0f != 7 {
        return Video::Other;
    }
    match packet {
        0 => Video::SequenceHeader(rest),
        1 => Video::Frame {
            key: first >> 4 == 1,
            // sign-extend the 24-bit value
            cts_ms: i32::from_be_bytes([*c0, *c1, *c2, 0]) >> 8,
            nalus: rest,
        },
        2 => Video::EndOfSequence,
        _ => Video::Other,
    }
}

/// The NAL units of a length-prefixed (AVCC, 4-byte lengths) buffer; a
/// length past the end yields `Err` with the bytes left and ends the walk.
pub fn avcc_nal_units(data: &[u8]) -> impl Iterator<Item = Result<&[u8], &[u8]>> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let d = rest?;
        if d.is_empty() {
            rest = None;
            return None;
        }
        let (Some(len), Some(after)) = (d.get(..4), d.get(4..)) else {
            rest = None;
            return Some(Err(d));
        };
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if n > after.len() {
            rest = None;
            return Some(Err(d));
        }
        rest = Some(&after[n..]);
        Some(Ok(&after[..n]))
    })
}

/// The first SPS and PPS of an AVCDecoderConfigurationRecord.
pub fn decoder_config(record: &[u8]) -> Option<(&[u8], &[u8])> {
    if record.len() < 6 || record[0] != 1 {
        return None;
    }
    let nsps = record[5] & 0x1f;
    let mut r = &record[6..];
    let mut sps = None;
    for _ in 0..nsps {
        let s = length_prefixed(&mut r)?;
        sps.get_or_insert(s);
    }
    let npps = *r.first()?;
    r = &r[1..];
    let mut pps = None;
    for _ in 0..npps {
        let p = length_prefixed(&mut r)?;
        pps.get_or_insert(p);
    }
    Some((sps?, pps?))
}

/// Takes a 2-byte-length-prefixed field off the front of `r`.
fn length_prefixed<'a>(r: &mut &'a [u8]) -> Option<&'a [u8]> {
    let n = u16::from_be_bytes([*r.first()?, *r.get(1)?]) as usize;
    let field = r.get(2..2 + n)?;
    *r = &r[2 + n..];
    Some(field)
}

/// What an audio tag body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audio<'a> {
    /// AACPacketType 0: the AudioSpecificConfig.
    AacHeader(&'a [u8]),
    /// AACPacketType 1: one raw AAC frame.
    AacRaw(&'a [u8]),
    /// Not AAC, or too short to say.
    Other,
}

/// Reads an audio tag body.
pub fn audio(body: &[u8]) -> Audio<'_> {
    match body {
        [first, 0, rest @ ..] if first >> 4 == 10 => Audio::AacHeader(rest),
        [first, 1, rest @ ..] if first >> 4 == 10 => Audio::AacRaw(rest),
        _ => Audio::Other,
    }
}

/// What a walk over a file's tags found: the figures the tests and the soak
/// measure read from a recording.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Video frames (AVC NALU tags; sequence headers are not frames).
    pub video_frames: u32,
    /// Of them, key frames.
    pub key_frames: u32,
    /// Raw AAC frames.
    pub audio_frames: u32,
    /// The last video tag's timestamp, ms.
    pub last_video_ms: Option<u32>,
    /// The last audio tag's timestamp, ms.
    pub last_audio_ms: Option<u32>,
    /// Bytes read (where an incomplete tag starts).
    pub complete_bytes: usize,
}

impl Summary {
    /// The newest audio or video timestamp, ms.
    pub fn last_ms(&self) -> Option<u32> {
        self.last_video_ms.max(self.last_audio_ms)
    }
}

/// Walks `file`'s complete tags; None when it is not FLV.
pub fn summary(file: &[u8]) -> Option<Summary> {
    let mut tags = tags(file)?;
    let mut s = Summary::default();
    for t in tags.by_ref() {
        match t.kind {
            TAG_VIDEO => {
                s.last_video_ms = Some(t.timestamp_ms);
                if let Video::Frame { key, .. } = video(t.body) {
                    s.video_frames += 1;
                    s.key_frames += u32::from(key);
                }
            }
            TAG_AUDIO => {
                s.last_audio_ms = Some(t.timestamp_ms);
                if let Audio::AacRaw(_) = audio(t.body) {
                    s.audio_frames += 1;
                }
            }
            _ => {}
        }
    }
    s.complete_bytes = tags.offset();
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{file, tag};

    fn header() -> Vec<u8> {
        let f = b"FLV\x01\x05\0\0\0\x09\0\0\0\0".to_vec();
        assert_eq!(f.len(), 13);
        f
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let mut f = header();
        let mut body = Vec::new();
        tag::avc_sequence_header(&[0x67, 0x42, 0xc0, 0x1e], &[0x68, 0xce], &mut body);
        file::write_tag(TAG_VIDEO, 0, &body, &mut f);
        tag::aac_sequence_header(&[0x11, 0x90], &mut body);
        file::write_tag(TAG_AUDIO, 0, &body, &mut f);
        tag::avc_nalus(
            &[0, 0, 0, 1, 0x65, 0xaa, 0, 0, 1, 0x06, 1],
            true,
            -40,
            &mut body,
        );
        file::write_tag(TAG_VIDEO, 0x0100_0002, &body, &mut f);
        tag::aac_raw(&[0x21, 0x10], &mut body);
        file::write_tag(TAG_AUDIO, 23, &body, &mut f);

        let t: Vec<_> = tags(&f).unwrap().collect();
        assert_eq!(t.len(), 4);
        let Video::SequenceHeader(rec) = video(t[0].body) else {
            panic!("{:?}", t[0])
        };
        assert_eq!(
            decoder_config(rec),
            Some((&[0x67, 0x42, 0xc0, 0x1e][..], &[0x68, 0xce][..]))
        );
        assert_eq!(audio(t[1].body), Audio::AacHeader(&[0x11, 0x90]));
        assert_eq!(t[2].timestamp_ms, 0x0100_0002, "the extended byte");
        let Video::Frame { key, cts_ms, nalus } = video(t[2].body) else {
            panic!()
        };
        assert!(key);
        assert_eq!(cts_ms, -40, "signed composition time");
        let n: Vec<_> = avcc_nal_units(nalus).collect();
        assert_eq!(n, [Ok(&[0x65, 0xaa][..]), Ok(&[0x06, 1][..])]);
        assert_eq!(audio(t[3].body), Audio::AacRaw(&[0x21, 0x10]));

        let s = summary(&f).unwrap();
        assert_eq!(
            (s.video_frames, s.key_frames, s.audio_frames, s.last_ms()),
            (1, 1, 1, Some(0x0100_0002))
        );
        assert_eq!(s.complete_bytes, f.len());
        // a recording still being written: the last tag is not read yet
        let cut = &f[..f.len() - 3];
        let s = summary(cut).unwrap();
        assert_eq!((s.audio_frames, s.last_audio_ms), (0, Some(0)));
        assert!(s.complete_bytes < cut.len());
    }

    #[test]
    fn hostile_lengths_end_the_walk_without_a_panic() {
        assert!(tags(b"FLV").is_none());
        assert!(tags(b"GIF89a\0\0\0\0\0\0\0").is_none());
        // a data offset past the end, and one of u32::MAX
        assert_eq!(tags(b"FLV\x01\x05\0\0\x01\0").unwrap().count(), 0);
        assert_eq!(tags(b"FLV\x01\x05\xff\xff\xff\xff").unwrap().count(), 0);
        // a tag claiming 16 MiB in a short file
        let mut f = header();
        f.extend([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x17, 1]);
        assert_eq!(tags(&f).unwrap().count(), 0);
        // NAL lengths past the end
        let n: Vec<_> = avcc_nal_units(&[0, 0, 0, 9, 1, 2]).collect();
        assert_eq!(n, [Err(&[0, 0, 0, 9, 1, 2][..])]);
        let n: Vec<_> = avcc_nal_units(&[0, 0]).collect();
        assert_eq!(n.len(), 1);
        assert!(n[0].is_err());
        // a decoder record whose SPS length runs past the end
        assert_eq!(
            decoder_config(&[1, 0x42, 0, 0x1e, 0xff, 0xe1, 0, 9, 0x67]),
            None
        );
        assert_eq!(video(&[0x17]), Video::Other);
        assert_eq!(video(&[0x12, 1, 0, 0, 0]), Video::Other, "not AVC");
        assert_eq!(audio(&[0x2f, 1, 0]), Audio::Other, "MP3");
    }
}
