//! Reconnect schedule: for the first [`Backoff::fast_for`] of an outage an
//! attempt that reached the server starts at most every `first` (0.9 to 1.0
//! x `first` apart: about one a second by default), and while the server's
//! port refuses connections (nothing listens: the kernel answers, no server
//! process sees it) a quarter of that, so a server that comes back within a
//! minute is published to again well within a second without being
//! hammered; after that the delay doubles from 2 x `first` up to `max`,
//! spread by a bounded jitter so that many boxes behind one uplink do not
//! reconnect in lockstep.

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
    /// How long into an outage attempts keep the `first` spacing.
    pub fast_for: Duration,
}

impl Backoff {
    /// Spacing between attempt starts early in an outage: `first` less up to
    /// a tenth of it (never more than `first`, so never more than one
    /// attempt per `first`, on average fewer than 1.06).
    pub fn fast_spacing(&self, rand: u32) -> Duration {
        less_a_tenth(self.first, self.jitter_pct, rand)
    }

    /// Spacing between attempts early in an outage while connections are
    /// refused: a quarter of [`Self::fast_spacing`].
    pub fn refused_spacing(&self, rand: u32) -> Duration {
        less_a_tenth(self.first / 4, self.jitter_pct, rand)
    }

    /// Delay after the `n`th consecutive failure past the fast period
    /// (n >= 1), without jitter: 2 x `first`, doubling, at most `max`.
    pub fn slow_delay(&self, n: u32) -> Duration {
        self.delay(n.saturating_add(1))
    }

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

/// `d` less up to a tenth of it (none without jitter).
fn less_a_tenth(d: Duration, jitter_pct: u8, rand: u32) -> Duration {
    let tenth = d.as_micros() as u64 / 10;
    if tenth == 0 || jitter_pct == 0 {
        return d;
    }
    d - Duration::from_micros(u64::from(rand) % (tenth + 1))
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
