//! livepush: an unattended live-streaming camera box (the uni-app / WeChat
//! `live-pusher` rebuilt as firmware). See README.md.
//!
//! Exit codes: 0 success; 1 runtime failure (media path failed, I/O error);
//! 2 bad command line or config (nothing was started).

mod alloc_count;
mod boards;
mod clock;
mod commands;
mod control;
mod events_out;
mod files;
mod hw;
mod indicate;
mod mailbox;
mod media;
mod metrics;
mod net;
mod service;
mod shell;

use std::process::ExitCode;
use std::time::Duration;

use argh::FromArgs;

/// livepush: push a camera and microphone to an RTMP server, unattended.
#[derive(FromArgs)]
struct Cli {
    #[argh(subcommand)]
    cmd: Cmd,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Cmd {
    Run(RunCmd),
    Probe(ProbeCmd),
    CheckConfig(CheckCmd),
    Receive(ReceiveCmd),
    Demo(DemoCmd),
    Bench(BenchCmd),
    MicCheck(MicCheckCmd),
    EncoderCheck(EncoderCheckCmd),
    Indicators(IndicatorsCmd),
    Ctl(CtlCmd),
    Status(StatusCmd),
}

/// The box's state on one screen (the control API's status in words; exit 1 when not healthy).
#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
struct StatusCmd {
    /// the control socket (default /run/livepush/control.sock)
    #[argh(option)]
    socket: Option<String>,
    /// the API over TCP instead, e.g. http://192.168.1.50:8088
    #[argh(option)]
    url: Option<String>,
    /// a file holding the bearer token (for --url)
    #[argh(option)]
    token_file: Option<String>,
    /// print the API's JSON as it is (what `ctl status` prints)
    #[argh(switch)]
    json: bool,
}

/// Steer a running livepush through its control API: start, stop, pause, resume, status, events.
#[derive(FromArgs)]
#[argh(subcommand, name = "ctl")]
struct CtlCmd {
    /// the control socket (default /run/livepush/control.sock)
    #[argh(option)]
    socket: Option<String>,
    /// the API over TCP instead, e.g. http://192.168.1.50:8088
    #[argh(option)]
    url: Option<String>,
    /// a file holding the bearer token (for --url)
    #[argh(option)]
    token_file: Option<String>,
    /// a snapshot's JPEG file (default snapshot.jpg)
    #[argh(option)]
    out: Option<String>,
    /// snapshot: JPEG quality 1..100 (default 85)
    #[argh(option)]
    quality: Option<u8>,
    /// snapshot: scale to this width (even)
    #[argh(option)]
    width: Option<u32>,
    /// start, stop, pause, resume, start-preview, stop-preview, switch-camera, snapshot, status or events
    #[argh(positional)]
    command: String,
}

/// Walk every phase on the board's status LEDs and display, a few seconds each (assembly check).
#[derive(FromArgs)]
#[argh(subcommand, name = "indicators")]
struct IndicatorsCmd {
    /// walk the phases (the command's one mode)
    #[argh(switch)]
    test: bool,
    /// board profile id (default: the one the config names)
    #[argh(option)]
    board: Option<String>,
    /// config file naming the board (default /etc/livepush/livepush.toml)
    #[argh(option, short = 'c')]
    config: Option<String>,
    /// only this phase (live, reconnecting, no-camera, ...)
    #[argh(option)]
    phase: Option<String>,
    /// seconds per phase (default 4)
    #[argh(option, default = "4.0")]
    seconds: f64,
}

/// Run one encoder backend on the test pattern and report what came out (field check of a hardware encoder).
#[derive(FromArgs)]
#[argh(subcommand, name = "encoder-check")]
struct EncoderCheckCmd {
    /// backend: v4l2-m2m, vaapi, mpp or software (default v4l2-m2m)
    #[argh(option, default = "String::from(\"v4l2-m2m\")")]
    backend: String,
    /// M2M device (default: the first that offers the codec)
    #[argh(option)]
    device: Option<String>,
    /// M2M codec fourcc (default H264; FWHT for vicodec)
    #[argh(option, default = "String::from(\"H264\")")]
    codec: String,
    /// width (default 640)
    #[argh(option, default = "640")]
    width: u32,
    /// height (default 360)
    #[argh(option, default = "360")]
    height: u32,
    /// frames per second (default 30)
    #[argh(option, default = "30")]
    fps: u32,
    /// key frame every this many frames (default 30)
    #[argh(option, default = "30")]
    gop: u32,
    /// target bitrate, kbit/s (default 1000)
    #[argh(option, default = "1000")]
    kbps: u32,
    /// pictures to encode (default 90)
    #[argh(option, default = "90")]
    frames: u64,
    /// write the encoded frames to this file
    #[argh(option)]
    out: Option<String>,
    /// test hook: stop the M2M CAPTURE queue after this many pictures
    #[argh(option)]
    stream_off_after: Option<u64>,
    /// take pictures from this V4L2 camera (v4l2-m2m only; DMABUF import when the layouts agree)
    #[argh(option)]
    camera: Option<String>,
    /// with --camera: also write the pictures taken (I420) to this file
    #[argh(option)]
    raw_out: Option<String>,
}

/// Record from an ALSA capture PCM (field check of a microphone): raw s16le to a file.
#[derive(FromArgs)]
#[argh(subcommand, name = "mic-check")]
struct MicCheckCmd {
    /// ALSA PCM name, e.g. default or hw:1,0
    #[argh(option, default = "String::from(\"default\")")]
    device: String,
    /// sample rate (default 48000)
    #[argh(option, default = "48000")]
    rate: u32,
    /// channels (default 2)
    #[argh(option, default = "2")]
    channels: u8,
    /// frames to record (default 48000)
    #[argh(option, default = "48000")]
    frames: usize,
    /// raw s16le output file (default: none, only the summary)
    #[argh(option)]
    out: Option<String>,
}

/// List cameras, microphones and every encoder backend with whether it can run here.
#[derive(FromArgs)]
#[argh(subcommand, name = "probe")]
struct ProbeCmd {
    /// board profile id, for its M2M encoder node (e.g. rpi4)
    #[argh(option)]
    board: Option<String>,
}

/// Benchmark livepush against GStreamer and ffmpeg on the same input (prints a table).
#[derive(FromArgs)]
#[argh(subcommand, name = "bench")]
struct BenchCmd {
    /// seconds per run (default 60)
    #[argh(option, default = "60")]
    seconds: u32,
    /// directory for generated inputs (default target/bench)
    #[argh(option)]
    dir: Option<String>,
    /// measure beauty and whiteness at 720p instead (per level, beside the
    /// software encoder and ffmpeg's nearest filters)
    #[argh(switch)]
    filters: bool,
    /// with --filters: how many pictures (default 150)
    #[argh(option, default = "150")]
    frames: u32,
}

/// Run the service: capture, encode and push as the config says, reconnecting forever.
#[derive(FromArgs)]
#[argh(subcommand, name = "run")]
struct RunCmd {
    /// config file (TOML), e.g. /etc/livepush/livepush.toml
    #[argh(option, short = 'c')]
    config: String,
    /// stop by itself after this many seconds (default: run until SIGTERM/SIGINT)
    #[argh(option)]
    seconds: Option<f64>,
    /// for soak tests: synthetic sources (test-pattern, sine, file:, mjpeg:)
    /// produce media N times as fast as real time, timestamped on the media
    /// clock (2..1000; not with a camera or microphone)
    #[argh(option)]
    fast_clock: Option<u32>,
}

/// Check a config file: prints OK, or every error with line and column (exit 2).
#[derive(FromArgs)]
#[argh(subcommand, name = "check-config")]
struct CheckCmd {
    /// config file (TOML)
    #[argh(positional)]
    file: String,
}

/// Built-in RTMP server: accept a publisher and record it as an FLV file.
#[derive(FromArgs)]
#[argh(subcommand, name = "receive")]
struct ReceiveCmd {
    /// address to listen on, e.g. 127.0.0.1:1935
    #[argh(option)]
    listen: String,
    /// FLV file to write
    #[argh(option)]
    out: String,
    /// accept only this stream key; other publishers are rejected
    #[argh(option)]
    key: Option<String>,
    /// keep accepting publishers after the first one ends (appends)
    #[argh(switch)]
    keep_listening: bool,
    /// connections open at once; more are closed at accept (default 128)
    #[argh(option, default = "128")]
    max_connections: usize,
    /// seconds a connection may take to finish the RTMP handshake, and a
    /// read or write may make no progress (default 10; the handshake gets
    /// half of it)
    #[argh(option, default = "10")]
    io_timeout: u64,
}

/// Demo: built-in receiver + pusher on loopback with a test pattern and a tone.
#[derive(FromArgs)]
#[argh(subcommand, name = "demo")]
struct DemoCmd {
    /// how long to push, seconds (default 10)
    #[argh(option, default = "10.0")]
    seconds: f64,
    /// FLV file to write (default livepush-demo.flv)
    #[argh(option, default = "String::from(\"livepush-demo.flv\")")]
    out: String,
    /// preset: SD, HD, FHD or RTC (default SD)
    #[argh(option, default = "String::from(\"SD\")")]
    mode: String,
}

/// Logs go to journald, with structured fields and no timestamps of ours,
/// when systemd started us with stderr on the journal (`JOURNAL_STREAM`);
/// else to stderr with timestamps (`RUST_LOG` filters either way; under
/// journald only a plain level such as `debug` is understood).
fn init_logging() {
    if systemd_journal_logger::connected_to_journal() {
        let level = std::env::var("RUST_LOG")
            .ok()
            .and_then(|v| v.parse::<log::LevelFilter>().ok())
            .unwrap_or(log::LevelFilter::Info);
        let installed = systemd_journal_logger::JournalLog::new()
            .map(|j| j.with_syslog_identifier("livepush".into()).install());
        if let Ok(Ok(())) = installed {
            log::set_max_level(level);
            return;
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
}

fn main() -> ExitCode {
    init_logging();
    let cli: Cli = argh::from_env();
    match cli.cmd {
        Cmd::CheckConfig(c) => check_config(&c.file),
        Cmd::Run(r) => run(&r),
        Cmd::Probe(p) => {
            let m2m = match p.board.as_deref().map(boards::load) {
                None => None,
                Some(Ok(b)) => b.m2m_encoder,
                Some(Err(e)) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            print!("{}", commands::probe::report(m2m.as_deref()));
            ExitCode::SUCCESS
        }
        Cmd::Receive(r) => receive(&r),
        Cmd::MicCheck(m) => commands::mic_check::run(&m),
        Cmd::EncoderCheck(c) => encoder_check(c),
        Cmd::Indicators(i) => indicators(&i),
        Cmd::Ctl(c) => match commands::ctl::target(c.socket, c.url, c.token_file) {
            Ok(t) => {
                let mut body = serde_json::Map::new();
                if let Some(q) = c.quality {
                    body.insert("quality".into(), q.into());
                }
                if let Some(w) = c.width {
                    body.insert("width".into(), w.into());
                }
                let body = (!body.is_empty()).then(|| serde_json::Value::Object(body).to_string());
                commands::ctl::run(&t, &c.command, body.as_deref(), c.out.as_deref())
            }
            Err(e) => {
                eprintln!("livepush ctl: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Status(s) => match commands::ctl::target(s.socket, s.url, s.token_file) {
            Ok(t) => commands::status::run(&t, s.json),
            Err(e) => {
                eprintln!("livepush status: {e}");
                ExitCode::from(2)
            }
        },
        Cmd::Bench(b) => match if b.filters {
            commands::bench_filters::run(
                b.frames,
                &b.dir
                    .map(Into::into)
                    .unwrap_or_else(commands::bench::default_dir),
            )
        } else {
            commands::bench::run(
                b.seconds,
                &b.dir
                    .map(Into::into)
                    .unwrap_or_else(commands::bench::default_dir),
            )
        } {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("livepush bench: {e}");
                ExitCode::from(1)
            }
        },
        Cmd::Demo(d) => match commands::demo::run(d.seconds, &d.out, &d.mode) {
            Ok(report) => {
                eprintln!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("livepush demo: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn indicators(i: &IndicatorsCmd) -> ExitCode {
    use livepush_core::indicate::Phase;
    if !i.test {
        eprintln!(
            "livepush indicators: say --test (walks every phase on the board's LEDs and display)"
        );
        return ExitCode::from(2);
    }
    let id = match (&i.board, &i.config) {
        (Some(b), _) => b.clone(),
        (None, c) => {
            let path = c.as_deref().unwrap_or("/etc/livepush/livepush.toml");
            match load(path).map(|p| p.config.board) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    eprintln!("{path}: names no board; say --board ID");
                    return ExitCode::from(2);
                }
                Err(errs) => {
                    for e in errs {
                        eprintln!("{e}");
                    }
                    return ExitCode::from(2);
                }
            }
        }
    };
    let board = match boards::load(&id) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let phases: Vec<Phase> = match &i.phase {
        None => Phase::ALL.iter().rev().copied().collect(),
        Some(name) => match Phase::from_name(name) {
            Some(p) => vec![p],
            None => {
                let all: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
                eprintln!("--phase {name:?}: one of {}", all.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    if !(i.seconds > 0.0 && i.seconds <= 3600.0) {
        eprintln!("--seconds: 0..3600");
        return ExitCode::from(2);
    }
    match commands::indicators::run(&board, &phases, Duration::from_secs_f64(i.seconds)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("livepush indicators: {e}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn load(path: &str) -> Result<livepush_core::config::Parsed, Vec<String>> {
    let text = files::read_text(path, "config", files::CONFIG_LIMIT).map_err(|e| vec![e])?;
    let mut parsed = livepush_core::config::parse(&text).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{path}: {e}"))
            .collect::<Vec<_>>()
    })?;
    if let Some(f) = parsed.config.url_key_file.clone() {
        let key = files::read_key_file(&f).map_err(|e| vec![format!("{path}: {e}")])?;
        parsed.config.url = parsed.config.url.with_key(&key);
    }
    Ok(parsed)
}

/// The waiting image as I420 at the output size, checked and decoded exactly
/// as `run` uses it (`check-config` calls this too), when one is configured.
pub(crate) fn waiting_image(
    config: &livepush_core::config::Config,
) -> Result<Option<Vec<u8>>, String> {
    let v = config.video_params();
    match &config.waiting_image {
        Some(url) if url.contains("://") && config.enable_camera => {
            // fetched (or the cached copy); a failure is a warning: the card
            let md5 = config.waiting_image_md5.as_deref();
            let ca = config.network.ca_file.as_deref();
            Ok(net::fetch::waiting_image(url, md5, ca).and_then(|b| {
                let shown = net::fetch::redact(url);
                hw::still::decode(&b, &shown, v.width, v.height)
                    .map_err(|e| log::warn!("{e}: the generated card is shown instead"))
                    .ok()
            }))
        }
        Some(path) if config.enable_camera => {
            hw::still::load(path, config.waiting_image_md5.as_deref(), v.width, v.height).map(Some)
        }
        _ => Ok(None),
    }
}

fn check_config(path: &str) -> ExitCode {
    match load(path) {
        Ok(p) => {
            for n in &p.notices {
                println!(
                    "{path}: {n}{}",
                    if n.blocks_run {
                        " (livepush run refuses to start)"
                    } else {
                        ""
                    }
                );
            }
            let board = match p.config.board.as_deref().map(boards::load) {
                None => None,
                Some(Ok(b)) => Some(b),
                Some(Err(e)) => {
                    println!("{path}: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Err(e) = waiting_image(&p.config) {
                println!("{path}: {e}");
                return ExitCode::from(2);
            }
            let chain = p
                .config
                .video
                .encoders
                .clone()
                .or_else(|| board.as_ref().map(|b| b.encoders.clone()))
                .unwrap_or_else(|| vec![livepush_core::encoder::Backend::Software]);
            let chain: Vec<&str> = chain.iter().map(|b| b.name()).collect();
            let v = p.config.video_params();
            println!(
                "OK: {} -> {}x{} {} fps, key frame every {} frames, {} kbps video; {} Hz {} ch audio; encoders {}{}",
                p.config.url, v.width, v.height, v.fps, v.gop_frames, v.bitrate_kbps, p.config.audio.sample_rate, p.config.audio.channels,
                chain.join(" > "),
                board.map_or(String::new(), |b| format!(" (board: {})", b.name))
            );
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in errs {
                println!("{e}");
            }
            ExitCode::from(2)
        }
    }
}

/// A refused config on the board's LEDs and display, when the file names
/// a board that can be loaded (what the box shows until the config is fixed).
fn show_bad_config(path: &str, why: &str) {
    let Ok(text) = files::read_text(path, "config", files::CONFIG_LIMIT) else {
        return;
    };
    let Some(board) =
        livepush_core::config::board_named(&text).and_then(|id| boards::load(&id).ok())
    else {
        return;
    };
    let why = why.strip_prefix(&format!("{path}: ")).unwrap_or(why);
    indicate::show_bad_config(&board, why);
}

fn run(r: &RunCmd) -> ExitCode {
    let parsed = match load(&r.config) {
        Ok(p) => p,
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            if let Some(first) = errs.first() {
                show_bad_config(&r.config, first);
            }
            return ExitCode::from(2);
        }
    };
    let mut blocked = false;
    for n in &parsed.notices {
        log::warn!("{}: {n}", r.config);
        blocked |= n.blocks_run;
    }
    if blocked {
        eprintln!(
            "{}: not starting: the settings above are not supported by this build",
            r.config
        );
        show_bad_config(
            &r.config,
            "a setting this build does not support: see the log",
        );
        return ExitCode::from(2);
    }
    if let Err(e) = preflight(&parsed.config) {
        eprintln!("{}: {e}", r.config);
        return ExitCode::from(2);
    }
    let events = match events_out::EventWriter::open(&parsed.config.events) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: {e}", r.config);
            return ExitCode::from(2);
        }
    };
    let waiting_image = match waiting_image(&parsed.config) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", r.config);
            return ExitCode::from(2);
        }
    };
    let tls = match parsed.config.url.scheme {
        livepush_core::rtmp::url::Scheme::Rtmps => {
            match net::tls::client_config(parsed.config.network.ca_file.as_deref()) {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("{}: {e}", r.config);
                    return ExitCode::from(2);
                }
            }
        }
        livepush_core::rtmp::url::Scheme::Rtmp => None,
    };
    let board = match parsed.config.board.as_deref().map(boards::load) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            eprintln!("{}: {e}", r.config);
            return ExitCode::from(2);
        }
    };
    let control_token = match parsed.config.control.token_file.as_deref() {
        None => None,
        Some(f) => match files::read_token_file(f) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("{}: {e}", r.config);
                return ExitCode::from(2);
            }
        },
    };
    let fast_clock = match r.fast_clock {
        None => 1,
        Some(n) if !(2..=1000).contains(&n) => {
            eprintln!("--fast-clock: 2..1000, got {n}");
            return ExitCode::from(2);
        }
        Some(n) => {
            use livepush_core::config::{AudioDevice, VideoDevice};
            let c = &parsed.config;
            let camera = c.enable_camera
                && c.video
                    .devices
                    .iter()
                    .any(|d| matches!(d, VideoDevice::V4l2(_)));
            if camera || matches!(c.audio.device, AudioDevice::Alsa(_)) {
                eprintln!("--fast-clock: synthetic sources only (a camera or microphone runs on its own clock)");
                return ExitCode::from(2);
            }
            log::warn!(
                "--fast-clock {n}: media time runs {n} times as fast as real time (a test mode)"
            );
            n
        }
    };
    let opts = shell::RunOptions {
        fast_clock,
        control_token,
        config_path: Some(r.config.clone()),
        config: parsed.config,
        board,
        tls,
        stop_after: r.seconds.map(Duration::from_secs_f64),
        report_allocations: true,
        waiting_image,
        events,
    };
    let wall = clock::wall();
    if !wall.synchronized {
        // (the time in log lines may jump when NTP answers; timestamps,
        // timers and reconnects run on the monotonic clock and do not)
        log::warn!(
            "the system clock ({}) is not synchronised yet: wall times in logs may jump; the stream's timestamps and timers do not use it",
            wall.utc
        );
    }
    match shell::run(opts) {
        Ok(s) => {
            log::info!(
                "stopped: {} publishes, {} video and {} audio frames sent",
                s.publishes,
                s.video_frames_sent,
                s.audio_frames_sent
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livepush: {e}");
            ExitCode::from(1)
        }
    }
}

/// Checks what can be checked before anything starts, so a bad setting never
/// leaves half a pipeline running.
pub(crate) fn preflight(cfg: &livepush_core::config::Config) -> Result<(), String> {
    use livepush_core::config::{AudioDevice, VideoDevice};
    if cfg.enable_camera {
        for d in &cfg.video.devices {
            if let VideoDevice::RawFile(spec) = d {
                let v = cfg.video_params();
                let (p, size) = livepush_core::config::raw_file_size(spec);
                let (w, h) = size.unwrap_or((v.width, v.height));
                let len = std::fs::metadata(p)
                    .map_err(|e| format!("video.device file:{p}: {e}"))?
                    .len();
                let frame = u64::from(w * h * 3 / 2);
                if len < frame {
                    return Err(format!(
                        "video.device file:{p}: {len} bytes, less than one {w}x{h} I420 frame"
                    ));
                }
            }
        }
    }
    if cfg.enable_camera
        && cfg.video.encoder == livepush_core::config::EncoderChoice::X264
        && !cfg!(feature = "x264")
    {
        return Err("video.encoder = \"x264\": x264 is not built into this binary (cargo build --features x264)".into());
    }
    if cfg.enable_camera {
        for d in &cfg.video.devices {
            if let VideoDevice::MjpegFile(_) = d {
                let v = cfg.video_params();
                crate::hw::synthetic::VideoSource::open(d, v.width, v.height)?;
            }
        }
    }
    if let AudioDevice::RawFile(p) = &cfg.audio.device {
        std::fs::File::open(p).map_err(|e| format!("audio.device file:{p}: {e}"))?;
    }
    Ok(())
}

fn receive(r: &ReceiveCmd) -> ExitCode {
    let listener = match std::net::TcpListener::bind(&r.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("livepush receive: {}: {e}", r.listen);
            return ExitCode::from(2);
        }
    };
    log::info!("receive: listening on {}", r.listen);
    if r.max_connections == 0 || r.io_timeout == 0 {
        eprintln!("livepush receive: --max-connections and --io-timeout must be at least 1");
        return ExitCode::from(2);
    }
    let io = Duration::from_secs(r.io_timeout);
    let opts = commands::receive::ReceiveOptions {
        key: r.key.clone(),
        keep_listening: r.keep_listening,
        max_connections: r.max_connections,
        handshake_timeout: io / 2,
        publish_timeout: io,
        io_timeout: io,
        ..commands::receive::ReceiveOptions::new(&r.out)
    };
    match commands::receive::serve(listener, &opts) {
        Ok(s) => {
            eprintln!(
                "receive: wrote {}: {} video and {} audio tags, {:.1} s",
                r.out,
                s.video_tags,
                s.audio_tags,
                f64::from(s.last_ts_ms) / 1000.0
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("livepush receive: {e}");
            ExitCode::from(1)
        }
    }
}

fn encoder_check(c: EncoderCheckCmd) -> ExitCode {
    let Some(backend) = livepush_core::encoder::Backend::from_name(&c.backend) else {
        eprintln!(
            "unknown backend {:?} (v4l2-m2m, vaapi, mpp, software)",
            c.backend
        );
        return ExitCode::from(2);
    };
    let Ok(codec) = <[u8; 4]>::try_from(c.codec.as_bytes()) else {
        eprintln!(
            "--codec must be a four-character code such as H264, got {:?}",
            c.codec
        );
        return ExitCode::from(2);
    };
    let check = commands::encoder_check::Check {
        backend,
        device: c.device,
        codec,
        params: livepush_core::config::VideoParams {
            width: c.width,
            height: c.height,
            fps: c.fps,
            gop_frames: c.gop,
            bitrate_kbps: c.kbps,
            max_kbps: c.kbps,
        },
        frames: c.frames,
        out: c.out,
        stream_off_after: c.stream_off_after,
        camera: c.camera,
        raw_out: c.raw_out,
    };
    match commands::encoder_check::run(&check) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
