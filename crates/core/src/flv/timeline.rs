//! One publish's FLV timeline: which tags go out for each encoded frame, and
//! with which timestamp.
//!
//! - The stream starts at the first video key frame (audio only: the first
//!   audio frame); timestamps are milliseconds since it, and audio before it
//!   is dropped.
//! - Each track's timestamps rise strictly: a camera that hands over two
//!   buffers within one millisecond (seen with vivid under load) would
//!   otherwise give two frames the same time.
//! - Sequence headers (AVC with the SPS/PPS, AAC with its config) go out at
//!   timestamp 0 before the first frame; a key frame with new parameter sets
//!   (adaptive resolution) gets a new AVC header at its own timestamp first.
//! - After the send queue shed video ([`Timeline::skip_to_key`]) every frame
//!   up to the next key frame would be undecodable: they are not sent.
//!
//! Tag bodies are written into the caller's buffer and handed to a callback
//! with their kind and timestamp, so a frame costs no allocation.

use super::tag;

/// A tag to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// AVC sequence header (SPS/PPS).
    AvcHeader,
    /// AAC sequence header (AudioSpecificConfig).
    AacHeader,
    /// A video frame.
    Video {
        /// A key frame.
        key: bool,
    },
    /// An audio frame.
    Audio,
}

/// The codec configuration the headers carry.
#[derive(Clone, Copy, Debug)]
pub struct Headers<'a> {
    /// SPS and PPS of the last key frame (empty: none yet).
    pub sps: &'a [u8],
    /// See `sps`.
    pub pps: &'a [u8],
    /// The AAC AudioSpecificConfig, once the audio encoder started.
    pub asc: Option<&'a [u8]>,
}

/// One publish's timeline (see the module doc).
#[derive(Debug, Default)]
pub struct Timeline {
    audio_only: bool,
    base_us: Option<u64>,
    last_video_ts: Option<u32>,
    last_audio_ts: Option<u32>,
    skipping: bool,
    sent_sps: Vec<u8>,
    sent_pps: Vec<u8>,
}

impl Timeline {
    /// A timeline for a stream with video (`audio_only`: without).
    pub fn new(audio_only: bool) -> Self {
        Timeline {
            audio_only,
            ..Timeline::default()
        }
    }

    /// A new publish: the stream starts again at the next key frame, with
    /// its headers.
    pub fn restart(&mut self) {
        *self = Timeline::new(self.audio_only);
    }

    /// Whether the stream has started (a first key frame went out).
    pub fn started(&self) -> bool {
        self.base_us.is_some()
    }

    /// Whether video is being skipped up to the next key frame.
    pub fn skipping(&self) -> bool {
        self.skipping
    }

    /// The send queue dropped video: skip up to the next key frame. Returns
    /// true when skipping starts now (ask the encoder for a key frame).
    pub fn skip_to_key(&mut self) -> bool {
        !std::mem::replace(&mut self.skipping, true)
    }

    /// An encoded video frame (Annex-B). `out` gets each tag in order with
    /// its timestamp and body, and says whether it was queued. Returns
    /// whether the frame itself was queued.
    pub fn video(
        &mut self,
        pts_us: u64,
        key: bool,
        annexb: &[u8],
        h: Headers<'_>,
        body: &mut Vec<u8>,
        mut out: impl FnMut(TagKind, u32, &[u8]) -> bool,
    ) -> bool {
        let Some(base) = self.base(pts_us, key, h, body, &mut out) else {
            return false;
        };
        let new_params = key && (self.sent_sps != h.sps || self.sent_pps != h.pps);
        if key {
            self.skipping = false;
        } else if self.skipping {
            return false;
        }
        let ts = ((pts_us.saturating_sub(base) / 1000) as u32)
            .max(self.last_video_ts.map_or(0, |t| t + 1));
        self.last_video_ts = Some(ts);
        if new_params {
            self.avc_header(ts, h, body, &mut out);
        }
        tag::avc_nalus(annexb, key, 0, body);
        out(TagKind::Video { key }, ts, body)
    }

    /// An encoded audio frame (raw AAC). As [`Self::video`].
    pub fn audio(
        &mut self,
        pts_us: u64,
        frame: &[u8],
        h: Headers<'_>,
        body: &mut Vec<u8>,
        mut out: impl FnMut(TagKind, u32, &[u8]) -> bool,
    ) -> bool {
        // with video, audio waits for the first video key frame
        let Some(base) = self.base(pts_us, self.audio_only, h, body, &mut out) else {
            return false;
        };
        if pts_us < base {
            return false;
        }
        let ts = (((pts_us - base) / 1000) as u32).max(self.last_audio_ts.map_or(0, |t| t + 1));
        self.last_audio_ts = Some(ts);
        tag::aac_raw(frame, body);
        out(TagKind::Audio, ts, body)
    }

    /// The stream's base time; when it has not started and `starts`, it
    /// starts at `pts_us` with its sequence headers.
    fn base(
        &mut self,
        pts_us: u64,
        starts: bool,
        h: Headers<'_>,
        body: &mut Vec<u8>,
        out: &mut impl FnMut(TagKind, u32, &[u8]) -> bool,
    ) -> Option<u64> {
        if self.base_us.is_none() && starts {
            self.base_us = Some(pts_us);
            if !self.audio_only {
                self.avc_header(0, h, body, out);
            }
            if let Some(asc) = h.asc {
                tag::aac_sequence_header(asc, body);
                out(TagKind::AacHeader, 0, body);
            }
        }
        self.base_us
    }

    fn avc_header(
        &mut self,
        ts: u32,
        h: Headers<'_>,
        body: &mut Vec<u8>,
        out: &mut impl FnMut(TagKind, u32, &[u8]) -> bool,
    ) {
        if h.sps.is_empty() {
            return;
        }
        tag::avc_sequence_header(h.sps, h.pps, body);
        self.sent_sps.clear();
        self.sent_sps.extend_from_slice(h.sps);
        self.sent_pps.clear();
        self.sent_pps.extend_from_slice(h.pps);
        out(TagKind::AvcHeader, ts, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;
    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0x01];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn h() -> Headers<'static> {
        Headers {
            sps: SPS,
            pps: PPS,
            asc: Some(&[0x12, 0x10]),
        }
    }

    /// Runs frames through a timeline; returns the tags sent.
    #[derive(Default)]
    struct Wire(Vec<(TagKind, u32)>);

    impl Wire {
        fn video(&mut self, t: &mut Timeline, pts_us: u64, key: bool, h: Headers<'_>) -> bool {
            let mut body = Vec::new();
            t.video(
                pts_us,
                key,
                &[0, 0, 0, 1, 0x65],
                h,
                &mut body,
                |k, ts, b| {
                    assert!(!b.is_empty());
                    self.0.push((k, ts));
                    true
                },
            )
        }
        fn audio(&mut self, t: &mut Timeline, pts_us: u64) -> bool {
            let mut body = Vec::new();
            t.audio(pts_us, &[0x21, 0x00], h(), &mut body, |k, ts, _| {
                self.0.push((k, ts));
                true
            })
        }
    }

    use TagKind::*;

    #[test]
    fn the_stream_starts_at_the_first_key_frame_with_both_headers_at_zero() {
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        assert!(
            !w.audio(&mut t, 1_000 * MS),
            "audio before the first key frame"
        );
        assert!(!w.video(&mut t, 1_010 * MS, false, h()), "a P frame first");
        assert!(w.video(&mut t, 1_050 * MS, true, h()));
        assert!(!w.audio(&mut t, 1_040 * MS), "audio from before the start");
        assert!(w.audio(&mut t, 1_060 * MS));
        assert!(w.video(&mut t, 1_090 * MS, false, h()));
        assert_eq!(
            w.0,
            vec![
                (AvcHeader, 0),
                (AacHeader, 0),
                (Video { key: true }, 0),
                (Audio, 10),
                (Video { key: false }, 40)
            ]
        );
        assert!(t.started());
    }

    #[test]
    fn two_frames_within_a_millisecond_get_rising_timestamps() {
        // the vivid case: buffers handed over 0.4 ms apart
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        w.video(&mut t, 0, true, h());
        w.video(&mut t, 33_200, false, h());
        w.video(&mut t, 33_600, false, h());
        // and a clock step back does not make a timestamp go back either
        w.video(&mut t, 20_000, false, h());
        let video: Vec<u32> =
            w.0.iter()
                .filter(|(k, _)| matches!(k, Video { .. }))
                .map(|x| x.1)
                .collect();
        assert_eq!(video, vec![0, 33, 34, 35]);
        w.audio(&mut t, 50_000);
        w.audio(&mut t, 50_400);
        let audio: Vec<u32> =
            w.0.iter()
                .filter(|(k, _)| *k == Audio)
                .map(|x| x.1)
                .collect();
        assert_eq!(audio, vec![50, 51]);
    }

    #[test]
    fn after_shedding_video_waits_for_the_next_key_frame() {
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        w.video(&mut t, 0, true, h());
        assert!(t.skip_to_key(), "skipping starts: force a key frame");
        assert!(!t.skip_to_key(), "already skipping: no second request");
        assert!(!w.video(&mut t, 40 * MS, false, h()));
        assert!(w.audio(&mut t, 45 * MS), "audio goes on");
        assert!(w.video(&mut t, 80 * MS, true, h()));
        assert!(!t.skipping());
        assert!(w.video(&mut t, 120 * MS, false, h()));
        assert_eq!(
            w.0[3..],
            [
                (Audio, 45),
                (Video { key: true }, 80),
                (Video { key: false }, 120)
            ]
        );
    }

    #[test]
    fn a_key_frame_with_new_parameter_sets_gets_a_new_header_first() {
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        w.video(&mut t, 0, true, h());
        w.video(&mut t, 2_000 * MS, true, h());
        let smaller = Headers {
            sps: &[0x67, 0x42, 0xc0, 0x15],
            ..h()
        };
        w.video(&mut t, 2_040 * MS, false, smaller);
        w.video(&mut t, 2_080 * MS, true, smaller);
        assert_eq!(
            w.0[3..],
            [
                (Video { key: true }, 2000),
                (Video { key: false }, 2040),
                (AvcHeader, 2080),
                (Video { key: true }, 2080)
            ]
        );
    }

    #[test]
    fn audio_only_starts_at_the_first_audio_frame_with_the_aac_header() {
        let (mut t, mut w) = (Timeline::new(true), Wire::default());
        assert!(w.audio(&mut t, 500 * MS));
        assert!(w.audio(&mut t, 523 * MS));
        assert_eq!(w.0, vec![(AacHeader, 0), (Audio, 0), (Audio, 23)]);
    }

    #[test]
    fn a_restart_begins_a_new_timeline_with_headers_again() {
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        w.video(&mut t, 0, true, h());
        t.skip_to_key();
        t.restart();
        assert!(!t.started() && !t.skipping());
        w.0.clear();
        assert!(w.video(&mut t, 9_000 * MS, true, h()));
        assert_eq!(
            w.0,
            vec![(AvcHeader, 0), (AacHeader, 0), (Video { key: true }, 0)]
        );
    }

    #[test]
    fn no_avc_header_without_parameter_sets() {
        let (mut t, mut w) = (Timeline::new(false), Wire::default());
        let none = Headers {
            sps: &[],
            pps: &[],
            asc: None,
        };
        w.video(&mut t, 0, true, none);
        assert_eq!(w.0, vec![(Video { key: true }, 0)]);
    }
}
