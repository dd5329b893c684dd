//! What `livepush run` does with a server's bytes: the core's sans-IO
//! `PublishSession` after a completed handshake (it is connecting), fed the
//! server's stream. The first byte says how the rest arrives. It must end
//! in an event or keep going, never panic.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use livepush_core::rtmp::publish::PublishSession;
use livepush_core::rtmp::url::PushUrl;
use livepush_core::time::Instant;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let url = PushUrl::parse("rtmp://127.0.0.1/live/key").unwrap();
    let mut c = PublishSession::new(url, Instant::ZERO, Duration::from_secs(5));
    let mut hs = Handshake::new(PeerType::Server);
    for _ in 0..4 {
        while let Some(t) = c.poll_transmit() {
            if let Ok(HandshakeProcessResult::InProgress { response_bytes }) =
                hs.process_bytes(&t.bytes)
            {
                c.handle_input(Instant::from_millis(1), &response_bytes);
            }
        }
    }
    for (i, piece) in data.chunks(usize::from(split) + 1).enumerate() {
        c.handle_input(Instant::from_millis(2 + i as u64), piece);
        while c.poll_transmit().is_some() {}
        while c.poll_event().is_some() {}
    }
    c.handle_timeout(Instant::from_millis(10_000));
});
