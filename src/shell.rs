//! The shell: one event loop that waits for ONE thing (the mailbox doorbell,
//! the socket, or the next deadline) in ppoll(2), feeds what happened to the
//! sans-IO core (supervisor, publish session, netstatus meter), then drains
//! the core's outputs and writes what the socket takes. It never blocks
//! otherwise: encoding runs on the media threads, DNS and connect in smol
//! tasks. In steady state the per-frame path allocates nothing: encoded
//! frames come in recycled buffers, media is chunked straight into pooled
//! write buffers, events are formatted into a reused string, and waiting is a
//! system call (docs/design/0002-event-loop-wakeups.md says why not smol's reactor).

use std::os::fd::RawFd;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use livepush_core::abr::{Abr, AbrConfig, Decision, Window};
use livepush_core::codec::h264;
use livepush_core::config::{Config, VideoParams};
use livepush_core::congestion::{BusyWatch, Change};
use livepush_core::event::Event;
use livepush_core::flv::timeline::{Headers, TagKind, Timeline};
use livepush_core::netstatus::NetStatusMeter;
use livepush_core::rtmp::chunk::Media;
use livepush_core::rtmp::failure::PushFailure;
use livepush_core::rtmp::publish::{PublishEvent, PublishSession};
use livepush_core::sendq::Kind;
use livepush_core::start_cache::{Frame, StartCache, Track};
use livepush_core::supervisor::{self, Input, Output, Supervisor};
use livepush_core::time::Instant;
use rml_rtmp::sessions::StreamMetadata;
use smol::channel::Sender;

use crate::clock::Clock;
use crate::events_out::{EventWriter, Events};
use crate::mailbox::{self, Doorbell, Lane, Ringer};
use crate::media::{self, MediaCtl, MediaMsg};
use crate::net::conn::{self, ConnectOptions, NetMsg};
use crate::net::link::Link;

/// What a signal asks of the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signalled {
    /// SIGINT / SIGTERM.
    Stop,
    /// SIGHUP: read `url-key-file` again.
    Hup,
}

/// The loop's inbox: a lane per kind of producer, one doorbell.
struct Inbox {
    media: Arc<Lane<MediaMsg>>,
    net: Arc<Lane<(u64, NetMsg)>>,
    signals: Arc<Lane<Signalled>>,
}

impl Inbox {
    fn close(&self) {
        self.media.close();
        self.net.close();
        self.signals.close();
    }
}

/// How a run ended, with a few totals.
#[derive(Debug, Default)]
pub struct Summary {
    /// Video frames handed to the server.
    pub video_frames_sent: u64,
    /// Audio frames handed to the server.
    pub audio_frames_sent: u64,
    /// Successful publishes.
    pub publishes: u64,
}

/// What `run` needs.
pub struct RunOptions {
    /// Validated config.
    pub config: Config,
    /// Stop by itself after this long.
    pub stop_after: Option<Duration>,
    /// Event sink.
    pub events: EventWriter,
    /// Log heap allocations per video frame at the stop (meaningless when
    /// something else, like the demo's receiver, shares the process).
    pub report_allocations: bool,
    /// The waiting image as I420 at the output size (shown while the camera is lost).
    pub waiting_image: Option<Vec<u8>>,
    /// TLS client setup (rtmps:// URLs).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The board profile (`board = "ID"`), if the config names one.
    pub board: Option<livepush_core::config::board::Board>,
}

/// Time allowed to flush the last packets when stopping.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Allocation counting starts this long after the first publish.
const STEADY_AFTER: Duration = Duration::from_secs(5);
/// Write buffers kept for reuse.
const POOL_MAX: usize = 256;
/// How far behind live a publish may start with the frames kept since the
/// last key frame (see [`StartCache`]); older, a fresh key frame is forced.
const START_CACHE_AGE: Duration = Duration::from_millis(500);
/// Video bytes kept for the start at most.
const START_CACHE_BYTES: usize = 4 << 20;

struct Conn {
    id: u64,
    /// The connect task, until it delivered the socket.
    connecting: Option<smol::Task<()>>,
    link: Option<Link>,
    session: Option<PublishSession>,
    /// This publish's FLV timeline (timestamps, headers, skip-to-key).
    timeline: Timeline,
    /// The publish has started (`on_published` ran): frames go out live.
    /// Until then they are kept for the start, also in the moment between
    /// the session reading Publish.Start and the loop acting on it.
    on_air: bool,
}

/// Allocation counting for the benchmark's zero-allocation target.
enum Steady {
    Off,
    StartsAt(Instant),
    Since { allocations: u64, frames: u64 },
}

struct Shell {
    cfg: Config,
    params: VideoParams,
    clock: Clock,
    sup: Supervisor,
    meter: NetStatusMeter,
    events: Events,
    /// Where connect tasks report.
    net_lane: Arc<Lane<(u64, NetMsg)>>,
    conn: Option<Conn>,
    next_id: u64,
    video_ctl: Option<mpsc::Sender<MediaCtl>>,
    audio_ctl: mpsc::Sender<MediaCtl>,
    video_recycle: Sender<Vec<u8>>,
    audio_recycle: Sender<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    /// The encoders' frames since the last key frame while no publish is on:
    /// a publish starts with them instead of forcing a second key frame.
    start: StartCache<Vec<u8>>,
    /// The video encoder has given a frame (its first is a key frame).
    video_seen: bool,
    asc: Option<Vec<u8>>,
    param_sets: (Vec<u8>, Vec<u8>),
    body: Vec<u8>,
    read_buf: Vec<u8>,
    queue_limit: Duration,
    /// No bytes written for this long while some wait: the connection is dead (3005).
    send_stall: Duration,
    /// 1101 with hysteresis on the send queue's age.
    busy: BusyWatch,
    /// Adaptive bitrate (None: audio only, or min-bitrate = max-bitrate).
    abr: Option<Abr>,
    /// The queue shed frames since the last netstatus window.
    shed_in_window: bool,
    /// The encoded size now (the adaptive controller may lower it).
    size: (u32, u32),
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Where a server's reconnect request sent us (until a failure there).
    redirect: Option<livepush_core::rtmp::url::PushUrl>,
    stop_at: Option<Instant>,
    stopping: Option<Instant>,
    fatal: Option<String>,
    summary: Summary,
    steady: Steady,
    report_allocations: bool,
}

/// One encoded frame for [`Shell::send`].
enum Encoded<'a> {
    Video {
        pts_us: u64,
        key: bool,
        annexb: &'a [u8],
    },
    Audio {
        pts_us: u64,
        frame: &'a [u8],
    },
}

/// Chunks one tag `body` as a media message into a pooled buffer and queues
/// it behind everything the session already produced. Returns whether it
/// was queued.
fn queue_tag(
    s: &mut PublishSession,
    link: &mut Link,
    pool: &mut Vec<Vec<u8>>,
    now: Instant,
    kind: TagKind,
    ts: u32,
    body: &[u8],
) -> bool {
    let (media, kind) = match kind {
        TagKind::AvcHeader => (Media::Video, Kind::Header),
        TagKind::AacHeader => (Media::Audio, Kind::Header),
        TagKind::Video { key } => (Media::Video, Kind::Video { key }),
        TagKind::Audio => (Media::Audio, Kind::Audio),
    };
    while let Some(t) = s.poll_transmit() {
        link.push(Kind::Control, now, t.bytes);
    }
    let mut buf = pool.pop().unwrap_or_default();
    if s.write_media(media, ts, body, &mut buf) {
        link.push(kind, now, buf);
        true
    } else {
        pool.push(buf);
        false
    }
}

/// Hands an encoder's buffer back to the encoder it came from.
fn give_back(video: &Sender<Vec<u8>>, audio: &Sender<Vec<u8>>, track: Track, b: Vec<u8>) {
    let _ = match track {
        Track::Video => video.try_send(b),
        Track::Audio => audio.try_send(b),
    };
}

/// Gives a write buffer back to the pool, emptied (media is appended to
/// pooled buffers, so a buffer must never come back with old bytes in it).
fn recycle(pool: &mut Vec<Vec<u8>>, mut b: Vec<u8>) {
    if pool.len() < POOL_MAX {
        b.clear();
        pool.push(b);
    }
}

/// Waits in ppoll(2) for the doorbell, the socket (readable; writable when
/// `pending`) or `wait` to pass. Returns (doorbell rang, socket readable).
fn poll(bell: &Doorbell, sock: Option<(RawFd, bool)>, wait: Duration) -> (bool, bool) {
    let mut fds = [
        libc::pollfd {
            fd: bell.fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        },
    ];
    if let Some((fd, pending)) = sock {
        fds[1].fd = fd;
        fds[1].events = libc::POLLIN | if pending { libc::POLLOUT } else { 0 };
    }
    let ts = libc::timespec {
        tv_sec: wait.as_secs() as libc::time_t,
        tv_nsec: i64::from(wait.subsec_nanos()) as _,
    };
    // SAFETY: two valid pollfd entries (fd -1 is ignored by poll) and a valid timespec.
    let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, &ts, std::ptr::null()) };
    if n <= 0 {
        return (false, false);
    }
    let readable =
        fds[1].fd >= 0 && fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
    (fds[0].revents & libc::POLLIN != 0, readable)
}

/// Runs the service until stopped. Returns an error when the media path failed for good.
pub fn run(opts: RunOptions) -> Result<Summary, String> {
    let clock = Clock::start();
    let cfg = opts.config;
    let params = cfg.video_params();
    let (bell, ringer): (Doorbell, Ringer) =
        mailbox::doorbell().map_err(|e| format!("eventfd: {e}"))?;
    let inbox = Inbox {
        media: ringer.lane(1024),
        net: ringer.lane(16),
        signals: ringer.lane(4),
    };
    let (video_recycle, video_recycle_rx) = smol::channel::bounded::<Vec<u8>>(16);
    let (audio_recycle, audio_recycle_rx) = smol::channel::bounded::<Vec<u8>>(16);

    // signals -> Signalled::Stop (SIGTERM, SIGINT), Signalled::Hup (SIGHUP)
    use async_signal::Signal;
    let signals = async_signal::Signals::new([Signal::Term, Signal::Int, Signal::Hup])
        .map_err(|e| format!("signals: {e}"))?;
    let smb = inbox.signals.clone();
    // runs on smol's executor thread, like the connect tasks
    let _sig_task = smol::spawn(async move {
        use futures_lite::StreamExt;
        let mut signals = signals;
        while let Some(s) = signals.next().await {
            smb.send_blocking(match s {
                Ok(Signal::Hup) => Signalled::Hup,
                _ => Signalled::Stop,
            });
        }
    });

    let (audio_ctl, audio_ctl_rx) = mpsc::channel();
    let wiring = |ctl, recycle| media::Wiring {
        origin: clock.origin(),
        mb: inbox.media.clone(),
        ctl,
        recycle,
    };
    let audio = media::audio::spawn(
        cfg.audio.clone(),
        cfg.muted,
        wiring(audio_ctl_rx, audio_recycle_rx),
    );
    let (video_ctl, video) = if cfg.enable_camera {
        let (c, r) = mpsc::channel();
        use livepush_core::encoder::{chain::ChainConfig, Backend};
        // the chain: the config's, else the board's, else software alone
        let order = cfg
            .video
            .encoders
            .clone()
            .or_else(|| opts.board.as_ref().map(|b| b.encoders.clone()))
            .unwrap_or_else(|| vec![Backend::Software]);
        log::info!(
            "encoder chain: {}",
            order
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let job = media::video::VideoJob {
            device: cfg.video.device.clone(),
            auto_focus: cfg.auto_focus,
            encoder: cfg.video.encoder,
            chain: ChainConfig {
                order,
                max_restarts: cfg.video.encoder_restarts,
                wedge_after: Duration::from_millis(u64::from(cfg.video.encoder_wedge_timeout_ms)),
            },
            m2m_device: opts.board.as_ref().and_then(|b| b.m2m_encoder.clone()),
            inject_fault_after: std::env::var("LIVEPUSH_INJECT_ENCODER_FAULT")
                .ok()
                .and_then(|v| v.parse().ok()),
            params,
            rtc: cfg.mode == livepush_core::config::Mode::Rtc,
            still: opts.waiting_image,
        };
        let h = media::video::spawn(job, wiring(r, video_recycle_rx));
        (Some(c), Some(h))
    } else {
        (None, None)
    };

    let now = clock.now();
    let mut sh = Shell {
        sup: Supervisor::new(supervisor::SupervisorConfig {
            // the reconnect jitter's seed: the clock's nanoseconds and the pid
            seed: crate::clock::monotonic_us() as u32 ^ std::process::id().rotate_left(16),
            ..supervisor::config_from(&cfg)
        }),
        // the configured GOP until two key frames have been measured
        meter: NetStatusMeter::new(now).with_gop(params.gop_frames as f32 / params.fps as f32),
        // at most a quarter of the queue's age limit (500 ms at most) behind
        // live: older, a fresh key frame is forced instead
        start: StartCache::new(
            (Duration::from_millis(u64::from(cfg.mode.preset().queue_ms)) / 4).min(START_CACHE_AGE),
            START_CACHE_BYTES,
        ),
        video_seen: false,
        queue_limit: Duration::from_millis(u64::from(cfg.mode.preset().queue_ms)),
        send_stall: Duration::from_millis(u64::from(cfg.network.send_stall_timeout_ms)),
        // busy at half the drop limit; calm after 2 s under a tenth of it
        busy: {
            let limit = Duration::from_millis(u64::from(cfg.mode.preset().queue_ms));
            BusyWatch::new(limit / 2, limit / 10, Duration::from_secs(2))
        },
        stop_at: opts.stop_after.map(|d| now + d),
        // between min-bitrate and the mode's bitrate (itself clamped to
        // max-bitrate): never above what the mode asks for, which would only
        // spend a metered uplink's data
        abr: (cfg.enable_camera && cfg.min_bitrate < params.bitrate_kbps).then(|| {
            let limit = Duration::from_millis(u64::from(cfg.mode.preset().queue_ms));
            Abr::new(AbrConfig {
                min_kbps: cfg.min_bitrate,
                max_kbps: params.bitrate_kbps,
                start_kbps: params.bitrate_kbps,
                audio_kbps: if cfg.muted { 0 } else { cfg.audio.bitrate },
                congested_age: (limit / 4).min(Duration::from_millis(500)),
                width: params.width,
                height: params.height,
            })
        }),
        shed_in_window: false,
        size: (params.width, params.height),
        tls: opts.tls,
        redirect: None,
        cfg,
        params,
        clock,
        events: Events::new(opts.events),
        net_lane: inbox.net.clone(),
        conn: None,
        next_id: 0,
        video_ctl,
        audio_ctl,
        video_recycle,
        audio_recycle,
        pool: Vec::with_capacity(POOL_MAX),
        asc: None,
        param_sets: (Vec::new(), Vec::new()),
        body: Vec::with_capacity(256 * 1024),
        read_buf: vec![0u8; 64 * 1024],
        stopping: None,
        fatal: None,
        summary: Summary::default(),
        steady: Steady::Off,
        report_allocations: opts.report_allocations,
    };

    loop {
        // what is waiting now in each lane (a busy one cannot starve the others)
        for _ in 0..inbox.signals.len() {
            let Some(s) = inbox.signals.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            sh.on_signal(now, s);
        }
        for _ in 0..inbox.media.len() {
            let Some(m) = inbox.media.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            sh.check_busy(now);
            sh.on_media(now, m);
        }
        for _ in 0..inbox.net.len() {
            let Some((conn, ev)) = inbox.net.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            sh.check_busy(now);
            if sh.conn.as_ref().map(|c| c.id) == Some(conn) {
                sh.on_net(now, ev);
            }
        }
        let now = sh.clock.now();
        if sh.next_deadline() <= now {
            sh.handle_timeout(now);
        }
        sh.drain(now);
        if sh.finished(sh.clock.now()) {
            break;
        }
        let deadline = sh.next_deadline();
        let link = sh.conn.as_ref().and_then(|c| c.link.as_ref());
        let sock = link.map(|l| (l.fd(), l.pending()));
        let wait = deadline.saturating_since(sh.clock.now());
        let (bell_rang, readable) = poll(&bell, sock, wait);
        if bell_rang {
            bell.reset();
        }
        if readable {
            let now = sh.clock.now();
            sh.read_socket(now);
        }
    }

    inbox.close();
    if let Some(c) = &sh.video_ctl {
        let _ = c.send(MediaCtl::Stop);
    }
    let _ = sh.audio_ctl.send(MediaCtl::Stop);
    let _ = audio.join();
    if let Some(v) = video {
        let _ = v.join();
    }
    match sh.fatal {
        Some(e) => Err(e),
        None => Ok(sh.summary),
    }
}

impl Shell {
    fn emit(&mut self, now: Instant, ev: Event) {
        if let Event::StateChange { code, detail } = &ev {
            match detail {
                Some(d) => log::info!("{code} ({d})"),
                None => log::info!("{code}"),
            }
        }
        self.events.emit(&ev, now.as_millis());
    }

    fn finished(&self, now: Instant) -> bool {
        if self.fatal.is_some() {
            return true;
        }
        match self.stopping {
            None => false,
            Some(deadline) => {
                now >= deadline
                    || self
                        .conn
                        .as_ref()
                        .and_then(|c| c.link.as_ref())
                        .is_none_or(|l| !l.pending())
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        [
            self.sup.poll_timeout(),
            self.conn
                .as_ref()
                .and_then(|c| c.session.as_ref())
                .and_then(|s| s.poll_timeout()),
            self.stop_at,
            self.stopping,
            self.conn
                .as_ref()
                .and_then(|c| c.link.as_ref())
                .and_then(|l| l.waiting_since())
                .map(|t| t + self.send_stall),
            match self.steady {
                Steady::StartsAt(t) => Some(t),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        .fold(self.meter.next_due(), Instant::min)
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("stopping");
        self.stop_at = None;
        self.stopping = Some(now + STOP_GRACE);
        if let Some(c) = &self.video_ctl {
            let _ = c.send(MediaCtl::Stop);
        }
        let _ = self.audio_ctl.send(MediaCtl::Stop);
        if let Some(s) = self.conn.as_mut().and_then(|c| c.session.as_mut()) {
            s.finish();
        }
        if let (
            true,
            Steady::Since {
                allocations,
                frames,
            },
        ) = (self.report_allocations, &self.steady)
        {
            let (allocations, frames) = (*allocations, *frames);
            let frames = self.summary.video_frames_sent.saturating_sub(frames);
            if frames > 0 {
                let per = (crate::alloc_count::allocations() - allocations) as f64 / frames as f64;
                log::info!(
                    "steady-state heap allocations per video frame: {per:.2} ({frames} frames)"
                );
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.check_busy(now);
        let stall = self.send_stall;
        let waiting = self
            .conn
            .as_ref()
            .and_then(|c| c.link.as_ref())
            .and_then(|l| l.waiting_since());
        if waiting.is_some_and(|t| now.saturating_since(t) >= stall) {
            self.io_failed(
                now,
                &format!(
                    "send stalled: the server took no bytes for {} ms",
                    stall.as_millis()
                ),
            );
        }
        if let Steady::StartsAt(t) = self.steady {
            if now >= t {
                self.steady = Steady::Since {
                    allocations: crate::alloc_count::allocations(),
                    frames: self.summary.video_frames_sent,
                };
            }
        }
        self.sup.handle_timeout(now);
        if let Some(s) = self.conn.as_mut().and_then(|c| c.session.as_mut()) {
            s.handle_timeout(now);
        }
        if self.meter.due(now) {
            let window = now.saturating_since(self.meter.window_start());
            let r = self.meter.report(now);
            self.emit(now, Event::NetStatus(r));
            self.adapt(now, window, r.net_speed, r.video_bitrate);
        }
        if self.stop_at.is_some_and(|t| now >= t) {
            self.begin_stop(now);
        }
    }

    /// One netstatus window has closed: the adaptive-bitrate controller gets
    /// what the socket took and how old the queue is, and its decision goes
    /// to the encoder (and, as 1006/1005, to the supervisor).
    fn adapt(&mut self, now: Instant, length: Duration, sent_kbps: u32, video_kbps: u32) {
        let publishing = self
            .conn
            .as_ref()
            .and_then(|c| c.session.as_ref())
            .is_some_and(|s| s.is_publishing());
        let queue_age = self.queue_age(now);
        let shed = std::mem::take(&mut self.shed_in_window);
        let Some(abr) = self.abr.as_mut() else { return };
        if !publishing {
            abr.reset_history();
            return;
        }
        let w = Window {
            sent_bytes: u64::from(sent_kbps) * 1000 / 8 * length.as_millis() as u64 / 1000,
            length,
            queue_age,
            shed,
            video_kbps,
        };
        log::debug!(
            "abr window: queue age {} ms, shed {shed}, sent {sent_kbps} kbps, video delivered {video_kbps} of {} kbps",
            queue_age.as_millis(),
            abr.kbps()
        );
        let Some(d) = abr.on_window(now, w) else {
            return;
        };
        match d {
            Decision::Bitrate {
                from,
                to,
                uplink_kbps,
            } => {
                if let Some(v) = &self.video_ctl {
                    let _ = v.send(MediaCtl::Bitrate(to));
                }
                let bytes = self.send_buffer();
                if let Some(l) = self.conn.as_ref().and_then(|c| c.link.as_ref()) {
                    l.set_send_buffer(bytes);
                }
                let detail = if uplink_kbps > 0 {
                    format!("video bitrate {from} -> {to} kbps (uplink carried {uplink_kbps} kbps)")
                } else {
                    format!("video bitrate {from} -> {to} kbps (uplink keeps up)")
                };
                self.sup.handle_input(now, Input::BitrateChanged(detail));
            }
            Decision::Resolution {
                width,
                height,
                down,
            } => {
                if let Some(v) = &self.video_ctl {
                    let _ = v.send(MediaCtl::Resize { width, height });
                }
                let (w0, h0) = self.size;
                let why = if down {
                    "uplink below min-bitrate"
                } else {
                    "uplink recovered"
                };
                let detail = format!("resolution {w0}x{h0} -> {width}x{height} ({why})");
                self.sup
                    .handle_input(now, Input::ResolutionAdjusted(detail));
            }
        }
    }

    /// The socket send buffer for the bitrate now: a quarter second of it
    /// (an eighth in RTC mode), at least 4 KB. Backlog then waits in the send
    /// queue, where it is measured and shed, not in the kernel, where it would
    /// only add delay; a server that stops reading shows as a send stall. The
    /// kernel doubles the value, so throughput is not bound below the bitrate
    /// for round trips up to half (RTC: a quarter of) a second.
    fn send_buffer(&self) -> usize {
        let video = self
            .abr
            .as_ref()
            .map_or(self.params.bitrate_kbps, |a| a.kbps());
        let video = if self.cfg.enable_camera { video } else { 0 };
        let audio = if self.cfg.muted {
            0
        } else {
            self.cfg.audio.bitrate
        };
        let per_s = u64::from(video + audio) * 1000 / 8;
        let div = if self.cfg.mode == livepush_core::config::Mode::Rtc {
            8
        } else {
            4
        };
        ((per_s / div) as usize).max(4096)
    }

    /// Age of the oldest unsent packet.
    fn queue_age(&self, now: Instant) -> Duration {
        self.conn
            .as_ref()
            .and_then(|c| c.link.as_ref())
            .and_then(|l| l.oldest())
            .map_or(Duration::ZERO, |t| now.saturating_since(t))
    }

    /// Sheds the send queue when it is older than the preset allows (GOP-aware:
    /// video first, then skip to the next key frame), and feeds its age to the
    /// 1101 watch.
    fn check_busy(&mut self, now: Instant) {
        let limit = self.queue_limit;
        let video_ctl = &self.video_ctl;
        if let Some(c) = self.conn.as_mut() {
            if let Some(l) = c.link.as_mut() {
                let pool = &mut self.pool;
                let shed = l.shed(now, limit, |b| recycle(pool, b));
                if shed.video > 0 || shed.audio > 0 {
                    self.shed_in_window = true;
                    if !c.timeline.skipping() {
                        log::warn!(
                            "send queue older than {} ms: dropped {} video and {} audio frames; video resumes at the next key frame",
                            limit.as_millis(),
                            shed.video,
                            shed.audio
                        );
                    }
                    if shed.video > 0 && c.timeline.skip_to_key() {
                        if let Some(v) = video_ctl {
                            let _ = v.send(MediaCtl::ForceKey);
                        }
                    }
                }
            }
        }
        let age = self.queue_age(now);
        match self.busy.update(now, age) {
            Some(Change::Busy) => {
                let detail = format!("send queue {} ms behind", age.as_millis());
                self.sup.handle_input(now, Input::NetBusy(detail));
            }
            Some(Change::Calm) => log::info!("uplink keeps up again"),
            None => {}
        }
    }

    fn on_signal(&mut self, now: Instant, s: Signalled) {
        self.check_busy(now);
        match s {
            Signalled::Stop => self.begin_stop(now),
            Signalled::Hup => self.reread_key(),
        }
    }

    fn on_media(&mut self, now: Instant, m: MediaMsg) {
        match m {
            MediaMsg::CameraOpened => self.sup.handle_input(now, Input::CameraOpened),
            MediaMsg::Device { input, fatal } => {
                if fatal {
                    let what = if matches!(
                        input,
                        Input::MicFailed(_) | Input::MicPermission(_) | Input::MicRate(_)
                    ) {
                        "microphone"
                    } else {
                        "camera"
                    };
                    self.fatal = Some(format!("{what}: {}", input.detail()));
                }
                self.sup.handle_input(now, input);
            }
            MediaMsg::FirstFrame => self.sup.handle_input(now, Input::FirstFrame),
            MediaMsg::VideoEncoderStarted { backend } => {
                let p = self.params;
                log::info!(
                    "video encoder: {backend} {}x{} {} fps, key frame every {} frames, {} kbps",
                    p.width,
                    p.height,
                    p.fps,
                    p.gop_frames,
                    p.bitrate_kbps
                );
                self.sup
                    .handle_input(now, Input::VideoEncoderStarted { fell_back: false });
            }
            MediaMsg::EncoderFellBack(m) => self.sup.handle_input(now, Input::EncoderFellBack(m)),
            MediaMsg::EncoderRestarted(m) => self.sup.handle_input(now, Input::EncoderRestarted(m)),
            MediaMsg::VideoEncoderFailed(e) => {
                self.sup
                    .handle_input(now, Input::VideoEncoderFailed(e.clone()));
                self.fatal = Some(format!("video encoder: {e}"));
            }
            MediaMsg::AudioEncoderStarted { asc } => {
                self.asc = Some(asc);
                self.sup.handle_input(now, Input::AudioEncoderStarted);
            }
            MediaMsg::AudioFailed(e) => {
                self.sup
                    .handle_input(now, Input::AudioEncoderFailed(e.clone()));
                self.fatal = Some(format!("audio: {e}"));
            }
            MediaMsg::Video(v) => {
                self.video_seen = true;
                self.size = (v.width, v.height);
                self.meter
                    .on_video(v.pts_us / 1000, v.data.len(), v.key, v.width, v.height);
                if v.key {
                    if let Some((sps, pps)) = h264::parameter_sets(&v.data) {
                        let (s, p) = &mut self.param_sets;
                        s.clear();
                        s.extend_from_slice(sps);
                        p.clear();
                        p.extend_from_slice(pps);
                    }
                }
                if self.stopping.is_some() {
                    let _ = self.video_recycle.try_send(v.data);
                } else if self.on_air() {
                    self.send_video(now, v.pts_us, v.key, &v.data);
                    let _ = self.video_recycle.try_send(v.data);
                } else {
                    let (vr, ar) = (&self.video_recycle, &self.audio_recycle);
                    self.start
                        .video(v.pts_us, v.key, v.data, |t, b| give_back(vr, ar, t, b));
                }
            }
            MediaMsg::Audio(a) => {
                self.meter.on_audio(a.data.len());
                if self.stopping.is_some() {
                    let _ = self.audio_recycle.try_send(a.data);
                } else if self.on_air() {
                    self.send_audio(now, a.pts_us, &a.data);
                    let _ = self.audio_recycle.try_send(a.data);
                } else {
                    let (vr, ar) = (&self.video_recycle, &self.audio_recycle);
                    self.start
                        .audio(a.pts_us, a.data, |t, b| give_back(vr, ar, t, b));
                }
            }
        }
    }

    fn on_air(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.on_air)
    }

    /// An encoded video frame onto the publish, through its timeline.
    fn send_video(&mut self, now: Instant, pts_us: u64, key: bool, annexb: &[u8]) {
        if self.send(
            now,
            Encoded::Video {
                pts_us,
                key,
                annexb,
            },
        ) {
            self.summary.video_frames_sent += 1;
        }
    }

    /// An encoded audio frame onto the publish, through its timeline.
    fn send_audio(&mut self, now: Instant, pts_us: u64, frame: &[u8]) {
        if self.send(now, Encoded::Audio { pts_us, frame }) {
            self.summary.audio_frames_sent += 1;
        }
    }

    /// Whether the frame was queued (not before the stream's first key
    /// frame, not while skipping to one, only while publishing).
    fn send(&mut self, now: Instant, f: Encoded<'_>) -> bool {
        let Some(Conn {
            timeline,
            session: Some(s),
            link: Some(link),
            ..
        }) = self.conn.as_mut()
        else {
            return false;
        };
        if !s.is_publishing() {
            return false;
        }
        let h = Headers {
            sps: &self.param_sets.0,
            pps: &self.param_sets.1,
            asc: self.asc.as_deref(),
        };
        let (pool, body) = (&mut self.pool, &mut self.body);
        let out = |k, ts, b: &[u8]| queue_tag(s, link, pool, now, k, ts, b);
        match f {
            Encoded::Video {
                pts_us,
                key,
                annexb,
            } => timeline.video(pts_us, key, annexb, h, body, out),
            Encoded::Audio { pts_us, frame } => timeline.audio(pts_us, frame, h, body, out),
        }
    }

    fn on_net(&mut self, now: Instant, ev: NetMsg) {
        match ev {
            NetMsg::Connected(stream) => {
                self.sup.handle_input(now, Input::Connected);
                let timeout =
                    Duration::from_millis(u64::from(self.cfg.network.handshake_timeout_ms));
                if let Some(c) = self.conn.as_mut() {
                    c.connecting = None;
                    c.link = Some(Link::new(stream));
                    self.busy.reset();
                    let url = self
                        .redirect
                        .clone()
                        .unwrap_or_else(|| self.cfg.url.clone());
                    c.session = Some(PublishSession::new(url, now, timeout));
                }
            }
            NetMsg::ConnectFailed(f) => self.fail(now, f),
        }
    }

    /// The socket is readable: read everything there is into the session.
    fn read_socket(&mut self, now: Instant) {
        loop {
            let Some(c) = self.conn.as_mut() else { return };
            let (Some(link), Some(s)) = (c.link.as_mut(), c.session.as_mut()) else {
                return;
            };
            match link.read(&mut self.read_buf) {
                Ok(None) => return,
                Ok(Some(0)) => {
                    s.handle_eof();
                    return;
                }
                Ok(Some(n)) => s.handle_input(now, &self.read_buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    let ms = (self.send_stall * 2).as_millis();
                    return self.io_failed(
                        now,
                        &format!("the server acknowledged nothing for {ms} ms (TCP user timeout)"),
                    );
                }
                Err(e) => return self.io_failed(now, &format!("read: {e}")),
            }
        }
    }

    /// A socket call failed: the session classifies it (and the next drain reports it).
    fn io_failed(&mut self, now: Instant, what: &str) {
        if self.stopping.is_some() {
            return self.close_conn();
        }
        match self.conn.as_mut().and_then(|c| c.session.as_mut()) {
            Some(s) => s.handle_io_error(now, what),
            None => {
                let what = self.cfg.url.redact(what);
                self.fail(now, PushFailure::Io(what));
            }
        }
    }

    fn close_conn(&mut self) {
        if let Some(mut c) = self.conn.take() {
            if let Some(l) = c.link.as_mut() {
                let pool = &mut self.pool;
                l.drain_buffers(|b| recycle(pool, b));
            }
        }
    }

    fn fail(&mut self, now: Instant, f: PushFailure) {
        self.close_conn();
        if let Some(r) = self.redirect.take() {
            let r = self.cfg.url.redact(&r.to_string());
            log::warn!(
                "{r} (from the server's reconnect request) failed; back to the configured URL"
            );
        }
        if self.stopping.is_none() {
            self.sup.handle_input(now, Input::PushFailed(f));
        }
    }

    fn connect(&mut self) {
        self.next_id += 1;
        let id = self.next_id;
        let url = self.redirect.as_ref().unwrap_or(&self.cfg.url);
        log::info!("connecting to {url}");
        let timeout = Duration::from_millis(u64::from(self.cfg.network.connect_timeout_ms));
        let opts = ConnectOptions {
            timeout,
            handshake_timeout: Duration::from_millis(u64::from(
                self.cfg.network.handshake_timeout_ms,
            )),
            user_timeout: self.send_stall * 2,
            sndbuf: self.send_buffer(),
            tls: self.tls.clone(),
        };
        let task = conn::spawn(id, url, opts, self.net_lane.clone());
        self.conn = Some(Conn {
            id,
            connecting: Some(task),
            link: None,
            session: None,
            timeline: Timeline::new(!self.cfg.enable_camera),
            on_air: false,
        });
    }

    /// Moves everything the core produced to where it goes, until nothing moves;
    /// then writes what the socket takes.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            let mut session_event = None;
            if let Some(c) = self.conn.as_mut() {
                if let (Some(s), Some(link)) = (c.session.as_mut(), c.link.as_mut()) {
                    while let Some(t) = s.poll_transmit() {
                        link.push(Kind::Control, now, t.bytes);
                    }
                    session_event = s.poll_event();
                }
            }
            match session_event {
                Some(PublishEvent::Publishing) => {
                    moved = true;
                    self.sup.handle_input(now, Input::Published);
                    self.summary.publishes += 1;
                    if matches!(self.steady, Steady::Off) {
                        self.steady = Steady::StartsAt(now + STEADY_AFTER);
                    }
                    self.on_published(now);
                }
                Some(PublishEvent::Failed(f)) => {
                    moved = true;
                    self.fail(now, f);
                }
                Some(PublishEvent::ReconnectRequested {
                    tc_url,
                    description,
                }) => {
                    moved = true;
                    self.close_conn();
                    let target = tc_url.and_then(|u| self.redirect_to(&u));
                    let current = self.redirect.as_ref().unwrap_or(&self.cfg.url);
                    let mut detail = match &target {
                        Some(t) => {
                            current.redact(&format!("the server asked to reconnect, to {t}"))
                        }
                        None => "the server asked to reconnect".to_string(),
                    };
                    if !description.is_empty() {
                        detail.push_str(": ");
                        detail.push_str(&description);
                    }
                    if target.is_some() {
                        self.redirect = target;
                    }
                    self.sup
                        .handle_input(now, Input::ReconnectRequested(detail));
                }
                None => {}
            }
            while let Some(o) = self.sup.poll_output() {
                moved = true;
                match o {
                    Output::Status { code, detail } => {
                        self.emit(now, Event::StateChange { code, detail })
                    }
                    Output::Error { err_code, err_msg } => {
                        self.emit(now, Event::Error { err_code, err_msg })
                    }
                    Output::Connect => {
                        if self.stopping.is_none() {
                            self.connect();
                        }
                    }
                }
            }
            if !moved {
                self.write_socket(now);
                // a write error leaves a failure in the session: report it now
                if !self
                    .conn
                    .as_ref()
                    .and_then(|c| c.session.as_ref())
                    .is_some_and(|s| s.has_event())
                {
                    break;
                }
            }
        }
    }

    fn write_socket(&mut self, now: Instant) {
        let Some(link) = self.conn.as_mut().and_then(|c| c.link.as_mut()) else {
            return;
        };
        let (meter, pool) = (&mut self.meter, &mut self.pool);
        let r = link.flush(now, |req| {
            meter.on_sent(
                req.bytes.len(),
                now.saturating_since(req.queued_at).as_micros() as u64,
            );
            recycle(pool, req.bytes);
        });
        if let Err(e) = r {
            self.io_failed(now, &format!("write: {e}"));
        }
    }

    /// The URL a reconnect request's `tcUrl` points to, with our stream key;
    /// None (the current URL is kept) when it does not parse or would give up
    /// TLS or need TLS this run was not set up for.
    fn redirect_to(&self, tc_url: &str) -> Option<livepush_core::rtmp::url::PushUrl> {
        use livepush_core::rtmp::url::{PushUrl, Scheme};
        let current = self.redirect.as_ref().unwrap_or(&self.cfg.url);
        let joined = format!("{}/{}", tc_url.trim_end_matches('/'), current.stream_key());
        match PushUrl::parse(&joined) {
            Ok(u) if current.scheme == Scheme::Rtmps && u.scheme != Scheme::Rtmps => {
                let u = current.redact(&u.to_string());
                log::warn!("reconnect request to {u} ignored: it would give up TLS");
                None
            }
            Ok(u) if u.scheme == Scheme::Rtmps && self.tls.is_none() => {
                let u = current.redact(&u.to_string());
                log::warn!("reconnect request to {u} ignored: rtmps:// needs an rtmps:// url in the config");
                None
            }
            Ok(u) => Some(u),
            Err(e) => {
                log::warn!(
                    "reconnect request with an unusable tcUrl ignored: {}",
                    current.redact(&e.to_string())
                );
                None
            }
        }
    }

    /// SIGHUP: `url-key-file` read again. A new key is used from the next
    /// connection on (the running publish was accepted with the old one; a
    /// server that revokes it drops the publish, and the reconnect uses the
    /// new key). A file that cannot be read keeps the current key.
    fn reread_key(&mut self) {
        let Some(path) = self.cfg.url_key_file.clone() else {
            log::info!(
                "SIGHUP: no url-key-file to read again (other configuration changes need a restart)"
            );
            return;
        };
        match crate::files::read_key_file(&path) {
            Err(e) => log::warn!("SIGHUP: {e}; the current stream key is kept"),
            Ok(key) if key == self.cfg.url.stream_key() => {
                log::info!("SIGHUP: url-key-file {path} read again: the key is unchanged")
            }
            Ok(key) => {
                self.cfg.url = self.cfg.url.with_key(&key);
                if let Some(r) = self.redirect.take() {
                    self.redirect = Some(r.with_key(&key));
                }
                log::info!(
                    "SIGHUP: url-key-file {path} read again: a new stream key, used from the next connection on"
                );
            }
        }
    }

    fn on_published(&mut self, now: Instant) {
        let p = self.params;
        let mut md = StreamMetadata::new();
        if self.cfg.enable_camera {
            md.video_width = Some(p.width);
            md.video_height = Some(p.height);
            md.video_codec_id = Some(7);
            md.video_frame_rate = Some(p.fps as f32);
            md.video_bitrate_kbps = Some(p.bitrate_kbps);
        }
        md.audio_codec_id = Some(10);
        md.audio_bitrate_kbps = Some(self.cfg.audio.bitrate);
        md.audio_sample_rate = Some(self.cfg.audio.sample_rate);
        md.audio_channels = Some(u32::from(self.cfg.audio.channels));
        md.audio_is_stereo = Some(self.cfg.audio.channels == 2);
        md.encoder = Some(format!("livepush {}", env!("CARGO_PKG_VERSION")));
        if let Some(c) = self.conn.as_mut() {
            c.timeline.restart();
            c.on_air = true;
            if let Some(s) = c.session.as_mut() {
                s.send_metadata(&md);
            }
        }
        // start the stream on the key frame the encoder made while the
        // connection was set up (and what followed it); when there is none
        // recent enough, on a fresh one
        let (vr, ar) = (&self.video_recycle, &self.audio_recycle);
        match self.start.take(|t, b| give_back(vr, ar, t, b)) {
            Some(frames) => {
                for f in frames {
                    match f {
                        Frame::Video { pts_us, key, data } => {
                            self.send_video(now, pts_us, key, &data);
                            let _ = self.video_recycle.try_send(data);
                        }
                        Frame::Audio { pts_us, data } => {
                            self.send_audio(now, pts_us, &data);
                            let _ = self.audio_recycle.try_send(data);
                        }
                    }
                }
            }
            // before the encoder's first frame: that one is a key frame
            None if !self.video_seen => {}
            None => {
                if let Some(v) = &self.video_ctl {
                    let _ = v.send(MediaCtl::ForceKey);
                }
            }
        }
    }
}
