//! The `mode` presets: SD / HD / FHD / RTC to size, frame rate, GOP, bitrate.
//! README's preset table is this table.

use super::Mode;

/// What a mode means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Preset {
    /// Which mode.
    pub mode: Mode,
    /// Short side of the output in pixels; the long side follows `aspect`.
    pub short_side: u32,
    /// Frames per second.
    pub fps: u32,
    /// Seconds between key frames.
    pub gop_seconds: f64,
    /// Starting video bitrate in kbps (clamped to min-bitrate..=max-bitrate).
    pub bitrate_kbps: u32,
    /// Longest the send queue may hold before dropping, ms.
    pub queue_ms: u32,
}

/// All presets. RTC is the lowest-latency one: 1 s GOP, smallest queue.
pub const PRESETS: [Preset; 4] = [
    Preset {
        mode: Mode::Sd,
        short_side: 360,
        fps: 25,
        gop_seconds: 2.0,
        bitrate_kbps: 800,
        queue_ms: 3000,
    },
    Preset {
        mode: Mode::Hd,
        short_side: 720,
        fps: 30,
        gop_seconds: 2.0,
        bitrate_kbps: 1800,
        queue_ms: 3000,
    },
    Preset {
        mode: Mode::Fhd,
        short_side: 1080,
        fps: 30,
        gop_seconds: 2.0,
        bitrate_kbps: 3500,
        queue_ms: 3000,
    },
    Preset {
        mode: Mode::Rtc,
        short_side: 360,
        fps: 20,
        gop_seconds: 1.0,
        bitrate_kbps: 600,
        queue_ms: 1000,
    },
];
