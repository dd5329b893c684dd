//! The config schema: TOML text -> [`Config`], one function per section,
//! every error with key, line and column, every not-yet-supported key as a
//! [`Notice`] (the generic walking is `walker.rs`).

use toml::de::DeTable;
use toml::Spanned;

use super::walker::{Cx, Section};
use super::*;
use crate::rtmp::url::PushUrl;

/// A parsed, validated config and what it asks for that this build does not do.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The config.
    pub config: Config,
    /// Not-yet-supported settings, in file order.
    pub notices: Vec<Notice>,
}

/// Parses the TOML syntax of `text`: the reading context and the root
/// table, or every syntax error, positioned.
pub(super) fn begin(text: &str) -> Result<(Cx<'_>, Spanned<DeTable<'_>>), Vec<ConfigError>> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut cx = Cx {
        text,
        errors: Vec::new(),
        notices: Vec::new(),
        lines: Vec::new(),
    };
    for e in syntax {
        let at = e.span().map_or(0, |s| s.start);
        cx.error("", at, e.message().to_string());
    }
    if !cx.errors.is_empty() {
        return Err(cx.into_errors());
    }
    Ok((cx, root))
}

/// The board a config names, even when the rest of it is refused (its
/// status LEDs and display then say so): the top-level `board` string when
/// the file is TOML and the id is well formed.
pub fn board_named(text: &str) -> Option<String> {
    let root = DeTable::parse(text).ok()?.into_inner();
    root.iter().find_map(|(k, v)| match v.get_ref() {
        toml::de::DeValue::String(s)
            if k.get_ref() == "board"
                && !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Some(s.to_string())
        }
        _ => None,
    })
}

/// Parses and validates a config file's text. Returns every error.
pub fn parse(text: &str) -> Result<Parsed, Vec<ConfigError>> {
    let (mut cx, root) = begin(text)?;
    let root_span = root.span();
    let root = root.into_inner();
    let mut top = Section::new("", &root, root_span.start);

    let url_raw = top.string(&mut cx, "url");
    let url_key_file = top.string(&mut cx, "url-key-file");
    let mode = top
        .choice(
            &mut cx,
            "mode",
            &[
                ("SD", Mode::Sd),
                ("HD", Mode::Hd),
                ("FHD", Mode::Fhd),
                ("RTC", Mode::Rtc),
            ],
        )
        .unwrap_or(Mode::Rtc);
    let autopush = top.boolean(&mut cx, "autopush");
    let muted = top.boolean(&mut cx, "muted").map_or(false, |(v, _)| v);
    let enable_camera = top
        .boolean(&mut cx, "enable-camera")
        .map_or(true, |(v, _)| v);
    let auto_focus = top.boolean(&mut cx, "auto-focus");
    let orientation = top
        .choice(
            &mut cx,
            "orientation",
            &[
                ("vertical", Orientation::Vertical),
                ("horizontal", Orientation::Horizontal),
            ],
        )
        .unwrap_or(Orientation::Vertical);
    let beauty = top.int(&mut cx, "beauty", 0, 9);
    let whiteness = top.int(&mut cx, "whiteness", 0, 9);
    let aspect = top
        .choice(
            &mut cx,
            "aspect",
            &[("3:4", Aspect::A3x4), ("9:16", Aspect::A9x16)],
        )
        .unwrap_or(Aspect::A9x16);
    let min_bitrate = top.int(&mut cx, "min-bitrate", 10, 50_000);
    let max_bitrate = top.int(&mut cx, "max-bitrate", 10, 50_000);
    let waiting_image = top.string(&mut cx, "waiting-image");
    let waiting_image_md5 = top.string(&mut cx, "waiting-image-md5");
    let background_mute = top.boolean(&mut cx, "background-mute");
    let pause_fps = top
        .int(&mut cx, "pause-fps", 1, 30)
        .map_or(5, |(v, _)| v as u32);
    let pause_time = top
        .int(&mut cx, "pause-time", 1, 86_400)
        .map_or(300, |(v, _)| v as u32);

    let board = top.string(&mut cx, "board");
    if let Some((b, at)) = &board {
        if b.is_empty()
            || !b
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            cx.error(
                "board",
                *at,
                format!("must be a board id like \"rpi4\" (letters, digits, - and _), got {b:?}"),
            );
        }
    }
    let video_t = top.table(&mut cx, "video");
    let audio_t = top.table(&mut cx, "audio");
    let network_t = top.table(&mut cx, "network");
    let events_t = top.table(&mut cx, "events");
    let indicators_t = top.table(&mut cx, "indicators");
    let control_t = top.table(&mut cx, "control");
    top.finish(&mut cx);

    // --- top-level cross checks and notices
    let url = match &url_raw {
        None => {
            cx.error(
                "url",
                0,
                "required: the push address, rtmp://host/app/key".into(),
            );
            None
        }
        Some((s, span)) => {
            // with url-key-file, the url ends at the application
            let parsed = match &url_key_file {
                Some(_) => PushUrl::parse_without_key(s),
                None => PushUrl::parse(s),
            };
            match parsed {
                Ok(u) => Some(u),
                Err(e) => {
                    cx.error("url", *span, e.to_string());
                    None
                }
            }
        }
    };
    if let Some((f, at)) = &url_key_file {
        if f.is_empty() {
            cx.error(
                "url-key-file",
                *at,
                "must name a file holding the stream key".into(),
            );
        }
    }
    let min_b = min_bitrate.map_or(200, |(v, _)| v as u32);
    let max_b = max_bitrate.map_or(1000, |(v, _)| v as u32);
    if min_b > max_b {
        let at = min_bitrate.or(max_bitrate).map_or(0, |(_, s)| s);
        let key = if min_bitrate.is_some() {
            "min-bitrate"
        } else {
            "max-bitrate"
        };
        cx.error(
            key,
            at,
            format!("min-bitrate ({min_b}) must not exceed max-bitrate ({max_b})"),
        );
    }
    if let Some((img, s)) = &waiting_image {
        if img.contains("://") && !(img.starts_with("http://") || img.starts_with("https://")) {
            cx.error(
                "waiting-image",
                *s,
                "must be a file path or an http:// or https:// URL".into(),
            );
        }
    }
    if let Some((md5, s)) = &waiting_image_md5 {
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            cx.error(
                "waiting-image-md5",
                *s,
                "must be 32 hexadecimal digits".into(),
            );
        } else if waiting_image.is_none() {
            cx.error(
                "waiting-image-md5",
                *s,
                "given without waiting-image".into(),
            );
        }
    }

    let video = video_section(&mut cx, video_t, min_b, max_b);
    let audio = audio_section(&mut cx, audio_t);
    let network = network_section(&mut cx, network_t, url.as_ref());
    let events = events_section(&mut cx, events_t);
    let indicators = indicators_section(&mut cx, indicators_t);
    let control = control_section(&mut cx, control_t);

    if !cx.errors.is_empty() {
        return Err(cx.into_errors());
    }
    cx.notices.sort_by_key(|n| (n.line, n.column));
    let config = Config {
        url: url.expect("no errors means url parsed"),
        url_key_file: url_key_file.map(|(f, _)| f),
        mode,
        autopush: autopush.map_or(false, |(v, _)| v),
        muted,
        enable_camera,
        auto_focus: auto_focus.map_or(true, |(v, _)| v),
        orientation,
        beauty: beauty.map_or(0, |(v, _)| v as u8),
        whiteness: whiteness.map_or(0, |(v, _)| v as u8),
        aspect,
        min_bitrate: min_b,
        max_bitrate: max_b,
        waiting_image: waiting_image.map(|(v, _)| v),
        waiting_image_md5: waiting_image_md5.map(|(v, _)| v.to_ascii_lowercase()),
        background_mute: background_mute.map_or(false, |(v, _)| v),
        pause_fps,
        pause_time_s: pause_time,
        video,
        audio,
        network,
        events,
        board: board.map(|(v, _)| v),
        indicators,
        control,
    };
    Ok(Parsed {
        config,
        notices: cx.notices,
    })
}

/// `[video]`: the source, size, frame rate, GOP, bitrate (within
/// min-bitrate..max-bitrate) and the encoder chain.
fn video_section(
    cx: &mut Cx<'_>,
    t: Option<(&DeTable<'_>, usize)>,
    min_b: u32,
    max_b: u32,
) -> VideoConfig {
    let mut video = VideoConfig {
        device: VideoDevice::TestPattern,
        devices: vec![VideoDevice::TestPattern],
        width: None,
        height: None,
        fps: None,
        gop: None,
        bitrate: None,
        encoder: EncoderChoice::Auto,
        encoders: None,
        encoder_restarts: 3,
        encoder_wedge_timeout_ms: 3000,
    };
    if let Some((t, span)) = t {
        let mut sec = Section::new("video.", t, span);
        let one = sec.string(cx, "device");
        let many = sec.strings(cx, "devices");
        if let (Some(_), Some(list)) = (&one, &many) {
            let at = list.first().map_or(0, |(_, s)| *s);
            cx.error(
                "video.devices",
                at,
                "give either `device` or `devices` (the list's first is the device at the start)"
                    .into(),
            );
        }
        if let Some((d, s)) = one {
            video.device = video_device(cx, "video.device", d, s);
            video.devices = vec![video.device.clone()];
        }
        if let Some(list) = many {
            if list.is_empty() || list.len() > 8 {
                cx.error("video.devices", span, "must list 1 to 8 cameras".into());
            } else {
                video.devices = list
                    .into_iter()
                    .map(|(d, s)| video_device(cx, "video.devices", d, s))
                    .collect();
                video.device = video.devices[0].clone();
            }
        }
        let w = sec.int(cx, "width", 16, 3840);
        let h = sec.int(cx, "height", 16, 3840);
        match (w, h) {
            (Some((w, ws)), Some((h, hs))) => {
                if w % 2 != 0 {
                    cx.error("video.width", ws, format!("must be even, got {w}"));
                }
                if h % 2 != 0 {
                    cx.error("video.height", hs, format!("must be even, got {h}"));
                }
                if w.min(h) > 2160 {
                    cx.error(
                        "video.width",
                        ws,
                        format!("{w}x{h} is larger than 3840x2160"),
                    );
                }
                video.width = Some(w as u32);
                video.height = Some(h as u32);
            }
            (Some((_, s)), None) => cx.error("video.width", s, "needs video.height too".into()),
            (None, Some((_, s))) => cx.error("video.height", s, "needs video.width too".into()),
            (None, None) => {}
        }
        video.fps = sec.int(cx, "fps", 1, 60).map(|(v, _)| v as u32);
        if let Some(e) = sec.choice(
            cx,
            "encoder",
            &[
                ("auto", EncoderChoice::Auto),
                ("openh264", EncoderChoice::OpenH264),
                ("x264", EncoderChoice::X264),
            ],
        ) {
            video.encoder = e;
        }
        if let Some(list) = sec.strings(cx, "encoders") {
            video.encoders = encoder_chain(cx, "video.encoders", &list);
        }
        if let Some((v, _)) = sec.int(cx, "encoder-restarts", 0, 100) {
            video.encoder_restarts = v as u32;
        }
        if let Some((v, _)) = sec.int(cx, "encoder-wedge-timeout", 200, 60_000) {
            video.encoder_wedge_timeout_ms = v as u32;
        }
        video.gop = sec.number(cx, "gop", 0.1, 10.0).map(|(v, _)| v);
        if let Some((b, s)) = sec.int(cx, "bitrate", 10, 50_000) {
            if (b as u32) < min_b || (b as u32) > max_b {
                cx.error(
                    "video.bitrate",
                    s,
                    format!("{b} is outside min-bitrate..max-bitrate ({min_b}..{max_b})"),
                );
            }
            video.bitrate = Some(b as u32);
        }
        sec.finish(cx);
    }
    video
}

/// `[audio]`: the source, sample rate, channels, bitrate, tone frequency and
/// the no-data watchdog.
fn audio_section(cx: &mut Cx<'_>, t: Option<(&DeTable<'_>, usize)>) -> AudioConfig {
    let mut audio = AudioConfig {
        device: AudioDevice::Sine,
        sample_rate: 48000,
        channels: 2,
        bitrate: 128,
        frequency: 1000,
        no_data_timeout_ms: 3000,
    };
    if let Some((t, span)) = t {
        let mut sec = Section::new("audio.", t, span);
        if let Some((d, s)) = sec.string(cx, "device") {
            audio.device = if d == "sine" {
                AudioDevice::Sine
            } else if let Some(p) = d.strip_prefix("file:") {
                AudioDevice::RawFile(p.to_string())
            } else if d.is_empty() {
                cx.error(
                    "audio.device",
                    s,
                    "must be \"sine\", \"file:PATH\" or an ALSA PCM name".into(),
                );
                AudioDevice::Sine
            } else {
                AudioDevice::Alsa(d)
            };
        }
        if let Some((r, s)) = sec.int(cx, "sample-rate", 1, 384_000) {
            if r != 48000 && r != 44100 {
                cx.error(
                    "audio.sample-rate",
                    s,
                    format!("{r} Hz is not supported: use 48000 or 44100"),
                );
            }
            audio.sample_rate = r as u32;
        }
        if let Some((c, _)) = sec.int(cx, "channels", 1, 2) {
            audio.channels = c as u8;
        }
        if let Some((b, _)) = sec.int(cx, "bitrate", 32, 320) {
            audio.bitrate = b as u32;
        }
        if let Some((f, _)) = sec.int(cx, "frequency", 20, 20_000) {
            audio.frequency = f as u32;
        }
        if let Some((v, _)) = sec.int(cx, "no-data-timeout", 100, 600_000) {
            audio.no_data_timeout_ms = v as u32;
        }
        sec.finish(cx);
    }
    audio
}

/// `[network]`: timeouts, reconnect delays, the CA file (rtmps:// only).
fn network_section(
    cx: &mut Cx<'_>,
    t: Option<(&DeTable<'_>, usize)>,
    url: Option<&PushUrl>,
) -> NetworkConfig {
    let mut network = NetworkConfig {
        connect_timeout_ms: 5000,
        handshake_timeout_ms: 10_000,
        reconnect_delay_ms: 1000,
        reconnect_max_delay_ms: 30_000,
        send_stall_timeout_ms: 10_000,
        ca_file: None,
    };
    if let Some((t, span)) = t {
        let mut sec = Section::new("network.", t, span);
        if let Some((v, _)) = sec.int(cx, "connect-timeout", 100, 120_000) {
            network.connect_timeout_ms = v as u32;
        }
        if let Some((v, _)) = sec.int(cx, "handshake-timeout", 100, 120_000) {
            network.handshake_timeout_ms = v as u32;
        }
        if let Some((v, _)) = sec.int(cx, "send-stall-timeout", 500, 600_000) {
            network.send_stall_timeout_ms = v as u32;
        }
        if let Some((v, at)) = sec.string(cx, "ca-file") {
            if v.is_empty() {
                cx.error("network.ca-file", at, "must name a PEM file".into());
            } else {
                if url.is_some_and(|u| u.scheme != crate::rtmp::url::Scheme::Rtmps) {
                    cx.notice("network.ca-file", at, "only used for rtmps:// URLs", false);
                }
                network.ca_file = Some(v);
            }
        }
        let d = sec.int(cx, "reconnect-delay", 100, 600_000);
        let m = sec.int(cx, "reconnect-max-delay", 10, 3_600_000);
        if let Some((v, _)) = d {
            network.reconnect_delay_ms = v as u32;
        }
        if let Some((v, _)) = m {
            network.reconnect_max_delay_ms = v as u32;
        }
        if network.reconnect_delay_ms > network.reconnect_max_delay_ms {
            let at = d.or(m).map_or(0, |(_, s)| s);
            cx.error(
                "network.reconnect-delay",
                at,
                "must not exceed network.reconnect-max-delay".into(),
            );
        }
        sec.finish(cx);
    }
    network
}

/// `[events]`: where the JSON lines go.
/// `[indicators]`: the board's LEDs and display on or off, and the dim time.
fn indicators_section(cx: &mut Cx<'_>, t: Option<(&DeTable<'_>, usize)>) -> IndicatorsConfig {
    let mut ind = IndicatorsConfig {
        enabled: true,
        dim_after_s: 600,
    };
    if let Some((t, span)) = t {
        let mut sec = Section::new("indicators.", t, span);
        if let Some((v, _)) = sec.boolean(cx, "enabled") {
            ind.enabled = v;
        }
        if let Some((v, _)) = sec.int(cx, "dim-after-s", 0, 86_400 * 365) {
            ind.dim_after_s = v as u32;
        }
        sec.finish(cx);
    }
    ind
}

fn events_section(cx: &mut Cx<'_>, t: Option<(&DeTable<'_>, usize)>) -> EventsTo {
    let mut events = EventsTo::Stdout;
    if let Some((t, span)) = t {
        let mut sec = Section::new("events.", t, span);
        if let Some((to, s)) = sec.string(cx, "to") {
            events = if to == "stdout" {
                EventsTo::Stdout
            } else if let Some(p) = to.strip_prefix("file:").filter(|p| !p.is_empty()) {
                EventsTo::File(p.to_string())
            } else if let Some(p) = to.strip_prefix("unix:").filter(|p| !p.is_empty()) {
                EventsTo::Unix(p.to_string())
            } else {
                cx.error(
                    "events.to",
                    s,
                    format!("must be \"stdout\", \"file:PATH\" or \"unix:PATH\", got {to:?}"),
                );
                EventsTo::Stdout
            };
        }
        sec.finish(cx);
    }
    events
}

/// One video source as the config names it.
fn video_device(cx: &mut Cx<'_>, key: &str, d: String, s: usize) -> VideoDevice {
    if d == "test-pattern" {
        VideoDevice::TestPattern
    } else if let Some(p) = d.strip_prefix("file:") {
        VideoDevice::RawFile(p.to_string())
    } else if let Some(p) = d.strip_prefix("mjpeg:").filter(|p| !p.is_empty()) {
        VideoDevice::MjpegFile(p.to_string())
    } else if d.starts_with('/') || d.starts_with("card:") {
        VideoDevice::V4l2(d)
    } else {
        cx.error(key, s, format!("must be \"test-pattern\", \"file:PATH\" (\"file:PATH@WxH\" when its frames are not the output size), \"mjpeg:PATH\" (a file of JPEG frames), a V4L2 device path like /dev/video0 or /dev/v4l/by-id/..., or \"card:NAME\", got {d:?}"));
        VideoDevice::TestPattern
    }
}

/// `[control]`: where the API listens, its token, what a stop closes.
fn control_section(cx: &mut Cx<'_>, t: Option<(&DeTable<'_>, usize)>) -> ControlConfig {
    let mut c = ControlConfig {
        listen: vec![Listen::Unix(DEFAULT_CONTROL_SOCKET.into())],
        token_file: None,
        stop_closes_camera: false,
    };
    let Some((t, span)) = t else {
        return c;
    };
    let mut sec = Section::new("control.", t, span);
    // one address or a list of them
    let listen = if sec.has_array("listen") {
        sec.strings(cx, "listen")
    } else {
        sec.string(cx, "listen").map(|l| vec![l])
    };
    if let Some((f, s)) = sec.string(cx, "token-file") {
        if f.is_empty() {
            cx.error(
                "control.token-file",
                s,
                "must name a file holding the bearer token".into(),
            );
        }
        c.token_file = Some(f);
    }
    if let Some((b, _)) = sec.boolean(cx, "stop-closes-camera") {
        c.stop_closes_camera = b;
    }
    if let Some(list) = listen {
        c.listen.clear();
        for (l, s) in list {
            let parsed = if let Some(p) = l.strip_prefix("unix:").filter(|p| p.starts_with('/')) {
                Some(Listen::Unix(p.to_string()))
            } else if let Some(a) = l.strip_prefix("tcp:") {
                a.parse::<std::net::SocketAddr>().ok().map(Listen::Tcp)
            } else {
                None
            };
            match parsed {
                Some(Listen::Tcp(a)) if !a.ip().is_loopback() && c.token_file.is_none() => {
                    cx.error(
                        "control.listen",
                        s,
                        format!("{l} is reachable from other machines: set control.token-file (a bearer token every request must carry)"),
                    );
                }
                Some(p) => c.listen.push(p),
                None => cx.error(
                    "control.listen",
                    s,
                    format!("must be \"unix:/ABSOLUTE/PATH\" or \"tcp:IP:PORT\" (an address, not a name), got {l:?}"),
                ),
            }
        }
    }
    sec.finish(cx);
    c
}

/// An encoder chain from names: known backends, no repeats, software last.
pub(super) fn encoder_chain(
    cx: &mut Cx<'_>,
    key: &str,
    list: &[(String, usize)],
) -> Option<Vec<crate::encoder::Backend>> {
    use crate::encoder::Backend;
    let mut chain = Vec::new();
    let mut ok = true;
    for (name, at) in list {
        match Backend::from_name(name) {
            Some(b) if chain.contains(&b) => {
                cx.error(key, *at, format!("{name:?} is listed twice"));
                ok = false;
            }
            Some(b) => chain.push(b),
            None => {
                cx.error(
                    key,
                    *at,
                    format!("unknown encoder {name:?}: use \"v4l2-m2m\", \"vaapi\", \"mpp\" or \"software\""),
                );
                ok = false;
            }
        }
    }
    if ok && chain.last() != Some(&Backend::Software) {
        let at = list.last().map_or(0, |(_, a)| *a);
        cx.error(
            key,
            at,
            "must end with \"software\" (the encoder that is always there)".into(),
        );
        ok = false;
    }
    ok.then_some(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn minimal_config_gets_contract_defaults() {
        let p = parse("url = \"rtmp://h/live/k\"").unwrap();
        let c = p.config;
        assert_eq!(c.mode, Mode::Rtc);
        assert!(!c.autopush && !c.muted && c.enable_camera && c.auto_focus);
        assert_eq!(c.orientation, Orientation::Vertical);
        assert_eq!(c.aspect, Aspect::A9x16);
        assert_eq!((c.min_bitrate, c.max_bitrate), (200, 1000));
        assert_eq!((c.beauty, c.whiteness), (0, 0));
        assert_eq!(c.video.device, VideoDevice::TestPattern);
        assert_eq!(c.audio.device, AudioDevice::Sine);
        assert_eq!(c.events, EventsTo::Stdout);
        assert!(p.notices.is_empty());
    }

    #[test]
    fn every_error_is_reported_with_position() {
        let text = "url = \"http://h/live/k\"\nbeauty = 12\naspect = \"4:3\"\nmuted = \"yes\"\nmin_bitrate = 5\n[video]\nwidth = 321\nheight = 180\ncolour = 1\n";
        let e = errors(text);
        assert_eq!(
            e,
            vec![
                "line 1, column 7: key `url`: scheme must be rtmp:// or rtmps://, got http",
                "line 2, column 10: key `beauty`: must be 0..9, got 12",
                "line 3, column 10: key `aspect`: must be one of \"3:4\", \"9:16\", got \"4:3\"",
                "line 4, column 9: key `muted`: expected true or false, got a string",
                "line 5, column 1: key `min_bitrate`: unknown key (keys are kebab-case: `min-bitrate`?)",
                "line 7, column 9: key `video.width`: must be even, got 321",
                "line 9, column 1: key `video.colour`: unknown key",
            ]
        );
    }

    #[test]
    fn bitrate_order_and_missing_url() {
        let e = errors("min-bitrate = 900\nmax-bitrate = 800\n");
        assert_eq!(
            e,
            vec![
                "line 1, column 1: key `url`: required: the push address, rtmp://host/app/key",
                "line 1, column 15: key `min-bitrate`: min-bitrate (900) must not exceed max-bitrate (800)",
            ]
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let e = errors("url = \"rtmp://h/live/k\"\nmode = \n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("line 2, column "), "{e:?}");
    }

    #[test]
    fn url_errors_never_show_the_key() {
        let e = errors("url = \"rtmp://h:99999/live/SUPERSECRET\"");
        assert_eq!(
            e,
            vec!["line 1, column 7: key `url`: port must be a number from 1 to 65535"]
        );
    }

    #[test]
    fn not_yet_supported_keys_are_notices() {
        let p = parse(
            "url = \"rtmp://h/live/k\"\nautopush = false\nbeauty = 3\nwaiting-image = \"https://h/x.png\"\n[video]\ndevice = \"/dev/video0\"\n[audio]\ndevice = \"hw:0\"\n[network]\nca-file = \"/ca.pem\"\n",
        )
        .unwrap();
        let keys: Vec<(&str, bool)> = p
            .notices
            .iter()
            .map(|n| (n.key.as_str(), n.blocks_run))
            .collect();
        assert_eq!(keys, vec![("network.ca-file", false)], "beauty is built");
        assert_eq!(
            p.config.video.device,
            VideoDevice::V4l2("/dev/video0".into())
        );
    }

    #[test]
    fn control_listeners_pause_settings_and_the_token_rule() {
        let c = parse("url = \"rtmp://h/a/k\"\n").unwrap().config;
        assert_eq!(
            c.control.listen,
            vec![Listen::Unix(DEFAULT_CONTROL_SOCKET.into())]
        );
        assert_eq!((c.pause_fps, c.pause_time_s, c.autopush), (5, 300, false));
        let c = parse("url = \"rtmp://h/a/k\"\npause-fps = 2\npause-time = 30\n[control]\nlisten = [\"unix:/tmp/c.sock\", \"tcp:127.0.0.1:8088\"]\nstop-closes-camera = true\n").unwrap().config;
        assert_eq!((c.pause_fps, c.pause_time_s), (2, 30));
        assert_eq!(
            c.control.listen,
            vec![
                Listen::Unix("/tmp/c.sock".into()),
                Listen::Tcp("127.0.0.1:8088".parse().unwrap())
            ]
        );
        assert!(c.control.stop_closes_camera);
        assert!(parse("url = \"rtmp://h/a/k\"\n[control]\nlisten = []\n")
            .unwrap()
            .config
            .control
            .listen
            .is_empty());
        // off loopback only with a token
        assert_eq!(
            errors("url = \"rtmp://h/a/k\"\n[control]\nlisten = \"tcp:0.0.0.0:8088\"\n"),
            vec!["line 3, column 10: key `control.listen`: tcp:0.0.0.0:8088 is reachable from other machines: set control.token-file (a bearer token every request must carry)"]
        );
        let c = parse("url = \"rtmp://h/a/k\"\n[control]\nlisten = \"tcp:0.0.0.0:8088\"\ntoken-file = \"/etc/livepush/token\"\n").unwrap().config;
        assert_eq!(c.control.token_file.as_deref(), Some("/etc/livepush/token"));
        assert_eq!(
            errors("url = \"rtmp://h/a/k\"\npause-fps = 0\n[control]\nlisten = \"tcp:box.local:80\"\n"),
            vec![
                "line 2, column 13: key `pause-fps`: must be 1..30, got 0",
                "line 4, column 10: key `control.listen`: must be \"unix:/ABSOLUTE/PATH\" or \"tcp:IP:PORT\" (an address, not a name), got \"tcp:box.local:80\""
            ]
        );
    }

    #[test]
    fn encoder_chains_and_board_profiles_are_checked_with_positions() {
        use crate::encoder::Backend;
        let p = parse("url = \"rtmp://h/a/k\"\nboard = \"rpi4\"\n[video]\nencoders = [\"mpp\", \"software\"]\n").unwrap();
        assert_eq!(
            p.config.video.encoders,
            Some(vec![Backend::Mpp, Backend::Software])
        );
        assert_eq!(p.config.board.as_deref(), Some("rpi4"));
        assert_eq!(
            errors("url = \"rtmp://h/a/k\"\n[video]\nencoders = [\"gpu\", \"software\", \"software\"]\n"),
            vec![
                "line 3, column 13: key `video.encoders`: unknown encoder \"gpu\": use \"v4l2-m2m\", \"vaapi\", \"mpp\" or \"software\"",
                "line 3, column 32: key `video.encoders`: \"software\" is listed twice",
            ]
        );
        assert_eq!(
            errors("url = \"rtmp://h/a/k\"\n[video]\nencoders = [\"software\", \"vaapi\"]\n"),
            vec!["line 3, column 25: key `video.encoders`: must end with \"software\" (the encoder that is always there)"]
        );
    }

    #[test]
    fn the_board_is_found_in_a_config_that_is_otherwise_refused() {
        assert_eq!(
            board_named("url = 5\nboard = \"rpi4\"\n[video]\nbogus = 1\n").as_deref(),
            Some("rpi4")
        );
        assert_eq!(board_named("board = \"../x\"\n"), None);
        assert_eq!(board_named("board = \"rpi4\"\n[[["), None, "not TOML");
        assert_eq!(
            board_named("[video]\nboard = \"rpi4\"\n"),
            None,
            "not top level"
        );
    }

    #[test]
    fn sample_rate_and_md5_validation() {
        let e = errors(
            "url = \"rtmp://h/a/k\"\nwaiting-image-md5 = \"abc\"\n[audio]\nsample-rate = 22050\n",
        );
        assert_eq!(
            e,
            vec![
                "line 2, column 21: key `waiting-image-md5`: must be 32 hexadecimal digits",
                "line 4, column 15: key `audio.sample-rate`: 22050 Hz is not supported: use 48000 or 44100",
            ]
        );
    }

    #[test]
    fn devices_by_path_card_name_and_alsa_name() {
        let p = parse("url = \"rtmp://h/a/k\"\n[video]\ndevice = \"card:vivid\"\n[audio]\ndevice = \"hw:Loopback,1,0\"\n").unwrap();
        assert_eq!(
            p.config.video.device,
            VideoDevice::V4l2("card:vivid".into())
        );
        assert_eq!(
            p.config.audio.device,
            AudioDevice::Alsa("hw:Loopback,1,0".into())
        );
        assert!(p.notices.is_empty(), "{:?}", p.notices);
        let e = errors("url = \"rtmp://h/a/k\"\n[video]\ndevice = \"video0\"\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("line 3, column 10: key `video.device`: must be"),
            "{e:?}"
        );
        let p =
            parse("url = \"rtmp://h/a/k\"\n[video]\ndevice = \"mjpeg:/srv/cam.mjpeg\"\n").unwrap();
        assert_eq!(
            p.config.video.device,
            VideoDevice::MjpegFile("/srv/cam.mjpeg".into())
        );
        assert_eq!(p.config.video.device.to_string(), "mjpeg:/srv/cam.mjpeg");
        assert_eq!(
            errors("url = \"rtmp://h/a/k\"\n[video]\ndevice = \"mjpeg:\"\n").len(),
            1
        );
    }

    #[test]
    fn many_errors_are_capped_and_positioned_in_linear_time() {
        // 40,000 unknown keys took 22 s when each position rescanned the text
        let mut text = String::from("url = \"rtmp://h/live/k\"\n");
        for i in 0..40_000 {
            text.push_str(&format!("unknown-{i} = 1\n"));
        }
        let t = std::time::Instant::now();
        let errs = super::parse(&text).unwrap_err();
        let took = t.elapsed();
        assert_eq!(errs.len(), MAX_ERRORS + 1);
        assert_eq!((errs[0].line, errs[0].column), (2, 1), "{}", errs[0]);
        assert_eq!(errs[99].line, 101, "{}", errs[99]);
        assert!(
            errs[MAX_ERRORS].message.contains("and 39900 more errors"),
            "{}",
            errs[MAX_ERRORS]
        );
        // generous: this is not a benchmark, it catches a return of the
        // quadratic scan (tens of seconds)
        assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn positions_count_characters_and_survive_multibyte_text() {
        let errs = errors("# é è ê\nurl = \"rtmp://h/live/k\"\nvideo = { \"é\" = 1, wrong = 2 }\n");
        assert!(
            errs.iter().any(|e| e.starts_with("line 3, column 20:")),
            "{errs:?}"
        );
    }

    #[test]
    fn the_stream_key_may_live_in_its_own_file() {
        let p = parse("url = \"rtmp://h/app/_definst_\"\nurl-key-file = \"/etc/livepush/key\"\n")
            .unwrap();
        assert_eq!(p.config.url_key_file.as_deref(), Some("/etc/livepush/key"));
        assert_eq!(p.config.url.app, "app/_definst_");
        assert_eq!(p.config.url.stream_key(), "");
        // without it, a url without a key is an error, as before
        assert!(errors("url = \"rtmp://h/live\"\n")[0].contains("no stream key"));
        assert!(errors("url = \"rtmp://h/live\"\nurl-key-file = \"\"\n")
            .iter()
            .any(|e| e.contains("url-key-file") && e.contains("must name a file")));
    }
}
