//! An in-memory RTMP server for tests (a handshake and rml_rtmp's
//! `ServerSession`), and server messages the tests send.

use rml_amf0::Amf0Value;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::messages::RtmpMessage;
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

use super::publish::RECONNECT_REQUEST;

pub(crate) enum Verdict {
    /// Accept connect and publish.
    Accept,
    /// Refuse the publish (NetStream.Publish.BadName).
    RejectPublish,
}

/// An in-memory RTMP server: handshake + ServerSession.
pub(crate) struct Server {
    hs: Handshake,
    session: Option<ServerSession>,
    verdict: Verdict,
    pub(crate) events: Vec<ServerSessionEvent>,
}

impl Server {
    pub(crate) fn new(verdict: Verdict) -> Self {
        Server {
            hs: Handshake::new(PeerType::Server),
            session: None,
            verdict,
            events: Vec::new(),
        }
    }

    /// Feeds client bytes in, returns bytes for the client.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.session.is_none() {
            match self.hs.process_bytes(data).expect("server handshake") {
                HandshakeProcessResult::InProgress { response_bytes } => out.extend(response_bytes),
                HandshakeProcessResult::Completed {
                    response_bytes,
                    remaining_bytes,
                } => {
                    out.extend(response_bytes);
                    let (s, initial) = ServerSession::new(ServerSessionConfig::new()).unwrap();
                    self.session = Some(s);
                    self.results(initial, &mut out);
                    let r = self
                        .session
                        .as_mut()
                        .unwrap()
                        .handle_input(&remaining_bytes)
                        .unwrap();
                    self.results(r, &mut out);
                }
            }
            return out;
        }
        let r = self.session.as_mut().unwrap().handle_input(data).unwrap();
        self.results(r, &mut out);
        out
    }

    fn results(&mut self, rs: Vec<ServerSessionResult>, out: &mut Vec<u8>) {
        for r in rs {
            match r {
                ServerSessionResult::OutboundResponse(p) => out.extend(p.bytes),
                ServerSessionResult::RaisedEvent(e) => {
                    let more = match &e {
                        ServerSessionEvent::ConnectionRequested { request_id, .. } => Some(
                            self.session
                                .as_mut()
                                .unwrap()
                                .accept_request(*request_id)
                                .unwrap(),
                        ),
                        ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                            Some(match self.verdict {
                                Verdict::Accept => self
                                    .session
                                    .as_mut()
                                    .unwrap()
                                    .accept_request(*request_id)
                                    .unwrap(),
                                Verdict::RejectPublish => self
                                    .session
                                    .as_mut()
                                    .unwrap()
                                    .reject_request(
                                        *request_id,
                                        "NetStream.Publish.BadName",
                                        "cam-7 is taken",
                                    )
                                    .unwrap(),
                            })
                        }
                        _ => None,
                    };
                    self.events.push(e);
                    if let Some(m) = more {
                        self.results(m, out);
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
    }
}

/// The server's `onStatus NetConnection.Connect.ReconnectRequest` on stream 0,
/// chunked at the server's announced chunk size (4096).
pub(crate) fn reconnect_request(tc_url: Option<&str>, description: &str) -> Vec<u8> {
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::time::RtmpTimestamp;
    let mut props = std::collections::HashMap::new();
    props.insert("level".to_string(), Amf0Value::Utf8String("status".into()));
    props.insert(
        "code".to_string(),
        Amf0Value::Utf8String(RECONNECT_REQUEST.into()),
    );
    props.insert(
        "description".to_string(),
        Amf0Value::Utf8String(description.into()),
    );
    if let Some(u) = tc_url {
        props.insert("tcUrl".to_string(), Amf0Value::Utf8String(u.into()));
    }
    let msg = RtmpMessage::Amf0Command {
        command_name: "onStatus".into(),
        transaction_id: 0.0,
        command_object: Amf0Value::Null,
        additional_arguments: vec![Amf0Value::Object(props)],
    };
    let payload = msg.into_message_payload(RtmpTimestamp::new(0), 0).unwrap();
    let mut ser = ChunkSerializer::new();
    let _ = ser.set_max_chunk_size(4096, RtmpTimestamp::new(0)).unwrap();
    ser.serialize(&payload, true, false).unwrap().bytes
}
