//! Scripted publishes against an in-memory rml_rtmp `ServerSession`.

use super::*;
use crate::rtmp::chunk::Media;
use crate::rtmp::test_server::{self, Server, Verdict};
use rml_rtmp::sessions::ServerSessionEvent;

const KEY: &str = "cam-7?token=S3CRET";

fn url() -> PushUrl {
    PushUrl::parse(&format!("rtmp://127.0.0.1/live/{KEY}")).unwrap()
}

/// Pumps bytes both ways until nothing moves. Returns client events.
fn pump(c: &mut PublishSession, s: &mut Server) -> Vec<PublishEvent> {
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some(t) = c.poll_transmit() {
            moved = true;
            let back = s.feed(&t.bytes);
            if !back.is_empty() {
                c.handle_input(Instant::ZERO, &back);
            }
        }
        while let Some(e) = c.poll_event() {
            events.push(e);
            moved = true;
        }
        if !moved {
            return events;
        }
    }
}

#[test]
fn successful_publish_then_media_reaches_server() {
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
    let mut s = Server::new(Verdict::Accept);
    assert_eq!(c.poll_timeout(), Some(Instant::from_millis(5000)));
    let ev = pump(&mut c, &mut s);
    assert_eq!(ev, vec![PublishEvent::Publishing]);
    assert!(c.is_publishing());
    assert_eq!(c.poll_timeout(), None, "deadline disarmed once publishing");

    let mut md = StreamMetadata::new();
    md.video_width = Some(640);
    md.video_height = Some(360);
    c.send_metadata(&md);
    // a body longer than 128 bytes proves the chunk-size switch was announced in order
    let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    assert!(pump(&mut c, &mut s).is_empty());
    let mut media = Vec::new();
    assert!(c.write_media(Media::Video, 0, &[0x17, 0, 0, 0, 0, 1, 2, 3], &mut media));
    assert!(c.write_media(Media::Video, 40, &big, &mut media));
    assert!(c.write_media(Media::Audio, 21, &[0xaf, 1, 9], &mut media));
    let _ = s.feed(&media); // the server answers nothing to media

    let mut saw_key = None;
    let mut videos = Vec::new();
    let mut audios = Vec::new();
    let mut meta = None;
    for e in &s.events {
        match e {
            ServerSessionEvent::PublishStreamRequested {
                app_name,
                stream_key,
                ..
            } => {
                assert_eq!(app_name, "live");
                saw_key = Some(stream_key.clone());
            }
            ServerSessionEvent::VideoDataReceived {
                data, timestamp, ..
            } => videos.push((data.clone(), timestamp.value)),
            ServerSessionEvent::AudioDataReceived {
                data, timestamp, ..
            } => audios.push((data.clone(), timestamp.value)),
            ServerSessionEvent::StreamMetadataChanged { metadata, .. } => {
                meta = Some(metadata.clone())
            }
            _ => {}
        }
    }
    assert_eq!(saw_key.as_deref(), Some(KEY));
    assert_eq!(meta.unwrap().video_width, Some(640));
    assert_eq!(videos.len(), 2);
    assert_eq!(videos[0].1, 0);
    assert_eq!(&videos[1].0[..], &big[..]);
    assert_eq!(videos[1].1, 40);
    assert_eq!(audios, vec![(bytes::Bytes::from(vec![0xaf, 1, 9]), 21)]);
}

#[test]
fn rejected_publish_is_3004_without_the_key() {
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
    let mut s = Server::new(Verdict::RejectPublish);
    let ev = pump(&mut c, &mut s);
    assert_eq!(ev.len(), 1, "{ev:?}");
    match &ev[0] {
        PublishEvent::Failed(f) => {
            assert_eq!(f.status(), crate::status::StatusCode::ServerDisconnect);
            let msg = format!("{f} {f:?}");
            assert!(msg.contains("NetStream.Publish.BadName"), "{msg}");
            assert!(!msg.contains("cam-7") && !msg.contains("S3CRET"), "{msg}");
        }
        e => panic!("{e:?}"),
    }
    assert!(!c.is_publishing());
    let mut out = Vec::new();
    assert!(
        !c.write_media(Media::Audio, 0, &[1], &mut out),
        "no media unless publishing"
    );
    assert!(out.is_empty());
}

#[test]
fn garbage_handshake_is_3003() {
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
    let _ = c.poll_transmit().unwrap();
    c.handle_input(Instant::ZERO, b"HTTP/1.1 400 Bad Request\r\n\r\n");
    match c.poll_event() {
        Some(PublishEvent::Failed(f)) => {
            assert_eq!(f.status(), crate::status::StatusCode::HandshakeFail)
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn eof_by_phase() {
    // during the handshake, before the server sent a byte: 3003 (unanswered)
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
    c.handle_eof();
    assert!(matches!(
        c.poll_event(),
        Some(PublishEvent::Failed(PushFailure::Unanswered(_)))
    ));
    // after the handshake, before publishing: 3004
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
    let mut s = Server::new(Verdict::Accept);
    let t = c.poll_transmit().unwrap();
    let back = s.feed(&t.bytes);
    // feed only the server's S0+S1+S2 (3073 bytes): the handshake completes, publish pending
    c.handle_input(Instant::ZERO, &back[..3073]);
    c.handle_eof();
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(
        matches!(&ev[0], PublishEvent::Failed(f) if f.status() == crate::status::StatusCode::ServerDisconnect)
    );
}

#[test]
fn deadline_fails_a_silent_server_once() {
    let mut c = PublishSession::new(url(), Instant::from_millis(100), Duration::from_millis(500));
    c.handle_timeout(Instant::from_millis(599));
    assert!(c.poll_event().is_none());
    c.handle_timeout(Instant::from_millis(600));
    assert!(matches!(
        c.poll_event(),
        Some(PublishEvent::Failed(PushFailure::Handshake(_)))
    ));
    c.handle_timeout(Instant::from_millis(700));
    c.handle_eof();
    assert!(
        c.poll_event().is_none(),
        "a finished session reports nothing more"
    );
}

#[test]
fn a_reset_right_after_publish_start_is_a_rejection_later_a_read_write_failure() {
    for (after_ms, want) in [
        (200u64, crate::status::StatusCode::ServerDisconnect),
        (1500, crate::status::StatusCode::ReadWriteFail),
    ] {
        let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
        let mut s = Server::new(Verdict::Accept);
        assert_eq!(pump(&mut c, &mut s), vec![PublishEvent::Publishing]);
        c.handle_io_error(
            Instant::from_millis(after_ms),
            "read: Connection reset by peer (os error 104)",
        );
        match c.poll_event() {
            Some(PublishEvent::Failed(f)) => assert_eq!(f.status(), want, "{after_ms} ms: {f}"),
            e => panic!("{e:?}"),
        }
    }
}

fn reconnect_request(tc_url: Option<&str>) -> Vec<u8> {
    test_server::reconnect_request(
        tc_url,
        &format!("maintenance: {KEY} move to the other node please"),
    )
}

#[test]
fn an_enhanced_rtmp_reconnect_request_ends_the_session_with_the_new_tc_url() {
    for tc in [Some("rtmp://10.1.2.3:1936/live"), None] {
        let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
        let mut s = Server::new(Verdict::Accept);
        assert_eq!(pump(&mut c, &mut s), vec![PublishEvent::Publishing]);
        c.handle_input(Instant::from_millis(100), &reconnect_request(tc));
        let ev = pump(&mut c, &mut s);
        assert_eq!(
            ev,
            vec![PublishEvent::ReconnectRequested {
                tc_url: tc.map(String::from),
                description: "maintenance: <key> move to the other node please".into(),
            }]
        );
        assert!(!c.is_publishing(), "the session is over");
        let mut out = Vec::new();
        assert!(!c.write_media(Media::Audio, 0, &[1], &mut out));
    }
}

/// Runs the client's handshake against an in-memory server handshake only:
/// the client is then connecting (its connect request sent, no reply).
fn handshaken_client() -> PublishSession {
    let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
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
    assert!(!c.has_event(), "handshake done, nothing to report");
    c
}

#[test]
fn hostile_server_messages_end_the_session_with_a_code_never_a_panic() {
    use crate::rtmp::hostile;
    use crate::status::StatusCode;
    // right after the handshake (connecting): 3003
    for (name, bytes) in [
        ("short command", hostile::short_command()),
        ("nested", hostile::deeply_nested_command(12_500)),
    ] {
        let mut c = handshaken_client();
        c.handle_input(Instant::from_millis(2), &bytes);
        match c.poll_event() {
            Some(PublishEvent::Failed(f)) => {
                assert_eq!(f.status(), StatusCode::HandshakeFail, "{name}: {f}")
            }
            e => panic!("{name}: {e:?}"),
        }
    }
    // interleaved chunk streams are legal: read and ignored, still connecting
    let mut c = handshaken_client();
    c.handle_input(Instant::from_millis(2), &hostile::interleaved_messages());
    assert!(c.poll_event().is_none());
    // while publishing: 3005 (the server's chunk size is 4096 by then)
    for depth in [12_500] {
        let mut c = PublishSession::new(url(), Instant::ZERO, Duration::from_secs(5));
        let mut s = Server::new(Verdict::Accept);
        assert_eq!(pump(&mut c, &mut s), vec![PublishEvent::Publishing]);
        let payload = hostile::deeply_nested_payload(depth);
        let bytes = hostile::chunks(3, hostile::TYPE_AMF0_COMMAND, 0, &payload, 4096);
        c.handle_input(Instant::from_millis(100), &bytes);
        match c.poll_event() {
            Some(PublishEvent::Failed(f)) => {
                assert_eq!(f.status(), StatusCode::ReadWriteFail, "{f}")
            }
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn a_server_message_over_the_inbound_limit_is_refused() {
    let mut c = handshaken_client();
    let header = crate::rtmp::hostile::chunks(
        3,
        crate::rtmp::hostile::TYPE_AMF0_COMMAND,
        0,
        &vec![0u8; MAX_INBOUND_MESSAGE + 1][..1],
        128,
    );
    // a type 0 header announcing MAX_INBOUND_MESSAGE + 1 bytes
    let mut b = header[..4].to_vec();
    b.extend_from_slice(&((MAX_INBOUND_MESSAGE + 1) as u32).to_be_bytes()[1..]);
    b.extend_from_slice(&header[7..12]);
    c.handle_input(Instant::from_millis(2), &b);
    match c.poll_event() {
        Some(PublishEvent::Failed(f)) => {
            assert!(f.to_string().contains("limit"), "{f}")
        }
        e => panic!("{e:?}"),
    }
}
