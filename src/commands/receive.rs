//! `livepush receive`: a small RTMP server (rml_rtmp's `ServerSession`, the
//! patched copy in `vendor/`) that accepts a publisher and records what it
//! gets as an FLV file. It is the demo's default server and a field check
//! ("does this box push?") that needs nothing but livepush.
//!
//! Every connection is hostile until it publishes: each runs on its own
//! thread with a handshake deadline, a deadline to publish, read and write
//! timeouts and a small message limit ([`PRE_PUBLISH_MESSAGE_LIMIT`]); at
//! most [`ReceiveOptions::max_connections`] are open at once. At the limit a
//! new connection closes the oldest one that is not publishing, so a flood of
//! idle or slow connections cannot hold a real publisher off (a publisher
//! needs well under a second from connect to publish; the flood's
//! connections are the ones that get closed). One publisher records at a time (the recording is one
//! file): a second publish is refused while one is on. A connection that
//! fails, or whose bytes crash the decoder (a caught panic), ends alone; it
//! never ends the receiver. Without `keep_listening` the receiver ends after
//! the first *successful* publish (one that was accepted) finishes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::Shutdown;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use livepush_core::flv::{file, metadata::Metadata, tag};
use livepush_core::text::printable;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

/// Largest message accepted before a publish is accepted (commands only).
pub const PRE_PUBLISH_MESSAGE_LIMIT: usize = 64 * 1024;
/// Largest message accepted from a publisher (a key frame).
pub const MEDIA_MESSAGE_LIMIT: usize = 8 * 1024 * 1024;

/// Receiver settings.
#[derive(Clone)]
pub struct ReceiveOptions {
    /// Where to write the FLV recording.
    pub out: String,
    /// Accept only this stream key (others are rejected, as a server with auth would).
    pub key: Option<String>,
    /// Keep accepting publishers after the first one ends (appending to the file).
    pub keep_listening: bool,
    /// Connections open at once; at the limit the oldest that is not
    /// publishing is closed for a new one.
    pub max_connections: usize,
    /// From accept to the end of the RTMP handshake.
    pub handshake_timeout: Duration,
    /// From the end of the handshake to an accepted publish.
    pub publish_timeout: Duration,
    /// A read or write that makes no progress for this long ends the connection.
    pub io_timeout: Duration,
}

impl ReceiveOptions {
    /// The defaults for recording to `out`.
    pub fn new(out: &str) -> Self {
        ReceiveOptions {
            out: out.to_string(),
            key: None,
            keep_listening: false,
            max_connections: 128,
            handshake_timeout: Duration::from_secs(5),
            publish_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(10),
        }
    }
}

/// What was recorded.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReceiveSummary {
    /// Video tags written (sequence headers included).
    pub video_tags: u64,
    /// Audio tags written.
    pub audio_tags: u64,
    /// Last timestamp written, ms.
    pub last_ts_ms: u32,
    /// Publish sessions recorded.
    pub publishers: u32,
    /// Connections closed to make room because `max_connections` were open.
    pub evicted_connections: u64,
    /// Connections that ended in an error (timeouts, protocol errors).
    pub failed_connections: u64,
}

struct Recorder {
    w: BufWriter<File>,
    buf: Vec<u8>,
    offset_ms: u32,
    summary: ReceiveSummary,
}

impl Recorder {
    fn tag(&mut self, kind: u8, ts: u32, body: &[u8]) -> std::io::Result<()> {
        let ts = ts.wrapping_add(self.offset_ms);
        self.buf.clear();
        file::write_tag(kind, ts, body, &mut self.buf);
        self.w.write_all(&self.buf)?;
        self.summary.last_ts_ms = self.summary.last_ts_ms.max(ts);
        if kind == tag::TAG_VIDEO {
            self.summary.video_tags += 1;
            if tag::video_kind(body) == tag::VideoKind::KeyFrame {
                self.w.flush()?;
            }
        } else if kind == tag::TAG_AUDIO {
            self.summary.audio_tags += 1;
        }
        Ok(())
    }
}

/// What the connection threads share.
struct Shared {
    opts: ReceiveOptions,
    recorder: Mutex<Recorder>,
    /// Set while a publisher records.
    publishing: AtomicBool,
    /// Set once a publish finished and the receiver should end.
    done: AtomicBool,
    /// A write to the recording failed: the receiver ends with this error.
    fatal: Mutex<Option<String>>,
    /// Open connections by accept order: a handle to close each, and
    /// whether it publishes (those are never evicted).
    open: Mutex<BTreeMap<u64, (TcpStream, bool)>>,
}

impl Shared {
    /// The error that ends the receiver, if any (a poisoned lock is taken as it is).
    fn fatal(&self) -> MutexGuard<'_, Option<String>> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> MutexGuard<'_, BTreeMap<u64, (TcpStream, bool)>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn recorder(&self) -> MutexGuard<'_, Recorder> {
        // a connection thread never panics holding it (rml_rtmp is not
        // called under it), but a poisoned lock must not end the receiver
        self.recorder.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes a connection from the open ones when its thread ends.
struct OpenGuard(Arc<Shared>, u64);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open().remove(&self.1);
    }
}

/// Serves publishers on `listener` until the first successful one ends (or
/// forever with `keep_listening`).
pub fn serve(listener: TcpListener, opts: &ReceiveOptions) -> Result<ReceiveSummary, String> {
    let f = File::create(&opts.out).map_err(|e| format!("{}: {e}", opts.out))?;
    let mut rec = Recorder {
        w: BufWriter::with_capacity(256 * 1024, f),
        buf: Vec::new(),
        offset_ms: 0,
        summary: ReceiveSummary::default(),
    };
    rec.w
        .write_all(&file::FILE_HEADER)
        .map_err(|e| format!("{}: {e}", opts.out))?;
    let shared = Arc::new(Shared {
        opts: opts.clone(),
        recorder: Mutex::new(rec),
        publishing: AtomicBool::new(false),
        done: AtomicBool::new(false),
        fatal: Mutex::new(None),
        open: Mutex::new(BTreeMap::new()),
    });
    let mut next_id = 0u64;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("listener: {e}"))?;
    while !shared.done.load(Ordering::SeqCst) {
        if let Some(e) = shared.fatal().take() {
            return Err(e);
        }
        if !wait_readable(&listener, Duration::from_millis(100)) {
            continue;
        }
        let (stream, peer) = match listener.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                log::warn!("receive: accept: {e}");
                // e.g. EMFILE: give the open connections a moment to end
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        next_id += 1;
        let id = next_id;
        let handle = match stream.try_clone() {
            Ok(h) => h,
            Err(e) => {
                log::warn!("receive: {peer}: {e}");
                continue;
            }
        };
        {
            let mut open = shared.open();
            if open.len() >= opts.max_connections {
                let oldest = open
                    .iter()
                    .find(|(_, (_, publishing))| !publishing)
                    .map(|(k, _)| *k);
                if let Some((s, _)) = oldest.and_then(|k| open.remove(&k)) {
                    let _ = s.shutdown(Shutdown::Both);
                    shared.recorder().summary.evicted_connections += 1;
                    log::warn!(
                        "receive: {} connections open (the limit): the oldest one not publishing closed for {peer}",
                        opts.max_connections
                    );
                }
            }
            open.insert(id, (handle, false));
        }
        let guard = OpenGuard(shared.clone(), id);
        let spawned = std::thread::Builder::new()
            .name("receive-conn".into())
            .stack_size(512 * 1024)
            .spawn(move || {
                let shared = guard.0.clone();
                connection(stream, id, &peer.to_string(), &shared);
                drop(guard);
            });
        if let Err(e) = spawned {
            log::warn!("receive: {peer}: no thread for it: {e}");
        }
    }
    // one-shot: the publisher's thread set `done`; others end on their own
    let summary = shared.recorder().summary;
    if let Some(e) = shared.fatal().take() {
        return Err(e);
    }
    Ok(summary)
}

/// Waits up to `timeout` for a connection to accept.
fn wait_readable(listener: &TcpListener, timeout: Duration) -> bool {
    let mut fds = [libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: one valid pollfd for the duration of the call
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout.as_millis() as libc::c_int) };
    n > 0
}

/// One connection, start to end; errors are logged, never returned.
fn connection(stream: TcpStream, id: u64, peer: &str, shared: &Shared) {
    let mut conn = Conn {
        s: stream,
        shared,
        id,
        recording: false,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.run()))
        .unwrap_or_else(|_| Err("the peer's bytes crashed the RTMP decoder".into()));
    let recorded = conn.recording;
    if recorded {
        let mut rec = shared.recorder();
        if let Err(e) = rec.w.flush() {
            record_fatal(shared, format!("{}: {e}", shared.opts.out));
        }
        rec.summary.publishers += 1;
        rec.offset_ms = rec.summary.last_ts_ms + 40;
        log::info!(
            "receive: publisher {peer} done: {} video, {} audio tags, {:.1} s",
            rec.summary.video_tags,
            rec.summary.audio_tags,
            f64::from(rec.summary.last_ts_ms) / 1000.0
        );
        drop(rec);
        // one-shot: done before the slot is free, so no second publisher
        // starts recording into a file the receiver is about to leave
        if !shared.opts.keep_listening {
            shared.done.store(true, Ordering::SeqCst);
        }
        shared.publishing.store(false, Ordering::SeqCst);
    }
    if let Err(e) = result {
        if !recorded {
            shared.recorder().summary.failed_connections += 1;
        }
        log::warn!("receive: {peer}: {e}");
    }
}

fn record_fatal(shared: &Shared, e: String) {
    shared.fatal().get_or_insert(e);
    shared.done.store(true, Ordering::SeqCst);
}

struct Conn<'a> {
    s: TcpStream,
    shared: &'a Shared,
    /// Its key among the open connections.
    id: u64,
    /// This connection holds the recording.
    recording: bool,
}

impl Conn<'_> {
    /// Reads into `buf` before `deadline` (and within the I/O timeout).
    fn read(
        &mut self,
        buf: &mut [u8],
        deadline: Option<Instant>,
        what: &str,
    ) -> Result<usize, String> {
        let mut wait = self.shared.opts.io_timeout;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no {what} in time"));
            }
            wait = wait.min(left);
        }
        self.s
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match self.s.read(buf) {
            Ok(n) => Ok(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!("no {what} in time"))
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.s.write_all(bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "the peer does not read (write timed out)".to_string()
            }
            _ => format!("write: {e}"),
        })
    }

    fn run(&mut self) -> Result<(), String> {
        let opts = &self.shared.opts;
        self.s
            .set_write_timeout(Some(opts.io_timeout))
            .map_err(|e| e.to_string())?;
        let _ = self.s.set_nodelay(true);
        let mut hs = Handshake::new(PeerType::Server);
        let mut buf = vec![0u8; 64 * 1024];
        let handshake_deadline = Instant::now() + opts.handshake_timeout;
        let leftover = loop {
            let n = self.read(&mut buf, Some(handshake_deadline), "RTMP handshake")?;
            if n == 0 {
                return Ok(());
            }
            match hs
                .process_bytes(&buf[..n])
                .map_err(|e| format!("handshake: {e:?}"))?
            {
                HandshakeProcessResult::InProgress { response_bytes } => {
                    self.write(&response_bytes)?
                }
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    self.write(&response_bytes)?;
                    break remaining_bytes;
                }
            }
        };
        let (mut session, initial) =
            ServerSession::new(ServerSessionConfig::new()).map_err(|e| format!("{e:?}"))?;
        session.set_max_message_size(PRE_PUBLISH_MESSAGE_LIMIT);
        let mut publish_deadline = Some(Instant::now() + opts.publish_timeout);
        let mut pending = initial;
        pending.extend(
            session
                .handle_input(&leftover)
                .map_err(|e| format!("protocol error: {e}"))?,
        );
        loop {
            let mut close = false;
            while !pending.is_empty() {
                let mut more = Vec::new();
                for r in pending.drain(..) {
                    match r {
                        ServerSessionResult::OutboundResponse(p) => self.write(&p.bytes)?,
                        ServerSessionResult::RaisedEvent(e) => {
                            close |= self.event(e, &mut session, &mut more)?;
                            if self.recording {
                                publish_deadline = None;
                            }
                        }
                        ServerSessionResult::UnhandleableMessageReceived(_) => {}
                    }
                }
                pending = more;
            }
            if close || self.shared.done.load(Ordering::SeqCst) && !self.recording {
                return Ok(());
            }
            let n = match self.read(&mut buf, publish_deadline, "publish") {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if self.recording => {
                    log::warn!("receive: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            pending = session
                .handle_input(&buf[..n])
                .map_err(|e| format!("protocol error: {e}"))?;
        }
    }

    /// Acts on one session event; true when the connection should close.
    fn event(
        &mut self,
        e: ServerSessionEvent,
        session: &mut ServerSession,
        more: &mut Vec<ServerSessionResult>,
    ) -> Result<bool, String> {
        let opts = &self.shared.opts;
        match e {
            ServerSessionEvent::ConnectionRequested {
                request_id,
                app_name,
            } => {
                log::info!("receive: connect app={}", printable(&app_name));
                more.extend(
                    session
                        .accept_request(request_id)
                        .map_err(|e| format!("{e:?}"))?,
                );
            }
            ServerSessionEvent::PublishStreamRequested {
                request_id,
                stream_key,
                ..
            } => {
                if self.recording {
                    return Ok(false);
                }
                // marked as publishing among the open connections first, so
                // the accept loop cannot evict it between the two
                let mark = |on: bool| {
                    if let Some(c) = self.shared.open().get_mut(&self.id) {
                        c.1 = on;
                    }
                };
                mark(true);
                let refusal = if opts.key.as_ref().is_some_and(|k| *k != stream_key) {
                    Some("wrong stream key")
                } else if self.shared.done.load(Ordering::SeqCst) {
                    Some("the receiver is finishing")
                } else if self.shared.publishing.swap(true, Ordering::SeqCst) {
                    Some("another publisher is on")
                } else {
                    None
                };
                if refusal.is_some() {
                    mark(false);
                }
                if let Some(why) = refusal {
                    log::info!("receive: publish refused: {why}");
                    more.extend(
                        session
                            .reject_request(request_id, "NetStream.Publish.BadName", why)
                            .map_err(|e| format!("{e:?}"))?,
                    );
                    return Ok(true);
                }
                log::info!("receive: publish accepted (key hidden)");
                self.recording = true;
                session.set_max_message_size(MEDIA_MESSAGE_LIMIT);
                more.extend(
                    session
                        .accept_request(request_id)
                        .map_err(|e| format!("{e:?}"))?,
                );
            }
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } if self.recording => {
                let md = Metadata {
                    width: metadata.video_width,
                    height: metadata.video_height,
                    framerate: metadata.video_frame_rate.map(f64::from),
                    video_data_rate: metadata.video_bitrate_kbps,
                    audio_sample_rate: metadata.audio_sample_rate,
                    audio_data_rate: metadata.audio_bitrate_kbps,
                    audio_channels: metadata.audio_channels,
                    encoder: metadata.encoder.as_deref().map(printable),
                };
                let mut body = Vec::new();
                md.encode(&mut body);
                self.record(tag::TAG_SCRIPT, 0, &body)?;
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } if self.recording => self.record(tag::TAG_VIDEO, timestamp.value, &data)?,
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } if self.recording => self.record(tag::TAG_AUDIO, timestamp.value, &data)?,
            ServerSessionEvent::PublishStreamFinished { .. } if self.recording => return Ok(true),
            _ => {}
        }
        Ok(false)
    }

    fn record(&mut self, kind: u8, ts: u32, body: &[u8]) -> Result<(), String> {
        let r = self.shared.recorder().tag(kind, ts, body);
        r.map_err(|e| {
            let e = format!("{}: {e}", self.shared.opts.out);
            record_fatal(self.shared, e.clone());
            e
        })
    }
}
