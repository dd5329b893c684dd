//! The video thread: paced capture from the configured source, H.264 encoding,
//! encoded frames to the loop. A frame the loop cannot take right now is
//! dropped here (and the next one is made a key frame), never queued without bound.

use std::time::{Duration, Instant};

use livepush_core::config::{EncoderChoice, VideoDevice, VideoParams};
use livepush_core::encoder::chain::ChainConfig;
use livepush_core::encoder::runner::{Delivery, Frame, Opener, Report, Runner, Sink, Step, Unit};
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::encoder::Backend;

use super::{sleep_until, take_commands, EncodedVideo, MediaMsg, Wiring};
use crate::hw::synthetic::VideoSource;
use crate::hw::v4l2::{Camera, CameraError};
use crate::hw::{Polled, Submitted, Tuning, VideoEncoder, I420};
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
    let Wiring {
        origin,
        mb,
        ctl,
        recycle,
    } = wiring;
    let send = |m: MediaMsg| mb.send_blocking(m);
    let mut source = match Source::open(&device, &p, auto_focus) {
        Ok(s) => s,
        // a camera that cannot be opened at start (not plugged in yet, busy,
        // no usable format) is handled as one lost while running: -1301
        // once, the waiting image or the no-signal card, and reopen attempts
        // with back-off; never the end of the run
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
                return;
            }
            Source::Lost {
                attempt: 0,
                retry_at: Instant::now() + RETRY_FIRST,
            }
        }
        Err(input) => {
            send(MediaMsg::Device { input, fatal: true });
            return;
        }
    };
    // 1003 once a camera (or a synthetic source) is open, not for the card
    if !matches!(source, Source::Lost { .. }) && !announce(&source, &p, &send) {
        return;
    }
    let mut picture = vec![0u8; (p.width * p.height * 3 / 2) as usize];
    // the adaptive-bitrate controller may ask for a smaller size: pictures
    // are then scaled into `scaled` and a new encoder runs at that size
    let mut scaled: Vec<u8> = Vec::new();
    let mut runner = Runner::new(chain, EncoderSettings::new(&p, rtc));
    let mut opener = Backends {
        software: encoder_choice,
        m2m_device,
        inject_fault_after,
    };
    let frame_us = 1_000_000f64 / f64::from(p.fps);
    // a synthetic source's frames count from the service's start (frame k
    // at k / fps s, its counter showing k), like the tone's samples: the
    // tone's sync marks line up with the counter
    let first_index = (origin.elapsed().as_micros() as f64 / frame_us).ceil() as u64;
    let frame_time_us = |k: u64| ((first_index + k) as f64 * frame_us) as u64;
    let origin_mono_us =
        crate::clock::monotonic_us().saturating_sub(origin.elapsed().as_micros() as u64);
    let mut index: u64 = 0;
    let mut last_pts: Option<u64> = None;
    let min_gap_us = (frame_us / 2.0) as u64;
    let mut lost_due = Instant::now();
    loop {
        let due = origin + Duration::from_micros(frame_time_us(index));
        if source.paced_here() {
            sleep_until(due);
        }
        match take_commands(&ctl) {
            None => return,
            Some(c) => {
                if c.key {
                    runner.force_key();
                }
                if let Some(k) = c.bitrate {
                    // a refused change keeps the old rate (the next encoder
                    // opens at the new one); it is not a reason to stop
                    match runner.set_bitrate(k) {
                        Err(e) => log::warn!("video bitrate {k} kbps not applied: {e}"),
                        Ok(()) => log::info!("video bitrate now {k} kbps"),
                    }
                }
                if let Some((w, h)) = c.size.filter(|s| *s != runner.size()) {
                    let now = livepush_core::time::Instant::from_micros(
                        Instant::now().duration_since(origin).as_micros() as u64,
                    );
                    let mut sink = ToLoop {
                        mb: &mb,
                        recycle: &recycle,
                    };
                    runner.set_size(now, w, h, &mut sink);
                    log::info!("video size now {w}x{h}");
                }
            }
        }
        let pts_us = match &mut source {
            Source::Synthetic(s) => {
                // fallen more than a frame behind: skip ahead to stay live
                let late = Instant::now().saturating_duration_since(due).as_micros() as f64;
                if late > frame_us * 2.0 {
                    index += (late / frame_us) as u64;
                    runner.force_key();
                    continue;
                }
                if let Err(e) = s.next(first_index + index, &mut picture) {
                    send(MediaMsg::Device {
                        input: Input::CameraFailed(e),
                        fatal: true,
                    });
                    return;
                }
                frame_time_us(index)
            }
            Source::Camera(c) => match capture(
                c,
                &mut picture,
                &p,
                CaptureCtx {
                    runner: &mut runner,
                    opener: &mut opener,
                    mb: &mb,
                    recycle: &recycle,
                    origin,
                    origin_mono_us,
                    first: index == 0,
                    last_pts: &mut last_pts,
                    min_gap_us,
                },
            ) {
                Ok(Captured::Pixels(pts)) => {
                    lost_due = Instant::now();
                    pts
                }
                Ok(Captured::Encoded) => {
                    lost_due = Instant::now();
                    index += 1;
                    continue;
                }
                Ok(Captured::Stop) => return,
                Ok(Captured::Skipped) => {
                    lost_due = Instant::now();
                    continue;
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
                                runner.force_key();
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
        // a picture less than half a frame after the last one (a camera's
        // queued buffers after a reopen, a camera faster than asked) is
        // dropped: the stream keeps its frame rate and rising timestamps
        if last_pts.is_some_and(|t| pts_us < t + min_gap_us) {
            continue;
        }
        last_pts = Some(pts_us);
        if index == 0 && !send(MediaMsg::FirstFrame) {
            return;
        }
        let (ow, oh) = runner.size();
        let pic = if (ow, oh) == (p.width, p.height) {
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
            scaled.resize(livepush_core::video::convert::i420_len(ow, oh), 0);
            if let Err(e) = livepush_core::video::convert::to_i420(&full, &mut scaled, ow, oh) {
                send(MediaMsg::VideoEncoderFailed(format!("scaling: {e:?}")));
                return;
            }
            I420 {
                width: ow,
                height: oh,
                data: &scaled,
            }
        };
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(origin).as_micros() as u64,
        );
        index += 1;
        let mut sink = ToLoop {
            mb: &mb,
            recycle: &recycle,
        };
        if runner.encode(now, &pic, pts_us, &mut opener, &mut sink) == Step::Stop {
            return;
        }
    }
}

/// What became of a camera picture.
enum Captured {
    /// Converted into the picture buffer, with its timestamp.
    Pixels(u64),
    /// Its buffer went to the encoder as it is (zero copy) and is back.
    Encoded,
    /// The loop is gone or no encoder is left.
    Stop,
    /// Too soon after the last picture: dropped (buffer back to the camera).
    Skipped,
}

/// What `capture` needs besides the camera.
struct CaptureCtx<'a> {
    runner: &'a mut Runner,
    opener: &'a mut Backends,
    mb: &'a crate::mailbox::Lane<MediaMsg>,
    recycle: &'a smol::channel::Receiver<Vec<u8>>,
    origin: Instant,
    origin_mono_us: u64,
    first: bool,
    /// The last picture's timestamp (updated when this one is encoded here).
    last_pts: &'a mut Option<u64>,
    min_gap_us: u64,
}

/// Takes the next camera picture. When it needs no conversion and the
/// encoder imports camera buffers, the buffer itself is encoded (zero copy)
/// and goes back to the camera once the encoder has released it; otherwise
/// it is converted into `picture` for the ordinary path.
fn capture(
    c: &mut Camera,
    picture: &mut [u8],
    p: &VideoParams,
    cx: CaptureCtx<'_>,
) -> Result<Captured, CameraError> {
    let cap = c.capture()?;
    let pts = cap.pts_us.saturating_sub(cx.origin_mono_us);
    if cx.last_pts.is_some_and(|t| pts < t + cx.min_gap_us) {
        c.release(cap.index)?;
        return Ok(Captured::Skipped);
    }
    let dma = (cx.runner.size() == (p.width, p.height))
        .then(|| c.dma(&cap, p.width, p.height))
        .flatten();
    if let Some((dma, layout)) = dma {
        if cx.first && !cx.mb.send_blocking(MediaMsg::FirstFrame) {
            return Ok(Captured::Stop);
        }
        let mut sink = ToLoop {
            mb: cx.mb,
            recycle: cx.recycle,
        };
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(cx.origin).as_micros() as u64,
        );
        match cx
            .runner
            .encode_frame(now, Frame::Dma(&dma, layout), pts, cx.opener, &mut sink)
        {
            Step::Stop => return Ok(Captured::Stop),
            Step::Go => {
                *cx.last_pts = Some(pts);
                // the buffer goes back to the camera only once released
                let until = Instant::now() + Duration::from_secs(1);
                loop {
                    let why = match cx.runner.imports_done() {
                        Ok(true) => break,
                        Ok(false) if Instant::now() < until => {
                            let fd = cx.runner.release_fd();
                            crate::hw::v4l2_uapi::wait_ready(fd, libc::POLLOUT, until);
                            continue;
                        }
                        Ok(false) => "an imported camera buffer was not released within 1 s".into(),
                        Err(e) => e,
                    };
                    // the failed encoder is closed, which releases its imports
                    if cx.runner.fail_now(why, &mut sink) == Step::Stop {
                        return Ok(Captured::Stop);
                    }
                    break;
                }
                c.release(cap.index)?;
                return Ok(Captured::Encoded);
            }
            Step::NeedPixels => {}
        }
    }
    let r = c.convert(&cap, picture, p.width, p.height);
    c.release(cap.index)?;
    r.map(|()| Captured::Pixels(pts))
}

/// Opens the chain's backends (with the fault-injection test hook).
struct Backends {
    software: EncoderChoice,
    m2m_device: Option<String>,
    /// LIVEPUSH_INJECT_ENCODER_FAULT: the first encoder fails after this many pictures.
    inject_fault_after: Option<u64>,
}

impl Opener for Backends {
    fn open(
        &mut self,
        backend: Backend,
        s: &EncoderSettings,
    ) -> Result<Box<dyn VideoEncoder>, String> {
        let e = crate::hw::open_backend(backend, self.software, s, self.m2m_device.as_deref())?;
        Ok(match self.inject_fault_after.take() {
            Some(after) => Box::new(Faulty {
                inner: e,
                after,
                n: 0,
            }),
            None => e,
        })
    }
}

/// Test hook: an encoder that fails once after `after` pictures.
struct Faulty {
    inner: Box<dyn VideoEncoder>,
    after: u64,
    n: u64,
}

impl VideoEncoder for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, String> {
        self.n += 1;
        if self.n > self.after {
            return Err(format!(
                "injected fault after {} frames (LIVEPUSH_INJECT_ENCODER_FAULT)",
                self.n
            ));
        }
        self.inner.submit(pic, pts_us)
    }
    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, String> {
        self.inner.poll(out)
    }
    fn drain(&mut self) -> Result<(), String> {
        self.inner.drain()
    }
    fn tune(&mut self, t: Tuning) -> Result<(), String> {
        self.inner.tune(t)
    }
    fn force_key(&mut self) {
        self.inner.force_key()
    }
}

/// Units and reports to the event loop; buffers from its recycling channel.
struct ToLoop<'a> {
    mb: &'a crate::mailbox::Lane<MediaMsg>,
    recycle: &'a smol::channel::Receiver<Vec<u8>>,
}

impl Sink for ToLoop<'_> {
    fn buffer(&mut self) -> Vec<u8> {
        self.recycle.try_recv().unwrap_or_default()
    }

    fn unit(&mut self, u: Unit) -> Delivery {
        let v = EncodedVideo {
            pts_us: u.pts_us,
            key: u.key,
            width: u.width,
            height: u.height,
            data: u.data,
        };
        if self.mb.try_send(MediaMsg::Video(v)).is_ok() {
            return Delivery::Taken;
        }
        if self.mb.is_closed() {
            return Delivery::Gone;
        }
        log::warn!("event loop busy: video frame dropped");
        Delivery::Dropped
    }

    fn note(&mut self, msg: String) {
        log::info!("{msg}");
    }

    fn report(&mut self, r: Report) -> bool {
        let m = match r {
            Report::Started { backend, first } => {
                if !first {
                    log::info!("video encoder {backend} running");
                    return true;
                }
                MediaMsg::VideoEncoderStarted { backend }
            }
            Report::FellBack(m) => MediaMsg::EncoderFellBack(m),
            Report::Restarted(m) => MediaMsg::EncoderRestarted(m),
            Report::NoneLeft(m) => MediaMsg::VideoEncoderFailed(m),
        };
        self.mb.send_blocking(m)
    }

    fn warn(&mut self, msg: String) {
        log::warn!("{msg}");
    }
}
