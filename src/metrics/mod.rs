//! Metrics for fleet tools (docs/design/0012): an observer of the
//! publisher (like the event log, the indicators and the control API's
//! board) that keeps a [`Snapshot`] of its own on the loop's thread and
//! copies it, with a `try_lock` that never waits, into [`Metrics`], where
//! `GET /metrics` and `GET /healthz` read it. The media threads' counters
//! are atomics ([`crate::media::counters`]); process figures are read from
//! `/proc` when scraped. A scrape touches nothing on the media path and
//! allocates only its answer.

pub mod exposition;
pub mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use livepush_core::event::Event;
use livepush_core::netstatus::NetStatus;
use livepush_core::publisher::{Notice, Observed, Observer, Phase, Tally};
use livepush_core::status::StatusCode;
use livepush_core::time::Instant;

/// What the loop last published.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// Every state code emitted so far, by its place in [`StatusCode::ALL`].
    pub codes: [u64; StatusCode::ALL.len()],
    /// The last state code.
    pub last_code: Option<StatusCode>,
    /// The publisher's phase.
    pub phase: Phase,
    /// Paused by a command.
    pub paused: bool,
    /// The latest netstatus figures, and the service time they were
    /// reported at (their event's `uptime_ms`).
    pub net: Option<(NetStatus, u64)>,
    /// The publisher's totals and gauges (once a second).
    pub tally: Tally,
    /// Whether a tally has come yet (health is unknown before).
    pub tallied: bool,
    /// The running video encoder backend.
    pub encoder: Option<&'static str>,
    /// Which of `[video] devices` is in use.
    pub camera_index: u8,
}

impl Snapshot {
    fn new() -> Snapshot {
        Snapshot {
            codes: [0; StatusCode::ALL.len()],
            last_code: None,
            phase: Phase::Starting,
            paused: false,
            net: None,
            tally: Tally::default(),
            tallied: false,
            encoder: None,
            camera_index: 0,
        }
    }

    /// How many times `code` was emitted.
    pub fn count(&self, code: StatusCode) -> u64 {
        StatusCode::ALL
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.codes[i])
    }
}

/// Facts fixed for the run (the build info metric's labels).
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// The package version.
    pub version: &'static str,
    /// Optional features built in ("x264,vaapi", or "").
    pub features: String,
    /// The board profile's id ("" without one).
    pub board: String,
}

/// The optional features built into this binary, comma-separated.
pub fn features() -> String {
    let mut f: Vec<&str> = Vec::new();
    if cfg!(feature = "v4l2-m2m") {
        f.push("v4l2-m2m");
    }
    if cfg!(feature = "mpp") {
        f.push("mpp");
    }
    if cfg!(feature = "x264") {
        f.push("x264");
    }
    if cfg!(feature = "vaapi") {
        f.push("vaapi");
    }
    f.join(",")
}

/// Shared between the loop's observer and the API's tasks.
#[derive(Debug)]
pub struct Metrics {
    published: Mutex<(Snapshot, std::time::Instant)>,
    started: std::time::Instant,
    build: BuildInfo,
}

/// How old the loop's last snapshot may be before `/healthz` says the loop
/// is stuck (it publishes at least once a second).
pub const LOOP_STALE: Duration = Duration::from_secs(3);

/// What `/healthz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Healthy.
    Ok,
    /// Not healthy, with the reason for people.
    Unhealthy(String),
}

impl Metrics {
    /// At the start.
    pub fn new(build: BuildInfo) -> Arc<Metrics> {
        let now = std::time::Instant::now();
        Arc::new(Metrics {
            published: Mutex::new((Snapshot::new(), now)),
            started: now,
            build,
        })
    }

    /// The last snapshot, and how long ago the loop published it.
    pub fn snapshot(&self) -> (Snapshot, Duration) {
        let g = self.published.lock().unwrap_or_else(|e| e.into_inner());
        (g.0, g.1.elapsed())
    }

    /// Seconds since the start.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The build's facts.
    pub fn build(&self) -> &BuildInfo {
        &self.build
    }

    /// Healthy by the watchdog's rule and the push's progress, as of the
    /// loop's last tally; a loop that has not published for
    /// [`LOOP_STALE`] is not healthy.
    pub fn health(&self) -> Health {
        let (s, age) = self.snapshot();
        judge(&s, age)
    }
}

/// The health a snapshot published `age` ago says.
fn judge(s: &Snapshot, age: Duration) -> Health {
    if age >= LOOP_STALE {
        return Health::Unhealthy(format!(
            "the event loop has reported nothing for {:.1} s",
            age.as_secs_f64()
        ));
    }
    match s.tally.health {
        Some(why) => Health::Unhealthy(why.to_string()),
        None if !s.tallied => Health::Unhealthy("starting".into()),
        None => Health::Ok,
    }
}

/// The observer the loop is given.
pub struct Feed {
    own: Snapshot,
    metrics: Arc<Metrics>,
}

impl Feed {
    /// The loop's side of `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Feed {
        Feed {
            own: Snapshot::new(),
            metrics,
        }
    }
}

impl Observer for Feed {
    fn observe(&mut self, at: Instant, what: Observed<'_>) {
        let s = &mut self.own;
        match what {
            Observed::Event(Event::StateChange { code, .. }) => {
                if let Some(i) = StatusCode::ALL.iter().position(|c| c == code) {
                    s.codes[i] += 1;
                }
                s.last_code = Some(*code);
                match code {
                    StatusCode::PushPaused => s.paused = true,
                    StatusCode::PushResumed | StatusCode::PushStopped => s.paused = false,
                    _ => {}
                }
            }
            Observed::Event(Event::NetStatus(n)) => s.net = Some((*n, at.as_millis())),
            Observed::Event(Event::Error { .. }) => return,
            Observed::Phase(p) => s.phase = p,
            Observed::Notice(Notice::VideoEncoder { backend }) => s.encoder = Some(backend),
            Observed::Notice(Notice::Camera { index }) => s.camera_index = index,
            Observed::Notice(_) => return,
            Observed::Tally(t) => {
                s.tally = *t;
                s.tallied = true;
            }
        }
        // never wait for a scrape: a busy lock is tried again with the next
        // fact (a tally comes every second)
        if let Ok(mut g) = self.metrics.published.try_lock() {
            *g = (self.own, std::time::Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepush_core::health::Unhealthy;
    use livepush_core::watchdog::Track;

    #[test]
    fn health_is_the_tallys_unless_the_loop_went_quiet() {
        let mut s = Snapshot::new();
        let fresh = Duration::from_millis(400);
        assert_eq!(judge(&s, fresh), Health::Unhealthy("starting".into()));
        s.tallied = true;
        assert_eq!(judge(&s, fresh), Health::Ok);
        s.tally.health = Some(Unhealthy::NoFrames {
            track: Track::Audio,
            for_ms: 3200,
        });
        assert_eq!(
            judge(&s, fresh),
            Health::Unhealthy("no audio frames from the encoder for 3.2 s".into())
        );
        s.tally.health = None;
        match judge(&s, Duration::from_millis(3500)) {
            Health::Unhealthy(why) => {
                assert_eq!(why, "the event loop has reported nothing for 3.5 s")
            }
            h => panic!("{h:?}"),
        }
    }
}
