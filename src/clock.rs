//! The one clock: CLOCK_MONOTONIC (std's `Instant`), expressed to the core as
//! microseconds since the service started.

use livepush_core::time::Instant;

/// CLOCK_MONOTONIC now, in µs: the clock V4L2 buffer timestamps use (and
/// std's `Instant`).
pub fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

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
