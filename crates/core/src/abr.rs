//! Adaptive bitrate: once a second the shell reports what the socket actually
//! took (bytes written, the uplink's real rate while the queue is backed up),
//! how old the send queue is, and whether the queue had to shed frames. The
//! controller lowers the video bitrate quickly (to what the link carried, with
//! headroom) and raises it slowly (10% after a calm spell, the spell doubling
//! each time a raise is followed by congestion), between min-bitrate and
//! max-bitrate. When it sits at min-bitrate and the link is still congested it
//! steps the resolution down, and steps it back up once the bitrate has
//! climbed to twice min-bitrate at the smaller size. An encoder that keeps
//! delivering well over min-bitrate there (its floor on this scene at this
//! size, which no target brings lower; delivered over each window's own
//! target, averaged over the last three windows)
//! gets the smaller size at the second congested window at min-bitrate
//! instead of after three seconds. A decrease also takes off what the
//! encoder delivers over its target: the link has to carry what comes out.
//! (The runner's rate match corrects the same overshoot more slowly; the two
//! together may undershoot for a while, which the raises then take back.)
//!
//! Pure logic on fake time (the tests drive it through caps and recoveries).

use core::time::Duration;

use crate::time::Instant;

/// Controller settings.
#[derive(Clone, Copy, Debug)]
pub struct AbrConfig {
    /// Lowest video bitrate, kbps.
    pub min_kbps: u32,
    /// Highest video bitrate, kbps.
    pub max_kbps: u32,
    /// Where to start, kbps.
    pub start_kbps: u32,
    /// The audio bitrate, kbps (shares the uplink).
    pub audio_kbps: u32,
    /// The queue counts as backed up beyond this age.
    pub congested_age: Duration,
    /// Full output size.
    pub width: u32,
    /// Full output size.
    pub height: u32,
}

/// The scale steps (numerator over 4): full, 3/4, 1/2.
const SCALES: [u32; 3] = [4, 3, 2];
/// Smallest width a step may reach.
const MIN_WIDTH: u32 = 160;
/// Wait between two decreases (the encoder and queue need time to show the effect).
const DECREASE_HOLD: Duration = Duration::from_millis(1500);
/// Congested at min-bitrate this long before the resolution steps down.
const SCALE_DOWN_AFTER: Duration = Duration::from_secs(3);
/// ... or this long when the encoder delivers over `FLOOR_PCT` percent of
/// min-bitrate (it cannot go lower at this size).
const SCALE_DOWN_AT_FLOOR_AFTER: Duration = Duration::from_millis(900);
const FLOOR_PCT: u32 = 115;
/// First calm spell before a raise; doubled after a raise that did not hold.
const RAISE_FIRST: Duration = Duration::from_secs(8);
const RAISE_MAX: Duration = Duration::from_secs(64);
/// How long the rate the link last choked at caps the raises.
const CEILING_FOR: Duration = Duration::from_secs(60);
/// A raise followed by congestion within this long did not hold.
const RAISE_PROVEN: Duration = Duration::from_secs(20);

/// A decision for the encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// New video bitrate (1006).
    Bitrate {
        /// From, kbps.
        from: u32,
        /// To, kbps.
        to: u32,
        /// The uplink rate measured in the last window, kbps (0 when calm).
        uplink_kbps: u32,
    },
    /// New output size (1005); the bitrate stays.
    Resolution {
        /// New width.
        width: u32,
        /// New height.
        height: u32,
        /// Smaller than before.
        down: bool,
    },
}

/// One second of measurements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Window {
    /// Bytes the socket took.
    pub sent_bytes: u64,
    /// Length of the window.
    pub length: Duration,
    /// Age of the oldest queued packet now.
    pub queue_age: Duration,
    /// Frames were shed in the window.
    pub shed: bool,
    /// What the video encoder delivered in the window, kbps (0: unknown).
    pub video_kbps: u32,
}

/// The controller.
#[derive(Clone, Debug)]
pub struct Abr {
    cfg: AbrConfig,
    kbps: u32,
    scale: usize,
    last_decrease: Option<Instant>,
    last_raise: Option<Instant>,
    calm_since: Option<Instant>,
    at_min_congested_since: Option<Instant>,
    raise_wait: Duration,
    /// The video bitrate the link held at its last congestion, and when:
    /// raises stop short of it until it is old.
    ceiling: Option<(u32, Instant)>,
    /// The socket's rate in the last windows, kbps (newest last).
    recent: [u32; 3],
    /// What the encoder delivered over the target in effect, in the last
    /// windows (newest last; 0: unknown). Three of them, so a key frame in
    /// one does not read as overshoot; against each window's own target, so
    /// the windows before a decrease do not either.
    recent_over: [f64; 3],
    /// The queue's age at the last window.
    last_age: Duration,
}

impl Abr {
    /// A controller at `cfg.start_kbps`, full size.
    pub fn new(cfg: AbrConfig) -> Self {
        Abr {
            kbps: cfg.start_kbps.clamp(cfg.min_kbps, cfg.max_kbps),
            cfg,
            scale: 0,
            last_decrease: None,
            last_raise: None,
            calm_since: None,
            at_min_congested_since: None,
            raise_wait: RAISE_FIRST,
            ceiling: None,
            recent: [0; 3],
            recent_over: [0.0; 3],
            last_age: Duration::ZERO,
        }
    }

    /// The current video bitrate, kbps.
    pub fn kbps(&self) -> u32 {
        self.kbps
    }

    /// The current output size.
    pub fn size(&self) -> (u32, u32) {
        size_at(self.cfg.width, self.cfg.height, SCALES[self.scale])
    }

    /// A new connection: forget congestion history, keep the rate (the link
    /// is probably the same one).
    pub fn reset_history(&mut self) {
        self.last_decrease = None;
        self.calm_since = None;
        self.at_min_congested_since = None;
        self.recent = [0; 3];
        self.recent_over = [0.0; 3];
        self.last_age = Duration::ZERO;
    }

    /// Feeds a window; returns what to change.
    pub fn on_window(&mut self, now: Instant, w: Window) -> Option<Decision> {
        let secs = w.length.as_secs_f64().max(1e-3);
        let rate = (w.sent_bytes as f64 * 8.0 / 1000.0 / secs) as u32;
        self.recent.rotate_left(1);
        self.recent[2] = rate;
        self.recent_over.rotate_left(1);
        self.recent_over[2] = f64::from(w.video_kbps) / f64::from(self.kbps.max(1));
        // delivered over target (1: on target, under it, or unknown)
        let (sum, n) = self
            .recent_over
            .iter()
            .filter(|r| **r > 0.0)
            .fold((0.0, 0u32), |(s, n), r| (s + r, n + 1));
        let over = if n == 0 {
            1.0
        } else {
            (sum / f64::from(n)).max(1.0)
        };
        // draining: the backlog shrank by a quarter since the last window, so
        // the last decrease is working (another would overshoot downwards)
        let draining = !w.shed && w.queue_age * 4 < self.last_age * 3;
        self.last_age = w.queue_age;
        let congested = w.shed || w.queue_age > self.cfg.congested_age;
        if congested {
            self.when_congested(now, rate, over, draining)
        } else {
            self.when_calm(now)
        }
    }

    /// A calm window: after long enough without congestion (and without a
    /// change), a size back up or 10% more, never above the level the link
    /// last choked at while that is recent.
    fn when_calm(&mut self, now: Instant) -> Option<Decision> {
        self.at_min_congested_since = None;
        let calm = *self.calm_since.get_or_insert(now);
        let since_change = [self.last_decrease, self.last_raise]
            .into_iter()
            .flatten()
            .map(|t| now.saturating_since(t))
            .min()
            .unwrap_or(Duration::MAX);
        if now.saturating_since(calm) < self.raise_wait || since_change < self.raise_wait {
            return None;
        }
        if self.last_raise.is_some() {
            // the previous raise held (congestion would have cleared it)
            self.raise_wait = RAISE_FIRST;
        }
        // back up a size once the smaller picture climbed to twice the floor
        if self.scale > 0 && self.kbps >= self.cfg.min_kbps.saturating_mul(2).min(self.cfg.max_kbps)
        {
            self.scale -= 1;
            self.last_raise = Some(now);
            let (width, height) = self.size();
            return Some(Decision::Resolution {
                width,
                height,
                down: false,
            });
        }
        // below the level the link last choked at, until that is old
        let limit = match self.ceiling {
            Some((k, t)) if now.saturating_since(t) < CEILING_FOR => k.min(self.cfg.max_kbps),
            _ => self.cfg.max_kbps,
        };
        if self.kbps >= limit {
            return None;
        }
        let from = self.kbps;
        self.kbps = (from + (from / 10).max(25)).min(limit);
        self.last_raise = Some(now);
        Some(Decision::Bitrate {
            from,
            to: self.kbps,
            uplink_kbps: 0,
        })
    }

    /// A congested window: a raise that just overshot lengthens the wait
    /// before the next; unless the queue drains or a decrease is recent, a
    /// lower bitrate fitted to the uplink, or at min-bitrate a smaller size.
    fn when_congested(
        &mut self,
        now: Instant,
        rate: u32,
        over: f64,
        draining: bool,
    ) -> Option<Decision> {
        self.calm_since = None;
        if self
            .last_raise
            .is_some_and(|t| now.saturating_since(t) < RAISE_PROVEN)
        {
            // the last raise overshot: wait longer before the next one
            self.raise_wait = (self.raise_wait * 2).min(RAISE_MAX);
            self.last_raise = None;
        }
        if draining
            || self
                .last_decrease
                .is_some_and(|t| now.saturating_since(t) < DECREASE_HOLD)
        {
            return None;
        }
        // while backed up the socket runs at the link's rate: the mean of the
        // last windows is the uplink (one window alone swings with buffering)
        let uplink = match mean_nonzero(&self.recent) {
            0 => rate,
            m => m,
        };
        if self.kbps > self.cfg.min_kbps {
            self.at_min_congested_since = None;
            return Some(self.decrease(now, uplink, over));
        }
        self.step_down(now, over)
    }

    /// What the link carried, less audio, with 15% headroom to drain the
    /// queue, less what the encoder delivers over its target (it has not
    /// caught up with the last decrease, or it is at its floor); at least a
    /// tenth down, at most half (one window's measurement may catch the
    /// link mid-stall). The link's level is remembered as the ceiling.
    fn decrease(&mut self, now: Instant, uplink: u32, over: f64) -> Decision {
        let fit = (f64::from(uplink) * 0.85) as u32;
        let to = ((f64::from(fit.saturating_sub(self.cfg.audio_kbps)) / over) as u32)
            .clamp(self.kbps / 2, self.kbps * 9 / 10)
            .max(self.cfg.min_kbps);
        let from = self.kbps;
        self.kbps = to;
        self.last_decrease = Some(now);
        self.ceiling = Some((
            ((f64::from(uplink) * 0.95) as u32).saturating_sub(self.cfg.audio_kbps),
            now,
        ));
        Decision::Bitrate {
            from,
            to,
            uplink_kbps: uplink,
        }
    }

    /// At min-bitrate and still congested: the next smaller size, after
    /// [`SCALE_DOWN_AFTER`] (sooner when the encoder is at its floor), never
    /// below [`MIN_WIDTH`].
    fn step_down(&mut self, now: Instant, over: f64) -> Option<Decision> {
        let since = *self.at_min_congested_since.get_or_insert(now);
        let at_floor = over * 100.0 > f64::from(FLOOR_PCT);
        let wait = if at_floor {
            SCALE_DOWN_AT_FLOOR_AFTER
        } else {
            SCALE_DOWN_AFTER
        };
        if now.saturating_since(since) < wait || self.scale + 1 >= SCALES.len() {
            return None;
        }
        let (w, _) = size_at(self.cfg.width, self.cfg.height, SCALES[self.scale + 1]);
        if w < MIN_WIDTH {
            return None;
        }
        self.scale += 1;
        self.at_min_congested_since = None;
        self.last_decrease = Some(now);
        let (width, height) = self.size();
        Some(Decision::Resolution {
            width,
            height,
            down: true,
        })
    }
}

/// The mean of the nonzero figures (0 when there are none).
fn mean_nonzero(xs: &[u32; 3]) -> u32 {
    let (sum, n) = xs
        .iter()
        .filter(|x| **x > 0)
        .fold((0u32, 0u32), |(s, n), x| (s + x, n + 1));
    sum.checked_div(n).unwrap_or(0)
}

/// `width`x`height` scaled by `num`/4, rounded down to multiples of 4.
fn size_at(width: u32, height: u32, num: u32) -> (u32, u32) {
    if num == 4 {
        return (width, height);
    }
    ((width * num / 4) & !3, (height * num / 4) & !3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AbrConfig {
        AbrConfig {
            min_kbps: 200,
            max_kbps: 1000,
            start_kbps: 1000,
            audio_kbps: 64,
            congested_age: Duration::from_millis(300),
            width: 1280,
            height: 720,
        }
    }

    /// A link of `cap_kbps`: the socket takes min(cap, offered); the queue
    /// grows by what does not fit and drains by the spare capacity.
    struct Link {
        cap_kbps: u32,
        queue_bits: f64,
    }

    impl Link {
        fn second(&mut self, offered_kbps: u32) -> Window {
            self.second_of(offered_kbps, 0)
        }

        /// A second of `offered_kbps`, `video_kbps` of it from the encoder.
        fn second_of(&mut self, offered_kbps: u32, video_kbps: u32) -> Window {
            let offered = f64::from(offered_kbps) * 1000.0;
            let cap = f64::from(self.cap_kbps) * 1000.0;
            let backlog = self.queue_bits + offered;
            let sent = backlog.min(cap);
            self.queue_bits = backlog - sent;
            let age_s = self.queue_bits / offered.max(1.0);
            Window {
                sent_bytes: (sent / 8.0) as u64,
                length: Duration::from_secs(1),
                queue_age: Duration::from_secs_f64(age_s),
                shed: false,
                video_kbps,
            }
        }
    }

    fn run(abr: &mut Abr, link: &mut Link, from_s: u64, to_s: u64, log: &mut Vec<(u64, Decision)>) {
        for s in from_s..to_s {
            let w = link.second(abr.kbps() + abr.cfg.audio_kbps);
            if let Some(d) = abr.on_window(Instant::from_millis(s * 1000), w) {
                log.push((s, d));
            }
        }
    }

    #[test]
    fn a_cap_at_half_is_met_within_seconds_and_the_rate_stays_under_it() {
        let mut abr = Abr::new(cfg());
        let mut link = Link {
            cap_kbps: 532, // half of 1000 + 64
            queue_bits: 0.0,
        };
        let mut log = Vec::new();
        run(&mut abr, &mut link, 0, 10, &mut log);
        assert!(
            abr.kbps() + 64 <= 532,
            "under the cap after 10 s: {} ({log:?})",
            abr.kbps()
        );
        assert!(matches!(log[0].1, Decision::Bitrate { from: 1000, .. }));
        // a minute under the cap: probes now and then, never far above, queue bounded
        let mut worst_age = Duration::ZERO;
        for s in 10..70 {
            let w = link.second(abr.kbps() + 64);
            worst_age = worst_age.max(w.queue_age);
            abr.on_window(Instant::from_millis(s * 1000), w);
            // under the level the link choked at; probing past it only once
            // that is a minute old, and then by one step
            let bound = if s < 60 { 532 } else { 532 * 11 / 10 };
            assert!(abr.kbps() + 64 <= bound, "at {s} s: {}", abr.kbps());
        }
        assert!(worst_age < Duration::from_secs(2), "{worst_age:?}");
        assert!(
            abr.kbps() + 64 >= 532 * 6 / 10,
            "not starved: {}",
            abr.kbps()
        );
        assert_eq!(abr.size(), (1280, 720), "above min-bitrate: full size");
        // the cap lifts: back to max, slowly
        link.cap_kbps = 100_000;
        let mut log = Vec::new();
        run(&mut abr, &mut link, 70, 200, &mut log);
        assert_eq!(abr.kbps(), 1000, "{log:?}");
        for pair in log.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 >= 8,
                "raises are spaced by a calm spell: {log:?}"
            );
        }
    }

    #[test]
    fn below_min_bitrate_the_resolution_steps_down_and_back_up() {
        let mut abr = Abr::new(cfg());
        let mut link = Link {
            cap_kbps: 150,
            queue_bits: 0.0,
        };
        let mut log = Vec::new();
        run(&mut abr, &mut link, 0, 30, &mut log);
        assert_eq!(abr.kbps(), 200, "floored at min-bitrate");
        let downs: Vec<_> = log
            .iter()
            .filter_map(|(_, d)| match d {
                Decision::Resolution {
                    width,
                    height,
                    down: true,
                } => Some((*width, *height)),
                _ => None,
            })
            .collect();
        assert_eq!(downs, [(960, 540), (640, 360)], "{log:?}");
        assert_eq!(abr.size(), (640, 360));
        // the link recovers: the bitrate climbs first, then the size comes back
        link.cap_kbps = 100_000;
        link.queue_bits = 0.0;
        let mut log = Vec::new();
        run(&mut abr, &mut link, 30, 400, &mut log);
        assert_eq!(abr.size(), (1280, 720), "{log:?}");
        assert_eq!(abr.kbps(), 1000);
        let ups = log
            .iter()
            .filter(|(_, d)| matches!(d, Decision::Resolution { down: false, .. }))
            .count();
        assert_eq!(ups, 2);
    }

    #[test]
    fn shedding_counts_as_congestion_and_decreases_are_spaced() {
        let mut abr = Abr::new(cfg());
        let w = Window {
            sent_bytes: 50_000,
            length: Duration::from_secs(1),
            queue_age: Duration::ZERO,
            shed: true,
            video_kbps: 0,
        };
        let d = abr.on_window(Instant::from_millis(0), w);
        assert_eq!(
            d,
            Some(Decision::Bitrate {
                from: 1000,
                to: 500,
                uplink_kbps: 400
            })
        );
        assert_eq!(abr.on_window(Instant::from_millis(1000), w), None, "held");
        assert!(abr.on_window(Instant::from_millis(2000), w).is_some());
    }

    #[test]
    fn an_encoder_at_its_floor_gets_the_smaller_size_without_the_full_wait() {
        // the encoder cannot deliver under 300 kbit/s at full size (a noisy
        // scene), 9/16 of that at 3/4; the link carries 330
        let floor = |abr: &Abr| 300 * abr.size().0 * abr.size().0 / (1280 * 1280);
        // (min reached at a decrease, the next window held: then one window
        // at min suffices, where unknown delivery waits the full 3 s)
        let mut steps_to_min = Vec::new();
        for (reports, least, most) in [(true, 2, 3), (false, 5, 6)] {
            let mut abr = Abr::new(cfg());
            let mut link = Link {
                cap_kbps: 330,
                queue_bits: 0.0,
            };
            let mut at_min = None;
            let mut down = None;
            let mut steps = 0;
            for s in 0..40 {
                let video = abr.kbps().max(floor(&abr));
                let w = link.second_of(video + abr.cfg.audio_kbps, if reports { video } else { 0 });
                let d = abr.on_window(Instant::from_millis(s * 1000), w);
                if at_min.is_none() && matches!(d, Some(Decision::Bitrate { .. })) {
                    steps += 1;
                }
                if abr.kbps() == 200 && at_min.is_none() {
                    at_min = Some(s);
                }
                if let Some(Decision::Resolution { down: true, .. }) = d {
                    down = Some(s);
                    break;
                }
            }
            let (at_min, down) = (at_min.expect("reached min"), down.expect("stepped down"));
            assert!(
                (least..=most).contains(&(down - at_min)),
                "reports {reports}: min at {at_min} s, smaller at {down} s"
            );
            steps_to_min.push(steps);
        }
        // knowing the encoder delivers over its target, the decreases take
        // that off too: min-bitrate in fewer steps
        assert!(steps_to_min[0] < steps_to_min[1], "{steps_to_min:?}");
    }

    #[test]
    fn an_encoder_on_target_decreases_as_if_unmeasured() {
        // delivered == target every window: the windows before a decrease
        // (at the higher target) are no overshoot, so the steps are the
        // same as without the figure
        let steps = |reports: bool| {
            let mut abr = Abr::new(cfg());
            let mut link = Link {
                cap_kbps: 500,
                queue_bits: 0.0,
            };
            let mut log = Vec::new();
            for s in 0..30 {
                let video = abr.kbps();
                let w = link.second_of(video + abr.cfg.audio_kbps, if reports { video } else { 0 });
                if let Some(d) = abr.on_window(Instant::from_millis(s * 1000), w) {
                    log.push((s, d));
                }
            }
            log
        };
        let measured = steps(true);
        assert!(measured.len() >= 2, "{measured:?}");
        assert_eq!(measured, steps(false));
    }

    #[test]
    fn sizes_are_multiples_of_four() {
        assert_eq!(size_at(1280, 720, 3), (960, 540));
        assert_eq!(size_at(854, 480, 3), (640, 360));
        assert_eq!(size_at(640, 360, 2), (320, 180));
    }
}
