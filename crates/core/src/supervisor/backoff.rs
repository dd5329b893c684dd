//! Reconnect back-off: doubles from `first` up to `max`.

use std::time::Duration;

/// Exponential back-off bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub first: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Backoff {
    /// Delay after the `n`th consecutive failure (n >= 1).
    pub fn delay(&self, n: u32) -> Duration {
        let shift = n.saturating_sub(1).min(20);
        self.first.saturating_mul(1 << shift).min(self.max)
    }
}
