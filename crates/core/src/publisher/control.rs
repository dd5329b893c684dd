//! The push's control commands (the component's context methods start,
//! stop, pause and resume), decided here like everything else: a start lets
//! the supervisor connect, a stop unpublishes cleanly (deleteStream, the
//! queue flushed for at most [`STOP_GRACE`], then the socket closed) with no
//! 300x, 1102 or reconnect after it, a pause puts the waiting image on the
//! same publish for at most `pause-time` (then a stop, as the component
//! does), a resume brings the camera back. Idempotent: a command that finds
//! its state already there says so and changes nothing.

use std::time::Duration;

use super::media::MediaCommand;
use super::{EncoderCommand, Output, Publisher, STOP_GRACE};
use crate::config::reload::Plan;
use crate::config::Config;
use crate::supervisor::Input as Fact;
use crate::time::Instant;

/// A control command for the push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Connect and push (what `autopush = true` does at the start).
    Start,
    /// Unpublish and stay idle, ready for a start.
    Stop,
    /// The waiting image instead of the camera, on the same publish.
    Pause,
    /// The camera again.
    Resume,
    /// Camera and encoder on without pushing (a person aiming the camera
    /// looks at snapshots or the status page).
    StartPreview,
    /// Camera off unless pushing.
    StopPreview,
}

impl Command {
    /// The command's name in the API (`/v1/NAME`) and the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Stop => "stop",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::StartPreview => "start-preview",
            Command::StopPreview => "stop-preview",
        }
    }
}

/// What a command did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    /// It changed the state.
    Changed,
    /// The state was already what it asks for (nothing changed).
    Already,
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Pause or resume while not pushing.
    NotPushing,
    /// The service is stopping.
    Stopping,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::NotPushing => "not pushing: start first",
            Refused::Stopping => "the service is stopping",
        })
    }
}

/// The pause settings, from the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PauseConfig {
    /// `pause-fps`.
    pub fps: u32,
    /// `pause-time`.
    pub max: Duration,
    /// `background-mute`: silence instead of the microphone while paused.
    pub mute: bool,
    /// `[control] stop-closes-camera`: a stop also ends the preview.
    pub stop_closes_camera: bool,
}

impl Publisher {
    /// Carries out a control command at `now`; its outputs (codes, the
    /// connection, the media threads' commands) follow from
    /// [`Publisher::poll_output`].
    pub fn command(&mut self, now: Instant, c: Command) -> Result<Done, Refused> {
        if self.stopping.is_some() {
            return Err(Refused::Stopping);
        }
        let done = match c {
            Command::Start => {
                if self.sup.start(now) {
                    log::info!("start: pushing");
                    self.camera_follows(now);
                    Done::Changed
                } else {
                    Done::Already
                }
            }
            Command::Stop => self.stop_push(now, "stopped by a command".into()),
            Command::StartPreview => {
                if self.preview {
                    Done::Already
                } else {
                    self.preview = true;
                    self.camera_follows(now);
                    Done::Changed
                }
            }
            Command::StopPreview => {
                if !self.preview {
                    Done::Already
                } else {
                    self.preview = false;
                    self.camera_follows(now);
                    Done::Changed
                }
            }
            Command::Pause => {
                if !self.sup.is_pushing() {
                    return Err(Refused::NotPushing);
                }
                if self.paused_until.is_some() {
                    Done::Already
                } else {
                    let p = self.cfg.pause;
                    self.paused_until = Some(now + p.max);
                    self.out.push_back(Output::Media(MediaCommand::Pause {
                        fps: p.fps,
                        mute: p.mute,
                    }));
                    let detail = format!(
                        "the waiting image at {} fps for at most {} s{}",
                        p.fps,
                        p.max.as_secs(),
                        if p.mute { ", audio muted" } else { "" }
                    );
                    log::info!("pause: {detail}");
                    self.sup.paused(true, Some(detail));
                    Done::Changed
                }
            }
            Command::Resume => {
                if !self.sup.is_pushing() {
                    return Err(Refused::NotPushing);
                }
                if self.end_pause() {
                    log::info!("resume: camera video again");
                    self.sup.paused(false, None);
                    Done::Changed
                } else {
                    Done::Already
                }
            }
        };
        self.pump(now);
        Ok(done)
    }

    /// Whether the camera is wanted: pushing or previewing.
    pub fn camera_wanted(&self) -> bool {
        self.sup.is_pushing() || self.preview
    }

    /// Whether a preview is on (the camera runs without a push).
    pub fn is_previewing(&self) -> bool {
        self.preview
    }

    /// Tells the video thread to open or close the camera when what is
    /// wanted changed (only with a camera).
    fn camera_follows(&mut self, now: Instant) {
        let want = self.camera_wanted();
        if self.cfg.video && want != self.camera_on {
            self.camera_on = want;
            self.health.watch_video(now, want);
            log::info!(
                "camera {}",
                if want {
                    "on"
                } else {
                    "off (not pushing, no preview)"
                }
            );
            self.out
                .push_back(Output::Media(MediaCommand::Camera(want)));
        }
    }

    /// Whether the push is paused.
    pub fn is_paused(&self) -> bool {
        self.paused_until.is_some()
    }

    /// Whether pushing is wanted (autopush or a start, no stop since).
    pub fn is_pushing(&self) -> bool {
        self.sup.is_pushing()
    }

    /// Ends a pause (the media threads back to the camera). Returns whether
    /// there was one.
    fn end_pause(&mut self) -> bool {
        if self.paused_until.take().is_none() {
            return false;
        }
        self.out.push_back(Output::Media(MediaCommand::Resume));
        true
    }

    /// Stops pushing: 1203 with `why`, the publish ended cleanly.
    pub(super) fn stop_push(&mut self, now: Instant, why: String) -> Done {
        if !self.sup.stop(why.clone()) {
            return Done::Already;
        }
        log::info!("stop: {why}");
        self.end_pause();
        if self.cfg.pause.stop_closes_camera {
            self.preview = false;
        }
        self.camera_follows(now);
        let on_air = self.conn.as_ref().is_some_and(|c| c.on_air);
        if on_air {
            // deleteStream, then the queue flushes (frames from now go to
            // the start cache) and the socket closes
            if let Some(c) = self.conn.as_mut() {
                c.on_air = false;
                if let Some(s) = c.session.as_mut() {
                    s.finish();
                }
            }
            self.unpublish_until = Some(now + STOP_GRACE);
        } else {
            self.close_conn();
        }
        Done::Changed
    }

    /// Time passed: a pause past `pause-time` becomes a stop; an ended
    /// publish whose queue flushed (or whose grace ran out) is closed.
    pub(super) fn control_timeout(&mut self, now: Instant) {
        if self.paused_until.is_some_and(|t| now >= t) {
            let secs = self.cfg.pause.max.as_secs();
            self.stop_push(now, format!("paused for longer than pause-time ({secs} s)"));
        }
        self.check_unpublished(now);
    }

    /// Closes the connection of a stopped push once its last bytes left.
    pub(super) fn check_unpublished(&mut self, now: Instant) {
        let Some(until) = self.unpublish_until else {
            return;
        };
        let flushed = self.conn.as_ref().is_none_or(|c| !c.outbox.pending());
        if flushed || now >= until {
            self.unpublish_until = None;
            if !self.sup.is_pushing() {
                self.close_conn();
            }
        }
    }

    /// A reloaded configuration (already checked): what `plan` says applies
    /// now does. A new URL is used at once: a connection being made or on
    /// the air is closed and the next one goes to the new address (1102
    /// with the reason); new bitrate bounds rebuild the adaptive bitrate
    /// around the current rate; new pause settings apply from the next
    /// pause.
    pub fn reconfigure(&mut self, now: Instant, new: &Config, plan: &Plan) {
        // a rotated key alone (url-key-file) is used from the next
        // connection on: the running publish was accepted with the old one
        // (a server that revokes it drops the publish; the reconnect uses
        // the new key)
        let key_only = plan.applied.contains(&"url")
            && new.url_key_file.is_some()
            && self.cfg.url.with_key(new.url.stream_key()) == new.url;
        if key_only {
            self.set_stream_key(new.url.stream_key());
            log::info!("reload: a new stream key, used from the next connection on");
        } else if plan.applied.contains(&"url") {
            self.cfg.url = new.url.clone();
            self.redirect = None;
            if self.conn.is_some() && self.sup.is_pushing() {
                self.close_conn();
                self.sup.handle_input(
                    now,
                    Fact::ReconnectRequested(format!(
                        "the configuration was reloaded: now pushing to {}",
                        new.url
                    )),
                );
            }
        }
        if plan.applied.contains(&"min-bitrate") || plan.applied.contains(&"max-bitrate") {
            let p = new.video_params();
            let before = self
                .abr
                .as_ref()
                .map_or(self.cfg.params.bitrate_kbps, |a| a.kbps());
            self.cfg.min_bitrate = new.min_bitrate;
            self.cfg.params.bitrate_kbps = p.bitrate_kbps;
            self.cfg.params.max_kbps = p.max_kbps;
            let kbps = before.clamp(new.min_bitrate.min(p.bitrate_kbps), p.bitrate_kbps);
            self.abr = super::make_abr(&self.cfg, kbps);
            if self.cfg.video {
                let full = (self.cfg.params.width, self.cfg.params.height);
                if self.size != full {
                    self.out.push_back(Output::Encoder(EncoderCommand::Resize {
                        width: full.0,
                        height: full.1,
                    }));
                }
                if kbps != before {
                    self.out
                        .push_back(Output::Encoder(EncoderCommand::Bitrate(kbps)));
                }
            }
            log::info!(
                "reload: video bitrate {}..{} kbps, now {kbps} kbps",
                new.min_bitrate,
                p.bitrate_kbps
            );
        }
        self.cfg.pause = PauseConfig {
            fps: new.pause_fps,
            max: Duration::from_secs(new.pause_time_s.into()),
            mute: new.background_mute,
            stop_closes_camera: self.cfg.pause.stop_closes_camera,
        };
        self.pump(now);
    }

    /// The control deadlines: the pause's end, the unpublish grace.
    pub(super) fn control_deadline(&self) -> Option<Instant> {
        [self.paused_until, self.unpublish_until]
            .into_iter()
            .flatten()
            .min()
    }
}
