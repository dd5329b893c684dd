//! The video thread: paced capture from the configured source, H.264 encoding
//! through the core's runner, encoded frames to the loop. The loop here is
//! the pacing and the picture's way; where pictures come from (and the lost
//! camera) is `source.rs`, one camera picture `capture.rs`, the encoders the
//! runner opens `backends.rs`, the way to the loop `to_loop.rs`.

mod backends;
mod capture;
mod source;
mod to_loop;

use crate::media::counters::{self, MEDIA};
use std::time::{Duration, Instant};

use livepush_core::config::{EncoderChoice, VideoDevice, VideoParams};
use livepush_core::encoder::chain::ChainConfig;
use livepush_core::encoder::runner::{Runner, Step};
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::supervisor::Input;
use livepush_core::video::filters::Filters;

use super::{sleep_until, take_commands, MediaMsg, Pause, SnapshotReply, Wiring};
use crate::hw::I420;
use backends::Backends;
use capture::{capture, CaptureCtx, Captured};
use source::{camera_input, Lost, Source, WhileLost, RETRY_FIRST};
use to_loop::ToLoop;

/// What the video thread captures and how it encodes.
pub struct VideoJob {
    /// The sources (`[video] devices`; the first at the start).
    pub devices: Vec<VideoDevice>,
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
    /// Test hook (`LIVEPUSH_INJECT_VIDEO_HANG=N` or `N:SECS`): after N
    /// frames the thread hangs for good, as one stuck in a driver would
    /// (the systemd watchdog test), or for SECS seconds and then goes on
    /// (the `/healthz` test).
    pub hang_after: Option<(u64, Option<Duration>)>,
    /// Output size, rate, GOP, bitrate.
    pub params: VideoParams,
    /// RTC mode (Constrained Baseline).
    pub rtc: bool,
    /// The waiting image (I420 at the output size), shown while the camera is lost.
    pub still: Option<Vec<u8>>,
    /// `beauty` and `whiteness` (0..9 each): applied to camera and
    /// synthetic pictures, not to the waiting image or the card. At 0, 0 the
    /// pictures are not touched and the zero-copy path stays.
    pub filters: (u8, u8),
}

/// `LIVEPUSH_INJECT_VIDEO_HANG`'s value: `N` (frames, then for good) or
/// `N:SECS` (then for SECS seconds).
pub fn parse_hang(v: &str) -> Option<(u64, Option<Duration>)> {
    match v.split_once(':') {
        None => Some((v.parse().ok()?, None)),
        Some((n, s)) => Some((
            n.parse().ok()?,
            Some(Duration::from_secs_f64(
                s.parse::<f64>().ok()?.clamp(0.0, 3600.0),
            )),
        )),
    }
}

/// Starts the video thread.
pub fn spawn(job: VideoJob, wiring: Wiring) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("video".into())
        .spawn(move || run(job, wiring))
        .expect("spawn video thread")
}

fn run(job: VideoJob, wiring: Wiring) {
    let VideoJob {
        devices,
        auto_focus,
        encoder: encoder_choice,
        chain,
        m2m_device,
        inject_fault_after,
        mut hang_after,
        params: p,
        rtc,
        still,
        filters: (beauty, whiteness),
    } = job;
    let mut filters = Filters::new(beauty, whiteness);
    let Wiring {
        origin,
        mb,
        ctl,
        recycle,
        speed,
    } = wiring;
    let speed = u64::from(speed.max(1));
    let send = |m: MediaMsg| mb.send_blocking(m);
    let Some(mut source) = Source::open_at_start(&devices[0], &p, auto_focus, &send) else {
        return;
    };
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
    // (with `--fast-clock N` the media clock runs N times as fast)
    let first_index = (origin.elapsed().as_micros() as f64 * speed as f64 / frame_us).ceil() as u64;
    let frame_time_us = |k: u64| ((first_index + k) as f64 * frame_us) as u64;
    let origin_mono_us =
        crate::clock::monotonic_us().saturating_sub(origin.elapsed().as_micros() as u64);
    let mut index: u64 = 0;
    let mut last_pts: Option<u64> = None;
    let min_gap_us = (frame_us / 2.0) as u64;
    let mut lost_due = Instant::now();
    // the waiting image (a reload may replace it)
    let mut still = still;
    let frame_dur = Duration::from_micros(frame_us as u64);
    // paused by a command: the waiting image at the pause's rate
    let mut paused: Option<Pause> = None;
    let mut pause_due = Instant::now();
    let mut pause_frames: u64 = 0;
    // snapshots waiting for the next picture
    let mut snapshots: Vec<SnapshotReply> = Vec::new();
    // which of `[video] devices` runs, and which a switch tries next
    let mut current = 0usize;
    let mut next_try = 1usize;
    loop {
        if let Some((_, for_)) = hang_after.filter(|(n, _)| index >= *n) {
            match for_ {
                None => {
                    log::warn!("LIVEPUSH_INJECT_VIDEO_HANG: the video thread hangs (test hook)");
                    loop {
                        std::thread::park();
                    }
                }
                Some(d) => {
                    log::warn!(
                        "LIVEPUSH_INJECT_VIDEO_HANG: the video thread stalls for {} s (test hook)",
                        d.as_secs_f32()
                    );
                    std::thread::sleep(d);
                    log::warn!("LIVEPUSH_INJECT_VIDEO_HANG: the video thread goes on");
                    hang_after = None;
                }
            }
        }
        // pacing: the pause's rate, a closed camera's idle wait, the
        // synthetic source's frame times (a camera paces itself)
        let due = origin + Duration::from_micros(frame_time_us(index) / speed);
        if let Some(pz) = paused {
            pause_due += Duration::from_micros(1_000_000 / u64::from(pz.fps.max(1)));
            sleep_until(pause_due);
        } else if matches!(source, Source::Off) {
            std::thread::sleep(Duration::from_millis(50));
        } else if source.paced_here() {
            sleep_until(due);
        }
        let Some(mut c) = take_commands(&ctl) else {
            return;
        };
        let (pause, camera) = (c.pause, c.camera);
        if let Some(s) = c.still.take() {
            log::info!(
                "waiting image {}",
                if s.is_some() {
                    "replaced"
                } else {
                    "removed: the generated card"
                }
            );
            still = s;
        }
        if let Some((b, w)) = c.filters.take() {
            log::info!("beauty {b}, whiteness {w}");
            filters = Filters::new(b, w);
        }
        let switches = std::mem::take(&mut c.switches);
        for reply in std::mem::take(&mut c.torches) {
            let r = match &mut source {
                Source::Camera(cam) => cam.toggle_torch(),
                _ => Err(None),
            };
            let _ = reply.try_send(r);
        }
        snapshots.append(&mut c.snapshots);
        let mut sink = ToLoop {
            mb: &mb,
            recycle: &recycle,
        };
        apply(c, &mut runner, origin, &mut sink);
        match camera {
            Some(false) if !matches!(source, Source::Off) => {
                log::info!("camera closed (not pushing, no preview)");
                source = Source::Off;
            }
            Some(true) if matches!(source, Source::Off) => {
                let Some(s) = Source::open_at_start(&devices[current], &p, auto_focus, &send)
                else {
                    return;
                };
                source = s;
                runner.force_key();
                lost_due = Instant::now();
            }
            _ => {}
        }
        for reply in switches {
            let r = switch_camera(
                &devices,
                (&mut current, &mut next_try),
                &mut source,
                &p,
                auto_focus,
                &send,
            );
            if r.is_ok() {
                runner.force_key();
                lost_due = Instant::now();
            }
            let _ = reply.try_send(r);
        }
        match pause {
            Some(Some(pz)) => {
                if paused.is_none() {
                    log::info!("paused: the waiting image at {} fps", pz.fps);
                    pause_due = Instant::now();
                    pause_frames = 0;
                }
                paused = Some(pz);
            }
            Some(None) if paused.is_some() => {
                // the camera again, from a key frame (a camera's pictures
                // queued during the pause are older than the last still:
                // dropped below by their timestamps)
                log::info!("resumed: camera pictures again");
                paused = None;
                runner.force_key();
                lost_due = Instant::now();
            }
            _ => {}
        }
        if matches!(source, Source::Off) && paused.is_none() {
            for s in snapshots.drain(..) {
                let _ = s.try_send(Err(
                    "the camera is off (not pushing, no preview): start-preview first".into(),
                ));
            }
            continue;
        }
        let pts_us = if let Some(pz) = paused {
            // a key frame every second, so a player joining sees the image soon
            if pause_frames % u64::from(pz.fps.max(1)) == 0 {
                runner.force_key();
            }
            pause_frames += 1;
            match still.as_deref() {
                Some(img) => picture.copy_from_slice(img),
                None => livepush_core::synth::pattern::no_signal(p.width, p.height, &mut picture),
            }
            origin.elapsed().as_micros() as u64
        } else {
            match &mut source {
                Source::Off => continue,
                Source::Synthetic(s) => {
                    // fallen more than a frame behind: skip ahead to stay live
                    // (not with `--fast-clock`: media time is made up there,
                    // a soak measures the pipeline, not this machine's
                    // scheduling at a frame every fraction of a millisecond)
                    let late = Instant::now().saturating_duration_since(due).as_micros() as f64
                        * speed as f64;
                    if late > frame_us * 2.0 && speed == 1 {
                        let skipped = (late / frame_us) as u64;
                        counters::add(&MEDIA.video_dropped_pacing, skipped);
                        index += skipped;
                        runner.force_key();
                        continue;
                    }
                    let fresh = match s.next(first_index + index, &mut picture) {
                        Ok(fresh) => fresh,
                        Err(e) => {
                            send(MediaMsg::Device {
                                input: Input::CameraFailed(e),
                                fatal: true,
                            });
                            return;
                        }
                    };
                    counters::add(&MEDIA.video_captured, 1);
                    // a repeated picture was filtered already
                    if fresh {
                        filters.apply_i420(&mut picture, p.width as usize, p.height as usize);
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
                        // a snapshot or a filter needs the pixels: no zero copy
                        want_pixels: !snapshots.is_empty() || !filters.is_identity(),
                    },
                ) {
                    Ok(Captured::Pixels(pts, fresh)) => {
                        counters::add(&MEDIA.video_captured, 1);
                        lost_due = Instant::now();
                        if fresh {
                            filters.apply_i420(&mut picture, p.width as usize, p.height as usize);
                        }
                        pts
                    }
                    Ok(Captured::Encoded) => {
                        counters::add(&MEDIA.video_captured, 1);
                        lost_due = Instant::now();
                        index += 1;
                        continue;
                    }
                    Ok(Captured::Stop) => return,
                    Ok(Captured::Skipped) => {
                        counters::add(&MEDIA.video_captured, 1);
                        counters::add(&MEDIA.video_dropped_pacing, 1);
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
                Source::Lost { .. } => {
                    let lost = Lost {
                        device: &devices[current],
                        p: &p,
                        auto_focus,
                        still: still.as_deref(),
                        origin,
                        frame: frame_dur,
                    };
                    match lost.next(&mut source, &mut lost_due, &mut picture, &send) {
                        WhileLost::Reopened => {
                            runner.force_key();
                            continue;
                        }
                        WhileLost::Gone => return,
                        WhileLost::Card(pts) => pts,
                    }
                }
            }
        };
        // a picture less than half a frame after the last one (a camera's
        // queued buffers after a reopen or a pause, a camera faster than
        // asked) is dropped: the stream keeps its frame rate and rising
        // timestamps
        if last_pts.is_some_and(|t| pts_us < t + min_gap_us) {
            counters::add(&MEDIA.video_dropped_pacing, 1);
            continue;
        }
        last_pts = Some(pts_us);
        if index == 0 && paused.is_none() && !send(MediaMsg::FirstFrame) {
            return;
        }
        let Some(pic) = to_size(&picture, &p, runner.size(), &mut scaled, &send) else {
            return;
        };
        for s in snapshots.drain(..) {
            let _ = s.try_send(Ok(super::Picture {
                width: pic.width,
                height: pic.height,
                i420: pic.data.to_vec(),
            }));
        }
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(origin).as_micros() as u64,
        );
        if paused.is_none() {
            index += 1;
        }
        let mut sink = ToLoop {
            mb: &mb,
            recycle: &recycle,
        };
        if runner.encode(now, &pic, pts_us, &mut opener, &mut sink) == Step::Stop {
            return;
        }
    }
}

/// Opens the next camera of `devices` in place of the current one: its
/// facts announced (1003, 1005 when its size differs from the output); one
/// that cannot be opened is reported (-1301) and the current one stays (and
/// is announced again as open, 1003); the next switch tries the one after
/// it. Returns the device now in use.
fn switch_camera(
    devices: &[VideoDevice],
    (current, next_try): (&mut usize, &mut usize),
    source: &mut Source,
    p: &VideoParams,
    auto_focus: bool,
    send: &impl Fn(MediaMsg) -> bool,
) -> Result<String, String> {
    if devices.len() < 2 {
        return Err("one camera only: list the cameras in [video] devices".into());
    }
    if matches!(source, Source::Off) {
        return Err("the camera is off (not pushing, no preview): start-preview first".into());
    }
    let mut next = *next_try % devices.len();
    if next == *current {
        next = (next + 1) % devices.len();
    }
    *next_try = next + 1;
    match Source::open(&devices[next], p, auto_focus) {
        Ok(s) => {
            log::info!(
                "switched camera: {} -> {}",
                devices[*current],
                devices[next]
            );
            *source = s;
            *current = next;
            send(MediaMsg::Notice(livepush_core::publisher::Notice::Camera {
                index: next as u8,
            }));
            source::announce(source, p, send);
            Ok(devices[next].to_string())
        }
        Err(input) => {
            let dev = devices[next].to_string();
            let why = if input.detail().starts_with(&dev) {
                input.detail().to_string()
            } else {
                format!("{dev}: {}", input.detail())
            };
            log::warn!("switch-camera: {why}; staying on {}", devices[*current]);
            send(MediaMsg::Device {
                input: Input::CameraFailed(why.clone()),
                fatal: false,
            });
            if !matches!(source, Source::Lost { .. }) {
                send(MediaMsg::CameraOpened);
            }
            Err(why)
        }
    }
}

/// The loop's commands to the encoder: a key frame, a bitrate (a refused
/// change keeps the old rate, the next encoder opens at the new one; not a
/// reason to stop), a size (the running encoder drains, a new one opens).
fn apply(c: super::Commands, runner: &mut Runner, origin: Instant, sink: &mut ToLoop<'_>) {
    if c.key {
        runner.force_key();
    }
    if let Some(k) = c.bitrate {
        match runner.set_bitrate(k) {
            Err(e) => log::warn!("video bitrate {k} kbps not applied: {e}"),
            Ok(()) => log::info!("video bitrate now {k} kbps"),
        }
    }
    if let Some((w, h)) = c.size.filter(|s| *s != runner.size()) {
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(origin).as_micros() as u64,
        );
        runner.set_size(now, w, h, sink);
        log::info!("video size now {w}x{h}");
    }
}

/// The picture at the encoder's size: as it is, or scaled into `scaled`
/// (the adaptive bitrate may have asked for a smaller size). None when
/// scaling failed (reported to the loop as an encoder failure).
fn to_size<'a>(
    picture: &'a [u8],
    p: &VideoParams,
    (ow, oh): (u32, u32),
    scaled: &'a mut Vec<u8>,
    send: &impl Fn(MediaMsg) -> bool,
) -> Option<I420<'a>> {
    if (ow, oh) == (p.width, p.height) {
        return Some(I420 {
            width: p.width,
            height: p.height,
            data: picture,
        });
    }
    let full = livepush_core::video::convert::Picture {
        format: livepush_core::video::negotiate::PixelFormat::I420,
        width: p.width,
        height: p.height,
        stride: 0,
        data: picture,
    };
    scaled.resize(livepush_core::video::convert::i420_len(ow, oh), 0);
    if let Err(e) = livepush_core::video::convert::to_i420(&full, scaled, ow, oh) {
        send(MediaMsg::VideoEncoderFailed(format!("scaling: {e:?}")));
        return None;
    }
    Some(I420 {
        width: ow,
        height: oh,
        data: scaled,
    })
}
