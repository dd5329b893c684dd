//! The box's phase: everything the indicators show, derived from the
//! publisher's observer stream (status codes, netstatus, the connection
//! phase and the notices the contract has no code for) and two facts the
//! shell gives (a bad configuration, a pause). Pure: time enters as `now`.
//!
//! Several conditions can hold at once (the network is down *and* the
//! camera is missing); the [`Phase`] shown is the first in its declared
//! order, the others are in [`View::also`]. Conditions that have an end in
//! the contract last until it comes (-1301 until 1003, -1302 until the
//! microphone is back, -1307 until 1002); those that have none are held for
//! a fixed time after they were last seen (1101: [`DEGRADED_HOLD`]). The
//! last warning or error code stays readable for at least [`CODE_HOLD`], an
//! error for as long as its condition holds.

use core::time::Duration;

use crate::event::Event;
use crate::netstatus::NetStatus;
use crate::publisher::observe::{Notice, Observed, Observer, Phase as Link};
use crate::status::StatusCode;
use crate::time::Instant;

/// How long a warning or event code stays shown as the last code.
pub const CODE_HOLD: Duration = Duration::from_secs(5);
/// How long after the last 1101 the stream counts as degraded.
pub const DEGRADED_HOLD: Duration = Duration::from_secs(10);

/// What the box shows, in priority order: when several hold, the first
/// one is the phase, the rest are listed as "also".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The configuration was refused (at start, or a reload: then the
    /// running one goes on, and this is shown until a good one comes).
    BadConfig,
    /// Pushing ended: a fatal error (-1303, -1304) or a stop.
    Stopped,
    /// -1307: several reconnects failed; still retrying on a longer
    /// schedule until the server takes the stream again.
    Restarting,
    /// 1102: the connection was lost; reconnecting (with the attempt count).
    Reconnecting,
    /// The first connection is being made.
    Connecting,
    /// The service started; the encoders are not ready yet.
    Starting,
    /// Not pushing, by command (`autopush = false` and no start yet, or a
    /// stop): waiting for a start.
    Standby,
    /// -1301 or -1305: no usable camera; the waiting card is on air.
    NoCamera,
    /// -1302 or -1306: no usable microphone; silence is on air.
    NoMic,
    /// -1311: the microphone is open but delivers no sound.
    MicSilent,
    /// Paused by a command: the waiting card is on air.
    Paused,
    /// Live, but the uplink is short (1101 lately, or the bitrate was
    /// lowered below the maximum).
    Degraded,
    /// Live on the software encoder (1103): a warning, not a fault.
    Software,
    /// Live: the server takes the stream.
    Live,
}

impl Phase {
    /// Every phase, in priority order.
    pub const ALL: [Phase; 14] = [
        Phase::BadConfig,
        Phase::Stopped,
        Phase::Restarting,
        Phase::Reconnecting,
        Phase::Connecting,
        Phase::Starting,
        Phase::Standby,
        Phase::NoCamera,
        Phase::NoMic,
        Phase::MicSilent,
        Phase::Paused,
        Phase::Degraded,
        Phase::Software,
        Phase::Live,
    ];

    /// Short lowercase name (logs, JSON, the `indicators --test` walk).
    pub const fn name(self) -> &'static str {
        match self {
            Phase::BadConfig => "bad-config",
            Phase::Stopped => "stopped",
            Phase::Restarting => "restarting",
            Phase::Reconnecting => "reconnecting",
            Phase::Connecting => "connecting",
            Phase::Starting => "starting",
            Phase::Standby => "standby",
            Phase::NoCamera => "no-camera",
            Phase::NoMic => "no-mic",
            Phase::MicSilent => "mic-silent",
            Phase::Paused => "paused",
            Phase::Degraded => "degraded",
            Phase::Software => "software",
            Phase::Live => "live",
        }
    }

    /// Looks a name up (the `indicators --test --phase` option).
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the stream reaches the server in this phase (what is on air
    /// may be the waiting card or silence).
    pub const fn on_air(self) -> bool {
        matches!(
            self,
            Phase::NoCamera
                | Phase::NoMic
                | Phase::MicSilent
                | Phase::Paused
                | Phase::Degraded
                | Phase::Software
                | Phase::Live
        )
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of phases (the conditions that hold besides the one shown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases(u16);

impl Phases {
    /// Whether `p` is in the set.
    pub const fn contains(self, p: Phase) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The phases in the set, in priority order.
    pub fn iter(self) -> impl Iterator<Item = Phase> {
        Phase::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    fn insert(&mut self, p: Phase) {
        self.0 |= p.bit();
    }

    fn first(self) -> Option<Phase> {
        self.iter().next()
    }

    fn without(self, p: Phase) -> Phases {
        Phases(self.0 & !p.bit())
    }
}

impl FromIterator<Phase> for Phases {
    fn from_iter<I: IntoIterator<Item = Phase>>(it: I) -> Self {
        let mut s = Phases::default();
        for p in it {
            s.insert(p);
        }
        s
    }
}

/// The last warning or error code and how long ago it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastCode {
    /// The code.
    pub code: StatusCode,
    /// Time since it came.
    pub age: Duration,
}

/// Everything an indicator draws, at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View<'a> {
    /// The phase shown.
    pub phase: Phase,
    /// The other conditions that hold (never contains `phase`).
    pub also: Phases,
    /// Reconnect attempts since the stream was last live (1102s).
    pub attempt: u32,
    /// The last warning or error code, while it is still shown.
    pub last: Option<LastCode>,
    /// The service user may not open the camera (error event 1001) or the
    /// microphone (1002): what to check differs.
    pub permission: bool,
    /// The latest netstatus figures, while on air.
    pub figures: Option<NetStatus>,
    /// Time since the service started.
    pub uptime: Duration,
    /// The audio peak level, dBFS (None: no recent level).
    pub level_db: Option<i8>,
    /// Why the configuration was refused (key and position), for
    /// [`Phase::BadConfig`].
    pub config_error: Option<&'a str>,
}

/// The indicators' state: fed every observed output, asked for a [`View`].
#[derive(Debug)]
pub struct Indicators {
    started: Instant,
    link: Link,
    /// A publish happened in this run.
    was_live: bool,
    attempt: u32,
    restarting: bool,
    camera_missing: bool,
    mic_missing: bool,
    silent: bool,
    permission: bool,
    busy_at: Option<Instant>,
    rate_lowered: bool,
    software: bool,
    paused: bool,
    stopped: bool,
    config_error: Option<String>,
    last: Option<(StatusCode, Instant)>,
    figures: Option<NetStatus>,
    level: Option<(i8, Instant)>,
    /// A change that may alter the view since the last `take_changed`.
    changed: bool,
}

/// Whether a code is shown as the last code: all but progress (a camera
/// opened, connected, pushing, a first frame, an encoder started).
fn shown_as_last(code: StatusCode) -> bool {
    use StatusCode as C;
    !matches!(
        code,
        C::ConnectSucc
            | C::PushBegin
            | C::OpenCameraSucc
            | C::ScreenCaptureSucc
            | C::FirstFrameAvailable
            | C::StartVideoEncoder
            | C::PushPaused
            | C::PushResumed
    )
}

/// A level older than this is not shown.
const LEVEL_HOLD: Duration = Duration::from_secs(2);

impl Indicators {
    /// The state at the service's start.
    pub fn new(now: Instant) -> Self {
        Indicators {
            started: now,
            link: Link::Starting,
            was_live: false,
            attempt: 0,
            restarting: false,
            camera_missing: false,
            mic_missing: false,
            silent: false,
            permission: false,
            busy_at: None,
            rate_lowered: false,
            software: false,
            paused: false,
            stopped: false,
            config_error: None,
            last: None,
            figures: None,
            level: None,
            changed: true,
        }
    }

    /// One status code.
    pub fn on_code(&mut self, now: Instant, code: StatusCode) {
        use StatusCode as C;
        self.changed = true;
        match code {
            C::OpenCameraSucc => {
                self.camera_missing = false;
                if !self.mic_missing {
                    self.permission = false;
                }
            }
            C::OpenCameraFail | C::UnsupportedResolution => self.camera_missing = true,
            C::OpenMicFail | C::UnsupportedSampleRate => self.mic_missing = true,
            C::MicRecordFail => self.silent = true,
            C::PushBegin => {
                // publishing from now (the phase output follows the code)
                self.link = Link::Publishing;
                self.was_live = true;
                self.attempt = 0;
                self.restarting = false;
                self.stopped = false;
            }
            C::Reconnect => self.attempt = self.attempt.saturating_add(1),
            C::NetDisconnect => self.restarting = true,
            C::PushPaused => self.paused = true,
            C::PushResumed | C::PushStopped => self.paused = false,
            C::NetBusy => self.busy_at = Some(now),
            C::HwAccelerationFail => self.software = true,
            C::VideoEncodeFailFatal | C::AudioEncodeFail => self.stopped = true,
            _ => {}
        }
        if shown_as_last(code) {
            self.last = Some((code, now));
        }
    }

    /// A notice without a state code.
    pub fn on_notice(&mut self, now: Instant, n: Notice) {
        match n {
            Notice::MicBack => {
                self.mic_missing = false;
                self.silent = false;
                if !self.camera_missing {
                    self.permission = false;
                }
            }
            Notice::SoundBack => self.silent = false,
            Notice::VideoEncoder { .. } | Notice::Camera { .. } => return,
            Notice::VideoRate { kbps, max_kbps } => self.rate_lowered = kbps < max_kbps,
            Notice::AudioLevel { peak_db } => {
                // a level alone redraws only the bar, at the display's pace
                self.level = Some((peak_db, now));
                return;
            }
        }
        self.changed = true;
    }

    /// The connection phase changed.
    pub fn on_link(&mut self, l: Link) {
        self.link = l;
        if l == Link::Stopping {
            self.stopped = true;
        }
        self.changed = true;
    }

    /// The configuration was refused (`why` names the key and position, never a
    /// secret), or a good one came (`None`).
    pub fn set_config_error(&mut self, why: Option<&str>) {
        self.config_error = why.map(str::to_string);
        self.changed = true;
    }

    /// Paused or resumed by a command.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.changed = true;
    }

    /// Whether anything came in that may change the view since the last
    /// call (the display redraws only then, or when [`Self::poll_timeout`]
    /// passes).
    pub fn take_changed(&mut self) -> bool {
        core::mem::take(&mut self.changed)
    }

    /// When the view changes without any input: a held code or the
    /// degraded hold ends.
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let code_end = self
            .last
            .filter(|(c, _)| self.held_by_condition(*c).is_none())
            .map(|(_, at)| at + CODE_HOLD);
        let busy_end = self.busy_at.map(|at| at + DEGRADED_HOLD);
        [code_end, busy_end]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min()
    }

    /// Whether an error code is still shown because its condition holds
    /// (None: the code is shown for [`CODE_HOLD`]).
    fn held_by_condition(&self, code: StatusCode) -> Option<bool> {
        use StatusCode as C;
        Some(match code {
            C::OpenCameraFail | C::UnsupportedResolution => self.camera_missing,
            C::OpenMicFail | C::UnsupportedSampleRate => self.mic_missing,
            C::MicRecordFail => self.silent,
            C::NetDisconnect => self.restarting,
            C::VideoEncodeFailFatal | C::AudioEncodeFail => self.stopped,
            _ => return None,
        })
    }

    /// The conditions that hold at `now`.
    fn conditions(&self, now: Instant) -> Phases {
        let mut s = Phases::default();
        if self.config_error.is_some() {
            s.insert(Phase::BadConfig);
        }
        if self.stopped {
            s.insert(Phase::Stopped);
        }
        match self.link {
            Link::Starting => s.insert(Phase::Starting),
            Link::Idle => s.insert(Phase::Standby),
            Link::Connecting | Link::Retrying if self.restarting => s.insert(Phase::Restarting),
            Link::Connecting | Link::Retrying if self.was_live || self.attempt > 0 => {
                s.insert(Phase::Reconnecting)
            }
            Link::Connecting | Link::Retrying => s.insert(Phase::Connecting),
            Link::Publishing => {
                if self.busy_at.is_some_and(|t| now < t + DEGRADED_HOLD) || self.rate_lowered {
                    s.insert(Phase::Degraded);
                }
                if self.software {
                    s.insert(Phase::Software);
                }
                s.insert(Phase::Live);
            }
            Link::Stopping => s.insert(Phase::Stopped),
        }
        if self.camera_missing {
            s.insert(Phase::NoCamera);
        }
        if self.mic_missing {
            s.insert(Phase::NoMic);
        } else if self.silent {
            s.insert(Phase::MicSilent);
        }
        if self.paused {
            s.insert(Phase::Paused);
        }
        // a problem while off air says nothing of the stream's own state
        if !s.contains(Phase::Live) {
            s = s.without(Phase::Software);
        }
        s
    }

    /// What to show at `now`.
    pub fn view(&self, now: Instant) -> View<'_> {
        let all = self.conditions(now);
        let phase = all.first().unwrap_or(Phase::Starting);
        // Live is implied by any on-air phase: not listed again
        let also = all.without(phase).without(Phase::Live);
        let last = self.last.and_then(|(code, at)| {
            let age = now.saturating_since(at);
            let held = self.held_by_condition(code).unwrap_or(age < CODE_HOLD);
            held.then_some(LastCode { code, age })
        });
        let on_air = phase.on_air() || all.contains(Phase::Live);
        View {
            phase,
            also,
            attempt: self.attempt,
            last,
            permission: self.permission,
            figures: if on_air { self.figures } else { None },
            uptime: now.saturating_since(self.started),
            level_db: self
                .level
                .filter(|(_, at)| now.saturating_since(*at) < LEVEL_HOLD)
                .map(|(db, _)| db),
            config_error: if phase == Phase::BadConfig {
                self.config_error.as_deref()
            } else {
                None
            },
        }
    }
}

/// One observed output, owned (an indicator thread is handed these).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fact {
    /// A state code.
    Code(StatusCode),
    /// Netstatus figures.
    Figures(NetStatus),
    /// A permission error event (1001 camera, 1002 microphone).
    Permission,
    /// The connection phase.
    Link(Link),
    /// A notice.
    Notice(Notice),
}

impl Fact {
    /// The fact in an observed output (None: nothing the box shows).
    pub fn of(what: Observed<'_>) -> Option<Fact> {
        Some(match what {
            Observed::Event(Event::StateChange { code, .. }) => Fact::Code(*code),
            Observed::Event(Event::NetStatus(n)) => Fact::Figures(*n),
            Observed::Event(Event::Error { .. }) => Fact::Permission,
            Observed::Phase(l) => Fact::Link(l),
            Observed::Notice(n) => Fact::Notice(n),
            Observed::Tally(_) => return None,
        })
    }
}

impl Indicators {
    /// Takes one fact.
    pub fn handle(&mut self, at: Instant, f: Fact) {
        match f {
            Fact::Code(c) => self.on_code(at, c),
            // figures redraw at the display's pace, not as a change
            Fact::Figures(n) => self.figures = Some(n),
            Fact::Permission => {
                self.permission = true;
                self.changed = true;
            }
            Fact::Link(l) => self.on_link(l),
            Fact::Notice(n) => self.on_notice(at, n),
        }
    }
}

impl Observer for Indicators {
    fn observe(&mut self, at: Instant, what: Observed<'_>) {
        if let Some(f) = Fact::of(what) {
            self.handle(at, f);
        }
    }
}

#[cfg(test)]
mod tests;
