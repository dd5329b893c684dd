//! The -1311 watchdog: a microphone that is open but delivers no data, or
//! only digital silence (all-zero samples), for longer than a timeout. It
//! reports once when the silence starts to count and once when sound returns;
//! meanwhile the audio track carries silence so players do not stall.

use core::time::Duration;

use crate::time::Instant;

/// What the watch concluded from a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing new.
    Quiet,
    /// No data for longer than the timeout: report -1311.
    NoData,
    /// Data is back after a -1311.
    Recovered,
}

/// Watches one microphone.
#[derive(Clone, Debug)]
pub struct SilenceWatch {
    timeout: Duration,
    silent_since: Option<Instant>,
    reported: bool,
}

impl SilenceWatch {
    /// A watch that fires after `timeout` without data.
    pub fn new(timeout: Duration) -> Self {
        SilenceWatch {
            timeout,
            silent_since: None,
            reported: false,
        }
    }

    /// A chunk was handled at `now`; `has_signal` is false when no data came
    /// or every sample was zero.
    pub fn chunk(&mut self, now: Instant, has_signal: bool) -> Verdict {
        if has_signal {
            self.silent_since = None;
            if std::mem::take(&mut self.reported) {
                return Verdict::Recovered;
            }
            return Verdict::Quiet;
        }
        let since = *self.silent_since.get_or_insert(now);
        if !self.reported && now.saturating_since(since) >= self.timeout {
            self.reported = true;
            return Verdict::NoData;
        }
        Verdict::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn fires_once_after_the_timeout_and_recovers() {
        let mut w = SilenceWatch::new(Duration::from_millis(3000));
        assert_eq!(w.chunk(t(0), true), Verdict::Quiet);
        assert_eq!(w.chunk(t(100), false), Verdict::Quiet);
        assert_eq!(w.chunk(t(3099), false), Verdict::Quiet);
        assert_eq!(w.chunk(t(3100), false), Verdict::NoData);
        assert_eq!(w.chunk(t(9000), false), Verdict::Quiet, "reported once");
        assert_eq!(w.chunk(t(9021), true), Verdict::Recovered);
        assert_eq!(w.chunk(t(9042), true), Verdict::Quiet);
        // a short gap never fires
        assert_eq!(w.chunk(t(10_000), false), Verdict::Quiet);
        assert_eq!(w.chunk(t(12_000), true), Verdict::Quiet);
    }
}
