//! The publisher: everything between the encoders and the socket that is a
//! decision, sans-IO (str0m's contract: [`Publisher::handle_input`],
//! [`Publisher::poll_output`], [`Publisher::poll_timeout`] /
//! [`Publisher::handle_timeout`], plus [`Publisher::transmit`] for the bytes
//! to write). It owns the supervisor (state codes and the reconnect
//! schedule), the netstatus meter, the adaptive bitrate, the 1101 busy
//! watch, the start cache, the redirect policy and, per connection, the
//! RTMP publish session, the FLV timeline and the send queue.
//!
//! The shell keeps the file descriptors, threads and ppoll, and turns OS
//! results into [`Input`]s: a connect task's result, bytes read, EOF, an I/O
//! error, how many bytes the socket took. It carries out [`Output`]s: open a
//! connection, forget one, resize the socket's send buffer, pass a command
//! to the video encoder, show an event, give an encoder's buffer back.
//!
//! Per frame nothing is allocated once warm: frames come in the encoders'
//! buffers and go back as [`Output::Recycle`], tags are chunked into pooled
//! write buffers, the output queue keeps its capacity.

mod adapt;
mod connection;
pub mod control;
mod frames;
pub mod media;
pub mod observe;
mod pool;
pub mod redirect;
mod tally;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use crate::abr::{Abr, AbrConfig};
use crate::config::{Config, Mode, VideoParams};
use crate::congestion::BusyWatch;
use crate::event::Event;
use crate::health;
use crate::netstatus::NetStatusMeter;
use crate::rtmp::failure::PushFailure;
use crate::rtmp::publish::{PublishEvent, PublishSession};
use crate::rtmp::url::PushUrl;
use crate::sendq::Kind;
use crate::start_cache::{StartCache, Track};
use crate::supervisor::{self, Input as Fact, Output as Decision, Supervisor, SupervisorConfig};
use crate::time::Instant;
use crate::watchdog::Watchdog;

use connection::Connection;
pub use control::{Command, Done, PauseConfig, Refused};
pub use media::{EncodedAudio, EncodedVideo, EncoderCommand, MediaCommand, MediaMsg};
pub use observe::{Notice, Observed, Observer, Phase};
pub use tally::Tally;

/// Time allowed to flush the last packets when stopping.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How far behind live a publish may start with the frames kept since the
/// last key frame (see [`StartCache`]); older, a fresh key frame is forced.
const START_CACHE_AGE: Duration = Duration::from_millis(500);
/// Video bytes kept for the start at most.
const START_CACHE_BYTES: usize = 4 << 20;

/// What the publisher needs to know, taken from the config once.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    /// The push URL (with the stream key).
    pub url: PushUrl,
    /// A video track (enable-camera).
    pub video: bool,
    /// The microphone is muted (audio carries silence at no bitrate budget).
    pub muted: bool,
    /// The configured picture, rate and bitrate.
    pub params: VideoParams,
    /// Lowest video bitrate the adaptive controller may choose, kbps.
    pub min_bitrate: u32,
    /// AAC bitrate, kbps.
    pub audio_kbps: u32,
    /// Audio sample rate, Hz.
    pub sample_rate: u32,
    /// Audio channels.
    pub channels: u8,
    /// RTC mode (smaller socket buffer).
    pub rtc: bool,
    /// Queued data older than this is shed (the preset's delay bound).
    pub queue_limit: Duration,
    /// No bytes written for this long while some wait: the connection is dead.
    pub send_stall: Duration,
    /// The publish must be accepted within this long of the TCP connect.
    pub handshake_timeout: Duration,
    /// rtmps:// connections can be made (TLS set up at start).
    pub tls: bool,
    /// The supervisor's settings.
    pub supervisor: SupervisorConfig,
    /// `encoder` in the stream's metadata.
    pub encoder_name: String,
    /// What a pause does.
    pub pause: PauseConfig,
}

impl PublisherConfig {
    /// From a validated config; `seed` seeds the reconnect jitter.
    pub fn from_config(cfg: &Config, seed: u32, tls: bool, encoder_name: String) -> Self {
        PublisherConfig {
            url: cfg.url.clone(),
            video: cfg.enable_camera,
            muted: cfg.muted,
            params: cfg.video_params(),
            min_bitrate: cfg.min_bitrate,
            audio_kbps: cfg.audio.bitrate,
            sample_rate: cfg.audio.sample_rate,
            channels: cfg.audio.channels,
            rtc: cfg.mode == Mode::Rtc,
            queue_limit: Duration::from_millis(u64::from(cfg.mode.preset().queue_ms)),
            send_stall: Duration::from_millis(u64::from(cfg.network.send_stall_timeout_ms)),
            handshake_timeout: Duration::from_millis(u64::from(cfg.network.handshake_timeout_ms)),
            tls,
            supervisor: SupervisorConfig {
                seed,
                ..supervisor::config_from(cfg)
            },
            encoder_name,
            pause: PauseConfig {
                fps: cfg.pause_fps,
                max: Duration::from_secs(cfg.pause_time_s.into()),
                mute: cfg.background_mute,
                stop_closes_camera: cfg.control.stop_closes_camera,
            },
        }
    }
}

/// What happened, as the shell tells it.
#[derive(Debug)]
pub enum Input<'a> {
    /// A media thread's message (device facts, encoder reports, frames).
    Media(MediaMsg),
    /// The connection asked for with [`Output::Connect`] is connected (TCP,
    /// and TLS when rtmps://).
    Connected {
        /// From [`Output::Connect`].
        conn: u64,
    },
    /// It could not be made.
    ConnectFailed {
        /// From [`Output::Connect`].
        conn: u64,
        /// Why.
        failure: PushFailure,
    },
    /// Bytes read from the server.
    Received(&'a [u8]),
    /// The server closed the connection.
    Eof,
    /// A socket call failed (what, for people; no secret in it).
    IoFailed(String),
    /// The socket took this many bytes of [`Publisher::transmit`].
    Written(usize),
    /// Bytes left for the network (a socket write; TLS records written).
    Progress,
    /// Whether bytes wait below the queue (TLS records not yet written).
    HeldBelow(bool),
    /// Stop: flush for at most [`STOP_GRACE`], then end.
    Stop,
}

/// What the shell is to do.
#[derive(Debug)]
pub enum Output {
    /// Open a connection to `url` (the socket's send buffer `send_buffer`
    /// bytes), and report it as `conn`; forget any earlier one.
    Connect {
        /// Names it in [`Input::Connected`] / [`Input::ConnectFailed`].
        conn: u64,
        /// Where to.
        url: PushUrl,
        /// SO_SNDBUF.
        send_buffer: usize,
    },
    /// Close the connection (drop the socket or the connect task).
    Close {
        /// Which.
        conn: u64,
    },
    /// Set the open socket's send buffer.
    SendBuffer(usize),
    /// A command for the video encoder.
    Encoder(EncoderCommand),
    /// A command for both media threads (pause, resume).
    Media(MediaCommand),
    /// A statechange, netstatus or error event.
    Event(Event),
    /// The phase changed.
    Phase(Phase),
    /// A fact for the observers without a state code.
    Notice(Notice),
    /// An encoder's buffer, to give back to that encoder for reuse.
    Recycle(Track, Vec<u8>),
    /// The totals and gauges, once a second (after the netstatus event).
    Tally(Tally),
}

/// The sans-IO publisher (see the module doc).
pub struct Publisher {
    cfg: PublisherConfig,
    sup: Supervisor,
    meter: NetStatusMeter,
    /// 1101 with hysteresis on the send queue's age.
    busy: BusyWatch,
    /// Adaptive bitrate (None: audio only, or min-bitrate = max-bitrate).
    abr: Option<Abr>,
    /// The encoders' frames since the last key frame while no publish is on:
    /// a publish starts with them instead of forcing a second key frame.
    start: StartCache<Vec<u8>>,
    /// The video encoder has given a frame (its first is a key frame).
    video_seen: bool,
    asc: Option<Vec<u8>>,
    param_sets: (Vec<u8>, Vec<u8>),
    body: Vec<u8>,
    /// The queue shed frames since the last netstatus window.
    shed_in_window: bool,
    /// The encoded size now (the adaptive controller may lower it).
    size: (u32, u32),
    /// Where a server's reconnect request sent us (until a failure there).
    redirect: Option<PushUrl>,
    conn: Option<Connection>,
    next_id: u64,
    stopping: Option<Instant>,
    /// Paused until then (`pause-time`), by a command.
    paused_until: Option<Instant>,
    /// A stopped push's connection is closed once flushed, or then.
    unpublish_until: Option<Instant>,
    /// Previewing: the camera runs without a push (on at the start).
    preview: bool,
    /// What the video thread was last told: the camera is open.
    camera_on: bool,
    failed: Option<String>,
    pool: pool::BufferPool,
    out: VecDeque<Output>,
    counts: Tally,
    phase: Phase,
    /// Media progress for `/healthz` (the systemd watchdog's rule).
    health: Watchdog,
}

impl Publisher {
    /// A publisher at `now` (the service's start).
    pub fn new(cfg: PublisherConfig, now: Instant) -> Self {
        let p = cfg.params;
        let limit = cfg.queue_limit;
        Publisher {
            sup: Supervisor::new(cfg.supervisor.clone()),
            // the configured GOP until two key frames have been measured
            meter: NetStatusMeter::new(now).with_gop(p.gop_frames as f32 / p.fps.max(1) as f32),
            // busy at half the drop limit; calm after 2 s under a tenth of it
            busy: BusyWatch::new(limit / 2, limit / 10, Duration::from_secs(2)),
            abr: make_abr(&cfg, p.bitrate_kbps),
            // at most a quarter of the queue's age limit (500 ms at most)
            // behind live: older, a fresh key frame is forced instead
            start: StartCache::new((limit / 4).min(START_CACHE_AGE), START_CACHE_BYTES),
            video_seen: false,
            asc: None,
            param_sets: (Vec::new(), Vec::new()),
            body: Vec::with_capacity(256 * 1024),
            shed_in_window: false,
            size: (p.width, p.height),
            redirect: None,
            conn: None,
            next_id: 0,
            stopping: None,
            paused_until: None,
            unpublish_until: None,
            preview: true,
            camera_on: true,
            failed: None,
            pool: pool::BufferPool::new(),
            out: VecDeque::with_capacity(256),
            counts: Tally::default(),
            phase: Phase::Starting,
            health: Watchdog::new(now, health::MEDIA_WINDOW, cfg.video, true),
            cfg,
        }
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        match input {
            Input::Media(m) => {
                self.check_busy(now);
                self.on_media(now, m);
            }
            Input::Connected { conn } => {
                self.check_busy(now);
                if self.current(conn) {
                    self.on_connected(now);
                }
            }
            Input::ConnectFailed { conn, failure } => {
                self.check_busy(now);
                if self.current(conn) {
                    self.fail(now, failure);
                }
            }
            Input::Received(data) => {
                if let Some(s) = self.session_mut() {
                    s.handle_input(now, data);
                }
            }
            Input::Eof => {
                if let Some(s) = self.session_mut() {
                    s.handle_eof();
                }
            }
            Input::IoFailed(what) => self.io_failed(now, &what),
            Input::Written(n) => {
                self.counts.bytes_written += n as u64;
                let (meter, pool, counts) = (&mut self.meter, &mut self.pool, &mut self.counts);
                if let Some(c) = self.conn.as_mut() {
                    c.outbox.written(n, |p| {
                        counts.written(p.kind);
                        meter.on_sent(
                            p.bytes.len(),
                            now.saturating_since(p.queued_at).as_micros() as u64,
                        );
                        pool.give(p.bytes);
                    });
                }
            }
            Input::Progress => {
                if let Some(c) = self.conn.as_mut() {
                    c.outbox.progress(now);
                }
            }
            Input::HeldBelow(held) => {
                if let Some(c) = self.conn.as_mut() {
                    c.outbox.set_held_below(held);
                }
            }
            Input::Stop => {
                self.check_busy(now);
                self.begin_stop(now);
            }
        }
        self.pump(now);
    }

    /// The next thing for the shell to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The unwritten bytes at the front of the send queue (write them, then
    /// report [`Input::Written`]).
    pub fn transmit(&self) -> Option<&[u8]> {
        // (a connection queues bytes only once its session exists)
        self.conn.as_ref()?.outbox.transmit()
    }

    /// When [`Self::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Instant {
        let c = self.conn.as_ref();
        [
            self.sup.poll_timeout(),
            c.and_then(|c| c.session.as_ref())
                .and_then(|s| s.poll_timeout()),
            self.stopping,
            c.and_then(|c| c.outbox.waiting_since())
                .map(|t| t + self.cfg.send_stall),
            self.control_deadline(),
        ]
        .into_iter()
        .flatten()
        .fold(self.meter.next_due(), Instant::min)
    }

    /// Time passed: deadlines, the netstatus window, the send stall.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_busy(now);
        let stall = self.cfg.send_stall;
        let waiting = self.conn.as_ref().and_then(|c| c.outbox.waiting_since());
        if waiting.is_some_and(|t| now.saturating_since(t) >= stall) {
            self.io_failed(
                now,
                &format!(
                    "send stalled: the server took no bytes for {} ms",
                    stall.as_millis()
                ),
            );
        }
        self.sup.handle_timeout(now);
        if let Some(s) = self.session_mut() {
            s.handle_timeout(now);
        }
        self.control_timeout(now);
        if self.meter.due(now) {
            let window = now.saturating_since(self.meter.window_start());
            let r = self.meter.report(now);
            self.out.push_back(Output::Event(Event::NetStatus(r)));
            self.out
                .push_back(Output::Tally(self.tally_at(now, r.net_speed)));
            self.adapt(now, window, r.net_speed, r.video_bitrate);
        }
        self.pump(now);
    }

    /// Whether the run is over: a media path failed for good, or stopping
    /// and everything was written (or the grace time is up).
    pub fn finished(&self, now: Instant) -> bool {
        if self.failed.is_some() {
            return true;
        }
        self.stopping.is_some_and(|deadline| {
            now >= deadline || self.conn.as_ref().is_none_or(|c| !c.outbox.pending())
        })
    }

    /// What failed for good (the run's error), if anything.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Totals so far.
    pub fn counts(&self) -> Tally {
        self.counts
    }

    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A new stream key, used from the next connection on (the running
    /// publish was accepted with the old one). Returns whether it differs.
    pub fn set_stream_key(&mut self, key: &str) -> bool {
        if key == self.cfg.url.stream_key() {
            return false;
        }
        self.cfg.url = self.cfg.url.with_key(key);
        if let Some(r) = self.redirect.take() {
            self.redirect = Some(r.with_key(key));
        }
        true
    }

    fn current(&self, conn: u64) -> bool {
        self.conn.as_ref().is_some_and(|c| c.id == conn)
    }

    fn session_mut(&mut self) -> Option<&mut PublishSession> {
        self.conn.as_mut().and_then(|c| c.session.as_mut())
    }

    fn begin_stop(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("stopping");
        self.stopping = Some(now + STOP_GRACE);
        if let Some(s) = self.session_mut() {
            s.finish();
        }
    }

    fn on_connected(&mut self, now: Instant) {
        self.sup.handle_input(now, Fact::Connected);
        self.busy.reset();
        let url = self
            .redirect
            .clone()
            .unwrap_or_else(|| self.cfg.url.clone());
        let timeout = self.cfg.handshake_timeout;
        if let Some(c) = self.conn.as_mut() {
            c.session = Some(PublishSession::new(url, now, timeout));
        }
    }

    /// A socket call failed: the session classifies it (and the next pump reports it).
    fn io_failed(&mut self, now: Instant, what: &str) {
        if self.stopping.is_some() {
            return self.close_conn();
        }
        match self.session_mut() {
            Some(s) => s.handle_io_error(now, what),
            None => {
                let what = self.cfg.url.redact(what);
                self.fail(now, PushFailure::Io(what));
            }
        }
    }

    fn close_conn(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let pool = &mut self.pool;
            c.outbox.drain(|b| pool.give(b));
            self.out.push_back(Output::Close { conn: c.id });
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
            self.sup.handle_input(now, Fact::PushFailed(f));
        }
    }

    fn connect(&mut self) {
        self.close_conn();
        self.next_id += 1;
        let id = self.next_id;
        let url = self.redirect.as_ref().unwrap_or(&self.cfg.url).clone();
        log::info!("connecting to {url}");
        self.counts.connects += 1;
        self.out.push_back(Output::Connect {
            conn: id,
            url,
            send_buffer: self.send_buffer(),
        });
        self.conn = Some(Connection::new(id, !self.cfg.video));
    }

    /// Moves everything the session and the supervisor produced to where it
    /// goes, until nothing moves.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            let mut session_event = None;
            if let Some(c) = self.conn.as_mut() {
                if let Some(s) = c.session.as_mut() {
                    while let Some(t) = s.poll_transmit() {
                        c.outbox.push(Kind::Control, now, t.bytes);
                    }
                    session_event = s.poll_event();
                }
            }
            match session_event {
                Some(PublishEvent::Publishing) => {
                    moved = true;
                    self.sup.handle_input(now, Fact::Published);
                    self.counts.publishes += 1;
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
                    let current = self.redirect.as_ref().unwrap_or(&self.cfg.url);
                    let target = tc_url.and_then(|u| {
                        redirect::target(current, &u, self.cfg.tls)
                            .map_err(|e| log::warn!("{e}"))
                            .ok()
                    });
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
                    self.sup.handle_input(now, Fact::ReconnectRequested(detail));
                }
                None => {}
            }
            while let Some(o) = self.sup.poll_output() {
                moved = true;
                match o {
                    Decision::Status { code, detail } => self
                        .out
                        .push_back(Output::Event(Event::StateChange { code, detail })),
                    Decision::Error { err_code, err_msg } => self
                        .out
                        .push_back(Output::Event(Event::Error { err_code, err_msg })),
                    Decision::Connect => {
                        if self.stopping.is_none() {
                            self.connect();
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
        self.check_unpublished(now);
        self.update_phase();
    }

    fn update_phase(&mut self) {
        let phase = if self.stopping.is_some() {
            Phase::Stopping
        } else if !self.sup.is_pushing() {
            Phase::Idle
        } else {
            match &self.conn {
                Some(c) if c.on_air => Phase::Publishing,
                Some(_) => Phase::Connecting,
                None if self.sup.poll_timeout().is_some() => Phase::Retrying,
                None => Phase::Starting,
            }
        };
        if phase != self.phase {
            self.phase = phase;
            self.out.push_back(Output::Phase(phase));
        }
    }
}

/// The adaptive bitrate, between min-bitrate and the mode's bitrate (itself
/// clamped to max-bitrate): never above what the mode asks for, which would
/// only spend a metered uplink's data. None: audio only, or no room.
fn make_abr(cfg: &PublisherConfig, start_kbps: u32) -> Option<Abr> {
    let p = cfg.params;
    (cfg.video && cfg.min_bitrate < p.bitrate_kbps).then(|| {
        Abr::new(AbrConfig {
            min_kbps: cfg.min_bitrate,
            max_kbps: p.bitrate_kbps,
            start_kbps,
            audio_kbps: if cfg.muted { 0 } else { cfg.audio_kbps },
            congested_age: (cfg.queue_limit / 4).min(Duration::from_millis(500)),
            width: p.width,
            height: p.height,
        })
    })
}
