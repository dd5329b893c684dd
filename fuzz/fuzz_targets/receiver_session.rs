//! What `livepush receive` runs on a publisher's bytes: the server handshake,
//! then rml_rtmp's `ServerSession` with the receiver's message limits,
//! accepting connect and publish requests as the receiver does. The first
//! byte says how the rest arrives (1..=256 bytes per read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rml_rtmp::handshake::{Handshake, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let mut hs = Handshake::new(PeerType::Server);
    for piece in data.chunks(usize::from(split) + 1) {
        if hs.process_bytes(piece).is_err() {
            break;
        }
    }
    let Ok((mut session, _)) = ServerSession::new(ServerSessionConfig::new()) else {
        return;
    };
    session.set_max_message_size(64 * 1024);
    for piece in data.chunks(usize::from(split) + 1) {
        let Ok(mut pending) = session.handle_input(piece) else {
            return;
        };
        while !pending.is_empty() {
            let mut more = Vec::new();
            for r in pending.drain(..) {
                let ServerSessionResult::RaisedEvent(e) = r else {
                    continue;
                };
                let id = match e {
                    ServerSessionEvent::ConnectionRequested { request_id, .. } => request_id,
                    ServerSessionEvent::PublishStreamRequested { request_id, .. } => {
                        session.set_max_message_size(8 * 1024 * 1024);
                        request_id
                    }
                    _ => continue,
                };
                if let Ok(x) = session.accept_request(id) {
                    more.extend(x);
                }
            }
            pending = more;
        }
    }
});
