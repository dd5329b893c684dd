//! `livepush receive`: a small RTMP server (rml_rtmp's `ServerSession`) that
//! accepts a publisher and records what it gets as an FLV file. It is the
//! demo's default server and a field check ("does this box push?") that needs
//! nothing but livepush. One publisher at a time; blocking I/O on its thread.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use livepush_core::flv::{file, metadata::Metadata, tag};
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

/// Receiver settings.
pub struct ReceiveOptions {
    /// Where to write the FLV recording.
    pub out: String,
    /// Accept only this stream key (others are rejected, as a server with auth would).
    pub key: Option<String>,
    /// Keep accepting publishers after the first one ends (appending to the file).
    pub keep_listening: bool,
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

/// Serves publishers on `listener` until the first one ends (or forever with `keep_listening`).
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
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                log::warn!("receive: accept: {e}");
                continue;
            }
        };
        let peer = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        log::info!("receive: connection from {peer}");
        let published = match session(stream, opts, &mut rec) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("receive: {peer}: {e}");
                true
            }
        };
        rec.w.flush().map_err(|e| format!("{}: {e}", opts.out))?;
        if published {
            rec.summary.publishers += 1;
            rec.offset_ms = rec.summary.last_ts_ms + 40;
            log::info!(
                "receive: publisher {peer} done: {} video, {} audio tags, {:.1} s",
                rec.summary.video_tags,
                rec.summary.audio_tags,
                f64::from(rec.summary.last_ts_ms) / 1000.0
            );
            if !opts.keep_listening {
                break;
            }
        }
    }
    Ok(rec.summary)
}

/// One connection. Returns whether a publish was accepted.
fn session(mut s: TcpStream, opts: &ReceiveOptions, rec: &mut Recorder) -> Result<bool, String> {
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let _ = s.set_nodelay(true);
    let mut hs = Handshake::new(PeerType::Server);
    let mut buf = vec![0u8; 64 * 1024];
    let leftover = loop {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("handshake read: {e}"))?;
        if n == 0 {
            return Ok(false);
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| format!("handshake: {e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                s.write_all(&response_bytes).map_err(|e| e.to_string())?
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                s.write_all(&response_bytes).map_err(|e| e.to_string())?;
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) =
        ServerSession::new(ServerSessionConfig::new()).map_err(|e| format!("{e:?}"))?;
    let mut published = false;
    let mut pending = initial;
    pending.extend(
        session
            .handle_input(&leftover)
            .map_err(|e| format!("{e:?}"))?,
    );
    loop {
        let mut close = false;
        while !pending.is_empty() {
            let mut more = Vec::new();
            for r in pending.drain(..) {
                match r {
                    ServerSessionResult::OutboundResponse(p) => {
                        s.write_all(&p.bytes).map_err(|e| format!("write: {e}"))?
                    }
                    ServerSessionResult::RaisedEvent(e) => match e {
                        ServerSessionEvent::ConnectionRequested {
                            request_id,
                            app_name,
                        } => {
                            log::info!("receive: connect app={app_name}");
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
                            if opts.key.as_ref().is_some_and(|k| *k != stream_key) {
                                log::info!("receive: publish with a wrong stream key rejected");
                                more.extend(
                                    session
                                        .reject_request(
                                            request_id,
                                            "NetStream.Publish.BadName",
                                            "wrong stream key",
                                        )
                                        .map_err(|e| format!("{e:?}"))?,
                                );
                                close = true;
                            } else {
                                log::info!("receive: publish accepted (key hidden)");
                                published = true;
                                more.extend(
                                    session
                                        .accept_request(request_id)
                                        .map_err(|e| format!("{e:?}"))?,
                                );
                            }
                        }
                        ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                            let md = Metadata {
                                width: metadata.video_width,
                                height: metadata.video_height,
                                framerate: metadata.video_frame_rate.map(f64::from),
                                video_data_rate: metadata.video_bitrate_kbps,
                                audio_sample_rate: metadata.audio_sample_rate,
                                audio_data_rate: metadata.audio_bitrate_kbps,
                                audio_channels: metadata.audio_channels,
                                encoder: metadata.encoder.clone(),
                            };
                            let mut body = Vec::new();
                            md.encode(&mut body);
                            rec.tag(tag::TAG_SCRIPT, 0, &body)
                                .map_err(|e| e.to_string())?;
                        }
                        ServerSessionEvent::VideoDataReceived {
                            data, timestamp, ..
                        } => rec
                            .tag(tag::TAG_VIDEO, timestamp.value, &data)
                            .map_err(|e| e.to_string())?,
                        ServerSessionEvent::AudioDataReceived {
                            data, timestamp, ..
                        } => rec
                            .tag(tag::TAG_AUDIO, timestamp.value, &data)
                            .map_err(|e| e.to_string())?,
                        ServerSessionEvent::PublishStreamFinished { .. } => close = true,
                        _ => {}
                    },
                    ServerSessionResult::UnhandleableMessageReceived(_) => {}
                }
            }
            pending = more;
        }
        if close {
            return Ok(published);
        }
        let n = match s.read(&mut buf) {
            Ok(0) => return Ok(published),
            Ok(n) => n,
            Err(e) if published => {
                log::warn!("receive: read: {e}");
                return Ok(true);
            }
            Err(e) => return Err(format!("read: {e}")),
        };
        pending = session
            .handle_input(&buf[..n])
            .map_err(|e| format!("{e:?}"))?;
    }
}
