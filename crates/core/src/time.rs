//! Time as the core sees it: an [`Instant`] handed in by the shell. The core
//! never reads a clock; tests drive it with made-up instants.

use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the shell's monotonic clock (CLOCK_MONOTONIC), microseconds
/// since an arbitrary origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);
    /// From microseconds since the origin.
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }
    /// From milliseconds since the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1000)
    }
    /// Microseconds since the origin.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }
    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0 + d.as_micros() as u64)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, o: Instant) -> Duration {
        self.saturating_since(o)
    }
}
