//! The encoder chain: the ordered backends (from the board profile or
//! `[video] encoders`, always ending in software), which one runs, and what
//! to do when it fails. A backend that fails to start is skipped (the caller
//! reports 1103 once); one that fails while running, or wedges (frames go in,
//! nothing comes out for `wedge_after`), is restarted (1104) up to
//! `max_restarts` times, then the chain falls to the next backend (1103);
//! when none is left the stream has no video encoder (-1303).
//!
//! Pure logic: the video thread feeds it facts and `now`.

use core::time::Duration;

use super::Backend;
use crate::time::Instant;

/// Chain settings.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// Backends in the order to try (the last should be software).
    pub order: Vec<Backend>,
    /// Restarts of one backend before falling to the next.
    pub max_restarts: u32,
    /// No output for this long while frames go in: wedged.
    pub wedge_after: Duration,
}

/// What the caller must do after a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Start this backend (again, after a run-time failure: 1104).
    Restart(Backend),
    /// Start this one, the next in the chain (1103).
    FallTo(Backend),
    /// Nothing left (-1303).
    NoneLeft,
}

/// The chain's state.
#[derive(Clone, Debug)]
pub struct EncoderChain {
    cfg: ChainConfig,
    index: usize,
    restarts: u32,
    /// Oldest frame handed in since the last output.
    waiting_since: Option<Instant>,
    fell_back: bool,
}

impl EncoderChain {
    /// A chain positioned on its first backend.
    pub fn new(cfg: ChainConfig) -> Self {
        EncoderChain {
            cfg,
            index: 0,
            restarts: 0,
            waiting_since: None,
            fell_back: false,
        }
    }

    /// The backend to run now (None once the chain is exhausted).
    pub fn current(&self) -> Option<Backend> {
        self.cfg.order.get(self.index).copied()
    }

    /// Whether a backend before the current one failed (for 1103).
    pub fn fell_back(&self) -> bool {
        self.fell_back
    }

    /// The current backend did not start: the next one, or nothing.
    pub fn start_failed(&mut self) -> Next {
        self.advance()
    }

    /// The current backend failed while running (error or wedge).
    pub fn failed(&mut self) -> Next {
        self.waiting_since = None;
        if self.restarts < self.cfg.max_restarts {
            self.restarts += 1;
            return match self.current() {
                Some(b) => Next::Restart(b),
                None => Next::NoneLeft,
            };
        }
        self.advance()
    }

    fn advance(&mut self) -> Next {
        self.waiting_since = None;
        self.restarts = 0;
        self.index += 1;
        self.fell_back = true;
        match self.current() {
            Some(b) => Next::FallTo(b),
            None => Next::NoneLeft,
        }
    }

    /// A frame went into the encoder at `now`.
    pub fn frame_in(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    /// The encoder produced an access unit: it is alive.
    pub fn frame_out(&mut self) {
        self.waiting_since = None;
    }

    /// A (new) encoder was opened: nothing is owed yet.
    pub fn reset_watch(&mut self) {
        self.waiting_since = None;
    }

    /// Whether the encoder counts as wedged at `now`.
    pub fn wedged(&self, now: Instant) -> bool {
        self.waiting_since
            .is_some_and(|t| now.saturating_since(t) >= self.cfg.wedge_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(order: &[Backend]) -> EncoderChain {
        EncoderChain::new(ChainConfig {
            order: order.to_vec(),
            max_restarts: 2,
            wedge_after: Duration::from_secs(2),
        })
    }

    #[test]
    fn a_backend_that_does_not_start_is_skipped_down_to_software() {
        let mut c = chain(&[Backend::Vaapi, Backend::V4l2M2m, Backend::Software]);
        assert_eq!(c.current(), Some(Backend::Vaapi));
        assert!(!c.fell_back());
        assert_eq!(c.start_failed(), Next::FallTo(Backend::V4l2M2m));
        assert_eq!(c.start_failed(), Next::FallTo(Backend::Software));
        assert!(c.fell_back());
        assert_eq!(c.current(), Some(Backend::Software));
    }

    #[test]
    fn run_time_failures_restart_then_fall_then_run_out() {
        let mut c = chain(&[Backend::V4l2M2m, Backend::Software]);
        assert_eq!(c.failed(), Next::Restart(Backend::V4l2M2m));
        assert_eq!(c.failed(), Next::Restart(Backend::V4l2M2m));
        assert_eq!(c.failed(), Next::FallTo(Backend::Software));
        assert_eq!(c.failed(), Next::Restart(Backend::Software));
        assert_eq!(c.failed(), Next::Restart(Backend::Software));
        assert_eq!(c.failed(), Next::NoneLeft);
        assert_eq!(c.current(), None);
    }

    #[test]
    fn wedged_when_nothing_comes_out_for_long_enough() {
        let mut c = chain(&[Backend::Mpp, Backend::Software]);
        let t = Instant::from_millis;
        c.frame_in(t(0));
        c.frame_in(t(500));
        assert!(!c.wedged(t(1999)));
        c.frame_out();
        assert!(!c.wedged(t(5000)), "output resets the watch");
        c.frame_in(t(6000));
        assert!(c.wedged(t(8000)));
        assert_eq!(c.failed(), Next::Restart(Backend::Mpp));
        assert!(!c.wedged(t(9000)), "a restart clears the watch");
    }
}
