//! What the media threads count for metrics: one set per process, plain
//! relaxed atomic adds on paths that already handle each picture or audio
//! chunk (no lock, no allocation); `/metrics` reads them when scraped.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters (see [`MEDIA`]).
#[derive(Debug, Default)]
pub struct MediaCounters {
    /// Pictures from the camera or the synthetic source (not the waiting
    /// image or the no-signal card).
    pub video_captured: AtomicU64,
    /// Pictures dropped to keep the frame rate (too soon after the last,
    /// or skipped to stay live).
    pub video_dropped_pacing: AtomicU64,
    /// Pictures a busy encoder could not take.
    pub video_dropped_encoder: AtomicU64,
    /// Encoded frames the event loop could not take (its inbox full).
    pub video_dropped_loop: AtomicU64,
    /// Audio chunks read from the microphone or the synthetic tone.
    pub audio_captured: AtomicU64,
    /// Encoded audio frames the event loop could not take.
    pub audio_dropped_loop: AtomicU64,
    /// Microphone overruns (ALSA xruns).
    pub audio_overruns: AtomicU64,
    /// Audio frames (samples per channel) lost in overruns, filled with silence.
    pub audio_overrun_frames: AtomicU64,
}

/// The process's media counters.
pub static MEDIA: MediaCounters = MediaCounters {
    video_captured: AtomicU64::new(0),
    video_dropped_pacing: AtomicU64::new(0),
    video_dropped_encoder: AtomicU64::new(0),
    video_dropped_loop: AtomicU64::new(0),
    audio_captured: AtomicU64::new(0),
    audio_dropped_loop: AtomicU64::new(0),
    audio_overruns: AtomicU64::new(0),
    audio_overrun_frames: AtomicU64::new(0),
};

/// Adds `n` to `c`.
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Reads `c`.
pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}
