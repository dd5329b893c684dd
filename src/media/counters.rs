//! What the media threads count for metrics: one set per process, plain
//! relaxed atomic adds on paths that already handle each picture or audio
//! chunk (no lock, no allocation); `/metrics` reads them when scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    /// Camera (or MJPEG file) pictures that did not decode: corrupt or
    /// truncated JPEGs, dropped, the last good picture sent in their place.
    pub video_dropped_corrupt: AtomicU64,
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
    video_dropped_corrupt: AtomicU64::new(0),
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

/// How often at most a corrupt picture is logged (the counter counts each).
pub const CORRUPT_WARN_EVERY: Duration = Duration::from_secs(10);

/// A picture from `source` that did not decode (`why`): counted in
/// `video_dropped_corrupt`, and a warning at most every
/// [`CORRUPT_WARN_EVERY`] saying how many there were meanwhile. The caller
/// keeps the last good picture, so the stream keeps its frame rate.
pub fn corrupt_picture(source: &str, why: &str) {
    add(&MEDIA.video_dropped_corrupt, 1);
    static START: OnceLock<Instant> = OnceLock::new();
    // ms since START + 1 of the last warning (0: none yet), and the count then
    static LAST_WARN: AtomicU64 = AtomicU64::new(0);
    static COUNT_AT_WARN: AtomicU64 = AtomicU64::new(0);
    let now = START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1;
    let last = LAST_WARN.load(Ordering::Relaxed);
    if last != 0 && now < last + CORRUPT_WARN_EVERY.as_millis() as u64 {
        return;
    }
    if LAST_WARN
        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    let total = get(&MEDIA.video_dropped_corrupt);
    let since = total - COUNT_AT_WARN.swap(total, Ordering::Relaxed);
    log::warn!(
        "{source}: a corrupt picture was dropped and the last good one sent again ({why}); {since} since the last warning, {total} in all"
    );
}
