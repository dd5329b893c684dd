//! The netstatus meter: measures what the stream actually does (encoder output
//! rates, frame rate, key-frame interval, bytes leaving the socket, send-delay
//! jitter) and reports it about once a second. Nothing here is a configured value.

use crate::time::Instant;

/// One netstatus report, the contract's `info` keys.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetStatus {
    /// Video encoder output, kbps.
    pub video_bitrate: u32,
    /// Audio encoder output, kbps.
    pub audio_bitrate: u32,
    /// Encoded video frames per second.
    pub video_fps: f32,
    /// Seconds between the last two key frames (media time).
    pub video_gop: f32,
    /// Bytes written to the socket, as kbps.
    pub net_speed: u32,
    /// Mean change between consecutive send delays (enqueue to written), ms.
    pub net_jitter: u32,
    /// Encoded width.
    pub video_width: u32,
    /// Encoded height.
    pub video_height: u32,
}

/// Accumulates one window of measurements.
#[derive(Debug)]
pub struct NetStatusMeter {
    window_start: Instant,
    video_bytes: u64,
    audio_bytes: u64,
    video_frames: u32,
    sent_bytes: u64,
    last_key_ms: Option<u64>,
    gop_s: f32,
    last_delay_us: Option<u64>,
    jitter_sum_us: u64,
    jitter_n: u32,
    width: u32,
    height: u32,
}

impl NetStatusMeter {
    /// Starts the first window at `now`.
    pub fn new(now: Instant) -> Self {
        NetStatusMeter {
            window_start: now,
            video_bytes: 0,
            audio_bytes: 0,
            video_frames: 0,
            sent_bytes: 0,
            last_key_ms: None,
            gop_s: 0.0,
            last_delay_us: None,
            jitter_sum_us: 0,
            jitter_n: 0,
            width: 0,
            height: 0,
        }
    }

    /// Reports `gop_s` as the GOP until two key frames have been measured
    /// (the configured interval: the stream starts with one key frame).
    pub fn with_gop(mut self, gop_s: f32) -> Self {
        self.gop_s = gop_s;
        self
    }

    /// An encoded video frame of `bytes` at media time `pts_ms`.
    pub fn on_video(&mut self, pts_ms: u64, bytes: usize, key: bool, width: u32, height: u32) {
        self.video_bytes += bytes as u64;
        self.video_frames += 1;
        self.width = width;
        self.height = height;
        if key {
            if let Some(last) = self.last_key_ms {
                if pts_ms > last {
                    self.gop_s = (pts_ms - last) as f32 / 1000.0;
                }
            }
            self.last_key_ms = Some(pts_ms);
        }
    }

    /// An encoded audio frame of `bytes`.
    pub fn on_audio(&mut self, bytes: usize) {
        self.audio_bytes += bytes as u64;
    }

    /// `bytes` were written to the socket; the packet waited `delay_us` since it was queued.
    pub fn on_sent(&mut self, bytes: usize, delay_us: u64) {
        self.sent_bytes += bytes as u64;
        if let Some(last) = self.last_delay_us {
            self.jitter_sum_us += last.abs_diff(delay_us);
            self.jitter_n += 1;
        }
        self.last_delay_us = Some(delay_us);
    }

    /// When the current window started.
    pub fn window_start(&self) -> Instant {
        self.window_start
    }

    /// Whether a report is due (a second has passed).
    pub fn due(&self, now: Instant) -> bool {
        now.saturating_since(self.window_start).as_millis() >= 1000
    }

    /// When the next report is due.
    pub fn next_due(&self) -> Instant {
        self.window_start + core::time::Duration::from_secs(1)
    }

    /// Closes the window: the report, and a new window from `now`.
    pub fn report(&mut self, now: Instant) -> NetStatus {
        let secs = (now.saturating_since(self.window_start).as_micros() as f64 / 1e6).max(1e-3);
        let kbps = |b: u64| ((b as f64 * 8.0 / 1000.0) / secs).round() as u32;
        let r = NetStatus {
            video_bitrate: kbps(self.video_bytes),
            audio_bitrate: kbps(self.audio_bytes),
            video_fps: ((f64::from(self.video_frames) / secs) * 10.0).round() as f32 / 10.0,
            video_gop: self.gop_s,
            net_speed: kbps(self.sent_bytes),
            net_jitter: if self.jitter_n == 0 {
                0
            } else {
                (self.jitter_sum_us / u64::from(self.jitter_n) / 1000) as u32
            },
            video_width: self.width,
            video_height: self.height,
        };
        self.window_start = now;
        self.video_bytes = 0;
        self.audio_bytes = 0;
        self.video_frames = 0;
        self.sent_bytes = 0;
        self.jitter_sum_us = 0;
        self.jitter_n = 0;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_window() {
        let mut m = NetStatusMeter::new(Instant::ZERO);
        for i in 0..20u64 {
            m.on_video(i * 50, 1000, i % 10 == 0, 640, 360);
        }
        for _ in 0..47 {
            m.on_audio(100);
        }
        m.on_sent(10_000, 1000);
        m.on_sent(10_000, 5000);
        m.on_sent(5_000, 2000);
        assert!(!m.due(Instant::from_millis(999)));
        assert!(m.due(Instant::from_millis(1000)));
        let r = m.report(Instant::from_millis(1000));
        assert_eq!(r.video_bitrate, 160);
        assert_eq!(r.audio_bitrate, 38);
        assert_eq!(r.video_fps, 20.0);
        assert_eq!(r.video_gop, 0.5);
        assert_eq!(r.net_speed, 200);
        assert_eq!(r.net_jitter, 3);
        assert_eq!((r.video_width, r.video_height), (640, 360));
        // the next window starts empty
        let r = m.report(Instant::from_millis(2000));
        assert_eq!((r.video_bitrate, r.net_speed, r.video_fps), (0, 0, 0.0));
        assert_eq!(r.video_gop, 0.5, "the GOP is the last measured one");
    }

    #[test]
    fn the_configured_gop_until_two_key_frames_are_measured() {
        let mut m = NetStatusMeter::new(Instant::ZERO).with_gop(2.0);
        m.on_video(0, 1000, true, 640, 360);
        m.on_video(40, 100, false, 640, 360);
        assert_eq!(m.report(Instant::from_millis(1000)).video_gop, 2.0);
        m.on_video(1000, 1000, true, 640, 360);
        assert_eq!(m.report(Instant::from_millis(2000)).video_gop, 1.0);
    }
}
