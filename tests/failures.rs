//! Each RTMP failure code from a real socket: 3001 bad host, 3002 refused
//! port, 3003 handshake garbage, 3004 server closes or rejects, 3005 reset
//! mid-stream. Every time the pusher stays up, says 1102 and tries again, and
//! the stream key never shows.

mod common;

use std::sync::atomic::Ordering;

use common::fault_server::{Fault, FaultServer};
use common::*;

const SECRET: &str = "SECRETKEY77";

fn cfg(url_host_port: &str) -> String {
    format!(
        "url = \"rtmp://{url_host_port}/live/{SECRET}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\n[network]\nconnect-timeout = 1000\nhandshake-timeout = 2000\nreconnect-delay = 300\nreconnect-max-delay = 1000\n"
    )
}

/// Runs the pusher against `host_port` for `secs`; checks the common rules.
fn run_against(host_port: &str, secs: f64) -> Pushed {
    let dir = tempfile::tempdir().unwrap();
    let p = push(dir.path(), &cfg(host_port), secs);
    assert!(
        p.status.success(),
        "pusher must not die: {}\n{}",
        p.status,
        p.stderr
    );
    p.assert_secret_hidden(SECRET);
    p
}

/// `code` appears, each time followed by 1102, and at least twice (it retried).
fn assert_fails_with(p: &Pushed, code: i64) {
    assert_fails_with_publish(p, code, false)
}

/// Same; `may_publish` for servers that accept the publish and then drop it.
fn assert_fails_with_publish(p: &Pushed, code: i64, may_publish: bool) {
    let codes = p.codes();
    let at: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == code)
        .map(|(i, _)| i)
        .collect();
    assert!(
        at.len() >= 2,
        "want {code} at least twice (retry), got {codes:?}\n{}",
        p.stderr
    );
    for i in at {
        let next = codes[i + 1..].iter().find(|c| **c != -1307);
        assert!(
            next.is_none() || next == Some(&1102),
            "{code} must be followed by 1102: {codes:?}"
        );
    }
    assert!(
        may_publish || !codes.contains(&1002),
        "never published: {codes:?}"
    );
    assert!(
        codes.contains(&-1307),
        "three failures in a row give -1307: {codes:?}"
    );
}

#[test]
fn bad_host_is_3001() {
    // where no DNS server answers, each attempt ends at connect-timeout (1 s)
    let p = run_against("no-such-host.invalid:1935", 5.0);
    assert_fails_with(&p, 3001);
}

#[test]
fn refused_port_is_3002() {
    let port = free_port(); // nothing listens
    let p = run_against(&format!("127.0.0.1:{port}"), 3.0);
    assert_fails_with(&p, 3002);
    assert!(!p.codes().contains(&1001));
}

#[test]
fn handshake_garbage_is_3003() {
    let s = FaultServer::start(Fault::Garbage);
    let p = run_against(&format!("127.0.0.1:{}", s.port), 3.0);
    assert_fails_with(&p, 3003);
    assert!(p.codes().contains(&1001), "TCP did connect");
    assert!(s.connections.load(Ordering::SeqCst) >= 2);
}

#[test]
fn server_closing_after_handshake_is_3004() {
    let s = FaultServer::start(Fault::CloseAfterHandshake);
    let p = run_against(&format!("127.0.0.1:{}", s.port), 3.0);
    assert_fails_with(&p, 3004);
}

#[test]
fn rejected_stream_key_is_3004_from_the_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &["--key", "the-right-key", "--keep-listening"]);
    let mut r = r;
    let p = run_against(&format!("127.0.0.1:{}", r.port), 3.0);
    let _ = r.child.kill();
    assert_fails_with(&p, 3004);
    let detail = p
        .events
        .iter()
        .find(|e| e["code"] == 3004)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("BadName"),
        "the server's reason is kept: {detail}"
    );
}

#[test]
fn rejected_by_nginx_is_3004() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "deny publish all;");
    let p = run_against(&format!("127.0.0.1:{}", nginx.rtmp_port), 3.0);
    // nginx-rtmp answers NetStream.Publish.Start, then drops the publisher
    assert_fails_with_publish(&p, 3004, true);
}

#[test]
fn reset_mid_stream_is_3005_and_it_publishes_again() {
    // ~1.8 s of RTC media (20 video + 47 audio messages a second): past the
    // 1 s after Publish.Start in which a reset counts as a rejection
    let s = FaultServer::start(Fault::ResetAfterMedia(120));
    let p = run_against(&format!("127.0.0.1:{}", s.port), 5.0);
    let codes = p.codes();
    let pushes = codes.iter().filter(|c| **c == 1002).count();
    assert!(pushes >= 2, "published again after the reset: {codes:?}");
    let i = codes
        .iter()
        .position(|c| *c == 3005)
        .unwrap_or_else(|| panic!("no 3005: {codes:?}\n{}", p.stderr));
    assert_eq!(codes[i + 1], 1102, "{codes:?}");
    assert_eq!(&codes[i + 2..i + 4], &[1001, 1002], "{codes:?}");
}

#[test]
fn a_server_that_stops_reading_is_a_send_stall_3005_and_it_reconnects() {
    let s = FaultServer::start(Fault::StallAfterMedia(20));
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(&format!("127.0.0.1:{}", s.port))
        .replace("[network]\n", "[network]\nsend-stall-timeout = 1500\n");
    let p = push(dir.path(), &cfg, 8.0);
    assert!(p.status.success(), "{}", p.stderr);
    p.assert_secret_hidden(SECRET);
    let codes = p.codes();
    let i = codes
        .iter()
        .position(|c| *c == 3005)
        .unwrap_or_else(|| panic!("no 3005: {codes:?}\n{}", p.stderr));
    assert!(
        codes[..i].contains(&1002),
        "stalled after publishing: {codes:?}"
    );
    assert_eq!(codes[i + 1], 1102, "{codes:?}");
    assert!(
        codes[i..].contains(&1002),
        "published again on a new connection: {codes:?}"
    );
    let detail = p
        .events
        .iter()
        .find(|e| e["code"] == 3005)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_default()
        .to_string();
    // the loop's send-stall check or the kernel's TCP user timeout, whichever first
    assert!(
        detail.contains("send stalled") || detail.contains("acknowledged nothing"),
        "{detail}"
    );
    assert!(s.connections.load(Ordering::SeqCst) >= 2);
}

#[test]
fn a_backed_up_uplink_is_1101_before_the_connection_is_declared_dead() {
    // the server stops reading: the queue ages (1101, video dropped to key frames),
    // then the send stall ends the connection (3005)
    let s = FaultServer::start(Fault::StallAfterMedia(20));
    let dir = tempfile::tempdir().unwrap();
    let cfg = cfg(&format!("127.0.0.1:{}", s.port))
        .replace("[network]\n", "[network]\nsend-stall-timeout = 3000\n");
    let p = push(dir.path(), &cfg, 12.0);
    assert!(p.status.success(), "{}", p.stderr);
    let codes = p.codes();
    let busy = codes
        .iter()
        .position(|c| *c == 1101)
        .unwrap_or_else(|| panic!("no 1101: {codes:?}\n{}", p.stderr));
    let dead = codes
        .iter()
        .position(|c| *c == 3005)
        .unwrap_or_else(|| panic!("no 3005: {codes:?}"));
    assert!(busy < dead, "1101 first: {codes:?}");
    assert_eq!(
        codes[..dead].iter().filter(|c| **c == 1101).count(),
        1,
        "once per episode: {codes:?}"
    );
}
