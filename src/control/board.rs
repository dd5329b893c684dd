//! What the control API reads: an observer (like the event log and the
//! indicators) that keeps the latest state behind a mutex the loop only
//! ever `try_lock`s, and hands each event line to the `/v1/events`
//! subscribers through bounded channels with `try_send` (a subscriber that
//! does not read loses lines; it can never hold up the loop).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use livepush_core::event::Event;
use livepush_core::indicate::screen::headline;
use livepush_core::indicate::{led, Fact, Indicators, Phase as IndPhase};
use livepush_core::netstatus::NetStatus;
use livepush_core::publisher::{Notice, Observed, Observer, Phase};
use livepush_core::status::StatusCode;
use livepush_core::time::Instant;

/// Codes kept for `/v1/status` (the status page lists them).
const LAST_CODES: usize = 50;
/// Lines a slow `/v1/events` subscriber may fall behind before it loses some.
pub const SUBSCRIBER_QUEUE: usize = 256;
/// Subscribers at most.
pub const MAX_SUBSCRIBERS: usize = 8;

/// The state the API shows.
#[derive(Clone, Debug)]
pub struct State {
    /// The publisher's phase.
    pub phase: Phase,
    /// Paused by a command (1201 until 1202 or 1203).
    pub paused: bool,
    /// The last codes, oldest first: (code, detail, service time ms).
    pub codes: VecDeque<(StatusCode, Option<String>, u64)>,
    /// The latest netstatus figures.
    pub net: Option<NetStatus>,
    /// The running video encoder backend.
    pub encoder: Option<&'static str>,
    /// The camera is open (1003 since the last -1301/-1305).
    pub camera_open: bool,
    /// Which of `[video] devices` is in use.
    pub camera_index: u8,
    /// Service time of the last change, ms.
    pub at_ms: u64,
    /// What the display and LEDs show: the headline ("LIVE", "NO CAMERA")
    /// and the status LED's colour.
    pub headline: &'static str,
    /// The status LED's colour for it.
    pub color: (u8, u8, u8),
}

/// Shared between the loop's observer and the API tasks.
pub struct Board {
    state: Mutex<State>,
    subscribers: Mutex<Vec<async_channel::Sender<Arc<str>>>>,
}

impl Board {
    /// An empty board.
    pub fn new() -> Arc<Board> {
        Arc::new(Board {
            state: Mutex::new(State {
                phase: Phase::Starting,
                paused: false,
                codes: VecDeque::with_capacity(LAST_CODES),
                net: None,
                encoder: None,
                camera_open: false,
                camera_index: 0,
                at_ms: 0,
                headline: headline(IndPhase::Starting),
                color: (255, 255, 255),
            }),
            subscribers: Mutex::new(Vec::new()),
        })
    }

    /// A copy of the state now.
    pub fn state(&self) -> State {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new events subscriber (None: too many already).
    pub fn subscribe(&self) -> Option<async_channel::Receiver<Arc<str>>> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| !s.is_closed());
        if subs.len() >= MAX_SUBSCRIBERS {
            return None;
        }
        let (tx, rx) = async_channel::bounded(SUBSCRIBER_QUEUE);
        subs.push(tx);
        Some(rx)
    }
}

/// The observer the loop is given.
pub struct Feed {
    board: Arc<Board>,
    /// The indicators' own state machine (the core's): the page shows the
    /// display's words and the LED's colour.
    shown: Indicators,
    /// The phase last handed to the board.
    last_shown: IndPhase,
    /// Facts that came while the API held the lock, applied next time.
    pending: Vec<Pending>,
}

enum Pending {
    Code(StatusCode, Option<String>, u64),
    Phase(Phase),
    Net(NetStatus),
    Encoder(&'static str),
    Camera(u8),
    Shown(IndPhase),
}

impl Feed {
    /// The loop's side of `board`.
    pub fn new(board: Arc<Board>, now: Instant) -> Feed {
        Feed {
            board,
            shown: Indicators::new(now),
            last_shown: IndPhase::Starting,
            pending: Vec::with_capacity(16),
        }
    }

    fn publish_line(&self, line: String) {
        let Ok(subs) = self.board.subscribers.try_lock() else {
            return;
        };
        if subs.is_empty() {
            return;
        }
        let line: Arc<str> = line.into();
        for s in subs.iter() {
            let _ = s.try_send(line.clone());
        }
    }
}

fn apply(s: &mut State, p: Pending) {
    match p {
        Pending::Code(code, detail, ms) => {
            match code {
                StatusCode::PushPaused => s.paused = true,
                StatusCode::PushResumed | StatusCode::PushStopped => s.paused = false,
                StatusCode::OpenCameraSucc => s.camera_open = true,
                StatusCode::OpenCameraFail | StatusCode::UnsupportedResolution => {
                    s.camera_open = false
                }
                _ => {}
            }
            if s.codes.len() == LAST_CODES {
                s.codes.pop_front();
            }
            s.codes.push_back((code, detail, ms));
            s.at_ms = ms;
        }
        Pending::Phase(ph) => s.phase = ph,
        Pending::Net(n) => s.net = Some(n),
        Pending::Encoder(b) => s.encoder = Some(b),
        Pending::Camera(i) => s.camera_index = i,
        Pending::Shown(p) => {
            s.headline = headline(p);
            let c = led::status(p).color;
            s.color = (c.0, c.1, c.2);
        }
    }
}

impl Observer for Feed {
    fn observe(&mut self, at: Instant, what: Observed<'_>) {
        let ms = at.as_micros() / 1000;
        // what is shown also changes with time alone (a held code
        // expires): compared with what the board was last given
        if let Some(f) = Fact::of(what) {
            self.shown.handle(at, f);
        }
        let shown = self.shown.view(at).phase;
        if shown != self.last_shown && self.pending.len() < 64 {
            self.last_shown = shown;
            self.pending.push(Pending::Shown(shown));
        }
        let fact = match what {
            Observed::Event(e) => {
                if !self.board.subscribers_empty() {
                    self.publish_line(e.to_json(ms));
                }
                match e {
                    Event::StateChange { code, detail } => {
                        Some(Pending::Code(*code, detail.clone(), ms))
                    }
                    Event::NetStatus(n) => Some(Pending::Net(*n)),
                    Event::Error { .. } => None,
                }
            }
            Observed::Phase(p) => Some(Pending::Phase(p)),
            Observed::Notice(Notice::VideoEncoder { backend }) => Some(Pending::Encoder(backend)),
            Observed::Notice(Notice::Camera { index }) => Some(Pending::Camera(index)),
            Observed::Notice(_) | Observed::Tally(_) => None,
        };
        // never wait for the API: what cannot be applied now is applied
        // with the next fact (a handful at most: the API holds the lock
        // only to copy the state)
        if let Some(fact) = fact {
            if self.pending.len() < 64 {
                self.pending.push(fact);
            }
        }
        if self.pending.is_empty() {
            return;
        }
        if let Ok(mut s) = self.board.state.try_lock() {
            for p in self.pending.drain(..) {
                apply(&mut s, p);
            }
        }
    }
}

impl Board {
    fn subscribers_empty(&self) -> bool {
        self.subscribers.try_lock().map_or(false, |s| s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepush_core::publisher::Tally;

    #[test]
    fn the_headline_follows_the_display_also_when_a_held_code_expires() {
        let board = Board::new();
        let mut f = Feed::new(board.clone(), Instant::from_millis(0));
        let code = |f: &mut Feed, ms: u64, code: StatusCode| {
            f.observe(
                Instant::from_millis(ms),
                Observed::Event(&Event::StateChange { code, detail: None }),
            )
        };
        for c in [
            StatusCode::OpenCameraSucc,
            StatusCode::FirstFrameAvailable,
            StatusCode::StartVideoEncoder,
            StatusCode::ConnectSucc,
            StatusCode::PushBegin,
        ] {
            code(&mut f, 100, c);
        }
        f.observe(
            Instant::from_millis(100),
            Observed::Phase(Phase::Publishing),
        );
        let s = board.state();
        assert_eq!((s.headline, s.color), ("LIVE", (0, 255, 0)));
        assert_eq!(s.codes.len(), 5);
        code(&mut f, 2000, StatusCode::NetBusy);
        assert_eq!(board.state().headline, "LIVE (SLOW)");
        // no new code: only the once-a-second tally comes, minutes later
        let t = Tally::default();
        f.observe(Instant::from_millis(300_000), Observed::Tally(&t));
        assert_eq!(board.state().headline, "LIVE", "the held 1101 expired");
    }
}
