//! Whether the box is healthy, for `GET /healthz` and fleet tools: by the
//! same progress rule that feeds the systemd watchdog (every enabled
//! track's encoder hands the loop frames, [`crate::watchdog`]) and, while a
//! push is due, the server takes the bytes or a reconnect runs on its
//! schedule. Pure: the publisher decides it at each tally.

use core::fmt;
use core::time::Duration;

use crate::watchdog::Track;

/// How long a track may go without a frame before the box is unhealthy
/// (the watchdog's rule with a 6 s interval: stale after 3 s).
pub const MEDIA_WINDOW: Duration = Duration::from_secs(6);

/// Why the box is not healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unhealthy {
    /// A track's encoder has handed the loop no frame for this long.
    NoFrames {
        /// Which.
        track: Track,
        /// For how long, ms.
        for_ms: u64,
    },
    /// Publishing, but the server has taken no bytes for this long while
    /// some wait.
    SendStalled {
        /// For how long, ms.
        for_ms: u64,
    },
    /// A reconnect was due this long ago and has not happened.
    RetryOverdue {
        /// By how long, ms.
        by_ms: u64,
    },
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |ms: u64| ms as f64 / 1000.0;
        match *self {
            Unhealthy::NoFrames { track, for_ms } => write!(
                f,
                "no {} frames from the encoder for {:.1} s",
                match track {
                    Track::Video => "video",
                    Track::Audio => "audio",
                },
                s(for_ms)
            ),
            Unhealthy::SendStalled { for_ms } => write!(
                f,
                "publishing, but the server has taken no bytes for {:.1} s",
                s(for_ms)
            ),
            Unhealthy::RetryOverdue { by_ms } => {
                write!(f, "a reconnect is {:.1} s overdue", s(by_ms))
            }
        }
    }
}
