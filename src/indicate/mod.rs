//! Status LEDs and the display, off the media path. The publisher's
//! observer hook hands each output to [`Feed`] on the event loop's thread,
//! which only records it (a `try_lock`, never a wait: if the indicator
//! thread holds the state, the fact is queued for the next time) and rings
//! the thread. The indicator thread owns the devices: it asks the core's
//! [`Indicators`] for the view, sets the LEDs that change, steps the blinks
//! the kernel cannot do, and redraws the display when its content changed
//! (at most every `REDRAW_MIN`), moving it by a pixel now and then and
//! dimming it after `dim_after` without a change (OLED burn-in). A device
//! that fails is logged once and retried with back-off; a stream never
//! waits for an LED or a display.

pub mod display;
pub mod leds;

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use livepush_core::config::board::Board;
use livepush_core::indicate::screen::{Context, Lines};
use livepush_core::indicate::{Fact, Indicators};
use livepush_core::publisher::{Notice, Observed, Observer};

use crate::clock::Clock;
use display::Display;
use leds::Leds;

/// How long to wait before opening a failed LED or display again: 1 s,
/// doubling with each failure, at most a minute.
pub fn retry_wait(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.clamp(1, 7).saturating_sub(1)).min(Duration::from_secs(60))
}

/// What the indicator thread needs to know besides the facts.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The server as people may see it (host:port).
    pub server: String,
    /// Dim the display after this long without a change (None: never).
    pub dim_after: Option<Duration>,
}

/// The state both threads touch: the core's mapping, and what a reload
/// may change (the server shown, the dimming).
struct Shared {
    state: Mutex<Indicators>,
    setup: Mutex<Setup>,
}

/// The observer on the event loop's thread.
pub struct Feed {
    shared: Arc<Shared>,
    /// Facts that found the state locked (applied at the next chance).
    pending: VecDeque<(livepush_core::time::Instant, Fact)>,
    bell: SyncSender<()>,
}

/// At most this many facts wait while the thread holds the state (it holds
/// it for microseconds; more means it is stuck, and the oldest go).
const PENDING_MAX: usize = 256;

impl Observer for Feed {
    fn observe(&mut self, at: livepush_core::time::Instant, what: Observed<'_>) {
        let Some(f) = Fact::of(what) else {
            return;
        };
        match self.shared.state.try_lock() {
            Ok(mut s) => {
                for (t, p) in self.pending.drain(..) {
                    s.handle(t, p);
                }
                s.handle(at, f);
            }
            Err(_) => {
                if self.pending.len() == PENDING_MAX {
                    self.pending.pop_front();
                }
                self.pending.push_back((at, f));
            }
        }
        // figures and the audio level are drawn at the display's own pace
        // (the thread looks at least once a second): no ring for them
        if matches!(
            f,
            Fact::Figures(_) | Fact::Notice(Notice::AudioLevel { .. })
        ) {
            return;
        }
        // one ring is enough: a full doorbell means the thread will look
        match self.bell.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

/// The running indicator thread.
pub struct Running {
    thread: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Running {
    /// A reload changed what the display shows or when it dims.
    pub fn set_setup(&self, setup: Setup) {
        *self.shared.setup.lock().unwrap_or_else(|p| p.into_inner()) = setup;
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_config_error(None);
    }

    /// A reload was refused (`why`: the first error with its position):
    /// shown until a good one comes; the running configuration goes on.
    pub fn set_config_error(&self, why: Option<&str>) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_config_error(why);
    }

    /// Waits for the thread (it ends once the feed is dropped).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Starts the indicators for `board` (None when it has neither LEDs nor a
/// display): the feed to add to the shell's observers and the thread.
pub fn start(board: &Board, setup: Setup, clock: Clock) -> Option<(Feed, Running)> {
    if board.leds.is_empty() && board.display.is_none() {
        return None;
    }
    let now = Instant::now();
    let shared = Arc::new(Shared {
        state: Mutex::new(Indicators::new(clock.now())),
        setup: Mutex::new(setup.clone()),
    });
    let (bell, rung) = mpsc::sync_channel(1);
    let leds = Leds::new(&board.leds, now);
    let display = board
        .display
        .clone()
        .map(|d| Display::new(d, setup.dim_after, now));
    log::info!(
        "indicators: {} LED(s){}",
        leds.len(),
        display
            .as_ref()
            .map_or(String::new(), |d| format!(", display {}", d.describe()))
    );
    let shared2 = shared.clone();
    let thread = std::thread::Builder::new()
        .name("indicators".into())
        .spawn(move || run(shared2, rung, leds, display, clock))
        .expect("spawning the indicator thread");
    Some((
        Feed {
            shared: shared.clone(),
            pending: VecDeque::new(),
            bell,
        },
        Running { thread, shared },
    ))
}

/// Shows a refused configuration on `board`'s LEDs and display before the
/// service exits (`why`: the first error, with its line and column). The
/// kernel keeps blinking LED class LEDs and an OLED keeps its picture after
/// the process ends, so the box says "bad config" until it is fixed.
pub fn show_bad_config(board: &Board, why: &str) {
    let now = Instant::now();
    let mut state = Indicators::new(livepush_core::time::Instant::ZERO);
    state.set_config_error(Some(why));
    let v = state.view(livepush_core::time::Instant::ZERO);
    let mut leds = Leds::new(&board.leds, now);
    leds.show(now, &v);
    if let Some(spec) = board.display.clone() {
        let mut d = Display::new(spec, None, now);
        let mut lines = Lines::default();
        d.prepare(now, &v, &Context::default(), &mut lines);
        d.flush(now);
    }
}

/// The indicator thread: wakes on a ring, a blink step, a redraw or a held
/// code's end.
fn run(
    shared: Arc<Shared>,
    rung: Receiver<()>,
    mut leds: Leds,
    mut display: Option<Display>,
    clock: Clock,
) {
    let mut lines = Lines::default();
    let mut address = String::new();
    let mut address_at: Option<Instant> = None;
    let started = Instant::now();
    let mut wakeups = 0u64;
    loop {
        wakeups += 1;
        let now = Instant::now();
        if address_at.is_none_or(|t| now >= t) {
            address = display::address::first_address().unwrap_or_default();
            address_at = Some(now + Duration::from_secs(30));
        }
        let setup = shared
            .setup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(d) = display.as_mut() {
            d.set_dim_after(setup.dim_after);
        }
        let cx = Context {
            server: &setup.server,
            address: &address,
        };
        // the view under the lock (microseconds), the devices after it
        let hold_end = {
            let s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            let t = clock.now();
            let v = s.view(t);
            leds.show(now, &v);
            if let Some(d) = display.as_mut() {
                d.prepare(now, &v, &cx, &mut lines);
            }
            let hold_end = s.poll_timeout(t).map(|at| {
                now + Duration::from_micros(at.as_micros().saturating_sub(t.as_micros()))
            });
            hold_end
        };
        if let Some(d) = display.as_mut() {
            d.flush(now);
        }
        let wake = [
            leds.next_wake(now),
            display.as_ref().and_then(|d| d.next_wake(now)),
            hold_end,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_secs(1));
        match rung.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(d) = display.as_mut() {
        d.finish();
    }
    let secs = started.elapsed().as_secs_f64();
    log::info!(
        "indicators: {wakeups} wake-ups in {secs:.1} s ({:.2}/s), {:.1} ms CPU",
        wakeups as f64 / secs.max(0.001),
        thread_cpu_ms()
    );
}

/// CPU time of the calling thread, ms.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6
}
