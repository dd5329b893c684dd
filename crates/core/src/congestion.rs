//! Poor-network detection for 1101: the age of the oldest unsent packet, with
//! hysteresis so a box on a marginal uplink reports once per episode, not on
//! every frame. Enter when the queue is older than `enter`; leave only after
//! it stayed younger than `leave` for `hold`.

use core::time::Duration;

use crate::time::Instant;

/// A change of the network's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Data is backing up (1101).
    Busy,
    /// The backlog is gone for a while.
    Calm,
}

/// The 1101 watch.
#[derive(Clone, Debug)]
pub struct BusyWatch {
    enter: Duration,
    leave: Duration,
    hold: Duration,
    busy: bool,
    calm_since: Option<Instant>,
}

impl BusyWatch {
    /// Busy above `enter`; calm after `hold` below `leave`.
    pub fn new(enter: Duration, leave: Duration, hold: Duration) -> Self {
        BusyWatch {
            enter,
            leave,
            hold,
            busy: false,
            calm_since: None,
        }
    }

    /// For a send queue of length `queue_ms` (its oldest packet's age) at `now`.
    pub fn update(&mut self, now: Instant, queue_age: Duration) -> Option<Change> {
        if !self.busy {
            if queue_age > self.enter {
                self.busy = true;
                self.calm_since = None;
                return Some(Change::Busy);
            }
            return None;
        }
        if queue_age >= self.leave {
            self.calm_since = None;
            return None;
        }
        let since = *self.calm_since.get_or_insert(now);
        if now.saturating_since(since) >= self.hold {
            self.busy = false;
            self.calm_since = None;
            return Some(Change::Calm);
        }
        None
    }

    /// Forgets the state (a new connection starts calm).
    pub fn reset(&mut self) {
        self.busy = false;
        self.calm_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn reports_once_per_episode_with_hysteresis() {
        let mut w = BusyWatch::new(ms(500), ms(100), ms(2000));
        let t = Instant::from_millis;
        assert_eq!(w.update(t(0), ms(400)), None);
        assert_eq!(w.update(t(10), ms(600)), Some(Change::Busy));
        assert_eq!(w.update(t(20), ms(900)), None, "once");
        assert_eq!(w.update(t(30), ms(50)), None);
        assert_eq!(
            w.update(t(1000), ms(300)),
            None,
            "not calm yet: above leave resets the hold"
        );
        assert_eq!(w.update(t(1100), ms(50)), None);
        assert_eq!(w.update(t(3099), ms(50)), None);
        assert_eq!(w.update(t(3100), ms(50)), Some(Change::Calm));
        assert_eq!(
            w.update(t(3200), ms(600)),
            Some(Change::Busy),
            "a new episode"
        );
        w.reset();
        assert_eq!(w.update(t(3300), ms(0)), None);
    }
}
