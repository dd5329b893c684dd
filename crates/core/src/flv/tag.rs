//! FLV audio and video tag bodies (FLV spec 10.1, E.4.2/E.4.3), which are also
//! the payloads of RTMP audio (type 8) and video (type 9) messages.
//!
//! Video: `0x17`/`0x27` (key/inter frame, codec 7 = AVC), AVCPacketType
//! (0 = sequence header, 1 = NALUs), 24-bit composition time, then the
//! AVCDecoderConfigurationRecord or 4-byte length-prefixed NALUs.
//! Audio: `0xAF` (AAC, 44 kHz flag, 16-bit, stereo flag as the spec requires
//! for AAC), AACPacketType (0 = AudioSpecificConfig, 1 = raw frame).

use crate::codec::h264;

/// FLV tag type of an audio tag / RTMP audio message.
pub const TAG_AUDIO: u8 = 8;
/// FLV tag type of a video tag / RTMP video message.
pub const TAG_VIDEO: u8 = 9;
/// FLV tag type of a script-data tag.
pub const TAG_SCRIPT: u8 = 18;

/// Writes an AVC sequence header tag body into `out` (cleared first).
pub fn avc_sequence_header(sps: &[u8], pps: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0x17, 0x00, 0, 0, 0]);
    h264::avc_decoder_config(sps, pps, out);
}

/// Writes an AVC NALU tag body for one Annex-B access unit into `out` (cleared first).
/// `cts_ms` is the composition time offset (0 without B-frames).
pub fn avc_nalus(annexb: &[u8], keyframe: bool, cts_ms: i32, out: &mut Vec<u8>) {
    out.clear();
    out.push(if keyframe { 0x17 } else { 0x27 });
    out.push(0x01);
    out.extend_from_slice(&cts_ms.to_be_bytes()[1..]);
    h264::annexb_to_avcc(annexb, out);
}

/// Writes an AAC sequence header tag body into `out` (cleared first).
pub fn aac_sequence_header(asc: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0xaf, 0x00]);
    out.extend_from_slice(asc);
}

/// Writes an AAC raw frame tag body into `out` (cleared first).
pub fn aac_raw(frame: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0xaf, 0x01]);
    out.extend_from_slice(frame);
}

/// What a video tag body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoKind {
    /// AVC sequence header.
    SequenceHeader,
    /// A key frame.
    KeyFrame,
    /// Any other frame.
    InterFrame,
    /// Not AVC or malformed.
    Other,
}

/// Classifies a video tag body.
pub fn video_kind(body: &[u8]) -> VideoKind {
    match body {
        [0x17, 0x00, ..] => VideoKind::SequenceHeader,
        [0x17, 0x01, ..] => VideoKind::KeyFrame,
        [0x27, 0x01, ..] => VideoKind::InterFrame,
        _ => VideoKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_tag_bodies_golden() {
        let mut out = Vec::new();
        avc_sequence_header(&[0x67, 0x42, 0xc0, 0x1e], &[0x68, 0xce], &mut out);
        assert_eq!(
            out,
            [
                0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 1,
                0, 2, 0x68, 0xce
            ]
        );
        assert_eq!(video_kind(&out), VideoKind::SequenceHeader);
        avc_nalus(
            &[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 0xaa],
            true,
            0,
            &mut out,
        );
        assert_eq!(out, [0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0xaa]);
        assert_eq!(video_kind(&out), VideoKind::KeyFrame);
        avc_nalus(&[0, 0, 1, 0x41, 0xbb, 0xcc], false, 40, &mut out);
        assert_eq!(out, [0x27, 1, 0, 0, 40, 0, 0, 0, 3, 0x41, 0xbb, 0xcc]);
        assert_eq!(video_kind(&out), VideoKind::InterFrame);
    }

    #[test]
    fn audio_tag_bodies_golden() {
        let mut out = Vec::new();
        aac_sequence_header(&[0x11, 0x90], &mut out);
        assert_eq!(out, [0xaf, 0x00, 0x11, 0x90]);
        aac_raw(&[0x21, 0x10, 0x05], &mut out);
        assert_eq!(out, [0xaf, 0x01, 0x21, 0x10, 0x05]);
    }
}
