//! The video thread: paced capture from the configured source, H.264 encoding,
//! encoded frames to the loop. A frame the loop cannot take right now is
//! dropped here (and the next one is made a key frame), never queued without bound.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use livepush_core::config::{EncoderChoice, VideoDevice, VideoParams};
use livepush_core::encoder::chain::{ChainConfig, EncoderChain, Next};
use livepush_core::encoder::gop_check::GopCheck;
use livepush_core::encoder::settings::EncoderSettings;

use super::{sleep_until, take_commands, EncodedVideo, MediaMsg, Wiring};
use crate::hw::synthetic::VideoSource;
use crate::hw::v4l2::{Camera, CameraError};
use crate::hw::{Polled, Submitted, Tuning, VideoEncoder, I420};
use crate::shell::Msg;
use livepush_core::supervisor::Input;

/// What the video thread captures and how it encodes.
pub struct VideoJob {
    /// The source.
    pub device: VideoDevice,
    /// Switch on continuous auto focus where the camera has it.
    pub auto_focus: bool,
    /// The software H.264 encoder (the chain's last link).
    pub encoder: EncoderChoice,
    /// The encoder chain (board profile or `[video] encoders`).
    pub chain: ChainConfig,
    /// The board's M2M encoder node, if it names one.
    pub m2m_device: Option<String>,
    /// Test hook: the first encoder fails after this many frames (once per run).
    pub inject_fault_after: Option<u64>,
    /// Output size, rate, GOP, bitrate.
    pub params: VideoParams,
    /// RTC mode (Constrained Baseline).
    pub rtc: bool,
    /// The waiting image (I420 at the output size), shown while the camera is lost.
    pub still: Option<Vec<u8>>,
}

/// Starts the video thread.
pub fn spawn(job: VideoJob, wiring: Wiring) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("video".into())
        .spawn(move || run(job, wiring))
        .expect("spawn video thread")
}

/// Where pictures come from.
enum Source {
    /// Test pattern or raw file, paced by this thread.
    Synthetic(VideoSource),
    /// A V4L2 camera, paced by the driver.
    Camera(Camera),
    /// The camera went away: the no-signal card, paced here, and reopen attempts.
    Lost {
        /// Failed reopen attempts so far.
        attempt: u32,
        /// When to try again.
        retry_at: Instant,
    },
}

impl Source {
    fn open(device: &VideoDevice, p: &VideoParams, auto_focus: bool) -> Result<Self, Input> {
        match device {
            VideoDevice::V4l2(spec) => Camera::open(spec, p.width, p.height, p.fps, auto_focus)
                .map(Source::Camera)
                .map_err(camera_input),
            other => VideoSource::open(other, p.width, p.height)
                .map(Source::Synthetic)
                .map_err(Input::CameraFailed),
        }
    }

    fn paced_here(&self) -> bool {
        matches!(self, Source::Synthetic(_))
    }
}

/// First and longest wait between attempts to reopen a lost camera.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Tells the loop the camera is open (1003) and whether its size was adjusted
/// (1005). False when the loop has gone.
fn announce(source: &Source, p: &VideoParams, send: &impl Fn(MediaMsg) -> bool) -> bool {
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

fn camera_input(e: CameraError) -> Input {
    match e {
        CameraError::Open {
            msg,
            permission: true,
        } => Input::CameraPermission(msg),
        CameraError::Open { msg, .. } | CameraError::Lost(msg) => Input::CameraFailed(msg),
        CameraError::Mode(msg) => Input::CameraMode(msg),
    }
}

fn run(job: VideoJob, wiring: Wiring) {
    let VideoJob {
        device,
        auto_focus,
        encoder: encoder_choice,
        chain,
        m2m_device,
        inject_fault_after,
        params: p,
        rtc,
        still,
    } = job;
    let wedge_ms = chain.wedge_after.as_millis();
    let mut chain = EncoderChain::new(chain);
    let mut gop = GopCheck::new(p.gop_frames);
    // once a backend is seen ignoring the key-frame interval, key frames are
    // forced at the interval instead
    let mut enforce_gop = false;
    let mut since_key: u32 = 0;
    let mut frames_on_encoder: u64 = 0;
    let mut fault_injected = false;
    let Wiring {
        origin,
        mb,
        ctl,
        recycle,
    } = wiring;
    let send = |m: MediaMsg| mb.send_blocking(Msg::Media(m));
    let mut source = match Source::open(&device, &p, auto_focus) {
        Ok(s) => s,
        Err(input) => {
            send(MediaMsg::Device { input, fatal: true });
            return;
        }
    };
    if !announce(&source, &p, &send) {
        return;
    }
    let mut picture = vec![0u8; (p.width * p.height * 3 / 2) as usize];
    // the adaptive-bitrate controller may ask for a smaller size: pictures
    // are then scaled into `scaled` and a new encoder runs at that size
    let mut out_size = (p.width, p.height);
    let mut scaled: Vec<u8> = Vec::new();
    let mut kbps = p.bitrate_kbps;
    let mut announced = false;
    let frame_us = 1_000_000f64 / f64::from(p.fps);
    let start = Instant::now();
    let start_us = start.duration_since(origin).as_micros() as u64;
    let origin_mono_us =
        crate::clock::monotonic_us().saturating_sub(origin.elapsed().as_micros() as u64);
    let mut encoder: Option<Box<dyn VideoEncoder>> = None;
    let mut force_key = false;
    let mut forced_pts: VecDeque<u64> = VecDeque::new();
    let mut index: u64 = 0;
    let mut lost_due = Instant::now();
    loop {
        let due = start + Duration::from_micros((index as f64 * frame_us) as u64);
        if source.paced_here() {
            sleep_until(due);
        }
        match take_commands(&ctl) {
            None => return,
            Some(c) => {
                force_key |= c.key;
                if let Some(k) = c.bitrate {
                    kbps = k;
                    // a refused change keeps the old rate (the next encoder
                    // opens at the new one); it is not a reason to stop
                    let t = Tuning {
                        kbps: Some(k),
                        fps: None,
                    };
                    match encoder.as_mut().map(|e| e.tune(t)) {
                        Some(Err(e)) => log::warn!("video bitrate {k} kbps not applied: {e}"),
                        _ => log::info!("video bitrate now {k} kbps"),
                    }
                }
                if let Some(size) = c.size.filter(|s| *s != out_size) {
                    // what the old encoder still holds goes out first
                    if let Some(mut old) = encoder.take() {
                        let mut units = Units {
                            size: out_size,
                            forced: &mut forced_pts,
                            since_key: &mut since_key,
                            gop: &mut gop,
                            enforce_gop: &mut enforce_gop,
                            chain: &mut chain,
                            recycle: &recycle,
                            force_key: &mut force_key,
                        };
                        match finish(old.as_mut(), &mut units, &mb) {
                            Err(e) if e == CLOSED => return,
                            Err(e) => log::warn!("draining {}: {e}", old.name()),
                            Ok(()) => {}
                        }
                    }
                    out_size = size; // a new encoder opens below at this size
                    scaled.resize(livepush_core::video::convert::i420_len(size.0, size.1), 0);
                    log::info!("video size now {}x{}", size.0, size.1);
                }
            }
        }
        let pts_us = match &mut source {
            Source::Synthetic(s) => {
                // fallen more than a frame behind: skip ahead to stay live
                let late = Instant::now().saturating_duration_since(due).as_micros() as f64;
                if late > frame_us * 2.0 {
                    index += (late / frame_us) as u64;
                    force_key = true;
                    continue;
                }
                if let Err(e) = s.next(index, &mut picture) {
                    send(MediaMsg::Device {
                        input: Input::CameraFailed(e),
                        fatal: true,
                    });
                    return;
                }
                start_us + (index as f64 * frame_us) as u64
            }
            Source::Camera(c) => match c.next(&mut picture, p.width, p.height) {
                Ok(mono_us) => {
                    lost_due = Instant::now();
                    mono_us.saturating_sub(origin_mono_us)
                }
                Err(e) => {
                    // keep the stream alive: the "no signal" card, and retry the camera
                    log::warn!("camera lost; pushing the waiting image (or the no-signal card) and retrying");
                    send(MediaMsg::Device {
                        input: camera_input(e),
                        fatal: false,
                    });
                    source = Source::Lost {
                        attempt: 0,
                        retry_at: Instant::now() + RETRY_FIRST,
                    };
                    lost_due = Instant::now();
                    continue;
                }
            },
            Source::Lost { attempt, retry_at } => {
                lost_due += Duration::from_micros(frame_us as u64);
                sleep_until(lost_due);
                if Instant::now() >= *retry_at {
                    if let VideoDevice::V4l2(spec) = &device {
                        match Camera::open(spec, p.width, p.height, p.fps, auto_focus) {
                            Ok(c) => {
                                source = Source::Camera(c);
                                force_key = true;
                                if !announce(&source, &p, &send) {
                                    return;
                                }
                                continue;
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
                match &still {
                    Some(img) => picture.copy_from_slice(img),
                    None => {
                        livepush_core::synth::pattern::no_signal(p.width, p.height, &mut picture)
                    }
                }
                Instant::now().duration_since(origin).as_micros() as u64
            }
        };
        if encoder.is_none() {
            if index == 0 && !send(MediaMsg::FirstFrame) {
                return;
            }
            let now_p = VideoParams {
                width: out_size.0,
                height: out_size.1,
                bitrate_kbps: kbps,
                ..p
            };
            // the chain: try each backend in order; the ones that do not
            // start are reported together (1103), then the encoder runs (1008)
            let mut failed = Vec::new();
            while encoder.is_none() {
                let Some(b) = chain.current() else {
                    send(MediaMsg::VideoEncoderFailed(format!(
                        "no video encoder could start: {}",
                        failed.join("; ")
                    )));
                    return;
                };
                let settings = EncoderSettings::new(&now_p, rtc);
                match crate::hw::open_backend(b, encoder_choice, &settings, m2m_device.as_deref()) {
                    Ok(e) => encoder = Some(e),
                    Err(why) => {
                        log::warn!("encoder {b} did not start: {why}");
                        failed.push(why);
                        if chain.start_failed() == Next::NoneLeft {
                            send(MediaMsg::VideoEncoderFailed(format!(
                                "no video encoder could start: {}",
                                failed.join("; ")
                            )));
                            return;
                        }
                    }
                }
            }
            if !failed.is_empty() && !send(MediaMsg::EncoderFellBack(failed.join("; "))) {
                return;
            }
            let backend = encoder.as_ref().map_or("?", |e| e.name());
            chain.reset_watch();
            force_key = true;
            forced_pts.clear();
            frames_on_encoder = 0;
            gop = GopCheck::new(p.gop_frames);
            if !announced {
                announced = true;
                if !send(MediaMsg::VideoEncoderStarted { backend }) {
                    return;
                }
            } else {
                log::info!("video encoder {backend} running");
            }
        }
        let enc = encoder.as_mut().expect("encoder started");
        let pic = if out_size == (p.width, p.height) {
            I420 {
                width: p.width,
                height: p.height,
                data: &picture,
            }
        } else {
            let full = livepush_core::video::convert::Picture {
                format: livepush_core::video::negotiate::PixelFormat::I420,
                width: p.width,
                height: p.height,
                stride: 0,
                data: &picture,
            };
            if let Err(e) =
                livepush_core::video::convert::to_i420(&full, &mut scaled, out_size.0, out_size.1)
            {
                send(MediaMsg::VideoEncoderFailed(format!("scaling: {e:?}")));
                return;
            }
            I420 {
                width: out_size.0,
                height: out_size.1,
                data: &scaled,
            }
        };
        if enforce_gop && since_key + 1 >= p.gop_frames {
            force_key = true;
        }
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(origin).as_micros() as u64,
        );
        chain.frame_in(now);
        frames_on_encoder += 1;
        let injected = inject_fault_after
            .is_some_and(|n| !fault_injected && frames_on_encoder > n)
            .then(|| {
                fault_injected = true;
                format!("injected fault after {frames_on_encoder} frames (LIVEPUSH_INJECT_ENCODER_FAULT)")
            });
        let mut units = Units {
            size: out_size,
            forced: &mut forced_pts,
            since_key: &mut since_key,
            gop: &mut gop,
            enforce_gop: &mut enforce_gop,
            chain: &mut chain,
            recycle: &recycle,
            force_key: &mut force_key,
        };
        let result = match injected {
            Some(e) => Err(e),
            None => submit(enc.as_mut(), &pic, pts_us, &mut units, &mb),
        };
        let result = match result {
            Ok(false) if chain.wedged(now) => Err(format!(
                "no output for {wedge_ms} ms while frames went in (wedged)"
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        index += 1;
        if let Err(e) = result {
            if e == CLOSED {
                return;
            }
            let why = format!("{}: {e}", enc.name());
            log::warn!("video encoder failed: {why}");
            encoder = None;
            let msg = match chain.failed() {
                Next::Restart(b) => MediaMsg::EncoderRestarted(format!("{why}; restarting {b}")),
                Next::FallTo(b) => MediaMsg::EncoderFellBack(format!("{why}; falling back to {b}")),
                Next::NoneLeft => {
                    send(MediaMsg::VideoEncoderFailed(format!(
                        "{why}; no encoder left"
                    )));
                    return;
                }
            };
            if !send(msg) {
                return;
            }
        }
    }
}

/// The error `submit` returns when the event loop has gone.
const CLOSED: &str = "event loop closed";

/// Where finished access units go, and the facts kept about them.
struct Units<'a> {
    size: (u32, u32),
    /// Timestamps of pictures submitted with a forced key frame.
    forced: &'a mut VecDeque<u64>,
    since_key: &'a mut u32,
    gop: &'a mut GopCheck,
    enforce_gop: &'a mut bool,
    chain: &'a mut EncoderChain,
    recycle: &'a smol::channel::Receiver<Vec<u8>>,
    /// Set when a unit had to be dropped (the next picture becomes a key frame).
    force_key: &'a mut bool,
}

/// Offers `pic` to the encoder (a forced key frame if one is owed), passing
/// on every access unit that is ready. When the encoder is busy, what it has
/// finished is taken and the picture offered once more; still busy, the
/// picture is dropped (a live source does not wait). Ok(whether anything came out).
fn submit(
    enc: &mut dyn VideoEncoder,
    pic: &I420<'_>,
    pts_us: u64,
    units: &mut Units<'_>,
    mb: &crate::mailbox::Mailbox,
) -> Result<bool, String> {
    let forced = std::mem::take(units.force_key);
    if forced {
        enc.force_key();
        units.forced.push_back(pts_us);
    }
    let mut any = false;
    for attempt in 0..2 {
        match enc.submit(pic, pts_us)? {
            Submitted::Taken => break,
            Submitted::Busy if attempt == 0 => any |= take_units(enc, units, mb)?.0,
            Submitted::Busy => {
                log::warn!("video encoder {} busy: frame dropped", enc.name());
                if forced {
                    *units.force_key = true;
                }
            }
        }
    }
    Ok(take_units(enc, units, mb)?.0 || any)
}

/// Drains `enc`, passing on what it still holds (for at most half a second).
fn finish(
    enc: &mut dyn VideoEncoder,
    u: &mut Units<'_>,
    mb: &crate::mailbox::Mailbox,
) -> Result<(), String> {
    enc.drain()?;
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if take_units(enc, u, mb)?.1 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("did not drain within 500 ms".into())
}

/// Passes every finished access unit to the loop. Ok((whether there was
/// one, whether the encoder is drained)).
fn take_units(
    enc: &mut dyn VideoEncoder,
    u: &mut Units<'_>,
    mb: &crate::mailbox::Mailbox,
) -> Result<(bool, bool), String> {
    let mut any = false;
    loop {
        let mut out = u.recycle.try_recv().unwrap_or_default();
        out.clear();
        let c = match enc.poll(&mut out)? {
            Polled::Unit(c) => c,
            Polled::Pending => return Ok((any, false)),
            Polled::Drained => return Ok((any, true)),
        };
        any = true;
        u.chain.frame_out();
        let mut forced = false;
        while u.forced.front().is_some_and(|t| *t <= c.pts_us) {
            forced |= u.forced.pop_front() == Some(c.pts_us);
        }
        *u.since_key = if c.key { 0 } else { *u.since_key + 1 };
        if let Some(m) = u.gop.frame(c.key, forced) {
            log::warn!(
                "video encoder {} ignores the key-frame interval: asked every {} frames, got {}; forcing key frames at the interval from now on",
                enc.name(),
                m.expected,
                m.observed
            );
            *u.enforce_gop = true;
        }
        let unit = EncodedVideo {
            pts_us: c.pts_us,
            key: c.key,
            width: u.size.0,
            height: u.size.1,
            data: out,
        };
        if mb.try_send(Msg::Media(MediaMsg::Video(unit))).is_err() {
            if mb.is_closed() {
                return Err(CLOSED.into());
            }
            log::warn!("event loop busy: video frame dropped");
            *u.force_key = true;
        }
    }
}
