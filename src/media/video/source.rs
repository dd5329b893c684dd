//! Where the video thread's pictures come from: a synthetic source paced by
//! the thread, a V4L2 camera paced by its driver, or, while the camera is
//! lost (or not there yet at start), the waiting image with reopen attempts
//! on a doubling back-off; and how the camera's state reaches the loop
//! (1003 when open, 1005 when its size differs, -1301 and friends).

use std::time::{Duration, Instant};

use livepush_core::config::{VideoDevice, VideoParams};
use livepush_core::supervisor::Input;

use super::super::{sleep_until, MediaMsg};
use crate::hw::synthetic::VideoSource;
use crate::hw::v4l2::{Camera, CameraError};

/// Where pictures come from.
pub(super) enum Source {
    /// Test pattern or raw file, paced by this thread.
    Synthetic(VideoSource),
    /// A V4L2 camera, paced by the driver.
    Camera(Camera),
    /// Closed by a command (not pushing, no preview): nothing is captured.
    Off,
    /// The camera went away: the no-signal card, paced here, and reopen attempts.
    Lost {
        /// Failed reopen attempts so far.
        attempt: u32,
        /// When to try again.
        retry_at: Instant,
    },
}

impl Source {
    pub(super) fn open(
        device: &VideoDevice,
        p: &VideoParams,
        auto_focus: bool,
    ) -> Result<Self, Input> {
        match device {
            VideoDevice::V4l2(spec) => Camera::open(spec, p.width, p.height, p.fps, auto_focus)
                .map(Source::Camera)
                .map_err(camera_input),
            other => VideoSource::open(other, p.width, p.height)
                .map(Source::Synthetic)
                .map_err(Input::CameraFailed),
        }
    }

    /// The source at the thread's start, announced (1003, 1005). A camera
    /// that cannot be opened (not plugged in yet, busy, no usable format)
    /// is handled as one lost while running: -1301 once, the waiting image
    /// or the no-signal card, and reopen attempts with back-off; never the
    /// end of the run. None: the thread ends (a synthetic source that
    /// cannot be read, reported as fatal; or the loop has gone).
    pub(super) fn open_at_start(
        device: &VideoDevice,
        p: &VideoParams,
        auto_focus: bool,
        send: &impl Fn(MediaMsg) -> bool,
    ) -> Option<Self> {
        let source = match Source::open(device, p, auto_focus) {
            Ok(s) => s,
            Err(input) if matches!(device, VideoDevice::V4l2(_)) => {
                let input = match input {
                    Input::CameraMode(m) => Input::CameraFailed(m),
                    other => other,
                };
                log::warn!(
                    "camera unavailable at start ({}); pushing the waiting image (or the no-signal card) and retrying",
                    input.detail()
                );
                if !send(MediaMsg::Device {
                    input,
                    fatal: false,
                }) {
                    return None;
                }
                return Some(Source::Lost {
                    attempt: 0,
                    retry_at: Instant::now() + RETRY_FIRST,
                });
            }
            Err(input) => {
                send(MediaMsg::Device { input, fatal: true });
                return None;
            }
        };
        // 1003 once a camera (or a synthetic source) is open, not for the card
        announce(&source, p, send).then_some(source)
    }

    pub(super) fn paced_here(&self) -> bool {
        matches!(self, Source::Synthetic(_))
    }
}

/// First and longest wait between attempts to reopen a lost camera.
pub(super) const RETRY_FIRST: Duration = Duration::from_secs(1);
pub(super) const RETRY_MAX: Duration = Duration::from_secs(30);

/// Tells the loop the camera is open (1003) and whether its size was adjusted
/// (1005). False when the loop has gone.
pub(super) fn announce(source: &Source, p: &VideoParams, send: &impl Fn(MediaMsg) -> bool) -> bool {
    if let Source::Camera(c) = source {
        let m = c.mode();
        let fourcc = String::from_utf8_lossy(&m.format.fourcc()).into_owned();
        let focus = if c.auto_focus {
            "on"
        } else {
            "not available (or off)"
        };
        log::info!(
            "camera {}: {}x{} {fourcc}, auto focus {focus}",
            c.path(),
            m.width,
            m.height
        );
    }
    if !send(MediaMsg::CameraOpened) {
        return false;
    }
    if let Some((w, h)) = match source {
        Source::Synthetic(s) => s.own_size(),
        _ => None,
    } {
        let detail = format!(
            "source gives {w}x{h}, scaled/cropped to {}x{}",
            p.width, p.height
        );
        return send(MediaMsg::Device {
            input: Input::ResolutionAdjusted(detail),
            fatal: false,
        });
    }
    if let Source::Camera(c) = source {
        let m = c.mode();
        if m.adjusted(p.width, p.height) {
            let detail = format!(
                "camera gives {}x{}, scaled/cropped to {}x{}",
                m.width, m.height, p.width, p.height
            );
            return send(MediaMsg::Device {
                input: Input::ResolutionAdjusted(detail),
                fatal: false,
            });
        }
    }
    true
}

pub(super) fn camera_input(e: CameraError) -> Input {
    match e {
        CameraError::Open {
            msg,
            permission: true,
        } => Input::CameraPermission(msg),
        CameraError::Open { msg, .. } | CameraError::Lost(msg) => Input::CameraFailed(msg),
        CameraError::Mode(msg) => Input::CameraMode(msg),
    }
}

/// What a picture time while the camera is lost gave.
pub(super) enum WhileLost {
    /// The camera opened again (and was announced): capture from it.
    Reopened,
    /// The loop has gone.
    Gone,
    /// The waiting image (or the no-signal card) is in the picture buffer,
    /// with its timestamp.
    Card(u64),
}

/// One picture time while the camera is lost: paced here at the frame
/// rate, a reopen attempt when it is due (the wait doubling from
/// [`RETRY_FIRST`] to [`RETRY_MAX`]), else the waiting image.
pub(super) struct Lost<'a> {
    pub device: &'a VideoDevice,
    pub p: &'a VideoParams,
    pub auto_focus: bool,
    pub still: Option<&'a [u8]>,
    pub origin: Instant,
    pub frame: Duration,
}

impl Lost<'_> {
    pub(super) fn next(
        &self,
        source: &mut Source,
        due: &mut Instant,
        picture: &mut [u8],
        send: &impl Fn(MediaMsg) -> bool,
    ) -> WhileLost {
        let p = self.p;
        *due += self.frame;
        sleep_until(*due);
        if let Source::Lost { attempt, retry_at } = source {
            if Instant::now() >= *retry_at {
                if let VideoDevice::V4l2(spec) = self.device {
                    match Camera::open(spec, p.width, p.height, p.fps, self.auto_focus) {
                        Ok(c) => {
                            *source = Source::Camera(c);
                            return if announce(source, p, send) {
                                WhileLost::Reopened
                            } else {
                                WhileLost::Gone
                            };
                        }
                        Err(e) => {
                            *attempt += 1;
                            let wait = RETRY_FIRST
                                .saturating_mul(1 << (*attempt).min(5))
                                .min(RETRY_MAX);
                            log::info!(
                                "camera still unavailable ({}); next try in {} s",
                                camera_input(e).detail(),
                                wait.as_secs()
                            );
                            *retry_at = Instant::now() + wait;
                        }
                    }
                }
            }
        }
        match self.still {
            Some(img) => picture.copy_from_slice(img),
            None => livepush_core::synth::pattern::no_signal(p.width, p.height, picture),
        }
        WhileLost::Card(Instant::now().duration_since(self.origin).as_micros() as u64)
    }
}
