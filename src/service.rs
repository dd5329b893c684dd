//! systemd's side of the service (the `sd-notify` crate; nothing happens
//! when livepush was not started by systemd with `Type=notify`): READY=1
//! once the encoders run (1008: the pipeline is up, whether or not the
//! server answers yet), STATUS= with the phase the LEDs show and the last
//! code ("reconnecting #3: 3002 NO SERVER"), so `systemctl status livepush`
//! reads like the box, STOPPING=1 at the end, and WATCHDOG=1 only while
//! every track's frames reach the loop ([`livepush_core::watchdog`]), so a
//! hung encoder thread or a stuck loop gets the process restarted.

use std::fmt::Write as _;

use livepush_core::indicate::screen::{headline, words};
use livepush_core::indicate::{Fact, Indicators, Phase};
use livepush_core::publisher::{Observed, Observer};
use livepush_core::status::StatusCode;
use livepush_core::time::Instant;
use livepush_core::watchdog::{Track, Watchdog};
use sd_notify::NotifyState;

/// The service manager's view of livepush.
pub struct Service {
    state: Indicators,
    ready: bool,
    status: String,
    line: String,
    watchdog: Option<Watchdog>,
    /// Whether the first send failure was logged.
    warned: bool,
}

impl Service {
    /// At the start; `video`/`audio`: the tracks the watchdog watches.
    pub fn new(now: Instant, video: bool, audio: bool) -> Self {
        let watchdog = sd_notify::watchdog_enabled().map(|interval| {
            log::info!("systemd watchdog: {} ms", interval.as_millis());
            Watchdog::new(now, interval, video, audio)
        });
        Service {
            state: Indicators::new(now),
            ready: false,
            status: String::new(),
            line: String::new(),
            watchdog,
            warned: false,
        }
    }

    /// Sends `s` (a failure is logged once: `warned`).
    fn send(warned: &mut bool, s: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(s) {
            if !*warned {
                *warned = true;
                log::warn!("systemd notify socket: {e}");
            }
        }
    }

    /// A frame of `t` reached the loop.
    pub fn frame(&mut self, now: Instant, t: Track) {
        if let Some(w) = self.watchdog.as_mut() {
            w.frame(now, t);
        }
    }

    /// The camera was closed (no video frames expected) or opened again.
    pub fn watch_video(&mut self, now: Instant, on: bool) {
        if let Some(w) = self.watchdog.as_mut() {
            w.watch_video(now, on);
        }
    }

    /// When [`Self::handle_timeout`] is due (None: no watchdog).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.watchdog.as_ref().map(Watchdog::poll_timeout)
    }

    /// Pings the watchdog if it is time and the media path is making progress.
    pub fn handle_timeout(&mut self, now: Instant) {
        let ping = self
            .watchdog
            .as_mut()
            .is_some_and(|w| w.poll_timeout() <= now && w.handle_timeout(now));
        if ping {
            Self::send(&mut self.warned, &[NotifyState::Watchdog]);
        }
    }

    /// The service is stopping.
    pub fn stopping(&mut self) {
        Self::send(&mut self.warned, &[NotifyState::Stopping]);
    }

    fn update_status(&mut self, now: Instant) {
        let v = self.state.view(now);
        self.line.clear();
        self.line.push_str(headline(v.phase));
        // written into a reused buffer: this runs once a second
        if matches!(v.phase, Phase::Reconnecting | Phase::Restarting) && v.attempt > 0 {
            let _ = write!(self.line, " #{}", v.attempt);
        }
        if let Some(l) = v.last {
            let _ = write!(self.line, ": {} {}", l.code.code(), words(l.code));
        }
        for p in v.also.iter() {
            self.line.push_str(" + ");
            self.line.push_str(headline(p));
        }
        if self.line != self.status {
            self.status.clone_from(&self.line);
            Self::send(&mut self.warned, &[NotifyState::Status(&self.status)]);
        }
    }
}

impl Observer for Service {
    fn observe(&mut self, at: Instant, what: Observed<'_>) {
        let Some(f) = Fact::of(what) else {
            return;
        };
        self.state.handle(at, f);
        if f == Fact::Code(StatusCode::StartVideoEncoder) && !self.ready {
            self.ready = true;
            Self::send(&mut self.warned, &[NotifyState::Ready]);
        }
        self.update_status(at);
    }
}
