//! A misbehaving RTMP server for the failure tests (3003, 3004, 3005): a real
//! TCP listener on loopback speaking rml_rtmp's server side, broken on purpose.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

/// How the server misbehaves.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answers the handshake with an HTTP error page.
    Garbage,
    /// Completes the handshake, then closes (FIN).
    CloseAfterHandshake,
    /// Accepts the publish, then resets the connection (RST) after this many media messages.
    ResetAfterMedia(usize),
    /// Accepts the publish, then never reads again (a hung server or a dead path).
    StallAfterMedia(usize),
    /// Accepts the publish, then after this many media messages sends Enhanced
    /// RTMP's reconnect request (with this tcUrl, if any) and waits for the close.
    ReconnectRequestAfterMedia(usize, Option<String>),
    /// Completes the handshake, sends these bytes (a hostile message), then
    /// reads until the client closes.
    Hostile(Vec<u8>),
    /// Accepts the publish, then after this many media messages sends these
    /// bytes (protocol control messages at their extremes, say) and goes on
    /// as a good server.
    SendAfterMedia(usize, Vec<u8>),
    /// Refuses the publish (NetStream.Publish.BadName), then keeps talking:
    /// a ping every 100 ms, until the client closes.
    RefusePublishAndTalk,
}

/// A running fault server; counts connections.
pub struct FaultServer {
    pub port: u16,
    pub connections: Arc<AtomicUsize>,
}

impl FaultServer {
    pub fn start(fault: Fault) -> FaultServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // a small receive buffer (accepted sockets inherit it): a stalled reader backs up fast
        set_int(&l, libc::SOL_SOCKET, libc::SO_RCVBUF, 8 * 1024);
        let port = l.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let c = connections.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                c.fetch_add(1, Ordering::SeqCst);
                let fault = fault.clone();
                std::thread::spawn(move || {
                    let _ = serve(s, fault);
                });
            }
        });
        FaultServer { port, connections }
    }
}

fn serve(mut s: TcpStream, fault: Fault) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = vec![0u8; 65536];
    if let Fault::Garbage = fault {
        let _ = s.read(&mut buf)?;
        s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
        std::thread::sleep(Duration::from_millis(500));
        return Ok(());
    }
    let mut hs = Handshake::new(PeerType::Server);
    let leftover = loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match hs
            .process_bytes(&buf[..n])
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                s.write_all(&response_bytes)?
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                s.write_all(&response_bytes)?;
                break remaining_bytes;
            }
        }
    };
    if let Fault::Hostile(bytes) = &fault {
        s.write_all(bytes)?;
        while s.read(&mut buf)? > 0 {}
        return Ok(());
    }
    let limit = match fault {
        Fault::ResetAfterMedia(n)
        | Fault::StallAfterMedia(n)
        | Fault::ReconnectRequestAfterMedia(n, _)
        | Fault::SendAfterMedia(n, _) => n,
        Fault::RefusePublishAndTalk => usize::MAX,
        _ => return Ok(()), // CloseAfterHandshake: drop = FIN
    };
    let mut sent_extra = false;
    let (mut session, initial) = ServerSession::new(ServerSessionConfig::new()).unwrap();
    let mut pending = initial;
    pending.extend(session.handle_input(&leftover).unwrap());
    let mut media = 0;
    loop {
        while !pending.is_empty() {
            let mut more = Vec::new();
            for r in pending.drain(..) {
                match r {
                    ServerSessionResult::OutboundResponse(p) => s.write_all(&p.bytes)?,
                    ServerSessionResult::RaisedEvent(e) => match e {
                        ServerSessionEvent::PublishStreamRequested { request_id, .. }
                            if matches!(fault, Fault::RefusePublishAndTalk) =>
                        {
                            let r = session
                                .reject_request(request_id, "NetStream.Publish.BadName", "no")
                                .unwrap();
                            for x in r {
                                if let ServerSessionResult::OutboundResponse(p) = x {
                                    s.write_all(&p.bytes)?;
                                }
                            }
                            // keep talking: pings until the client goes
                            s.set_read_timeout(Some(Duration::from_millis(100)))?;
                            let started = std::time::Instant::now();
                            loop {
                                s.write_all(&ping())?;
                                match s.read(&mut buf) {
                                    Ok(0) => return Ok(()),
                                    Ok(_) => {}
                                    Err(e)
                                        if e.kind() == std::io::ErrorKind::WouldBlock
                                            || e.kind() == std::io::ErrorKind::TimedOut => {}
                                    Err(e) => return Err(e),
                                }
                                if started.elapsed() > Duration::from_secs(30) {
                                    return Ok(());
                                }
                            }
                        }
                        ServerSessionEvent::ConnectionRequested { request_id, .. }
                        | ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                            more.extend(session.accept_request(request_id).unwrap())
                        }
                        ServerSessionEvent::VideoDataReceived { .. }
                        | ServerSessionEvent::AudioDataReceived { .. } => media += 1,
                        _ => {}
                    },
                    _ => {}
                }
            }
            pending = more;
        }
        if let (Fault::SendAfterMedia(n, bytes), false) = (&fault, sent_extra) {
            if media >= *n {
                s.write_all(bytes)?;
                sent_extra = true;
            }
        }
        if media >= limit && !matches!(fault, Fault::SendAfterMedia(..)) {
            if let Fault::ReconnectRequestAfterMedia(_, tc_url) = &fault {
                s.write_all(&reconnect_request(tc_url.as_deref()))?;
                // the client closes; read (and drop) until it does
                while s.read(&mut buf)? > 0 {}
                return Ok(());
            }
            if let Fault::StallAfterMedia(_) = fault {
                // stop reading, keep the connection: the client's writes back up
                std::thread::sleep(Duration::from_secs(60));
                return Ok(());
            }
            // RST instead of FIN: linger 0 then close
            set_linger_zero(&s);
            return Ok(());
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        pending = session.handle_input(&buf[..n]).unwrap();
    }
}

/// A user control ping request (event type 6) on chunk stream 2.
fn ping() -> Vec<u8> {
    let mut payload = vec![0, 6];
    payload.extend(7u32.to_be_bytes());
    livepush_core::rtmp::hostile::chunks(2, 4, 0, &payload, 4096)
}

/// Enhanced RTMP's `onStatus NetConnection.Connect.ReconnectRequest` on
/// stream 0, chunked at the chunk size the server session announced (4096).
fn reconnect_request(tc_url: Option<&str>) -> Vec<u8> {
    use rml_amf0::Amf0Value;
    use rml_rtmp::chunk_io::ChunkSerializer;
    use rml_rtmp::messages::RtmpMessage;
    use rml_rtmp::time::RtmpTimestamp;
    let mut props = std::collections::HashMap::new();
    let text = |s: &str| Amf0Value::Utf8String(s.to_string());
    props.insert("level".to_string(), text("status"));
    props.insert(
        "code".to_string(),
        text("NetConnection.Connect.ReconnectRequest"),
    );
    props.insert("description".to_string(), text("node draining"));
    if let Some(u) = tc_url {
        props.insert("tcUrl".to_string(), text(u));
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

fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd and a properly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}

pub fn set_int(l: &impl std::os::fd::AsRawFd, level: i32, opt: i32, v: i32) {
    // SAFETY: valid fd and an int-sized option value.
    unsafe {
        libc::setsockopt(
            l.as_raw_fd(),
            level,
            opt,
            &v as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as u32,
        );
    }
}
