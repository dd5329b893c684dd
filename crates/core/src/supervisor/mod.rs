//! The supervisor: the only producer of status codes. It takes typed facts
//! from the media path and the network ([`Input`]), decides what happens next
//! (connect now, reconnect later) and emits [`Output`]s in contract order.
//!
//! Happy path: 1003 -> 1007 -> 1008 -> 1001 -> 1002. The connection is only
//! started once the media side is ready (encoder started), so 1001 can never
//! overtake 1008. Every push failure emits its 300x code, then 1102 with a
//! reconnect scheduled: at once after the first failure, then one attempt
//! about every `reconnect-delay` (1 s; a quarter of it while connections
//! are refused) for the first minute of the outage,
//! then an exponential back-off to `reconnect-max-delay` ([`Backoff`]); the
//! third consecutive failure also emits -1307, after which the appliance
//! keeps retrying instead of giving up (nobody is in front of the box).

mod backoff;

pub use backoff::{Backoff, Jitter};

use std::collections::VecDeque;
use std::time::Duration;

use crate::rtmp::failure::PushFailure;
use crate::status::StatusCode;
use crate::time::Instant;

/// Supervisor settings.
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// A video track is expected (enable-camera).
    pub video: bool,
    /// An audio track is expected.
    pub audio: bool,
    /// Reconnect back-off.
    pub backoff: Backoff,
    /// Consecutive failed attempts after which -1307 is emitted.
    pub attempts_before_fatal: u32,
    /// Seed of the reconnect jitter (the shell passes something random).
    pub seed: u32,
    /// Connect once the media side is ready (`autopush`); otherwise only
    /// after [`Supervisor::start`].
    pub autopush: bool,
    /// A publish counts as a success (resetting the failure count and the
    /// back-off) only once it has lasted this long: a server that accepts and
    /// drops at once must not be hammered at the shortest delay forever.
    pub stable_after: Duration,
}

/// Facts the supervisor is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The camera (or synthetic source) opened.
    CameraOpened,
    /// The camera could not be opened or was lost (-1301).
    CameraFailed(String),
    /// The service user may not open the camera (error event 1001, then -1301).
    CameraPermission(String),
    /// The camera offers no usable mode (-1305).
    CameraMode(String),
    /// The camera's size differs from the output: pictures are scaled/cropped (1005).
    ResolutionAdjusted(String),
    /// The microphone could not be opened (-1302).
    MicFailed(String),
    /// The service user may not open the microphone (error event 1002, then -1302).
    MicPermission(String),
    /// The microphone does not take the configured sample rate (-1306).
    MicRate(String),
    /// The microphone is open but delivers no data or only silence (-1311).
    MicNoData(String),
    /// The first video frame arrived.
    FirstFrame,
    /// The video encoder is running; `fell_back` when a hardware encoder failed first.
    VideoEncoderStarted {
        /// A hardware encoder failed and software took over.
        fell_back: bool,
    },
    /// The audio encoder is running.
    AudioEncoderStarted,
    /// Video encoding failed for good.
    VideoEncoderFailed(String),
    /// Audio encoding failed for good.
    AudioEncoderFailed(String),
    /// TCP connected to the push server.
    Connected,
    /// Data is backing up on the uplink (1101).
    NetBusy(String),
    /// The adaptive-bitrate controller changed the video bitrate (1006).
    BitrateChanged(String),
    /// A hardware encoder failed (to start, or for good): the next backend runs (1103).
    EncoderFellBack(String),
    /// The video encoder failed or wedged and was restarted (1104).
    EncoderRestarted(String),
    /// The server accepted the publish.
    Published,
    /// The connection failed or ended.
    PushFailed(PushFailure),
    /// The server asked for a reconnect (Enhanced RTMP): not a failure; 1102
    /// and an immediate connect.
    ReconnectRequested(String),
}

impl Input {
    /// The text a device fact carries (empty for facts without one).
    pub fn detail(&self) -> &str {
        match self {
            Input::CameraFailed(m)
            | Input::CameraPermission(m)
            | Input::CameraMode(m)
            | Input::ResolutionAdjusted(m)
            | Input::MicFailed(m)
            | Input::MicPermission(m)
            | Input::MicRate(m)
            | Input::MicNoData(m)
            | Input::NetBusy(m)
            | Input::BitrateChanged(m)
            | Input::EncoderFellBack(m)
            | Input::EncoderRestarted(m)
            | Input::ReconnectRequested(m)
            | Input::VideoEncoderFailed(m)
            | Input::AudioEncoderFailed(m) => m,
            _ => "",
        }
    }
}

/// What the supervisor wants done or shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Show a state code (statechange event, LEDs, display, log).
    Status {
        /// The code.
        code: StatusCode,
        /// Extra text (never a secret).
        detail: Option<String>,
    },
    /// Open a new connection to the push server now.
    Connect,
    /// An `error` event (1001 camera / 1002 microphone permission denied).
    Error {
        /// 1001 or 1002.
        err_code: i32,
        /// What was denied.
        err_msg: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// Not pushing: `autopush = false` before a start, or after a stop.
    Idle,
    /// Waiting for the media side before the first connect.
    WaitingForMedia,
    Connecting,
    Publishing,
    RetryAt(Instant),
}

/// The supervisor state machine.
#[derive(Debug)]
pub struct Supervisor {
    cfg: SupervisorConfig,
    video_ready: bool,
    audio_ready: bool,
    encoder_announced: bool,
    first_frame_seen: bool,
    link: Link,
    failures: u32,
    published_at: Option<Instant>,
    /// When the current streak of failures began.
    outage_since: Option<Instant>,
    /// Failures of this streak after its fast period.
    slow_failures: u32,
    /// When the last connection attempt started.
    attempt_at: Instant,
    /// Reconnect requests in a row that came before a publish had lasted
    /// `stable_after` (a server that keeps asking): from the second on,
    /// the reconnect waits on the back-off's schedule.
    quick_requests: u32,
    jitter: Jitter,
    out: VecDeque<Output>,
}

impl Supervisor {
    /// A supervisor for one service run.
    pub fn new(cfg: SupervisorConfig) -> Self {
        Supervisor {
            video_ready: !cfg.video,
            audio_ready: !cfg.audio,
            jitter: Jitter::new(cfg.seed),
            encoder_announced: false,
            first_frame_seen: false,
            link: if cfg.autopush {
                Link::WaitingForMedia
            } else {
                Link::Idle
            },
            failures: 0,
            published_at: None,
            outage_since: None,
            slow_failures: 0,
            attempt_at: Instant::ZERO,
            quick_requests: 0,
            out: VecDeque::new(),
            cfg,
        }
    }

    /// Whether pushing is wanted (autopush or a start, and no stop since).
    pub fn is_pushing(&self) -> bool {
        self.link != Link::Idle
    }

    /// The start command: connect as soon as the media side is ready (at
    /// once if it is). Returns false when pushing already.
    pub fn start(&mut self, now: Instant) -> bool {
        if self.link != Link::Idle {
            return false;
        }
        self.link = Link::WaitingForMedia;
        self.failures = 0;
        self.published_at = None;
        self.outage_since = None;
        self.connect_when_ready(now);
        true
    }

    /// The stop command (or a pause past `pause-time`): no connection is
    /// made or retried until the next start; failures of the connection
    /// being closed are not reported (no 300x, no 1102). 1203 says why.
    /// Returns false when not pushing.
    pub fn stop(&mut self, detail: String) -> bool {
        if self.link == Link::Idle {
            return false;
        }
        self.link = Link::Idle;
        self.published_at = None;
        self.status(StatusCode::PushStopped, Some(detail));
        true
    }

    /// The waiting image went on (1201) or the camera came back (1202).
    pub fn paused(&mut self, paused: bool, detail: Option<String>) {
        let code = if paused {
            StatusCode::PushPaused
        } else {
            StatusCode::PushResumed
        };
        self.status(code, detail);
    }

    fn connect_when_ready(&mut self, now: Instant) {
        if self.link == Link::WaitingForMedia && self.video_ready && self.audio_ready {
            self.connect(now);
        }
    }

    /// Starts a connection attempt now.
    fn connect(&mut self, now: Instant) {
        self.link = Link::Connecting;
        self.attempt_at = now;
        self.out.push_back(Output::Connect);
    }

    /// Consecutive failed connection attempts (a publish shorter than
    /// `stable_after` does not end the streak).
    pub fn consecutive_failures(&self) -> u32 {
        if self.published_at.is_some() {
            0
        } else {
            self.failures
        }
    }

    /// True while the server accepts media.
    pub fn is_publishing(&self) -> bool {
        self.link == Link::Publishing
    }

    fn status(&mut self, code: StatusCode, detail: Option<String>) {
        self.out.push_back(Output::Status { code, detail });
    }

    /// Feeds one fact in.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::CameraOpened => self.status(StatusCode::OpenCameraSucc, None),
            Input::CameraFailed(m) => self.status(StatusCode::OpenCameraFail, Some(m)),
            Input::CameraPermission(m) => {
                self.out.push_back(Output::Error {
                    err_code: 1001,
                    err_msg: m.clone(),
                });
                self.status(StatusCode::OpenCameraFail, Some(m));
            }
            Input::CameraMode(m) => self.status(StatusCode::UnsupportedResolution, Some(m)),
            Input::ResolutionAdjusted(m) => self.status(StatusCode::ChangeResolution, Some(m)),
            Input::MicFailed(m) => self.status(StatusCode::OpenMicFail, Some(m)),
            Input::MicPermission(m) => {
                self.out.push_back(Output::Error {
                    err_code: 1002,
                    err_msg: m.clone(),
                });
                self.status(StatusCode::OpenMicFail, Some(m));
            }
            Input::MicRate(m) => self.status(StatusCode::UnsupportedSampleRate, Some(m)),
            Input::MicNoData(m) => self.status(StatusCode::MicRecordFail, Some(m)),
            Input::FirstFrame => {
                if !self.first_frame_seen {
                    self.first_frame_seen = true;
                    self.status(StatusCode::FirstFrameAvailable, None);
                }
            }
            Input::VideoEncoderStarted { fell_back } => {
                if fell_back {
                    self.status(StatusCode::HwAccelerationFail, None);
                }
                self.video_ready = true;
                self.announce_encoder();
            }
            Input::AudioEncoderStarted => {
                self.audio_ready = true;
                if !self.cfg.video {
                    self.announce_encoder();
                }
            }
            Input::VideoEncoderFailed(m) => self.status(StatusCode::VideoEncodeFailFatal, Some(m)),
            Input::AudioEncoderFailed(m) => self.status(StatusCode::AudioEncodeFail, Some(m)),
            Input::Connected => self.status(StatusCode::ConnectSucc, None),
            Input::NetBusy(m) => self.status(StatusCode::NetBusy, Some(m)),
            Input::BitrateChanged(m) => self.status(StatusCode::ChangeBitrate, Some(m)),
            Input::EncoderFellBack(m) => self.status(StatusCode::HwAccelerationFail, Some(m)),
            Input::EncoderRestarted(m) => self.status(StatusCode::VideoEncodeFail, Some(m)),
            Input::ReconnectRequested(m) => {
                // the request may come before Publish.Start, too
                if matches!(self.link, Link::Publishing | Link::Connecting) {
                    // a server that asks again before the publish it asked
                    // for has lasted `stable_after` (a loop, a broken
                    // balancer) is followed on the back-off's schedule, not
                    // in a tight loop of connections and events
                    let quick = self
                        .published_at
                        .is_none_or(|t| now.saturating_since(t) < self.cfg.stable_after);
                    self.quick_requests = if quick { self.quick_requests + 1 } else { 0 };
                    self.published_at = None;
                    if self.quick_requests <= 1 {
                        self.status(StatusCode::Reconnect, Some(m));
                        self.connect(now);
                    } else {
                        let b = self.cfg.backoff;
                        let delay =
                            b.jittered(b.delay(self.quick_requests - 1), self.jitter.next_u32());
                        self.link = Link::RetryAt(now + delay);
                        self.status(
                            StatusCode::Reconnect,
                            Some(format!(
                                "{m} (asked {} times in a row within {} s of publishing: next attempt in {} ms)",
                                self.quick_requests,
                                self.cfg.stable_after.as_secs(),
                                delay.as_millis()
                            )),
                        );
                    }
                }
            }
            Input::Published => {
                self.published_at = Some(now);
                self.link = Link::Publishing;
                self.status(StatusCode::PushBegin, None);
            }
            Input::PushFailed(f) => {
                if !matches!(self.link, Link::Connecting | Link::Publishing) {
                    return;
                }
                self.status(f.status(), Some(f.to_string()));
                if self
                    .published_at
                    .take()
                    .is_some_and(|t| now.saturating_since(t) >= self.cfg.stable_after)
                {
                    self.failures = 0;
                }
                if self.failures == 0 {
                    self.outage_since = Some(now);
                    self.slow_failures = 0;
                }
                self.failures += 1;
                if self.failures == self.cfg.attempts_before_fatal {
                    self.status(
                        StatusCode::NetDisconnect,
                        Some(format!(
                            "{} attempts failed; still retrying, at least every {} s",
                            self.failures,
                            self.cfg.backoff.max.as_secs()
                        )),
                    );
                }
                // the first retry goes at once (a server restart is over in
                // moments); for the first minute of the outage an attempt
                // starts about every `first` (a quarter of it while the port
                // refuses connections), so the stream is back within about a
                // second after the server is; then the back-off doubles up
                // to its longest delay and stays there, past -1307
                let outage = now.saturating_since(self.outage_since.unwrap_or(now));
                let b = self.cfg.backoff;
                let at = if self.failures == 1 {
                    now
                } else if outage < b.fast_for {
                    // a refused connect, or one closed before the server sent
                    // a byte, reached no server process: probe again sooner;
                    // anything the server answered, once a second
                    let spacing = match f {
                        PushFailure::Refused(_) | PushFailure::Unanswered(_) => {
                            b.refused_spacing(self.jitter.next_u32())
                        }
                        _ => b.fast_spacing(self.jitter.next_u32()),
                    };
                    (self.attempt_at + spacing).max(now)
                } else {
                    self.slow_failures += 1;
                    now + b.jittered(b.slow_delay(self.slow_failures), self.jitter.next_u32())
                };
                let delay = at.saturating_since(now);
                self.link = Link::RetryAt(at);
                self.status(
                    StatusCode::Reconnect,
                    Some(format!("next attempt in {} ms", delay.as_millis())),
                );
            }
        }
        self.connect_when_ready(now);
    }

    fn announce_encoder(&mut self) {
        if !self.encoder_announced {
            self.encoder_announced = true;
            self.status(StatusCode::StartVideoEncoder, None);
        }
    }

    /// When [`Self::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.link {
            Link::RetryAt(t) => Some(t),
            _ => None,
        }
    }

    /// Time passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Link::RetryAt(t) = self.link {
            if now >= t {
                self.connect(now);
            }
        }
    }

    /// Next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

/// How long into an outage attempts keep the short spacing: a minute of
/// outage, with room for the time it takes to notice the loss and for the
/// server to start listening (a 60 s outage measured from the first failure
/// ends a little after 60 s).
pub const FAST_RECONNECT_FOR: Duration = Duration::from_secs(75);

/// Default settings from the config's `[network]` section.
pub fn config_from(cfg: &crate::config::Config) -> SupervisorConfig {
    SupervisorConfig {
        video: cfg.enable_camera,
        audio: true,
        backoff: Backoff {
            first: Duration::from_millis(u64::from(cfg.network.reconnect_delay_ms)),
            max: Duration::from_millis(u64::from(cfg.network.reconnect_max_delay_ms)),
            jitter_pct: 20,
            fast_for: FAST_RECONNECT_FOR,
        },
        attempts_before_fatal: 3,
        stable_after: Duration::from_secs(5),
        seed: 0,
        autopush: cfg.autopush,
    }
}

#[cfg(test)]
mod tests;
