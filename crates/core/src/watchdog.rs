//! When livepush may tell systemd's watchdog it is alive: only while the
//! media path makes progress, i.e. every enabled track's encoder has handed
//! the event loop a frame lately (frames keep coming while the network is
//! down: the waiting card, silence, and the reconnect loop runs on the same
//! loop that counts them). A hung video or audio thread, or a stuck loop
//! (which then calls nothing), stops the pings, and systemd restarts the
//! service within `WatchdogSec`. Pure: time enters as `now`.

use core::time::Duration;

use crate::time::Instant;

/// The watchdog's state.
#[derive(Debug, Clone)]
pub struct Watchdog {
    /// Ping this often (a third of systemd's interval).
    every: Duration,
    /// A track is stale after this long without a frame (half the interval).
    stale: Duration,
    started: Instant,
    video: Option<Option<Instant>>,
    audio: Option<Option<Instant>>,
    next: Instant,
}

/// A track's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// An encoded video frame.
    Video,
    /// An encoded audio frame.
    Audio,
}

impl Watchdog {
    /// A watchdog for systemd's `interval` (WATCHDOG_USEC), watching the
    /// enabled tracks. Before the first frames there is `interval` of grace
    /// (encoders starting, a camera found late: the waiting card comes
    /// within it).
    pub fn new(now: Instant, interval: Duration, video: bool, audio: bool) -> Self {
        Watchdog {
            every: interval / 3,
            stale: interval / 2,
            started: now,
            video: video.then_some(None),
            audio: audio.then_some(None),
            next: now,
        }
    }

    /// A frame of `t` reached the loop.
    pub fn frame(&mut self, now: Instant, t: Track) {
        let slot = match t {
            Track::Video => &mut self.video,
            Track::Audio => &mut self.audio,
        };
        if let Some(last) = slot {
            *last = Some(now);
        }
    }

    /// Whether the video track is watched (off while the camera is closed
    /// by a command: no frames are expected then). Watching again gives
    /// the track a fresh start.
    pub fn watch_video(&mut self, now: Instant, on: bool) {
        if self.video.is_some() || on {
            self.video = on.then_some(Some(now));
        }
    }

    /// When [`Self::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next
    }

    /// Whether every enabled track is making progress at `now`.
    pub fn healthy(&self, now: Instant) -> bool {
        self.stale(now).is_none()
    }

    /// The first track that is not making progress at `now`, and for how
    /// long it has given no frame (None: every enabled track is fresh).
    pub fn stale(&self, now: Instant) -> Option<(Track, Duration)> {
        let since = |slot: &Option<Option<Instant>>, t: Track| match slot {
            None => None,
            Some(None) => {
                let d = now.saturating_since(self.started);
                (d >= self.every * 3).then_some((t, d))
            }
            Some(Some(last)) => {
                let d = now.saturating_since(*last);
                (d >= self.stale).then_some((t, d))
            }
        };
        since(&self.video, Track::Video).or_else(|| since(&self.audio, Track::Audio))
    }

    /// Called when due: true when a ping is to be sent now.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.every;
        self.healthy(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// Runs the watchdog from `from` to `to` ms with frames every 100 ms
    /// on the tracks `frames` says, counting pings.
    fn pings(w: &mut Watchdog, from: u64, to: u64, frames: impl Fn(u64) -> (bool, bool)) -> u32 {
        let mut n = 0;
        for ms in (from..to).step_by(100) {
            let (v, a) = frames(ms);
            if v {
                w.frame(t(ms), Track::Video);
            }
            if a {
                w.frame(t(ms), Track::Audio);
            }
            if w.poll_timeout() <= t(ms) && w.handle_timeout(t(ms)) {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn pings_every_third_of_the_interval_while_both_tracks_flow() {
        let mut w = Watchdog::new(t(0), Duration::from_secs(30), true, true);
        // 60 s: a ping at 0, 10, 20 ... 50 s
        assert_eq!(pings(&mut w, 0, 60_000, |_| (true, true)), 6);
    }

    #[test]
    fn a_hung_video_thread_stops_the_pings_though_audio_flows() {
        let mut w = Watchdog::new(t(0), Duration::from_secs(30), true, true);
        assert_eq!(pings(&mut w, 0, 20_000, |_| (true, true)), 2);
        // video stops at 20 s: pings until it is 15 s stale, then none
        let n = pings(&mut w, 20_000, 80_000, |_| (false, true));
        assert_eq!(n, 2, "pings at 20 and 30 s only");
        assert!(!w.healthy(t(80_000)));
        // it comes back (a restarted encoder): pings again
        assert!(pings(&mut w, 80_000, 100_000, |_| (true, true)) >= 1);
    }

    #[test]
    fn startup_has_grace_and_an_audio_only_box_watches_audio_alone() {
        let w = Watchdog::new(t(0), Duration::from_secs(30), true, true);
        // no frame yet: healthy for the first 30 s, then not
        assert!(w.healthy(t(29_000)));
        assert!(!w.healthy(t(30_000)));
        let mut w = Watchdog::new(t(0), Duration::from_secs(30), false, true);
        assert_eq!(pings(&mut w, 0, 60_000, |_| (false, true)), 6);
        w.frame(t(60_000), Track::Video);
        assert!(w.healthy(t(60_000)));
    }
}
