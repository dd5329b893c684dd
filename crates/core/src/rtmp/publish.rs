//! [`PublishSession`]: the RTMP publish flow as a sans-IO state machine over
//! rml_rtmp's `Handshake` and `ClientSession`.
//!
//! Bytes from the socket go in with [`PublishSession::handle_input`]; bytes to
//! write come out of [`PublishSession::poll_transmit`], whole and in order;
//! progress comes out of [`PublishSession::poll_event`]. The session owns the
//! handshake/publish deadline; the shell calls [`PublishSession::handle_timeout`]
//! at [`PublishSession::poll_timeout`].
//!
//! Enhanced RTMP's reconnect request (`onStatus`
//! `NetConnection.Connect.ReconnectRequest`, with an optional `tcUrl`): rml_rtmp
//! reports only the code, so the session also reads the server's messages
//! itself (a second chunk reader; the server sends little) to get the
//! `tcUrl`, and ends with [`PublishEvent::ReconnectRequested`].
//!
//! Hostile servers: rml_rtmp is the patched copy in `vendor/` (no panic on
//! malformed chunks or AMF0, a limit on inbound message size, here
//! [`MAX_INBOUND_MESSAGE`]); as a last line, a panic inside its decoding is
//! caught and ends this session as a protocol failure (3003 before
//! publishing, 3005 after), never the process.
//!
//! rml_rtmp facts this relies on (`shared/reference/style.md` section 3): the
//! handshake's leftover bytes belong to the session; the session switches its
//! outbound chunk size while producing the `connect` result batch, so every
//! packet of a batch is queued before any event of that batch is acted on.

use std::collections::VecDeque;
use std::time::Duration;

use rml_amf0::Amf0Value;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionError, ClientSessionEvent,
    ClientSessionResult, PublishRequestType, StreamMetadata,
};

use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;

use super::chunk::{Media, MediaChunkWriter};
use super::failure::PushFailure;
use super::url::PushUrl;
use crate::time::Instant;

/// Bytes to write, whole.
#[derive(Debug)]
pub struct Transmit {
    /// Serialized RTMP chunks of one message (or handshake bytes).
    pub bytes: Vec<u8>,
    /// The writer may drop this packet whole under congestion.
    pub droppable: bool,
}

/// Progress of a publish session.
#[derive(Debug, PartialEq, Eq)]
pub enum PublishEvent {
    /// `NetStream.Publish.Start`: media may be sent.
    Publishing,
    /// The session is over; the connection must be closed.
    Failed(PushFailure),
    /// The server asked the client to reconnect (Enhanced RTMP), to `tc_url`
    /// when it named one: close this connection and connect again at once.
    ReconnectRequested {
        /// The new `rtmp[s]://host[:port]/app`, when the server sent one.
        tc_url: Option<String>,
        /// The server's description, if any.
        description: String,
    },
}

/// The onStatus code of Enhanced RTMP's reconnect request.
pub const RECONNECT_REQUEST: &str = "NetConnection.Connect.ReconnectRequest";

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    Handshake,
    Connecting,
    Publishing,
    Done,
}

/// One RTMP publish over one connection.
pub struct PublishSession {
    url: PushUrl,
    phase: Phase,
    handshake: Handshake,
    session: Option<ClientSession>,
    deadline: Option<Instant>,
    out: VecDeque<Transmit>,
    events: VecDeque<PublishEvent>,
    bytes_in: u64,
    /// Reads our own outbound commands while connecting, to learn the publish stream id.
    shadow: Option<ChunkDeserializer>,
    /// Reads the server's messages for what rml_rtmp does not pass on.
    inbound: ChunkDeserializer,
    media: Option<MediaChunkWriter>,
    publish_stream_id: Option<u32>,
    publishing_since: Option<Instant>,
    now: Instant,
}

/// A connection reset this soon after `NetStream.Publish.Start` counts as a rejection.
pub const REJECT_WINDOW: Duration = Duration::from_secs(1);

/// The longest message a server may send us: servers send commands and
/// control messages, never media, so this is generous.
pub const MAX_INBOUND_MESSAGE: usize = 1024 * 1024;

/// Runs `f`; a panic inside it (a decoder bug) becomes `Err` with its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the server's bytes crashed the RTMP decoder ({what})")
    })
}

/// Outbound chunk size announced to the server (rml_rtmp sends the SetChunkSize).
const CHUNK_SIZE: u32 = 4096;

impl PublishSession {
    /// Starts a session on a freshly connected socket: queues C0+C1 and arms
    /// the deadline for reaching `Publishing`.
    pub fn new(url: PushUrl, now: Instant, publish_timeout: Duration) -> Self {
        let mut s = PublishSession {
            url,
            phase: Phase::Handshake,
            handshake: Handshake::new(PeerType::Client),
            session: None,
            deadline: Some(now + publish_timeout),
            out: VecDeque::new(),
            events: VecDeque::new(),
            bytes_in: 0,
            shadow: Some(ChunkDeserializer::new()),
            inbound: inbound_reader(),
            media: None,
            publish_stream_id: None,
            publishing_since: None,
            now,
        };
        match s.handshake.generate_outbound_p0_and_p1() {
            Ok(b) => s.out.push_back(Transmit {
                bytes: b,
                droppable: false,
            }),
            Err(e) => s.fail(PushFailure::Handshake(format!("{e:?}"))),
        }
        s
    }

    /// True once `NetStream.Publish.Start` arrived and until the session ends.
    pub fn is_publishing(&self) -> bool {
        self.phase == Phase::Publishing
    }

    /// Bytes received from the server so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// When [`Self::handle_timeout`] must be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Next bytes to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// Whether [`Self::poll_event`] has something.
    pub fn has_event(&self) -> bool {
        !self.events.is_empty()
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<PublishEvent> {
        self.events.pop_front()
    }

    /// The deadline passed: fail if not publishing yet.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.deadline {
            if now >= d && self.phase != Phase::Done {
                let what = match self.phase {
                    Phase::Handshake => "no RTMP handshake reply in time",
                    _ => "no reply to connect/publish in time",
                };
                self.fail(PushFailure::Handshake(what.into()));
            }
        }
    }

    /// Reading or writing the socket failed (`what` names the call and the OS
    /// error). A reset within [`REJECT_WINDOW`] of `NetStream.Publish.Start` is
    /// the server dropping a publish it would not take (nginx-rtmp's `deny
    /// publish` and `on_publish` rejections answer Publish.Start, then close
    /// with our media unread, which resets the connection): 3004, not 3005.
    pub fn handle_io_error(&mut self, now: Instant, what: &str) {
        let what = self.peer_text(what);
        let f = match self.phase {
            // not a byte from the server: no server process answered (a
            // socket closing under a dying server, a full backlog)
            Phase::Handshake if self.bytes_in == 0 => PushFailure::Unanswered(what),
            Phase::Handshake => PushFailure::Handshake(what),
            Phase::Connecting => PushFailure::Rejected(format!("{what} before publishing started")),
            Phase::Publishing
                if self
                    .publishing_since
                    .is_some_and(|t| now.saturating_since(t) < REJECT_WINDOW) =>
            {
                PushFailure::Rejected(format!(
                    "{what} right after the server accepted the publish"
                ))
            }
            Phase::Publishing => PushFailure::Io(what),
            Phase::Done => return,
        };
        self.fail(f);
    }

    /// The server closed the connection (read returned 0).
    pub fn handle_eof(&mut self) {
        let f = match self.phase {
            Phase::Handshake if self.bytes_in == 0 => PushFailure::Unanswered(
                "server closed the connection before answering the handshake".into(),
            ),
            Phase::Handshake => {
                PushFailure::Handshake("server closed the connection during the handshake".into())
            }
            Phase::Connecting => PushFailure::Closed("before publishing started (rejected?)"),
            Phase::Publishing => PushFailure::Closed("while publishing"),
            Phase::Done => return,
        };
        self.fail(f);
    }

    /// Bytes read from the socket at `now`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        self.bytes_in += data.len() as u64;
        match self.phase {
            Phase::Done => {}
            Phase::Handshake => match guarded(|| self.handshake.process_bytes(data)) {
                Err(e) => self.fail(PushFailure::Handshake(e)),
                Ok(Err(e)) => self.fail(PushFailure::Handshake(format!("{e:?}"))),
                Ok(Ok(HandshakeProcessResult::InProgress { response_bytes })) => {
                    self.queue_raw(response_bytes);
                }
                Ok(Ok(HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                })) => {
                    self.queue_raw(response_bytes);
                    self.start_session(&remaining_bytes);
                }
            },
            Phase::Connecting | Phase::Publishing => {
                self.watch_inbound(data);
                if self.phase == Phase::Done {
                    return;
                }
                let Some(session) = self.session.as_mut() else {
                    return;
                };
                match guarded(|| session.handle_input(data)) {
                    Ok(r) => self.absorb(r),
                    Err(e) => self.fail_protocol(e),
                }
            }
        }
    }

    /// Reads the server's messages: its chunk size, and a reconnect request.
    fn watch_inbound(&mut self, data: &[u8]) {
        let mut input = data;
        loop {
            let inbound = &mut self.inbound;
            let p = match guarded(|| inbound.get_next_message(input)) {
                Ok(Ok(Some(p))) => p,
                Ok(Ok(None)) => return,
                // out of step with the server's chunks (rml_rtmp's own reader
                // is what the session relies on): start over at the next message
                Ok(Err(_)) => {
                    self.inbound = inbound_reader();
                    return;
                }
                Err(e) => return self.fail_protocol(e),
            };
            input = &[];
            match guarded(|| p.to_rtmp_message()).unwrap_or(Err(
                rml_rtmp::messages::MessageDeserializationError::InvalidMessageFormat,
            )) {
                Ok(RtmpMessage::SetChunkSize { size }) => {
                    let _ = self.inbound.set_max_chunk_size(size as usize);
                }
                Ok(RtmpMessage::Amf0Command {
                    command_name,
                    additional_arguments,
                    ..
                }) if command_name == "onStatus" => {
                    let Some(Amf0Value::Object(props)) = additional_arguments.first() else {
                        continue;
                    };
                    let text = |k: &str| match props.get(k) {
                        Some(Amf0Value::Utf8String(s)) => Some(s.clone()),
                        _ => None,
                    };
                    if text("code").as_deref() == Some(RECONNECT_REQUEST) {
                        self.phase = Phase::Done;
                        self.deadline = None;
                        self.events.push_back(PublishEvent::ReconnectRequested {
                            tc_url: text("tcUrl").filter(|s| !s.is_empty()),
                            description: self.peer_text(&text("description").unwrap_or_default()),
                        });
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Sends `@setDataFrame onMetaData`.
    pub fn send_metadata(&mut self, md: &StreamMetadata) {
        let r = self.session_mut().map(|s| s.publish_metadata(md));
        if let Some(r) = r {
            self.absorb(r.map(|x| vec![x]));
        }
    }

    /// Appends one FLV tag body as an RTMP audio/video message to `out`
    /// (no allocation). Returns false, writing nothing, unless publishing.
    /// The caller writes `out` after everything [`Self::poll_transmit`] gave.
    pub fn write_media(
        &mut self,
        media: Media,
        ts_ms: u32,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        match (self.phase, self.media) {
            (Phase::Publishing, Some(w)) => {
                w.write(media, ts_ms, body, out);
                true
            }
            _ => false,
        }
    }

    /// The bytes [`Self::write_media`] would append for a `body_len`-byte
    /// message at `ts_ms` (0 unless publishing).
    pub fn media_len(&self, ts_ms: u32, body_len: usize) -> usize {
        self.media.map_or(0, |w| w.encoded_len(ts_ms, body_len))
    }

    /// Ends a publishing session politely (`deleteStream`); later media is ignored.
    pub fn finish(&mut self) {
        if self.phase != Phase::Publishing {
            return;
        }
        let r = self.session.as_mut().map(|s| s.stop_publishing());
        if let Some(r) = r {
            self.absorb(r);
        }
        self.phase = Phase::Done;
    }

    fn session_mut(&mut self) -> Option<&mut ClientSession> {
        if self.phase == Phase::Publishing {
            self.session.as_mut()
        } else {
            None
        }
    }

    fn queue_raw(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.out.push_back(Transmit {
                bytes,
                droppable: false,
            });
        }
    }

    fn start_session(&mut self, leftover: &[u8]) {
        let mut cfg = ClientSessionConfig::new();
        cfg.tc_url = Some(self.url.tc_url());
        cfg.chunk_size = CHUNK_SIZE;
        let (mut session, initial) = match ClientSession::new(cfg) {
            Ok(x) => x,
            Err(e) => return self.fail(PushFailure::Handshake(format!("{e:?}"))),
        };
        session.set_max_message_size(MAX_INBOUND_MESSAGE);
        self.phase = Phase::Connecting;
        let first = session.request_connection(self.url.app.clone());
        self.session = Some(session);
        self.absorb(Ok(initial));
        self.absorb(first.map(|x| vec![x]));
        if !leftover.is_empty() {
            self.handle_input(self.now, leftover);
        }
    }

    /// Queues a batch's packets first, then acts on its events (see module doc).
    fn absorb(&mut self, r: Result<Vec<ClientSessionResult>, ClientSessionError>) {
        let results = match r {
            Ok(r) => r,
            Err(e) => {
                let f = match (self.phase, e) {
                    (_, ClientSessionError::CreateStreamFailed) => {
                        PushFailure::Rejected("createStream failed".into())
                    }
                    (Phase::Publishing, e) => {
                        PushFailure::Io(self.peer_text(&format!("protocol error: {e}")))
                    }
                    (_, e) => PushFailure::Handshake(self.peer_text(&format!("{e}"))),
                };
                return self.fail(f);
            }
        };
        let mut events = Vec::new();
        for r in results {
            match r {
                ClientSessionResult::OutboundResponse(p) => {
                    self.watch_outbound(&p.bytes);
                    self.out.push_back(Transmit {
                        bytes: p.bytes,
                        droppable: p.can_be_dropped,
                    });
                }
                ClientSessionResult::RaisedEvent(e) => events.push(e),
                ClientSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        for e in events {
            if self.phase == Phase::Done {
                return;
            }
            match e {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let key = self.url.stream_key().to_string();
                    let r = self
                        .session
                        .as_mut()
                        .map(|s| s.request_publishing(key, PublishRequestType::Live));
                    if let Some(r) = r {
                        self.absorb(r.map(|x| vec![x]));
                    }
                }
                ClientSessionEvent::ConnectionRequestRejected { description } => {
                    self.fail(PushFailure::Rejected(
                        self.peer_text(&format!("connect rejected: {description}")),
                    ))
                }
                ClientSessionEvent::PublishRequestAccepted => {
                    let Some(id) = self.publish_stream_id else {
                        self.fail(PushFailure::Handshake(
                            "publish accepted on an unknown stream".into(),
                        ));
                        return;
                    };
                    self.shadow = None;
                    self.media = Some(MediaChunkWriter::new(CHUNK_SIZE as usize, id));
                    self.publishing_since = Some(self.now);
                    self.phase = Phase::Publishing;
                    self.deadline = None;
                    self.events.push_back(PublishEvent::Publishing);
                }
                // rml_rtmp servers reject a publish with `_error` on transaction 0
                ClientSessionEvent::UnknownTransactionResultReceived {
                    additional_values, ..
                } if self.phase == Phase::Connecting => {
                    let mut why = String::from("_error");
                    for v in additional_values {
                        if let Amf0Value::Object(props) = v {
                            for k in ["code", "description"] {
                                if let Some(Amf0Value::Utf8String(s)) = props.get(k) {
                                    why.push(' ');
                                    why.push_str(s);
                                }
                            }
                        }
                    }
                    self.fail(PushFailure::Rejected(self.peer_text(&why)));
                }
                ClientSessionEvent::UnhandleableOnStatusCode { code } => {
                    if code == RECONNECT_REQUEST {
                        // handled by watch_inbound
                    } else if code.contains("Publish")
                        || code.contains("Connect")
                        || self.phase != Phase::Publishing
                    {
                        self.fail(PushFailure::Rejected(self.peer_text(&code)));
                    }
                }
                _ => {}
            }
        }
    }

    /// While connecting, parses our own outbound chunks to learn on which
    /// message stream rml_rtmp sends `publish` (it keeps that id private).
    fn watch_outbound(&mut self, bytes: &[u8]) {
        let Some(de) = self.shadow.as_mut() else {
            return;
        };
        let mut input = bytes;
        while let Ok(Some(p)) = de.get_next_message(input) {
            input = &[];
            match p.to_rtmp_message() {
                Ok(RtmpMessage::SetChunkSize { size }) => {
                    let _ = de.set_max_chunk_size(size as usize);
                }
                Ok(RtmpMessage::Amf0Command { command_name, .. }) if command_name == "publish" => {
                    self.publish_stream_id = Some(p.message_stream_id);
                }
                _ => {}
            }
        }
    }

    /// A string from the server (or the OS) made fit for logs and events:
    /// the stream key replaced, control characters escaped.
    fn peer_text(&self, s: &str) -> String {
        crate::text::printable(&self.url.redact(s))
    }

    /// The server's bytes could not be decoded (or crashed the decoder).
    fn fail_protocol(&mut self, what: String) {
        let f = match self.phase {
            Phase::Publishing => PushFailure::Io(format!("protocol error: {what}")),
            _ => PushFailure::Handshake(what),
        };
        self.fail(f);
    }

    fn fail(&mut self, f: PushFailure) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.deadline = None;
        self.events.push_back(PublishEvent::Failed(f));
    }
}

/// A reader of the server's messages with the inbound size limit.
fn inbound_reader() -> ChunkDeserializer {
    let mut d = ChunkDeserializer::new();
    d.set_max_message_size(MAX_INBOUND_MESSAGE);
    d
}

#[cfg(test)]
mod tests;
