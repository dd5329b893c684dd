//! A representative moment of each phase: what the golden images show,
//! what `livepush indicators --test` walks through on real hardware, and
//! what the HIL tests compare a screen with.

use core::time::Duration;

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565};
use embedded_graphics::prelude::Point;

use super::draw::{draw_color, draw_mono, Canvas, Frame};
use super::phase::{LastCode, Phase, Phases, View};
use super::screen::{Context, Lines};
use crate::netstatus::NetStatus;
use crate::status::StatusCode;

/// A representative view of each phase (what the box would show there).
pub fn sample(phase: Phase) -> View<'static> {
    use StatusCode as C;
    let on_air = phase.on_air();
    let last = match phase {
        Phase::BadConfig | Phase::Starting | Phase::Connecting | Phase::Live | Phase::Paused => {
            None
        }
        Phase::Standby => Some(C::PushStopped),
        Phase::Stopped => Some(C::VideoEncodeFailFatal),
        Phase::Restarting => Some(C::NetDisconnect),
        Phase::Reconnecting => Some(C::ServerDisconnect),
        Phase::NoCamera => Some(C::OpenCameraFail),
        Phase::NoMic => Some(C::OpenMicFail),
        Phase::MicSilent => Some(C::MicRecordFail),
        Phase::Degraded => Some(C::NetBusy),
        Phase::Software => Some(C::HwAccelerationFail),
    };
    let mut also = Phases::default();
    if phase == Phase::Reconnecting {
        also = Phases::from_iter([Phase::NoMic]);
    }
    View {
        phase,
        also,
        attempt: if matches!(phase, Phase::Reconnecting | Phase::Restarting) {
            4
        } else {
            0
        },
        last: last.map(|code| LastCode {
            code,
            age: Duration::from_secs(2),
        }),
        permission: false,
        figures: on_air.then_some(NetStatus {
            video_bitrate: 936,
            audio_bitrate: 64,
            video_fps: 30.0,
            video_gop: 2.0,
            net_speed: 1010,
            net_jitter: 3,
            video_width: 1280,
            video_height: 720,
        }),
        uptime: Duration::from_secs(3 * 86_400 + 4 * 3600 + 12 * 60),
        level_db: on_air.then_some(-18),
        config_error: (phase == Phase::BadConfig).then_some("line 3, col 1: unknown key `urll`"),
    }
}

/// The context the samples are drawn with.
pub const CONTEXT: Context<'static> = Context {
    server: "live.example.com:1935",
    address: "192.168.1.50",
};

/// The sample view of `phase` and its lines.
pub fn view_and_lines(phase: Phase) -> (View<'static>, Lines) {
    let v = sample(phase);
    let mut lines = Lines::default();
    lines.fill(&v, &CONTEXT);
    (v, lines)
}

/// The sample of `phase` drawn on a `w` x `h` monochrome screen.
pub fn render_mono(phase: Phase, w: u32, h: u32) -> Canvas<BinaryColor> {
    let (v, lines) = view_and_lines(phase);
    let mut c = Canvas::new(w, h);
    let f = Frame {
        view: &v,
        lines: &lines,
        page: 0,
        shift: Point::zero(),
    };
    let Ok(()) = draw_mono(&mut c, &f);
    c
}

/// The sample of `phase` drawn on a `w` x `h` colour screen.
pub fn render_color(phase: Phase, w: u32, h: u32) -> Canvas<Rgb565> {
    let (v, lines) = view_and_lines(phase);
    let mut c = Canvas::new(w, h);
    let f = Frame {
        view: &v,
        lines: &lines,
        page: 0,
        shift: Point::zero(),
    };
    let Ok(()) = draw_color(&mut c, &f);
    c
}
