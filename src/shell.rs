//! The shell: one event loop that waits for ONE thing (the inbox doorbell,
//! the socket, or the next deadline) in ppoll(2), turns what happened into
//! the sans-IO publisher's inputs (`livepush_core::publisher`: every
//! decision about codes, reconnects, timestamps, the send queue and the
//! bitrate is made there), and carries out its outputs: open or drop a
//! connection, write the bytes it shows, pass a command to the video
//! encoder, show an event to the observers, give an encoder its buffer
//! back. It never blocks otherwise: encoding runs on the media threads, DNS
//! and connect in smol tasks. In steady state the per-frame path allocates
//! nothing (docs/design/0002-event-loop-wakeups.md says why not smol's
//! reactor; docs/design/0008 why the publisher is in the core).

use std::os::fd::RawFd;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use livepush_core::config::Config;
use livepush_core::publisher::{Input, Observed, Observer, Output, Publisher, PublisherConfig};
use livepush_core::start_cache::Track;
use livepush_core::time::Instant;
use livepush_core::watchdog::Track as Frames;
use smol::channel::Sender;

use crate::clock::Clock;
use crate::control::ControlMsg;
use crate::events_out::{EventWriter, Events};
use crate::mailbox::{self, Doorbell, Lane, Ringer};
use crate::media::{self, MediaCtl, MediaMsg};
use crate::net::conn::{self, ConnectOptions, NetMsg};
use crate::net::link::{Link, Wrote};
use crate::service::Service;

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
    control: Arc<Lane<ControlMsg>>,
}

impl Inbox {
    fn close(&self) {
        self.media.close();
        self.net.close();
        self.signals.close();
        self.control.close();
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
    /// The control API's bearer token (`[control] token-file`, read).
    pub control_token: Option<String>,
    /// The configuration file (a reload reads it again; None: no reloads).
    pub config_path: Option<String>,
    /// `--fast-clock N`: synthetic sources at N times real time (1: real time).
    pub fast_clock: u32,
}

/// Allocation counting starts this long after the first publish.
const STEADY_AFTER: Duration = Duration::from_secs(5);

/// Allocation counting for the benchmark's zero-allocation target.
enum Steady {
    Off,
    StartsAt(Instant),
    Since { allocations: u64, frames: u64 },
}

/// The OS side of the connection the publisher asked for.
struct Socket {
    /// The publisher's name for it.
    id: u64,
    /// The connect task, until it delivered the stream.
    connecting: Option<smol::Task<()>>,
    link: Option<Link>,
}

struct Shell {
    cfg: Config,
    clock: Clock,
    publisher: Publisher,
    /// The event log: shown every output first.
    events: Events,
    /// Who else is shown the publisher's events and phase.
    observers: Vec<Box<dyn Observer>>,
    /// The status LEDs and display's thread (a reload tells it things).
    indicators: Option<crate::indicate::Running>,
    /// The control API (a reload updates what it shows).
    control: Option<crate::control::Running>,
    control_lane: Arc<Lane<ControlMsg>>,
    config_path: Option<String>,
    /// systemd: readiness, status and the watchdog.
    service: Service,
    /// Where connect tasks report.
    net_lane: Arc<Lane<(u64, NetMsg)>>,
    socket: Option<Socket>,
    video_ctl: Option<mpsc::Sender<MediaCtl>>,
    audio_ctl: mpsc::Sender<MediaCtl>,
    video_recycle: Sender<Vec<u8>>,
    audio_recycle: Sender<Vec<u8>>,
    read_buf: Vec<u8>,
    tls: Option<Arc<rustls::ClientConfig>>,
    stop_at: Option<Instant>,
    stopping: bool,
    steady: Steady,
    report_allocations: bool,
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
        control: ringer.lane(8),
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
        speed: opts.fast_clock.max(1),
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
            devices: cfg.video.devices.clone(),
            auto_focus: cfg.auto_focus,
            encoder: cfg.video.encoder,
            chain: ChainConfig {
                order,
                max_restarts: cfg.video.encoder_restarts,
                wedge_after: Duration::from_millis(u64::from(cfg.video.encoder_wedge_timeout_ms)),
            },
            m2m_device: opts.board.as_ref().and_then(|b| b.m2m_encoder.clone()),
            hang_after: std::env::var("LIVEPUSH_INJECT_VIDEO_HANG")
                .ok()
                .and_then(|v| media::video::parse_hang(&v)),
            inject_fault_after: std::env::var("LIVEPUSH_INJECT_ENCODER_FAULT")
                .ok()
                .and_then(|v| v.parse().ok()),
            params,
            rtc: cfg.mode == livepush_core::config::Mode::Rtc,
            still: opts.waiting_image,
            filters: (cfg.beauty, cfg.whiteness),
        };
        let h = media::video::spawn(job, wiring(r, video_recycle_rx));
        (Some(c), Some(h))
    } else {
        (None, None)
    };

    let now = clock.now();
    let seed = crate::clock::monotonic_us() as u32 ^ std::process::id().rotate_left(16);
    let pcfg = PublisherConfig::from_config(
        &cfg,
        seed,
        opts.tls.is_some(),
        format!("livepush {}", env!("CARGO_PKG_VERSION")),
    );
    // the status LEDs and display: an observer and a thread of their own
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    let ind = &cfg.indicators;
    let indicators = opts.board.as_ref().filter(|_| ind.enabled).and_then(|b| {
        let setup = crate::indicate::Setup {
            server: format!("{}:{}", cfg.url.host, cfg.url.port),
            dim_after: (ind.dim_after_s > 0).then(|| Duration::from_secs(ind.dim_after_s.into())),
        };
        crate::indicate::start(b, setup, clock)
    });
    let indicators = indicators.map(|(feed, running)| {
        observers.push(Box::new(feed));
        running
    });
    // the control API: an observer for what it shows, a lane for what it asks
    let control = (!cfg.control.listen.is_empty()).then(|| {
        let board = crate::control::board::Board::new();
        observers.push(Box::new(crate::control::board::Feed::new(
            board.clone(),
            now,
        )));
        // metrics and health: one more observer, read by the same server
        let metrics = crate::metrics::Metrics::new(crate::metrics::BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            features: crate::metrics::features(),
            board: cfg.board.clone().unwrap_or_default(),
        });
        observers.push(Box::new(crate::metrics::Feed::new(metrics.clone())));
        crate::control::start(crate::control::Setup {
            config: cfg.control.clone(),
            token: opts.control_token.clone(),
            lane: inbox.control.clone(),
            board,
            metrics,
            summary: summary(&cfg),
            video: video_ctl.clone(),
            torch: opts.board.as_ref().and_then(|b| b.torch.clone()),
            config_path: opts.config_path.clone(),
        })
    });
    let service = Service::new(now, cfg.enable_camera, true);
    let mut sh = Shell {
        publisher: Publisher::new(pcfg, now),
        events: Events::new(opts.events),
        observers,
        indicators,
        control,
        control_lane: inbox.control.clone(),
        config_path: opts.config_path,
        service,
        stop_at: opts.stop_after.map(|d| now + d),
        tls: opts.tls,
        cfg,
        clock,
        net_lane: inbox.net.clone(),
        socket: None,
        video_ctl,
        audio_ctl,
        video_recycle,
        audio_recycle,
        read_buf: vec![0u8; 64 * 1024],
        stopping: false,
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
            match s {
                Signalled::Stop => sh.stop(now),
                Signalled::Hup => match sh.config_path.clone() {
                    Some(path) => {
                        log::info!("SIGHUP: reading {path} again");
                        let lane = sh.control_lane.clone();
                        smol::spawn(async move {
                            crate::control::reload(path, lane, false).await;
                        })
                        .detach();
                    }
                    None => sh.reread_key(),
                },
            }
        }
        for _ in 0..inbox.control.len() {
            let Some(m) = inbox.control.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            sh.on_control(now, m);
        }
        for _ in 0..inbox.media.len() {
            let Some(m) = inbox.media.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            match &m {
                MediaMsg::Video(_) => sh.service.frame(now, Frames::Video),
                MediaMsg::Audio(_) => sh.service.frame(now, Frames::Audio),
                _ => {}
            }
            sh.publisher.handle_input(now, Input::Media(m));
        }
        for _ in 0..inbox.net.len() {
            let Some((conn, ev)) = inbox.net.try_recv() else {
                break;
            };
            let now = sh.clock.now();
            sh.on_net(now, conn, ev);
        }
        let now = sh.clock.now();
        sh.handle_timeout(now);
        sh.carry_out(now);
        sh.write_socket(now);
        sh.carry_out(now);
        if sh.publisher.finished(sh.clock.now()) {
            break;
        }
        let link = sh.socket.as_ref().and_then(|s| s.link.as_ref());
        let sock = link.map(|l| (l.fd(), sh.publisher.transmit().is_some() || l.held_below()));
        let wait = sh.next_deadline().saturating_since(sh.clock.now());
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
    let failure = sh.publisher.failure().map(|e| e.to_string());
    let c = sh.publisher.counts();
    // the feed goes with the shell: the indicator thread shows the end and stops
    let indicators = sh.indicators.take();
    drop(sh);
    if let Some(i) = indicators {
        i.join();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Summary {
        video_frames_sent: c.video_frames_sent,
        audio_frames_sent: c.audio_frames_sent,
        publishes: c.publishes,
    })
}

/// The configuration as the API shows it (the URL's secret hidden).
fn summary(cfg: &Config) -> serde_json::Value {
    let v = cfg.video_params();
    serde_json::json!({
        "url": cfg.url.to_string(),
        "mode": format!("{:?}", cfg.mode).to_uppercase(),
        "autopush": cfg.autopush,
        "enable_camera": cfg.enable_camera,
        "muted": cfg.muted,
        "video": {
            "device": cfg.video.device.to_string(),
            "devices": cfg.video.devices.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "width": v.width,
            "height": v.height,
            "fps": v.fps,
            "bitrate_kbps": v.bitrate_kbps,
            "min_bitrate_kbps": cfg.min_bitrate,
            "max_bitrate_kbps": cfg.max_bitrate,
        },
        "audio": {
            "device": cfg.audio.device.to_string(),
            "sample_rate": cfg.audio.sample_rate,
            "channels": cfg.audio.channels,
            "bitrate_kbps": cfg.audio.bitrate,
        },
        "pause_fps": cfg.pause_fps,
        "pause_time_s": cfg.pause_time_s,
        "background_mute": cfg.background_mute,
        "waiting_image": cfg.waiting_image.as_deref().map(|w| cfg.url.redact(w)),
        "control": cfg.control.listen.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
    })
}

impl Shell {
    fn next_deadline(&self) -> Instant {
        [
            self.stop_at,
            self.service.poll_timeout(),
            match self.steady {
                Steady::StartsAt(t) => Some(t),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        .fold(self.publisher.poll_timeout(), Instant::min)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.publisher.poll_timeout() <= now {
            self.publisher.handle_timeout(now);
        }
        self.service.handle_timeout(now);
        if self.stop_at.is_some_and(|t| now >= t) {
            self.stop(now);
        }
        match self.steady {
            Steady::Off if self.publisher.counts().publishes > 0 => {
                self.steady = Steady::StartsAt(now + STEADY_AFTER)
            }
            Steady::StartsAt(t) if now >= t => {
                self.steady = Steady::Since {
                    allocations: crate::alloc_count::allocations(),
                    frames: self.publisher.counts().video_frames_sent,
                }
            }
            _ => {}
        }
    }

    /// SIGINT / SIGTERM or `--seconds`: the media threads stop, the
    /// publisher flushes what it has for at most its grace time.
    fn stop(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        self.service.stopping();
        self.stop_at = None;
        if let Some(c) = &self.video_ctl {
            let _ = c.send(MediaCtl::Stop);
        }
        let _ = self.audio_ctl.send(MediaCtl::Stop);
        self.publisher.handle_input(now, Input::Stop);
        if let (
            true,
            Steady::Since {
                allocations,
                frames,
            },
        ) = (self.report_allocations, &self.steady)
        {
            let (allocations, frames) = (*allocations, *frames);
            let frames = self
                .publisher
                .counts()
                .video_frames_sent
                .saturating_sub(frames);
            if frames > 0 {
                let per = (crate::alloc_count::allocations() - allocations) as f64 / frames as f64;
                log::info!(
                    "steady-state heap allocations per video frame: {per:.2} ({frames} frames)"
                );
            }
        }
    }

    /// Carries out everything the publisher asked for.
    /// Shows an output to every observer and to systemd.
    fn show(&mut self, now: Instant, what: Observed<'_>) {
        self.events.observe(now, what);
        for o in &mut self.observers {
            o.observe(now, what);
        }
        self.service.observe(now, what);
    }

    fn carry_out(&mut self, now: Instant) {
        while let Some(o) = self.publisher.poll_output() {
            match o {
                Output::Connect {
                    conn,
                    url,
                    send_buffer,
                } => {
                    let n = &self.cfg.network;
                    let opts = ConnectOptions {
                        timeout: Duration::from_millis(u64::from(n.connect_timeout_ms)),
                        handshake_timeout: Duration::from_millis(u64::from(n.handshake_timeout_ms)),
                        user_timeout: self.send_stall() * 2,
                        sndbuf: send_buffer,
                        tls: self.tls.clone(),
                    };
                    let task = conn::spawn(conn, &url, opts, self.net_lane.clone());
                    self.socket = Some(Socket {
                        id: conn,
                        connecting: Some(task),
                        link: None,
                    });
                }
                Output::Close { conn } => {
                    if self.socket.as_ref().is_some_and(|s| s.id == conn) {
                        self.socket = None;
                    }
                }
                Output::SendBuffer(bytes) => {
                    if let Some(l) = self.socket.as_ref().and_then(|s| s.link.as_ref()) {
                        l.set_send_buffer(bytes);
                    }
                }
                Output::Encoder(c) => {
                    if let Some(v) = &self.video_ctl {
                        let _ = v.send(c.into());
                    }
                }
                Output::Media(c) => {
                    if let Some(v) = &self.video_ctl {
                        let _ = v.send(c.into());
                    }
                    if let livepush_core::publisher::MediaCommand::Camera(on) = c {
                        // a closed camera gives no frames: not a hang
                        self.service.watch_video(now, on);
                    } else {
                        let _ = self.audio_ctl.send(c.into());
                    }
                }
                Output::Event(ev) => self.show(now, Observed::Event(&ev)),
                Output::Phase(p) => self.show(now, Observed::Phase(p)),
                Output::Notice(n) => self.show(now, Observed::Notice(n)),
                Output::Tally(t) => self.show(now, Observed::Tally(&t)),
                Output::Recycle(Track::Video, b) => {
                    let _ = self.video_recycle.try_send(b);
                }
                Output::Recycle(Track::Audio, b) => {
                    let _ = self.audio_recycle.try_send(b);
                }
            }
        }
    }

    fn send_stall(&self) -> Duration {
        Duration::from_millis(u64::from(self.cfg.network.send_stall_timeout_ms))
    }

    /// A connect task reported (only the current connection's reports count).
    fn on_net(&mut self, now: Instant, conn: u64, ev: NetMsg) {
        let Some(s) = self.socket.as_mut().filter(|s| s.id == conn) else {
            return;
        };
        match ev {
            NetMsg::Connected(stream) => {
                s.connecting = None;
                s.link = Some(Link::new(stream));
                self.publisher.handle_input(now, Input::Connected { conn });
            }
            NetMsg::ConnectFailed(failure) => {
                self.publisher
                    .handle_input(now, Input::ConnectFailed { conn, failure });
            }
        }
    }

    /// The socket is readable: read everything there is into the publisher.
    fn read_socket(&mut self, now: Instant) {
        loop {
            let Some(link) = self.socket.as_mut().and_then(|s| s.link.as_mut()) else {
                return;
            };
            match link.read(&mut self.read_buf) {
                Ok(None) => return,
                Ok(Some(0)) => return self.publisher.handle_input(now, Input::Eof),
                Ok(Some(n)) => self
                    .publisher
                    .handle_input(now, Input::Received(&self.read_buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    let ms = (self.send_stall() * 2).as_millis();
                    let what =
                        format!("the server acknowledged nothing for {ms} ms (TCP user timeout)");
                    return self.publisher.handle_input(now, Input::IoFailed(what));
                }
                Err(e) => {
                    return self
                        .publisher
                        .handle_input(now, Input::IoFailed(format!("read: {e}")))
                }
            }
            // the publisher may have closed the connection (a hostile or
            // failed session): read no further from it
            self.carry_out(now);
        }
    }

    /// Writes what the socket takes of the publisher's send queue.
    fn write_socket(&mut self, now: Instant) {
        let (Some(link), p) = (
            self.socket.as_mut().and_then(|s| s.link.as_mut()),
            &mut self.publisher,
        ) else {
            return;
        };
        let failed = loop {
            let drained = match link.flush_records() {
                Ok((progress, drained)) => {
                    if progress {
                        p.handle_input(now, Input::Progress);
                    }
                    drained
                }
                Err(e) => break Some(e),
            };
            if !drained {
                break None;
            }
            let Some(bytes) = p.transmit() else {
                break None;
            };
            match link.write(bytes) {
                Ok(Wrote::Took(n)) => {
                    p.handle_input(now, Input::Written(n));
                    if !link.is_tls() {
                        p.handle_input(now, Input::Progress);
                    }
                }
                Ok(Wrote::Full) => break None,
                Err(e) => break Some(e),
            }
        };
        match failed {
            Some(e) => p.handle_input(now, Input::IoFailed(format!("write: {e}"))),
            None => p.handle_input(now, Input::HeldBelow(link.held_below())),
        }
    }

    /// A control request: a push command (answered at once), a checked
    /// configuration to apply, or a refused one to show.
    fn on_control(&mut self, now: Instant, m: ControlMsg) {
        match m {
            ControlMsg::Command { command, reply } => {
                let r = self.publisher.command(now, command);
                let _ = reply.try_send(r);
            }
            ControlMsg::Refused { why } => {
                if let Some(i) = &self.indicators {
                    i.set_config_error(Some(&why));
                }
            }
            ControlMsg::Reload { checked, reply } => {
                let outcome = self.apply_reload(now, *checked);
                if let Some(r) = reply {
                    let _ = r.try_send(outcome);
                }
            }
        }
    }

    /// Applies what of a checked configuration can change while running;
    /// says what waits for a restart.
    fn apply_reload(
        &mut self,
        now: Instant,
        checked: crate::control::reload::Checked,
    ) -> crate::control::reload::Outcome {
        use livepush_core::config::reload;
        let new = checked.config;
        let mut plan = reload::plan(&self.cfg, &new);
        // the event log's new target must open, or the reload changes nothing
        if plan.applied.contains(&"events") {
            match EventWriter::open(&new.events) {
                Ok(w) => self.events = Events::new(w),
                Err(e) => return Err(vec![format!("events.to: {e}")]),
            }
        }
        self.publisher.reconfigure(now, &new, &plan);
        // a URL is fetched again on every reload: its picture may have changed
        let url = new
            .waiting_image
            .as_deref()
            .is_some_and(|w| w.contains("://"));
        if plan.applied.contains(&"beauty") || plan.applied.contains(&"whiteness") {
            if let Some(v) = &self.video_ctl {
                let _ = v.send(MediaCtl::Filters {
                    beauty: new.beauty,
                    whiteness: new.whiteness,
                });
            }
        }
        if plan.applied.contains(&"waiting-image") || url {
            if let Some(v) = &self.video_ctl {
                let _ = v.send(MediaCtl::Still(checked.still));
            }
        }
        self.cfg = crate::control::reload::merge(&self.cfg, &new);
        if let Some(i) = &self.indicators {
            let ind = &self.cfg.indicators;
            i.set_setup(crate::indicate::Setup {
                server: format!("{}:{}", self.cfg.url.host, self.cfg.url.port),
                dim_after: (ind.dim_after_s > 0)
                    .then(|| Duration::from_secs(ind.dim_after_s.into())),
            });
        }
        if let Some(c) = &self.control {
            c.set_summary(summary(&self.cfg));
        }
        plan.restart.sort_unstable();
        log::info!(
            "reload: applied [{}]; waiting for a restart: [{}]",
            plan.applied.join(", "),
            plan.restart.join(", ")
        );
        self.carry_out(now);
        Ok(plan)
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
            Ok(key) if !self.publisher.set_stream_key(&key) => {
                log::info!("SIGHUP: url-key-file {path} read again: the key is unchanged")
            }
            Ok(_) => log::info!(
                "SIGHUP: url-key-file {path} read again: a new stream key, used from the next connection on"
            ),
        }
    }
}
