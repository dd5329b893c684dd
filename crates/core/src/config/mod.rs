//! Deployment configuration: the live-pusher attributes as TOML keys
//! (kebab-case, as in the component) plus the appliance's own sections.
//!
//! [`parse`] walks the TOML tree with spans, so every error names its key with
//! line and column, and it reports *every* error, not the first. Keys the
//! appliance does not act on yet are parsed and validated, then returned as
//! [`Notice`]s ("not yet supported") for the caller to print at start.

pub mod board;
mod parse;
mod preset;
pub mod reload;
mod walker;

pub use board::parse_board;
pub use parse::{board_named, parse, Parsed};
pub use preset::{Preset, PRESETS};
pub use walker::{ConfigError, Notice, MAX_ERRORS};

use crate::rtmp::url::PushUrl;

/// `mode`: the quality preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 360p-class.
    Sd,
    /// 720p-class.
    Hd,
    /// 1080p-class.
    Fhd,
    /// Real-time call: lowest latency (1 s GOP, smallest queues).
    Rtc,
}

impl Mode {
    /// The name used in the config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Sd => "SD",
            Mode::Hd => "HD",
            Mode::Fhd => "FHD",
            Mode::Rtc => "RTC",
        }
    }
    /// The preset this mode stands for.
    pub fn preset(self) -> &'static Preset {
        PRESETS
            .iter()
            .find(|p| p.mode == self)
            .expect("every mode has a preset")
    }
}

/// `orientation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Portrait output (taller than wide).
    Vertical,
    /// Landscape output.
    Horizontal,
}

/// `aspect`: output aspect ratio, expressed short side : long side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aspect {
    /// 3:4.
    A3x4,
    /// 9:16.
    A9x16,
}

/// `[video] device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VideoDevice {
    /// Built-in moving test pattern with a burned-in frame counter.
    TestPattern,
    /// Raw I420 frames of the output size read from a file, looped, paced.
    RawFile(String),
    /// Motion-JPEG frames (JPEGs one after another, as `ffmpeg -f mjpeg`
    /// writes and UVC cameras send) read from a file, looped, paced: a
    /// camera's MJPEG path without the camera, corrupt frames included.
    MjpegFile(String),
    /// A V4L2 capture device path, or `card:NAME`.
    V4l2(String),
}

/// A raw file source's path and its frame size when it names one
/// (`file:PATH@WxH`: frames of that size, scaled to the output; without
/// it, frames of the output size).
pub fn raw_file_size(spec: &str) -> (&str, Option<(u32, u32)>) {
    if let Some((path, size)) = spec.rsplit_once('@') {
        if let Some((w, h)) = size.split_once('x') {
            if let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>()) {
                if (2..=8192).contains(&w) && (2..=8192).contains(&h) && w % 2 == 0 && h % 2 == 0 {
                    return (path, Some((w, h)));
                }
            }
        }
    }
    (spec, None)
}

impl std::fmt::Display for VideoDevice {
    /// As the config spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VideoDevice::TestPattern => f.write_str("test-pattern"),
            VideoDevice::RawFile(p) => write!(f, "file:{p}"),
            VideoDevice::MjpegFile(p) => write!(f, "mjpeg:{p}"),
            VideoDevice::V4l2(p) => f.write_str(p),
        }
    }
}

impl std::fmt::Display for AudioDevice {
    /// As the config spells it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AudioDevice::Sine => f.write_str("sine"),
            AudioDevice::RawFile(p) => write!(f, "file:{p}"),
            AudioDevice::Alsa(p) => f.write_str(p),
        }
    }
}

/// `[video] encoder`: which H.264 encoder to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderChoice {
    /// The board's chain; today the software default (OpenH264).
    Auto,
    /// OpenH264 (bundled, BSD).
    OpenH264,
    /// libx264 (GPL; only in binaries built with the `x264` feature).
    X264,
}

/// `[audio] device`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AudioDevice {
    /// Built-in sine tone.
    Sine,
    /// Raw interleaved s16le samples read from a file, looped, paced.
    RawFile(String),
    /// An ALSA PCM name.
    Alsa(String),
}

/// `[events] to`: where JSON-lines events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsTo {
    /// Standard output.
    Stdout,
    /// Appended to a file.
    File(String),
    /// A Unix stream socket livepush listens on; every client gets every line.
    Unix(String),
}

/// `[video]`.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoConfig {
    /// Source (the first of `devices`).
    pub device: VideoDevice,
    /// `devices`: the cameras `switch-camera` goes through, in order (the
    /// first is `device`); one entry when only `device` is given.
    pub devices: Vec<VideoDevice>,
    /// Output width override (with `height`); else from mode/aspect/orientation.
    pub width: Option<u32>,
    /// Output height override.
    pub height: Option<u32>,
    /// Frame rate override.
    pub fps: Option<u32>,
    /// Key-frame interval override, seconds.
    pub gop: Option<f64>,
    /// Initial video bitrate override, kbps.
    pub bitrate: Option<u32>,
    /// Software H.264 encoder (the chain's last link).
    pub encoder: EncoderChoice,
    /// The encoder chain in order (`[video] encoders`); None: the board's.
    pub encoders: Option<Vec<crate::encoder::Backend>>,
    /// Restarts of a failing encoder before the next backend (`encoder-restarts`).
    pub encoder_restarts: u32,
    /// No output this long while frames go in: the encoder is wedged, ms.
    pub encoder_wedge_timeout_ms: u32,
}

/// `[audio]`.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioConfig {
    /// Source.
    pub device: AudioDevice,
    /// 48000 or 44100.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u8,
    /// AAC bitrate, kbps.
    pub bitrate: u32,
    /// Frequency of the `sine` source, Hz.
    pub frequency: u32,
    /// A microphone silent (no data or all-zero samples) this long reports -1311, ms.
    pub no_data_timeout_ms: u32,
}

/// `[network]`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// DNS + TCP connect deadline, ms.
    pub connect_timeout_ms: u32,
    /// RTMP handshake + connect + publish deadline, ms.
    pub handshake_timeout_ms: u32,
    /// Spacing of reconnect attempts in the first minute of an outage, ms;
    /// after it the delay doubles from twice this up to `reconnect-max-delay`.
    pub reconnect_delay_ms: u32,
    /// Longest reconnect delay, ms.
    pub reconnect_max_delay_ms: u32,
    /// No bytes accepted by the socket for this long while data waits: 3005, ms.
    pub send_stall_timeout_ms: u32,
    /// rtmps://: trust only the CA certificates in this PEM file (instead of
    /// the system's CA bundle).
    pub ca_file: Option<String>,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Push address. With [`Config::url_key_file`], its stream key is empty
    /// until the caller reads the file and sets it ([`PushUrl::with_key`]).
    pub url: PushUrl,
    /// `url-key-file`: the stream key lives in this file, not in `url`.
    pub url_key_file: Option<String>,
    /// Preset.
    pub mode: Mode,
    /// Start pushing when the service starts.
    pub autopush: bool,
    /// Push silence instead of the microphone.
    pub muted: bool,
    /// false: audio-only stream.
    pub enable_camera: bool,
    /// Continuous auto focus where the camera has it.
    pub auto_focus: bool,
    /// Output orientation.
    pub orientation: Orientation,
    /// 0..=9.
    pub beauty: u8,
    /// 0..=9.
    pub whiteness: u8,
    /// Output aspect ratio.
    pub aspect: Aspect,
    /// kbps.
    pub min_bitrate: u32,
    /// kbps.
    pub max_bitrate: u32,
    /// Picture pushed while paused or while the camera is lost.
    pub waiting_image: Option<String>,
    /// Lowercase hex MD5 the waiting image must match.
    pub waiting_image_md5: Option<String>,
    /// Mute audio while paused.
    pub background_mute: bool,
    /// `pause-fps`: the waiting image's frame rate while paused.
    pub pause_fps: u32,
    /// `pause-time`: a pause longer than this many seconds becomes a stop.
    pub pause_time_s: u32,
    /// `[video]`.
    pub video: VideoConfig,
    /// `[audio]`.
    pub audio: AudioConfig,
    /// `[network]`.
    pub network: NetworkConfig,
    /// `[events]`.
    pub events: EventsTo,
    /// `board`: the board profile's id (`boards/ID.toml`), or None.
    pub board: Option<String>,
    /// `[indicators]`.
    pub indicators: IndicatorsConfig,
    /// `[control]`.
    pub control: ControlConfig,
}

/// `[control]`: the control API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlConfig {
    /// `listen`: where the API listens (empty: no API).
    pub listen: Vec<Listen>,
    /// `token-file`: the bearer token a request must carry (required for a
    /// TCP listener off loopback).
    pub token_file: Option<String>,
    /// `stop-closes-camera`: a stop closes the camera (and a start or
    /// start-preview opens it again); default false, the camera keeps
    /// running so a start is fast.
    pub stop_closes_camera: bool,
}

/// Where the control API listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// `unix:PATH`.
    Unix(String),
    /// `tcp:IP:PORT`.
    Tcp(std::net::SocketAddr),
}

/// The control socket when `[control] listen` is not given.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/livepush/control.sock";

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(p) => write!(f, "unix:{p}"),
            Listen::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// `[indicators]`: the board profile's status LEDs and display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndicatorsConfig {
    /// `enabled` (default true): drive the board's LEDs and display.
    pub enabled: bool,
    /// `dim-after-s` (default 600; 0: never): dim the display after this
    /// long without a change of phase (OLED burn-in).
    pub dim_after_s: u32,
}

/// What the encoders are asked for, derived from mode, aspect, orientation and overrides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoParams {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Frames between key frames.
    pub gop_frames: u32,
    /// Target bitrate, kbps.
    pub bitrate_kbps: u32,
    /// Peak bitrate, kbps (`max-bitrate`).
    pub max_kbps: u32,
}

impl Config {
    /// The video the encoder must produce.
    pub fn video_params(&self) -> VideoParams {
        let p = self.mode.preset();
        let (width, height) = match (self.video.width, self.video.height) {
            (Some(w), Some(h)) => (w, h),
            _ => {
                let short = p.short_side;
                let long = match self.aspect {
                    Aspect::A9x16 => even(short * 16 / 9),
                    Aspect::A3x4 => even(short * 4 / 3),
                };
                match self.orientation {
                    Orientation::Horizontal => (long, short),
                    Orientation::Vertical => (short, long),
                }
            }
        };
        let fps = self.video.fps.unwrap_or(p.fps);
        let gop_s = self.video.gop.unwrap_or(p.gop_seconds);
        let gop_frames = ((gop_s * f64::from(fps)).round() as u32).max(1);
        let bitrate_kbps = self
            .video
            .bitrate
            .unwrap_or(p.bitrate_kbps)
            .clamp(self.min_bitrate, self.max_bitrate);
        VideoParams {
            width,
            height,
            fps,
            gop_frames,
            bitrate_kbps,
            max_kbps: self.max_bitrate,
        }
    }
}

const fn even(n: u32) -> u32 {
    (n + 1) & !1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        let text = format!("url = \"rtmp://h/live/k\"\n{extra}");
        parse(&text).unwrap().config
    }

    #[test]
    fn preset_sizes_follow_aspect_and_orientation() {
        let c = cfg("");
        assert_eq!(c.mode, Mode::Rtc);
        let v = c.video_params();
        assert_eq!((v.width, v.height), (360, 640));
        let v = cfg("mode = \"HD\"\norientation = \"horizontal\"").video_params();
        assert_eq!(
            (v.width, v.height, v.fps, v.gop_frames),
            (1280, 720, 30, 60)
        );
        // HD preset wants 1800 kbps, clamped by the default max-bitrate 1000
        assert_eq!(v.bitrate_kbps, 1000);
        let v = cfg("mode = \"FHD\"\naspect = \"3:4\"\nmax-bitrate = 8000").video_params();
        assert_eq!((v.width, v.height, v.bitrate_kbps), (1080, 1440, 3500));
        let v = cfg("mode = \"SD\"\norientation = \"horizontal\"").video_params();
        assert_eq!((v.width, v.height), (640, 360));
    }

    #[test]
    fn overrides_win() {
        let v = cfg("[video]\nwidth = 320\nheight = 180\nfps = 10\ngop = 0.5\nbitrate = 300")
            .video_params();
        assert_eq!(
            v,
            VideoParams {
                width: 320,
                height: 180,
                fps: 10,
                gop_frames: 5,
                bitrate_kbps: 300,
                max_kbps: 1000
            }
        );
    }
}
