//! The smol shell: one event loop that waits for ONE thing (a message from a
//! media thread or a connection task, or the next deadline), feeds it to the
//! sans-IO core (supervisor, publish session, netstatus meter), then drains
//! the core's outputs. It never blocks: encoding runs on the media threads,
//! socket I/O in the connection task.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::future;
use livepush_core::codec::h264;
use livepush_core::config::{Config, VideoParams};
use livepush_core::event::Event;
use livepush_core::flv::tag;
use livepush_core::netstatus::NetStatusMeter;
use livepush_core::rtmp::failure::PushFailure;
use livepush_core::rtmp::publish::{PublishEvent, PublishSession};
use livepush_core::status::StatusCode;
use livepush_core::supervisor::{self, Input, Output, Supervisor};
use livepush_core::time::Instant;
use rml_rtmp::sessions::StreamMetadata;
use smol::channel::Sender;

use crate::clock::Clock;
use crate::events_out::EventWriter;
use crate::media::{self, MediaCtl, MediaMsg};
use crate::net::conn::{self, NetMsg, WriteReq};

/// Everything the event loop waits for.
#[derive(Debug)]
pub enum Msg {
    /// From a media thread.
    Media(MediaMsg),
    /// From connection task `conn`.
    Net {
        /// Connection id (stale ids are ignored).
        conn: u64,
        /// What happened.
        ev: NetMsg,
    },
    /// SIGINT / SIGTERM.
    Stop,
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
    /// Heap allocations per video frame sent, from 5 s after the first publish to the stop.
    pub allocations_per_frame: Option<f64>,
}

/// What `run` needs.
pub struct RunOptions {
    /// Validated config.
    pub config: Config,
    /// Stop by itself after this long.
    pub stop_after: Option<Duration>,
    /// Event sink.
    pub events: EventWriter,
}

/// Packets handed to the writer task at most, so that the queue we can see stays here.
const IN_FLIGHT: usize = 4;
/// Time allowed to flush the last packets when stopping.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Allocation counting starts this long after the first publish.
const STEADY_AFTER: Duration = Duration::from_secs(5);

struct Conn {
    id: u64,
    _task: smol::Task<()>,
    writer: Sender<WriteReq>,
    session: Option<PublishSession>,
    queue: VecDeque<WriteReq>,
    in_flight: usize,
    base_us: Option<u64>,
    skipping: bool,
}

struct Shell {
    cfg: Config,
    params: VideoParams,
    clock: Clock,
    sup: Supervisor,
    meter: NetStatusMeter,
    events: EventWriter,
    tx: Sender<Msg>,
    conn: Option<Conn>,
    next_id: u64,
    video_ctl: Option<mpsc::Sender<MediaCtl>>,
    audio_ctl: mpsc::Sender<MediaCtl>,
    recycle: Sender<Vec<u8>>,
    asc: Option<Vec<u8>>,
    param_sets: Option<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
    queue_limit: Duration,
    stop_at: Option<Instant>,
    stopping: Option<Instant>,
    fatal: Option<String>,
    summary: Summary,
    /// (when, allocations, video frames sent) at the start of the steady state.
    steady: Option<(Instant, u64, u64)>,
}

/// Runs the service until stopped. Returns an error when the media path failed for good.
pub fn run(opts: RunOptions) -> Result<Summary, String> {
    smol::block_on(run_async(opts))
}

async fn run_async(opts: RunOptions) -> Result<Summary, String> {
    let clock = Clock::start();
    let cfg = opts.config;
    let params = cfg.video_params();
    let (tx, rx) = smol::channel::bounded::<Msg>(256);
    let (recycle_tx, recycle_rx) = smol::channel::bounded::<Vec<u8>>(8);

    // signals -> Msg::Stop
    let signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
            .map_err(|e| format!("signals: {e}"))?;
    let stx = tx.clone();
    let _sig_task = smol::spawn(async move {
        use futures_lite::StreamExt;
        let mut signals = signals;
        while signals.next().await.is_some() {
            let _ = stx.send(Msg::Stop).await;
        }
    });

    let (audio_ctl, audio_ctl_rx) = mpsc::channel();
    let audio = media::audio::spawn(
        cfg.audio.clone(),
        cfg.muted,
        clock.origin(),
        tx.clone(),
        audio_ctl_rx,
    );
    let (video_ctl, video) = if cfg.enable_camera {
        let (c, r) = mpsc::channel();
        let h = media::video::spawn(
            cfg.video.device.clone(),
            cfg.video.encoder,
            params,
            clock.origin(),
            tx.clone(),
            r,
            recycle_rx,
        );
        (Some(c), Some(h))
    } else {
        (None, None)
    };

    let now = clock.now();
    let mut sh = Shell {
        sup: Supervisor::new(supervisor::config_from(&cfg)),
        meter: NetStatusMeter::new(now),
        queue_limit: Duration::from_millis(u64::from(cfg.mode.preset().queue_ms)),
        stop_at: opts.stop_after.map(|d| now + d),
        cfg,
        params,
        clock,
        events: opts.events,
        tx,
        conn: None,
        next_id: 0,
        video_ctl,
        audio_ctl,
        recycle: recycle_tx,
        asc: None,
        param_sets: None,
        body: Vec::with_capacity(64 * 1024),
        stopping: None,
        fatal: None,
        summary: Summary::default(),
        steady: None,
    };

    loop {
        let now = sh.clock.now();
        sh.drain(now);
        if sh.finished(now) {
            break;
        }
        let deadline = sh.clock.to_std(sh.next_deadline());
        let msg = future::or(async { rx.recv().await.ok() }, async {
            smol::Timer::at(deadline).await;
            None
        })
        .await;
        let now = sh.clock.now();
        match msg {
            Some(m) => sh.handle(now, m),
            None => sh.handle_timeout(now),
        }
    }

    if let Some(c) = &sh.video_ctl {
        let _ = c.send(MediaCtl::Stop);
    }
    let _ = sh.audio_ctl.send(MediaCtl::Stop);
    drop(rx);
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
    fn uptime(&self, now: Instant) -> u64 {
        now.as_millis()
    }

    fn emit(&mut self, now: Instant, ev: Event) {
        if let Event::StateChange { code, detail } = &ev {
            match detail {
                Some(d) => log::info!("{code} ({d})"),
                None => log::info!("{code}"),
            }
        }
        let up = self.uptime(now);
        self.events.emit(&ev, up);
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
                        .map_or(true, |c| c.queue.is_empty() && c.in_flight == 0)
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut t = self.meter.next_due();
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        consider(self.sup.poll_timeout());
        consider(
            self.conn
                .as_ref()
                .and_then(|c| c.session.as_ref())
                .and_then(|s| s.poll_timeout()),
        );
        consider(self.stop_at);
        consider(self.stopping);
        t
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("stopping");
        self.stopping = Some(now + STOP_GRACE);
        if let Some(c) = &self.video_ctl {
            let _ = c.send(MediaCtl::Stop);
        }
        let _ = self.audio_ctl.send(MediaCtl::Stop);
        if let Some(s) = self.conn.as_mut().and_then(|c| c.session.as_mut()) {
            s.finish();
        }
        if let Some((t, a, f)) = self.steady {
            let frames = self.summary.video_frames_sent.saturating_sub(f);
            if frames > 0 && now >= t {
                let per = (crate::alloc_count::allocations() - a) as f64 / frames as f64;
                self.summary.allocations_per_frame = Some(per);
                log::info!(
                    "steady-state heap allocations per video frame: {per:.2} ({} frames)",
                    frames
                );
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((t, 0, 0)) = self.steady {
            if now >= t {
                self.steady = Some((
                    now,
                    crate::alloc_count::allocations(),
                    self.summary.video_frames_sent,
                ));
            }
        }
        self.sup.handle_timeout(now);
        if let Some(s) = self.conn.as_mut().and_then(|c| c.session.as_mut()) {
            s.handle_timeout(now);
        }
        if self.meter.due(now) {
            let r = self.meter.report(now);
            self.emit(now, Event::NetStatus(r));
        }
        if self.stop_at.is_some_and(|t| now >= t) {
            self.begin_stop(now);
        }
    }

    fn handle(&mut self, now: Instant, m: Msg) {
        match m {
            Msg::Stop => self.begin_stop(now),
            Msg::Media(m) => self.on_media(now, m),
            Msg::Net { conn, ev } => {
                if self.conn.as_ref().map(|c| c.id) == Some(conn) {
                    self.on_net(now, ev);
                }
            }
        }
        // keep netstatus on time even under a steady message stream
        if self.meter.due(now) {
            self.handle_timeout(now);
        }
    }

    fn on_media(&mut self, now: Instant, m: MediaMsg) {
        match m {
            MediaMsg::CameraOpened => self.sup.handle_input(now, Input::CameraOpened),
            MediaMsg::CameraFailed(e) => {
                self.sup.handle_input(now, Input::CameraFailed(e.clone()));
                self.fatal = Some(format!("camera: {e}"));
            }
            MediaMsg::FirstFrame => self.sup.handle_input(now, Input::FirstFrame),
            MediaMsg::VideoEncoderStarted { backend } => {
                log::info!(
                    "video encoder: {backend} {}x{} {} fps, key frame every {} frames, {} kbps",
                    self.params.width,
                    self.params.height,
                    self.params.fps,
                    self.params.gop_frames,
                    self.params.bitrate_kbps
                );
                self.sup
                    .handle_input(now, Input::VideoEncoderStarted { fell_back: false });
            }
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
                self.meter.on_video(
                    v.pts_us / 1000,
                    v.data.len(),
                    v.key,
                    self.params.width,
                    self.params.height,
                );
                if v.key {
                    if let Some((sps, pps)) = h264::parameter_sets(&v.data) {
                        self.param_sets = Some((sps.to_vec(), pps.to_vec()));
                    }
                }
                if self.stopping.is_none() {
                    self.send_video(now, v.pts_us, v.key, &v.data);
                }
                let _ = self.recycle.try_send(v.data);
            }
            MediaMsg::Audio(a) => {
                self.meter.on_audio(a.data.len());
                if self.stopping.is_none() {
                    self.send_audio(now, a.pts_us, &a.data);
                }
            }
        }
    }

    fn publishing(&mut self) -> Option<&mut Conn> {
        self.conn
            .as_mut()
            .filter(|c| c.session.as_ref().is_some_and(|s| s.is_publishing()))
    }

    fn send_sequence_headers(&mut self, with_video: bool) {
        let Some(c) = self.conn.as_mut() else { return };
        let Some(s) = c.session.as_mut() else { return };
        if with_video {
            if let Some((sps, pps)) = &self.param_sets {
                tag::avc_sequence_header(sps, pps, &mut self.body);
                s.send_video(Bytes::copy_from_slice(&self.body), 0, false);
            }
        }
        if let Some(asc) = &self.asc {
            tag::aac_sequence_header(asc, &mut self.body);
            s.send_audio(Bytes::copy_from_slice(&self.body), 0, false);
        }
    }

    fn send_video(&mut self, now: Instant, pts_us: u64, key: bool, annexb: &[u8]) {
        let limit = self.queue_limit;
        let Some(c) = self.publishing() else { return };
        if c.base_us.is_none() {
            if !key {
                return;
            }
            c.base_us = Some(pts_us);
            self.send_sequence_headers(true);
        }
        let Some(c) = self.publishing() else { return };
        let base = c.base_us.unwrap_or(pts_us);
        // GOP-aware dropping when the queue backs up: skip to the next key frame
        let age = c
            .queue
            .front()
            .map_or(Duration::ZERO, |r| now.saturating_since(r.queued_at));
        if key {
            c.skipping = false;
        } else if c.skipping || age > limit {
            if !c.skipping {
                log::warn!(
                    "send queue {} ms old: dropping video until the next key frame",
                    age.as_millis()
                );
                c.skipping = true;
                if let Some(v) = &self.video_ctl {
                    let _ = v.send(MediaCtl::ForceKey);
                }
            }
            return;
        }
        let ts = (pts_us.saturating_sub(base) / 1000) as u32;
        tag::avc_nalus(annexb, key, 0, &mut self.body);
        let body = Bytes::copy_from_slice(&self.body);
        let Some(c) = self.publishing() else { return };
        if let Some(s) = c.session.as_mut() {
            s.send_video(body, ts, !key);
        }
        self.summary.video_frames_sent += 1;
    }

    fn send_audio(&mut self, _now: Instant, pts_us: u64, frame: &[u8]) {
        let audio_only = !self.cfg.enable_camera;
        let Some(c) = self.publishing() else { return };
        if c.base_us.is_none() {
            if !audio_only {
                return; // wait for the first video key frame
            }
            c.base_us = Some(pts_us);
            self.send_sequence_headers(false);
        }
        let Some(c) = self.publishing() else { return };
        let base = c.base_us.unwrap_or(pts_us);
        if pts_us < base {
            return;
        }
        let ts = ((pts_us - base) / 1000) as u32;
        tag::aac_raw(frame, &mut self.body);
        let body = Bytes::copy_from_slice(&self.body);
        let Some(c) = self.publishing() else { return };
        if let Some(s) = c.session.as_mut() {
            s.send_audio(body, ts, true);
        }
        self.summary.audio_frames_sent += 1;
    }

    fn on_net(&mut self, now: Instant, ev: NetMsg) {
        let Some(c) = self.conn.as_mut() else { return };
        match ev {
            NetMsg::Connected => {
                self.sup.handle_input(now, Input::Connected);
                let timeout =
                    Duration::from_millis(u64::from(self.cfg.network.handshake_timeout_ms));
                c.session = Some(PublishSession::new(self.cfg.url.clone(), now, timeout));
            }
            NetMsg::ConnectFailed(f) => self.fail(now, f),
            NetMsg::Data(d) => {
                if let Some(s) = c.session.as_mut() {
                    s.handle_input(&d);
                }
            }
            NetMsg::Eof => {
                if let Some(s) = c.session.as_mut() {
                    s.handle_eof();
                }
            }
            NetMsg::IoError(e) => {
                if self.stopping.is_some() {
                    self.conn = None;
                } else {
                    let e = self.cfg.url.redact(&e);
                    self.fail(now, PushFailure::Io(e));
                }
            }
            NetMsg::Written { len, queued_at } => {
                c.in_flight -= 1;
                self.meter
                    .on_sent(len, now.saturating_since(queued_at).as_micros() as u64);
            }
        }
    }

    fn fail(&mut self, now: Instant, f: PushFailure) {
        self.conn = None;
        if self.stopping.is_none() {
            self.sup.handle_input(now, Input::PushFailed(f));
        }
    }

    fn connect(&mut self, now: Instant) {
        self.next_id += 1;
        let id = self.next_id;
        log::info!("connecting to {}", self.cfg.url);
        let timeout = Duration::from_millis(u64::from(self.cfg.network.connect_timeout_ms));
        let (task, writer) = conn::spawn(id, &self.cfg.url, timeout, self.tx.clone());
        self.conn = Some(Conn {
            id,
            _task: task,
            writer,
            session: None,
            queue: VecDeque::new(),
            in_flight: 0,
            base_us: None,
            skipping: false,
        });
        let _ = now;
    }

    /// Moves everything the core produced to where it goes, until nothing moves.
    fn drain(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            let mut session_event = None;
            if let Some(c) = self.conn.as_mut() {
                if let Some(s) = c.session.as_mut() {
                    while let Some(t) = s.poll_transmit() {
                        c.queue.push_back(WriteReq {
                            bytes: t.bytes,
                            queued_at: now,
                        });
                    }
                    session_event = s.poll_event();
                }
                while c.in_flight < IN_FLIGHT {
                    let Some(req) = c.queue.pop_front() else {
                        break;
                    };
                    if c.writer.try_send(req).is_err() {
                        break;
                    }
                    c.in_flight += 1;
                }
            }
            match session_event {
                Some(PublishEvent::Publishing) => {
                    moved = true;
                    self.sup.handle_input(now, Input::Published);
                    self.summary.publishes += 1;
                    if self.steady.is_none() {
                        self.steady = Some((now + STEADY_AFTER, 0, 0));
                    }
                    self.on_published();
                }
                Some(PublishEvent::Failed(f)) => {
                    moved = true;
                    self.fail(now, f);
                }
                None => {}
            }
            while let Some(o) = self.sup.poll_output() {
                moved = true;
                match o {
                    Output::Status { code, detail } => {
                        if code == StatusCode::OpenCameraFail
                            && detail
                                .as_deref()
                                .is_some_and(|d| d.contains("Permission denied"))
                        {
                            self.emit(
                                now,
                                Event::Error {
                                    err_code: 1001,
                                    err_msg: detail.clone().unwrap_or_default(),
                                },
                            );
                        }
                        self.emit(now, Event::StateChange { code, detail });
                    }
                    Output::Connect => {
                        if self.stopping.is_none() {
                            self.connect(now);
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn on_published(&mut self) {
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
            c.base_us = None;
            c.skipping = false;
            if let Some(s) = c.session.as_mut() {
                s.send_metadata(&md);
            }
        }
        // start the stream on a fresh key frame
        if let Some(v) = &self.video_ctl {
            let _ = v.send(MediaCtl::ForceKey);
        }
    }
}
