//! Encoded frames onto the publish: device facts and encoder reports to the
//! supervisor, frames kept for the start until the publish is on the air
//! (then the cached key frame and what followed it first, or a forced key
//! frame), each frame through the publish's FLV timeline, chunked into a
//! pooled write buffer and queued; the encoders' buffers go back.

use rml_rtmp::sessions::StreamMetadata;

use crate::codec::h264;
use crate::flv::timeline::{Headers, TagKind};
use crate::rtmp::chunk::Media;
use crate::rtmp::publish::PublishSession;
use crate::sendq::Kind;
use crate::start_cache::{Frame, Track};
use crate::supervisor::Input as Fact;
use crate::time::Instant;

use super::connection::Outbox;
use super::pool::BufferPool;
use super::{EncoderCommand, MediaMsg, Output, Publisher};

impl Publisher {
    pub(super) fn on_media(&mut self, now: Instant, m: MediaMsg) {
        match m {
            MediaMsg::CameraOpened => self.sup.handle_input(now, Fact::CameraOpened),
            MediaMsg::Device { input, fatal } => {
                if fatal {
                    let what = if matches!(
                        input,
                        Fact::MicFailed(_) | Fact::MicPermission(_) | Fact::MicRate(_)
                    ) {
                        "microphone"
                    } else {
                        "camera"
                    };
                    self.failed = Some(format!("{what}: {}", input.detail()));
                }
                self.sup.handle_input(now, input);
            }
            MediaMsg::FirstFrame => self.sup.handle_input(now, Fact::FirstFrame),
            MediaMsg::VideoEncoderStarted { backend } => {
                let p = self.cfg.params;
                log::info!(
                    "video encoder: {backend} {}x{} {} fps, key frame every {} frames, {} kbps",
                    p.width,
                    p.height,
                    p.fps,
                    p.gop_frames,
                    p.bitrate_kbps
                );
                self.out
                    .push_back(Output::Notice(super::Notice::VideoEncoder { backend }));
                self.sup
                    .handle_input(now, Fact::VideoEncoderStarted { fell_back: false });
            }
            MediaMsg::EncoderFellBack(m) => self.sup.handle_input(now, Fact::EncoderFellBack(m)),
            MediaMsg::EncoderRestarted(m) => self.sup.handle_input(now, Fact::EncoderRestarted(m)),
            MediaMsg::VideoEncoderFailed(e) => {
                self.failed = Some(format!("video encoder: {e}"));
                self.sup.handle_input(now, Fact::VideoEncoderFailed(e));
            }
            MediaMsg::AudioEncoderStarted { asc } => {
                self.asc = Some(asc);
                self.sup.handle_input(now, Fact::AudioEncoderStarted);
            }
            MediaMsg::Notice(n) => self.out.push_back(Output::Notice(n)),
            MediaMsg::AudioFailed(e) => {
                self.failed = Some(format!("audio: {e}"));
                self.sup.handle_input(now, Fact::AudioEncoderFailed(e));
            }
            MediaMsg::Video(v) => {
                self.counts.video_frames_in += 1;
                self.health.frame(now, crate::watchdog::Track::Video);
                self.video_seen = true;
                self.size = (v.width, v.height);
                self.meter
                    .on_video(v.pts_us / 1000, v.data.len(), v.key, v.width, v.height);
                if v.key {
                    if let Some((sps, pps)) = h264::parameter_sets(&v.data) {
                        let (s, p) = &mut self.param_sets;
                        s.clear();
                        s.extend_from_slice(sps);
                        p.clear();
                        p.extend_from_slice(pps);
                    }
                }
                if self.stopping.is_some() {
                    self.out.push_back(Output::Recycle(Track::Video, v.data));
                } else if self.on_air() {
                    self.send_video(now, v.pts_us, v.key, &v.data);
                    self.out.push_back(Output::Recycle(Track::Video, v.data));
                } else {
                    let out = &mut self.out;
                    self.start.video(v.pts_us, v.key, v.data, |t, b| {
                        out.push_back(Output::Recycle(t, b))
                    });
                }
            }
            MediaMsg::Audio(a) => {
                self.counts.audio_frames_in += 1;
                self.health.frame(now, crate::watchdog::Track::Audio);
                self.meter.on_audio(a.data.len());
                if self.stopping.is_some() {
                    self.out.push_back(Output::Recycle(Track::Audio, a.data));
                } else if self.on_air() {
                    self.send_audio(now, a.pts_us, &a.data);
                    self.out.push_back(Output::Recycle(Track::Audio, a.data));
                } else {
                    let out = &mut self.out;
                    self.start.audio(a.pts_us, a.data, |t, b| {
                        out.push_back(Output::Recycle(t, b))
                    });
                }
            }
        }
    }

    fn on_air(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.on_air)
    }

    /// An encoded video frame onto the publish, through its timeline.
    fn send_video(&mut self, now: Instant, pts_us: u64, key: bool, annexb: &[u8]) {
        if self.send(now, Some(key), pts_us, annexb) {
            self.counts.video_frames_sent += 1;
        }
    }

    /// An encoded audio frame onto the publish, through its timeline.
    fn send_audio(&mut self, now: Instant, pts_us: u64, frame: &[u8]) {
        if self.send(now, None, pts_us, frame) {
            self.counts.audio_frames_sent += 1;
        }
    }

    /// A video (`video` = Some(key frame?)) or audio (None) frame through this
    /// publish's timeline into the send queue. Whether the frame was queued
    /// (not before the stream's first key frame, not while skipping to one,
    /// only while publishing).
    fn send(&mut self, now: Instant, video: Option<bool>, pts_us: u64, data: &[u8]) -> bool {
        let Some(c) = self.conn.as_mut() else {
            return false;
        };
        let Some(s) = c.session.as_mut() else {
            return false;
        };
        if !s.is_publishing() {
            return false;
        }
        let h = Headers {
            sps: &self.param_sets.0,
            pps: &self.param_sets.1,
            asc: self.asc.as_deref(),
        };
        let (pool, body) = (&mut self.pool, &mut self.body);
        let (timeline, outbox) = (&mut c.timeline, &mut c.outbox);
        let out = |k, ts, b: &[u8]| queue_tag(s, outbox, pool, now, k, ts, b);
        match video {
            Some(key) => timeline.video(pts_us, key, data, h, body, out),
            None => timeline.audio(pts_us, data, h, body, out),
        }
    }

    pub(super) fn on_published(&mut self, now: Instant) {
        let p = self.cfg.params;
        let mut md = StreamMetadata::new();
        if self.cfg.video {
            md.video_width = Some(p.width);
            md.video_height = Some(p.height);
            md.video_codec_id = Some(7);
            md.video_frame_rate = Some(p.fps as f32);
            md.video_bitrate_kbps = Some(p.bitrate_kbps);
        }
        md.audio_codec_id = Some(10);
        md.audio_bitrate_kbps = Some(self.cfg.audio_kbps);
        md.audio_sample_rate = Some(self.cfg.sample_rate);
        md.audio_channels = Some(u32::from(self.cfg.channels));
        md.audio_is_stereo = Some(self.cfg.channels == 2);
        md.encoder = Some(self.cfg.encoder_name.clone());
        if let Some(c) = self.conn.as_mut() {
            c.timeline.restart();
            c.on_air = true;
            if let Some(s) = c.session.as_mut() {
                s.send_metadata(&md);
            }
        }
        // start the stream on the key frame the encoder made while the
        // connection was set up (and what followed it); when there is none
        // recent enough, on a fresh one
        let out = &mut self.out;
        match self.start.take(|t, b| out.push_back(Output::Recycle(t, b))) {
            Some(frames) => {
                for f in frames {
                    match f {
                        Frame::Video { pts_us, key, data } => {
                            self.send_video(now, pts_us, key, &data);
                            self.out.push_back(Output::Recycle(Track::Video, data));
                        }
                        Frame::Audio { pts_us, data } => {
                            self.send_audio(now, pts_us, &data);
                            self.out.push_back(Output::Recycle(Track::Audio, data));
                        }
                    }
                }
            }
            // before the encoder's first frame: that one is a key frame
            None if !self.video_seen => {}
            None => self
                .out
                .push_back(Output::Encoder(EncoderCommand::ForceKey)),
        }
    }
}

/// Chunks one tag `body` as a media message into a pooled buffer and queues
/// it behind everything the session already produced. Returns whether it
/// was queued.
fn queue_tag(
    s: &mut PublishSession,
    c: &mut Outbox,
    pool: &mut BufferPool,
    now: Instant,
    kind: TagKind,
    ts: u32,
    body: &[u8],
) -> bool {
    let (media, kind) = match kind {
        TagKind::AvcHeader => (Media::Video, Kind::Header),
        TagKind::AacHeader => (Media::Audio, Kind::Header),
        TagKind::Video { key } => (Media::Video, Kind::Video { key }),
        TagKind::Audio => (Media::Audio, Kind::Audio),
    };
    while let Some(t) = s.poll_transmit() {
        c.push(Kind::Control, now, t.bytes);
    }
    let mut buf = pool.take(s.media_len(ts, body.len()));
    if s.write_media(media, ts, body, &mut buf) {
        c.push(kind, now, buf);
        true
    } else {
        pool.give(buf);
        false
    }
}
