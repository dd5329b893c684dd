//! The display's words: the headline for each phase, a few words for
//! every state code, what to check on each error, and the lines a screen
//! shows (code, figures, server, uptime and address), written into buffers
//! that are reused from one redraw to the next (nothing is allocated once
//! they have grown). Drawing them is [`super::draw`]'s job.

use core::fmt::Write;
use core::time::Duration;

use super::phase::{Phase, View};
use crate::status::StatusCode;

/// The headline for a phase: at most 12 characters (it is drawn in large
/// type across a 128-pixel-wide screen).
pub const fn headline(p: Phase) -> &'static str {
    match p {
        Phase::BadConfig => "BAD CONFIG",
        Phase::Stopped => "STOPPED",
        Phase::Restarting => "OFFLINE",
        Phase::Reconnecting => "RECONNECTING",
        Phase::Connecting => "CONNECTING",
        Phase::Starting => "STARTING",
        Phase::Standby => "STANDBY",
        Phase::NoCamera => "NO CAMERA",
        Phase::NoMic => "NO MIC",
        Phase::MicSilent => "MIC SILENT",
        Phase::Paused => "PAUSED",
        Phase::Degraded => "LIVE (SLOW)",
        Phase::Software => "LIVE (SW)",
        Phase::Live => "LIVE",
    }
}

/// A few words for a state code (upper case; with the number they fit a
/// 21-column line, and a network code's with the attempt count too:
/// "1102 RECONNECTING #12").
pub const fn words(c: StatusCode) -> &'static str {
    use StatusCode as C;
    match c {
        C::ConnectSucc => "CONNECTED",
        C::PushBegin => "PUSHING",
        C::OpenCameraSucc => "CAMERA OPEN",
        C::ScreenCaptureSucc => "SCREEN OPEN",
        C::ChangeResolution => "SIZE CHANGED",
        C::ChangeBitrate => "BITRATE CHANGED",
        C::FirstFrameAvailable => "FIRST FRAME",
        C::StartVideoEncoder => "ENCODER STARTED",
        C::NetBusy => "UPLINK SLOW",
        C::Reconnect => "RECONNECTING",
        C::HwAccelerationFail => "SOFTWARE ENCODER",
        C::VideoEncodeFail => "ENCODER RESTART",
        C::BeautySurfaceInitFail => "FILTER FAILED",
        C::BeautyFallback => "FILTER FELL BACK",
        C::OpenCameraFail => "NO CAMERA",
        C::OpenMicFail => "NO MICROPHONE",
        C::VideoEncodeFailFatal => "VIDEO ENC FAIL",
        C::AudioEncodeFail => "AUDIO ENC FAIL",
        C::UnsupportedResolution => "CAMERA MODE",
        C::UnsupportedSampleRate => "MIC SAMPLE RATE",
        C::NetDisconnect => "OFFLINE",
        C::ScreenCaptureStartFailed => "SCREEN FAILED",
        C::ScreenCaptureUnsupported => "NO SCREEN",
        C::ScreenCaptureDisturbed => "SCREEN LOST",
        C::MicRecordFail => "MIC SILENT",
        C::ScreenCaptureSwitchDisplayFailed => "SCREEN TURN",
        C::DnsFail => "DNS FAILED",
        C::ServerConnFail => "NO SERVER",
        C::HandshakeFail => "HANDSHAKE",
        C::ServerDisconnect => "REJECTED",
        C::ReadWriteFail => "SEND FAILED",
        C::PushPaused => "PAUSED",
        C::PushResumed => "RESUMED",
        C::PushStopped => "STOPPED",
    }
}

/// What a person should check, for the phase shown and the last code (at
/// most 21 characters: one line of the small screen).
pub fn hint(v: &View<'_>) -> Option<&'static str> {
    use StatusCode as C;
    let last = v.last.map(|l| l.code);
    Some(match v.phase {
        Phase::BadConfig => "fix livepush.toml",
        Phase::NoCamera if v.permission => "user not in 'video'",
        Phase::NoCamera if last == Some(C::UnsupportedResolution) => "camera mode: see log",
        Phase::NoCamera => "check camera cable",
        Phase::NoMic if v.permission => "user not in 'audio'",
        Phase::NoMic => "check microphone",
        Phase::MicSilent => "mic cable or mute?",
        Phase::Standby => "waiting for start",
        Phase::Stopped if last == Some(C::VideoEncodeFailFatal) => "video encoder: see log",
        Phase::Stopped if last == Some(C::AudioEncodeFail) => "audio encoder: see log",
        Phase::Reconnecting | Phase::Restarting | Phase::Connecting => match last {
            Some(C::DnsFail) => "check DNS / network",
            Some(C::ServerConnFail) => "check network, server",
            Some(C::HandshakeFail) => "check URL scheme/port",
            Some(C::ServerDisconnect) => "check URL and key",
            Some(C::ReadWriteFail) => "check uplink",
            _ => return None,
        },
        _ => return None,
    })
}

/// Characters on a line of the small screens (128 pixels of 6x10 type).
pub const COLUMNS: usize = 21;

/// What the screen shows besides the view: fixed for a run (the server)
/// or read by the shell now and then (the address).
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// The server as people may see it (host and port, never the key).
    pub server: &'a str,
    /// The box's address (the first global IPv4, else IPv6), or empty.
    pub address: &'a str,
}

/// The lines of a screen, reused from one redraw to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines {
    /// "1102 RECONNECTING #4", or the phase in words when no code is held.
    pub code: String,
    /// "980 kbps 30 fps 720p", or what to check.
    pub figures: String,
    /// The server (host:port).
    pub server: String,
    /// "up 3d04h 10.0.0.7".
    pub status: String,
    /// The other conditions that hold ("+ NO MIC").
    pub also: String,
}

impl Lines {
    /// Fills the lines for `v` (clearing what was there).
    pub fn fill(&mut self, v: &View<'_>, cx: &Context<'_>) {
        self.code.clear();
        self.figures.clear();
        match v.last {
            // the refused configuration's reason, over two lines
            _ if v.config_error.is_some() => {
                let e = v.config_error.unwrap_or_default();
                push_cut(&mut self.code, e, COLUMNS);
                self.figures.extend(e.chars().skip(COLUMNS).take(COLUMNS));
            }
            Some(l) => {
                let _ = write!(self.code, "{} {}", l.code.code(), words(l.code));
                if matches!(v.phase, Phase::Reconnecting | Phase::Restarting) && v.attempt > 0 {
                    let _ = write!(self.code, " #{}", v.attempt);
                }
            }
            None if v.phase == Phase::Reconnecting => {
                let _ = write!(self.code, "1102 RECONNECTING #{}", v.attempt);
            }
            // on air without a warning: the contract's code for it
            None if v.phase.on_air() => self.code.push_str("1002 PUSHING"),
            None => {}
        }
        let spelled_out = v.config_error.is_some();
        if let Some(h) = hint(v).filter(|_| !spelled_out) {
            self.figures.push_str(h);
        } else if let Some(f) = v.figures.filter(|_| !spelled_out) {
            let _ = write!(
                self.figures,
                "{} kbps {} fps {}p",
                f.video_bitrate + f.audio_bitrate,
                f.video_fps.round() as u32,
                f.video_height
            );
        }
        self.server.clear();
        push_cut(&mut self.server, cx.server, 40);
        self.status.clear();
        uptime(&mut self.status, v.uptime);
        if !cx.address.is_empty() {
            self.status.push(' ');
            push_cut(&mut self.status, cx.address, 39);
        }
        self.also.clear();
        for p in v.also.iter() {
            self.also
                .push_str(if self.also.is_empty() { "+ " } else { ", " });
            self.also.push_str(headline(p));
        }
    }
}

/// Appends at most `max` characters of `s`.
fn push_cut(out: &mut String, s: &str, max: usize) {
    out.extend(s.chars().take(max));
}

/// "up 4m", "up 3h05m", "up 12d04h".
fn uptime(out: &mut String, t: Duration) {
    let m = t.as_secs() / 60;
    let (d, h, m) = (m / 1440, m / 60 % 24, m % 60);
    let _ = if d > 0 {
        write!(out, "up {d}d{h:02}h")
    } else if h > 0 {
        write!(out, "up {h}h{m:02}m")
    } else {
        write!(out, "up {m}m")
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicate::phase::{LastCode, Phases};

    fn view(phase: Phase) -> View<'static> {
        View {
            phase,
            also: Phases::default(),
            attempt: 0,
            last: None,
            permission: false,
            figures: None,
            uptime: Duration::from_secs(3 * 86400 + 4 * 3600 + 12 * 60),
            level_db: None,
            config_error: None,
        }
    }

    #[test]
    fn every_code_has_words_that_fit_a_line_with_its_number() {
        use StatusCode as C;
        for c in StatusCode::ALL {
            let w = words(c);
            let line = format!("{} {w}", c.code());
            assert!(!w.is_empty() && line.len() <= 21, "{line}");
            let network = matches!(
                c,
                C::Reconnect
                    | C::NetDisconnect
                    | C::DnsFail
                    | C::ServerConnFail
                    | C::HandshakeFail
                    | C::ServerDisconnect
                    | C::ReadWriteFail
            );
            if network {
                assert!(line.len() + " #99".len() <= 21, "{line} #99");
            }
        }
        for p in Phase::ALL {
            assert!(headline(p).len() <= 12, "{p:?}");
        }
    }

    #[test]
    fn the_code_line_counts_attempts_and_figures_give_way_to_what_to_check() {
        let mut v = view(Phase::Reconnecting);
        v.attempt = 4;
        v.last = Some(LastCode {
            code: StatusCode::ServerDisconnect,
            age: Duration::from_secs(1),
        });
        let mut l = Lines::default();
        let cx = Context {
            server: "live.example.com:1935",
            address: "10.0.0.7",
        };
        l.fill(&v, &cx);
        assert_eq!(l.code, "3004 REJECTED #4");
        assert_eq!(l.figures, "check URL and key");
        assert_eq!(l.status, "up 3d04h 10.0.0.7");
        v.last = None;
        l.fill(&v, &cx);
        assert_eq!(l.code, "1102 RECONNECTING #4");
        let mut v = view(Phase::Live);
        v.uptime = Duration::from_secs(65 * 60);
        v.figures = Some(crate::netstatus::NetStatus {
            video_bitrate: 900,
            audio_bitrate: 64,
            video_fps: 29.97,
            video_height: 720,
            ..Default::default()
        });
        l.fill(&v, &Context::default());
        assert_eq!(l.code, "1002 PUSHING");
        assert_eq!(l.figures, "964 kbps 30 fps 720p");
        assert_eq!(l.status, "up 1h05m");
    }

    #[test]
    fn a_refused_configuration_is_spelled_out_over_two_lines() {
        let mut v = view(Phase::BadConfig);
        v.config_error = Some("line 12, column 5: min-bitrate must be at most max-bitrate");
        let mut l = Lines::default();
        l.fill(&v, &Context::default());
        assert_eq!(l.code, "line 12, column 5: mi");
        assert_eq!(l.figures, "n-bitrate must be at ");
    }

    #[test]
    fn lines_reuse_their_buffers() {
        let mut v = view(Phase::Live);
        v.figures = Some(crate::netstatus::NetStatus::default());
        let mut l = Lines::default();
        l.fill(&v, &Context::default());
        let caps = (l.code.capacity(), l.figures.capacity(), l.status.capacity());
        l.fill(&v, &Context::default());
        assert_eq!(
            caps,
            (l.code.capacity(), l.figures.capacity(), l.status.capacity())
        );
    }
}
