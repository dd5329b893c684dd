//! The one clock: CLOCK_MONOTONIC (std's `Instant`), expressed to the core as
//! microseconds since the service started.

use livepush_core::time::Instant;

/// Maps std instants to core instants.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    /// A clock whose origin is now.
    pub fn start() -> Self {
        Clock {
            origin: std::time::Instant::now(),
        }
    }
    /// The origin (media timestamps count from it too).
    pub fn origin(&self) -> std::time::Instant {
        self.origin
    }
    /// Now, as a core instant.
    pub fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }
}
