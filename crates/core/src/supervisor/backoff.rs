//! Reconnect back-off: doubles from `first` up to `max`, spread by a bounded
//! jitter so that many boxes behind one uplink do not reconnect in lockstep
//! after the server comes back.

use std::time::Duration;

/// Exponential back-off bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub first: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Each delay is moved by up to this percentage either way (0 = none).
    pub jitter_pct: u8,
}

impl Backoff {
    /// Delay after the `n`th consecutive failure (n >= 1) without jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let shift = n.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << shift).min(self.max)
    }

    /// `base` moved by the jitter, `rand` being any random number.
    pub fn jittered(&self, base: Duration, rand: u32) -> Duration {
        let spread = base.as_micros() as u64 * u64::from(self.jitter_pct.min(100)) / 100;
        if spread == 0 {
            return base;
        }
        let offset = u64::from(rand) % (2 * spread + 1);
        Duration::from_micros(base.as_micros() as u64 - spread + offset)
    }
}

/// A tiny deterministic random source (xorshift32) for jitter: the core
/// reads no entropy; the shell seeds it.
#[derive(Clone, Copy, Debug)]
pub struct Jitter(u32);

impl Jitter {
    /// Seeded (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u32) -> Self {
        Jitter(if seed == 0 { 0x9e37_79b9 } else { seed })
    }
    /// The next number.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}
