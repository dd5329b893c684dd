//! Hostile peers and hostile files against the real binary (issue 11): each
//! finding of the hostile-input probe is a test here. A hostile RTMP server
//! against `livepush run`; hostile publishers and connection floods against
//! `livepush receive` with a real publisher (ffmpeg) getting through; config
//! files and waiting images that used to hang the start or take gigabytes,
//! with the peak memory of the process measured (`wait4`'s rusage).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault_server::{Fault, FaultServer};
use common::*;
use livepush_core::rtmp::hostile;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};

const SECRET: &str = "SECRETKEY42";

/// What a finished command printed, how it ended, and its peak memory.
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_kb: i64,
    took: Duration,
}

/// Runs `livepush args...` to the end and measures its peak resident memory
/// with wait4 (this child's own rusage, not the test process's other children).
fn run_measured(args: &[&str], within: Duration) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let t = Instant::now();
    let child = Command::new(bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (mut status, mut ru) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: valid out-pointers; WNOHANG so the deadline is kept
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if t.elapsed() > within {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("livepush {args:?} still running after {within:?} (blocked?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Measured {
        code,
        stdout: std::fs::read_to_string(&o).unwrap(),
        stderr: std::fs::read_to_string(&e).unwrap(),
        max_rss_kb: ru.ru_maxrss,
        took: t.elapsed(),
    }
}

fn config(url: &str, extra: &str) -> String {
    format!("url = \"{url}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\n[network]\nconnect-timeout = 1000\nhandshake-timeout = 2000\nreconnect-delay = 300\nreconnect-max-delay = 1000\n{extra}")
}

// ---------------------------------------------------------------- the pusher

/// Each known-bad message, sent by a server right after the handshake: the
/// pusher reports 3003, reconnects (1102, more connections) and never exits
/// or panics; the key never shows.
#[test]
fn a_hostile_server_never_ends_the_pusher() {
    for (name, bytes) in hostile::all() {
        let server = FaultServer::start(Fault::Hostile(bytes));
        let (m, codes) = pusher_against(name, server.port, 3);
        let conns = server.connections.load(Ordering::SeqCst);
        let first = codes.iter().position(|c| *c == 3003);
        assert!(
            first.is_some(),
            "{name}: no 3003 in {codes:?}\n{}",
            m.stderr
        );
        assert!(
            codes[first.unwrap()..].contains(&1102),
            "{name}: no reconnect after 3003: {codes:?}"
        );
        if name.starts_with("interleaved") {
            // legal RTMP, read and ignored: the server never answers connect,
            // so the publish times out (3003 after 2 s) and is retried
            assert!(
                m.stderr.contains("no reply to connect/publish in time"),
                "{}",
                m.stderr
            );
        } else {
            assert!(conns >= 2, "{name}: {conns} connections: it did not retry");
        }
    }
}

/// `livepush run` against `server` for `seconds`: its measurement and the
/// codes of its state changes, with the checks every hostile case shares
/// (it did not exit early or panic, the key never shows, memory bounded).
fn pusher_against(name: &str, port: u16, seconds: u32) -> (Measured, Vec<i64>) {
    pusher_at(
        name,
        &format!("rtmp://127.0.0.1:{port}/live/{SECRET}"),
        seconds,
    )
}

/// As [`pusher_against`], for any URL (rtmps:// too).
fn pusher_at(name: &str, url: &str, seconds: u32) -> (Measured, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("livepush.toml");
    std::fs::write(&cfg, config(url, "")).unwrap();
    let m = run_measured(
        &[
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--seconds",
            &seconds.to_string(),
        ],
        Duration::from_secs(u64::from(seconds) + 30),
    );
    eprintln!("{name}: pusher peak RSS {} kB", m.max_rss_kb);
    assert_eq!(m.code, 0, "{name}: pusher ended:\n{}", m.stderr);
    assert!(!m.stderr.contains("panicked"), "{name}: {}", m.stderr);
    for out in [&m.stdout, &m.stderr] {
        assert!(!out.contains(SECRET), "{name}: the key shows:\n{out}");
    }
    assert!(
        m.max_rss_kb < 100 * 1024,
        "{name}: peak RSS {} kB",
        m.max_rss_kb
    );
    let codes = m
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "statechange")
        .map(|e| e["code"].as_i64().unwrap())
        .collect();
    (m, codes)
}

/// The last netstatus event's video frame rate.
fn last_fps(m: &Measured) -> f64 {
    m.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "netstatus")
        .last()
        .and_then(|e| {
            e["info"]["videoFPS"]
                .as_f64()
                .or_else(|| e["videoFPS"].as_f64())
        })
        .unwrap_or(0.0)
}

/// Protocol control messages at their extremes from a server while the
/// pusher publishes (issue 18): legal ones change nothing (one publish, no
/// 300x, frames still flowing); malformed ones end that connection with 3005
/// and a reconnect. Never an exit, a panic or unbounded memory.
#[test]
fn control_messages_at_their_extremes_while_publishing() {
    use hostile::chunks;
    let legal: Vec<(&str, Vec<u8>)> = vec![
        (
            "window ack size 0",
            chunks(2, 5, 0, &0u32.to_be_bytes(), 4096),
        ),
        (
            "window ack size 4 GiB",
            chunks(2, 5, 0, &u32::MAX.to_be_bytes(), 4096),
        ),
        (
            "set peer bandwidth 0, hard",
            chunks(2, 6, 0, &[0, 0, 0, 0, 0], 4096),
        ),
        (
            "set peer bandwidth 4 GiB, dynamic",
            chunks(2, 6, 0, &[255, 255, 255, 255, 2], 4096),
        ),
        (
            "user control event of type 0x7fff",
            chunks(2, 4, 0, &[0x7f, 0xff, 0, 0, 0, 1], 4096),
        ),
        (
            "acknowledgement of 4 GiB",
            chunks(2, 3, 0, &u32::MAX.to_be_bytes(), 4096),
        ),
        (
            "abort message for chunk stream 9",
            chunks(2, 2, 0, &9u32.to_be_bytes(), 4096),
        ),
    ];
    for (name, bytes) in legal {
        let server = FaultServer::start(Fault::SendAfterMedia(10, bytes));
        let (m, codes) = pusher_against(name, server.port, 3);
        assert_eq!(
            codes.iter().filter(|c| **c == 1002).count(),
            1,
            "{name}: one publish: {codes:?}\n{}",
            m.stderr
        );
        assert!(
            !codes
                .iter()
                .any(|c| (3001..=3005).contains(c) || *c == 1102),
            "{name}: {codes:?}\n{}",
            m.stderr
        );
        assert_eq!(server.connections.load(Ordering::SeqCst), 1, "{name}");
        let fps = last_fps(&m);
        assert!(
            fps >= 5.0,
            "{name}: frames stopped: {fps} fps\n{}",
            m.stdout
        );
    }
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        (
            "set peer bandwidth of 2 bytes",
            chunks(2, 6, 0, &[0, 0], 4096),
        ),
        ("window ack size of 1 byte", chunks(2, 5, 0, &[7], 4096)),
        ("user control event of 1 byte", chunks(2, 4, 0, &[0], 4096)),
    ];
    for (name, bytes) in malformed {
        let server = FaultServer::start(Fault::SendAfterMedia(10, bytes));
        let (m, codes) = pusher_against(name, server.port, 3);
        eprintln!("{name}: {codes:?}");
        let at = codes.iter().position(|c| (3001..=3005).contains(c));
        match at {
            // ended that connection, reported it, reconnected
            Some(i) => {
                assert_eq!(codes[i], 3005, "{name}: {codes:?}\n{}", m.stderr);
                assert!(codes[i..].contains(&1102), "{name}: {codes:?}");
                assert!(server.connections.load(Ordering::SeqCst) >= 2, "{name}");
            }
            // or read past it (a message the stack can skip): still publishing
            None => assert!(last_fps(&m) >= 5.0, "{name}: {codes:?}\n{}", m.stdout),
        }
    }
}

/// A server that refuses the publish and then keeps talking (a ping every
/// 100 ms): the pusher reports the refusal, leaves that connection although
/// the server never closes it, and tries again on the back-off.
#[test]
fn a_refused_publish_is_left_even_when_the_server_keeps_talking() {
    let server = FaultServer::start(Fault::RefusePublishAndTalk);
    let (m, codes) = pusher_against("publish refused", server.port, 5);
    let i = codes
        .iter()
        .position(|c| (3001..=3005).contains(c))
        .unwrap_or_else(|| panic!("no 300x: {codes:?}\n{}", m.stderr));
    assert!(codes[i..].contains(&1102), "{codes:?}");
    assert!(!codes.contains(&1002), "never publishing: {codes:?}");
    let conns = server.connections.load(Ordering::SeqCst);
    assert!(
        conns >= 3,
        "{conns} connections in 5 s: it stayed on a talking server"
    );
    assert!(
        m.stderr.contains("BadName") || m.stdout.contains("BadName"),
        "the server's code is reported:\n{}",
        m.stderr
    );
}

/// A server that asks for a reconnect 5 media messages into every publish
/// (Enhanced RTMP's request, looping): each is followed, the first at once
/// and then on the back-off's schedule (300 ms doubling to 1 s here), so the
/// pusher neither loops tightly nor stops; no failure is reported.
#[test]
fn a_server_that_asks_to_reconnect_again_and_again_is_followed_on_the_back_off() {
    let server = FaultServer::start(Fault::ReconnectRequestAfterMedia(5, None));
    let (m, codes) = pusher_against("reconnect loop", server.port, 8);
    let publishes = codes.iter().filter(|c| **c == 1002).count();
    let conns = server.connections.load(Ordering::SeqCst);
    assert!(
        !codes
            .iter()
            .any(|c| (3001..=3005).contains(c) || *c == -1307),
        "a reconnect request is not a failure: {codes:?}"
    );
    // without the back-off: a publish every ~0.3 s (5 messages, a connect)
    assert!(
        (4..=14).contains(&conns) && publishes + 1 >= conns,
        "{conns} connections, {publishes} publishes in 8 s"
    );
    let again = m
        .stdout
        .lines()
        .filter(|l| l.contains("asked") && l.contains("times in a row"))
        .count();
    assert!(again >= 2, "1102 says it waits:\n{}", m.stdout);
}

/// A fake TLS server for `rtmps://`: reads the ClientHello, answers with a
/// TLS 1.2 ServerHello, then either stalls (`None`) or sends a Certificate
/// message announcing `Some(bytes)` of certificate chain and streams that
/// many bytes. Counts connections and the bytes it got out.
fn fake_tls_server(chain: Option<usize>) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let conns = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let (c, n) = (conns.clone(), sent.clone());
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            c.fetch_add(1, Ordering::SeqCst);
            let n = n.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                if s.read(&mut buf).unwrap_or(0) == 0 {
                    return;
                }
                // ServerHello: TLS 1.2, zero random, no session id,
                // ECDHE-RSA-AES128-GCM-SHA256, no compression, no extensions
                let mut hello = vec![0x03, 0x03];
                hello.extend([0u8; 32]);
                hello.extend([0, 0xc0, 0x2f, 0]);
                let mut hs = vec![2, 0, 0, hello.len() as u8];
                hs.extend(hello);
                let mut out = vec![22, 3, 3, 0, hs.len() as u8];
                out.extend(hs);
                let Some(len) = chain else {
                    let _ = s.write_all(&out);
                    // then nothing: stalled mid-handshake
                    let _ = s.read(&mut buf);
                    return;
                };
                // Certificate announcing `len` bytes, streamed in records
                let mut body = vec![11];
                body.extend(&(len as u32).to_be_bytes()[1..]);
                body.extend(&((len - 3) as u32).to_be_bytes()[1..]);
                let mut left = len - 3;
                let mut first = true;
                while left > 0 || first {
                    let mut frag = if first {
                        std::mem::take(&mut body)
                    } else {
                        Vec::new()
                    };
                    first = false;
                    let take = left.min(16_000);
                    frag.extend(std::iter::repeat_n(0x30u8, take));
                    left -= take;
                    out.extend([22, 3, 3]);
                    out.extend((frag.len() as u16).to_be_bytes());
                    out.extend(frag);
                    if s.write_all(&out).is_err() {
                        return;
                    }
                    n.fetch_add(out.len(), Ordering::SeqCst);
                    out.clear();
                }
                let _ = s.read(&mut buf);
            });
        }
    });
    (port, conns, sent)
}

/// TLS peers (issue 18): one that stalls after its ServerHello, and one
/// that sends a certificate chain of 10 MB. Each is a 3003 and a retry, in
/// bounded memory; the 10 MB are refused at the message's header (rustls
/// caps a handshake message at 64 KiB), not kept (the peer's count of bytes
/// it wrote includes what sat in the loopback's socket buffers).
#[test]
fn tls_peers_that_stall_mid_handshake_or_send_a_10_mb_certificate_chain() {
    for (name, chain) in [
        ("TLS stall", None),
        ("10 MB certificate chain", Some(10 << 20)),
    ] {
        let (port, conns, sent) = fake_tls_server(chain);
        let (m, codes) = pusher_at(name, &format!("rtmps://127.0.0.1:{port}/live/{SECRET}"), 5);
        eprintln!(
            "{name}: {} connections, {} bytes written by the peer",
            conns.load(Ordering::SeqCst),
            sent.load(Ordering::SeqCst)
        );
        let i = codes
            .iter()
            .position(|c| *c == 3003)
            .unwrap_or_else(|| panic!("{name}: no 3003: {codes:?}\n{}", m.stderr));
        assert!(codes[i..].contains(&1102), "{name}: {codes:?}");
        assert!(conns.load(Ordering::SeqCst) >= 2, "{name}: no retry");
        if chain.is_some() {
            // a pusher that buffered the chain would peak above its usual
            // 10 MB plus the chain's 10 MB
            assert!(
                m.max_rss_kb < 18 * 1024,
                "{name}: the chain was kept: peak RSS {} kB",
                m.max_rss_kb
            );
        }
    }
}

// -------------------------------------------------------------- the receiver

/// The client half of an RTMP handshake on `s`; returns false if the server
/// closed or failed it.
fn client_handshake(s: &mut TcpStream) -> bool {
    let mut hs = Handshake::new(PeerType::Client);
    if s.write_all(&hs.generate_outbound_p0_and_p1().unwrap())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 8192];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        match hs.process_bytes(&buf[..n]) {
            Ok(HandshakeProcessResult::InProgress { response_bytes }) => {
                if s.write_all(&response_bytes).is_err() {
                    return false;
                }
            }
            Ok(HandshakeProcessResult::Completed { response_bytes, .. }) => {
                return s.write_all(&response_bytes).is_ok();
            }
            Err(_) => return false,
        }
    }
}

/// Reads until the server closes the connection; true if it did within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    let t = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
        if t.elapsed() > within {
            return false;
        }
    }
}

/// ffmpeg publishing 2 s of a test pattern and a tone to `port`.
fn ffmpeg_publish(port: u16, key: &str) -> std::process::Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x180:rate=25:duration=2")
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:duration=2"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "flv",
        ])
        .arg(format!("rtmp://127.0.0.1:{port}/live/{key}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg")
}

/// Collects a receiver's stderr lines with their arrival times.
fn timed_lines(
    child: &mut std::process::Child,
) -> std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>> {
    use std::io::BufRead;
    let err = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            l.lock().unwrap().push((Instant::now(), line));
        }
    });
    lines
}

/// The lines so far, without their times.
fn texts(lines: &std::sync::Mutex<Vec<(Instant, String)>>) -> Vec<String> {
    lines
        .lock()
        .unwrap()
        .iter()
        .map(|(_, l)| l.clone())
        .collect()
}

fn wait_line(
    lines: &std::sync::Mutex<Vec<(Instant, String)>>,
    needle: &str,
    within: Duration,
) -> Instant {
    let t = Instant::now();
    loop {
        if let Some((at, _)) = lines
            .lock()
            .unwrap()
            .iter()
            .find(|(_, l)| l.contains(needle))
        {
            return *at;
        }
        let all: Vec<String> = texts(&lines);
        assert!(
            t.elapsed() < within,
            "no {needle:?} within {within:?}:\n{}",
            all.join("\n")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Hostile publishers (each known-bad message, an HTTP request, a silent
/// client, garbage instead of a handshake) against the one-shot receiver
/// (the demo's): each connection is closed, the receiver stays up, and the
/// real publisher after them is recorded; then it ends, as one-shot does.
#[test]
fn hostile_publishers_never_end_the_receiver() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let mut r = Receiver::start(dir.path(), &["--io-timeout", "2"]);
    let lines = timed_lines(&mut r.child);
    for (name, bytes) in hostile::all() {
        let mut s = TcpStream::connect(("127.0.0.1", r.port)).unwrap();
        assert!(client_handshake(&mut s), "{name}: handshake");
        s.write_all(&bytes).unwrap();
        assert!(
            closed_within(&mut s, Duration::from_secs(15)),
            "{name}: the receiver kept the connection"
        );
        assert!(
            r.child.try_wait().unwrap().is_none(),
            "{name}: receiver ended"
        );
    }
    let mut http = TcpStream::connect(("127.0.0.1", r.port)).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(
        closed_within(&mut http, Duration::from_secs(5)),
        "HTTP request"
    );
    let mut silent = TcpStream::connect(("127.0.0.1", r.port)).unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)),
        "silent client: handshake deadline"
    );
    assert!(r.child.try_wait().unwrap().is_none(), "receiver ended");
    let mut ff = ffmpeg_publish(r.port, "cam");
    assert!(ff.wait().unwrap().success(), "ffmpeg failed");
    let out = r.out.clone();
    let st = r.child.wait().unwrap();
    let all: Vec<String> = texts(&lines);
    let all = all.join("\n");
    assert!(st.success(), "receiver: {st}\n{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(all.contains("publisher 127.0.0.1"), "{all}");
    let p = probe(&out);
    assert!(
        p.video_packets.len() >= 40,
        "recorded {} frames",
        p.video_packets.len()
    );
}

/// 100 hostile connections open (silent, a byte a second, handshaken and
/// never reading, half a message): a real publisher is accepted within 1 s;
/// 200 idle connections (more than the limit of 128): still within 1 s; the
/// receiver's memory stays bounded.
#[test]
fn a_real_publisher_gets_through_a_flood_within_a_second() {
    need("ffmpeg");
    for flood in [100usize, 200] {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Receiver::start(dir.path(), &["--keep-listening"]);
        let lines = timed_lines(&mut r.child);
        let rss_before = rss_kb(r.child.id());
        let port = r.port;
        let mut held = Vec::new();
        let mut slow = Vec::new();
        for i in 0..flood {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            match i % 4 {
                0 if flood == 100 => {
                    // never reads: handshake, then a command it never
                    // finishes, with a tiny receive window
                    let _ = client_handshake(&mut s);
                    let _ = s.write_all(&hostile::deeply_nested_command(10)[..40]);
                }
                1 if flood == 100 => {
                    let _ = s.write_all(&[3]);
                    slow.push(s.try_clone().unwrap());
                }
                2 if flood == 100 => {
                    let _ = client_handshake(&mut s);
                }
                _ => {}
            }
            held.push(s);
        }
        // a byte a second on the slow ones, while the publisher comes
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let dripper = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                for s in &mut slow {
                    let _ = s.write_all(&[0]);
                }
                std::thread::sleep(Duration::from_millis(1000));
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let rss_flood = rss_kb(r.child.id());
        let t0 = Instant::now();
        let mut ff = ffmpeg_publish(port, "cam");
        let accepted = wait_line(&lines, "publish accepted", Duration::from_secs(10));
        let delay = accepted.duration_since(t0);
        eprintln!(
            "flood of {flood}: publish accepted {} ms after ffmpeg started; receiver RSS {rss_before} kB idle, {rss_flood} kB with the flood",
            delay.as_millis()
        );
        assert!(
            ff.wait().unwrap().success(),
            "ffmpeg failed under a flood of {flood}"
        );
        stop.store(true, Ordering::SeqCst);
        dripper.join().unwrap();
        assert!(
            delay < Duration::from_secs(1),
            "flood of {flood}: publish accepted after {delay:?}"
        );
        assert!(
            rss_flood < rss_before + 64 * 1024,
            "flood of {flood}: RSS {rss_before} -> {rss_flood} kB"
        );
        assert!(r.child.try_wait().unwrap().is_none(), "receiver ended");
        let _ = r.child.kill();
        let _ = r.child.wait();
        let p = probe(&r.out);
        assert!(
            p.video_packets.len() >= 40,
            "flood of {flood}: recorded {} frames",
            p.video_packets.len()
        );
        drop(held);
    }
}

/// A second publisher while one records is refused; a wrong key is refused;
/// the receiver keeps the first recording going.
#[test]
fn one_publisher_records_at_a_time() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let mut r = Receiver::start(dir.path(), &["--key", "cam"]);
    let lines = timed_lines(&mut r.child);
    let mut first = ffmpeg_publish(r.port, "cam");
    wait_line(&lines, "publish accepted", Duration::from_secs(10));
    let second = ffmpeg_publish(r.port, "cam").wait_with_output().unwrap();
    assert!(!second.status.success(), "a second publisher was accepted");
    let wrong = ffmpeg_publish(r.port, "other").wait_with_output().unwrap();
    assert!(!wrong.status.success(), "a wrong key was accepted");
    assert!(first.wait().unwrap().success());
    assert!(r.child.wait().unwrap().success());
    let all: Vec<String> = texts(&lines);
    let all = all.join("\n");
    assert!(
        all.contains("publish refused: another publisher is on"),
        "{all}"
    );
    assert!(all.contains("publish refused: wrong stream key"), "{all}");
    assert!(probe(&r.out).video_packets.len() >= 40);
}

/// An application name with a newline and terminal escapes cannot forge a
/// log line: it is logged escaped.
#[test]
fn a_peers_strings_are_escaped_in_the_log() {
    use rml_rtmp::sessions::{ClientSession, ClientSessionConfig, ClientSessionResult};
    let dir = tempfile::tempdir().unwrap();
    let mut r = Receiver::start(dir.path(), &[]);
    let lines = timed_lines(&mut r.child);
    let mut s = TcpStream::connect(("127.0.0.1", r.port)).unwrap();
    assert!(client_handshake(&mut s));
    let (mut c, initial) = ClientSession::new(ClientSessionConfig::new()).unwrap();
    for x in initial {
        if let ClientSessionResult::OutboundResponse(p) = x {
            s.write_all(&p.bytes).unwrap();
        }
    }
    let app = "live\n[2026-12-03T00:00:00Z INFO  livepush] FORGED\x1b[2J";
    if let ClientSessionResult::OutboundResponse(p) = c.request_connection(app.into()).unwrap() {
        s.write_all(&p.bytes).unwrap();
    }
    wait_line(&lines, "receive: connect app=", Duration::from_secs(5));
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    let _ = r.child.kill();
    let _ = r.child.wait();
    let all: Vec<String> = texts(&lines);
    assert!(
        all.iter().all(|l| !l.starts_with("[2026-12-03T00:00:00Z")),
        "a forged line: {all:?}"
    );
    assert!(all.iter().all(|l| !l.contains('\x1b')), "{all:?}");
    assert!(
        all.iter().any(|l| l
            .contains("connect app=live\\n[2026-12-03T00:00:00Z INFO  livepush] FORGED\\u{1b}[2J")),
        "{all:?}"
    );
}

// ------------------------------------------------------------------ files

/// A FIFO as the config or the waiting image: refused at once, naming the
/// path (it blocked forever with no log line).
#[test]
fn a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("livepush.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.to_str().unwrap();
    for args in [vec!["check-config", f], vec!["run", "--config", f]] {
        let m = run_measured(&args, Duration::from_secs(10));
        assert_eq!(m.code, 2, "{args:?}: {}{}", m.stdout, m.stderr);
        let out = m.stdout + &m.stderr;
        assert!(
            out.contains(&format!("config {f}: is a FIFO, not a regular file")),
            "{out}"
        );
    }
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!("url = \"rtmp://127.0.0.1:9/live/{SECRET}\"\nautopush = true\nwaiting-image = \"{f}\"\n"),
    )
    .unwrap();
    let m = run_measured(
        &["check-config", cfg.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(m.code, 2, "{}{}", m.stdout, m.stderr);
    assert!(
        m.stdout.contains("waiting-image") && m.stdout.contains("is a FIFO"),
        "{}",
        m.stdout
    );
}

/// 40,000 unknown keys: a hundred positioned errors and a count, quickly
/// (22 s before); a 50 MB config is refused by its size, not read.
#[test]
fn huge_configs_are_cheap_to_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!("url = \"rtmp://h/live/{SECRET}\"\n");
    for i in 0..40_000 {
        text.push_str(&format!("unknown-{i} = 1\n"));
    }
    let p = dir.path().join("many.toml");
    std::fs::write(&p, &text).unwrap();
    let m = run_measured(
        &["check-config", p.to_str().unwrap()],
        Duration::from_secs(60),
    );
    eprintln!(
        "40,000 unknown keys: {:?}, peak RSS {} kB",
        m.took, m.max_rss_kb
    );
    assert_eq!(m.code, 2);
    assert_eq!(m.stdout.lines().count(), 101, "{}", &m.stdout[..500]);
    assert!(
        m.stdout.contains("and 39900 more errors"),
        "{}",
        m.stdout.lines().last().unwrap()
    );
    assert!(m.stdout.contains("line 2, column 1: key `unknown-0`"));
    assert!(m.took < Duration::from_secs(10), "{:?}", m.took);
    let big = dir.path().join("big.toml");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let m = run_measured(
        &["check-config", big.to_str().unwrap()],
        Duration::from_secs(20),
    );
    eprintln!("50 MB config: {:?}, peak RSS {} kB", m.took, m.max_rss_kb);
    assert_eq!(m.code, 2);
    assert!(
        m.stdout
            .contains("is 52428800 bytes, more than the 1048576 bytes allowed"),
        "{}",
        m.stdout
    );
    assert!(m.max_rss_kb < 64 * 1024, "peak RSS {} kB", m.max_rss_kb);
}

/// A tiny JPEG made by ffmpeg with its SOF0 size patched to 16384x16384.
fn jpeg_claiming_16384(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("small.jpg");
    let ok = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=red:s=16x16",
        ])
        .args(["-frames:v", "1"])
        .arg(&p)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut b = std::fs::read(&p).unwrap();
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
    // FFC0, length(2), precision(1), height(2), width(2)
    b[sof + 5..sof + 9].copy_from_slice(&[0x40, 0x00, 0x40, 0x00]);
    let out = dir.join("bomb.jpg");
    std::fs::write(&out, &b).unwrap();
    out
}

/// A PNG of 16384x16384 grey pixels, all zero: 268 MB of pixels in about
/// 260 KB (a decompression bomb), made with python3's zlib.
fn png_bomb(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("bomb.png");
    let script = r#"
import struct, sys, zlib
w = h = 16384
def chunk(t, d):
    c = struct.pack('>I', len(d)) + t + d
    return c + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
z = zlib.compressobj(9)
row = b'\x00' * (w + 1)
data = b''.join(z.compress(row) for _ in range(h)) + z.flush()
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)) + chunk(b'IDAT', data) + chunk(b'IEND', b'')
open(sys.argv[1], 'wb').write(png)
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(&out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "python3 made no PNG");
    out
}

/// Waiting images that took 775 MiB and 1.5 GiB, and /dev/zero: refused by
/// check-config and run with a clear error, in bounded memory.
#[test]
fn waiting_image_bombs_are_refused_in_bounded_memory() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let images = [
        (
            jpeg_claiming_16384(dir.path()),
            "width 16384 greater than width limit 4096",
        ),
        (
            png_bomb(dir.path()),
            "Image width 16384, larger than maximum configured width 4096",
        ),
        (
            "/dev/zero".into(),
            "/dev/zero: is a device, not a regular file",
        ),
    ];
    for (img, want) in &images {
        let cfg = dir.path().join("c.toml");
        std::fs::write(
            &cfg,
            format!(
                "url = \"rtmp://127.0.0.1:9/live/{SECRET}\"\nautopush = true\nwaiting-image = \"{}\"\n[video]\nwidth = 320\nheight = 180\n",
                img.display()
            ),
        )
        .unwrap();
        let c = cfg.to_str().unwrap();
        for args in [
            vec!["check-config", c],
            vec!["run", "--config", c, "--seconds", "1"],
        ] {
            let m = run_measured(&args, Duration::from_secs(30));
            eprintln!(
                "{} via {}: peak RSS {} kB",
                img.display(),
                args[0],
                m.max_rss_kb
            );
            let out = m.stdout + &m.stderr;
            assert_eq!(m.code, 2, "{args:?} {}: {out}", img.display());
            assert!(out.contains(want), "{}: {out}", img.display());
            assert!(
                m.max_rss_kb < 64 * 1024,
                "{}: peak RSS {} kB",
                img.display(),
                m.max_rss_kb
            );
        }
    }
}

/// The waiting image's MD5 is checked before anything decodes it, and
/// check-config refuses an image that run would refuse.
#[test]
fn check_config_validates_the_waiting_image_as_run_does() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let bomb = jpeg_claiming_16384(dir.path());
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "url = \"rtmp://127.0.0.1:9/live/k\"\nwaiting-image = \"{}\"\nwaiting-image-md5 = \"00000000000000000000000000000000\"\n",
            bomb.display()
        ),
    )
    .unwrap();
    let m = run_measured(
        &["check-config", cfg.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert_eq!(m.code, 2);
    assert!(
        m.stdout
            .contains("waiting-image-md5 says 00000000000000000000000000000000: refused"),
        "{}",
        m.stdout
    );
}

// --------------------------------------------------------------- redaction

/// A token in the application's query (Wowza, SRS) and the key stay out of
/// check-config's OK line and the "connecting to" log; a mistyped scheme
/// does not echo the key.
#[test]
fn urls_are_shown_without_query_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        config(
            &format!("rtmp://127.0.0.1:{port}/live?auth=TOKEN99/{SECRET}"),
            "",
        ),
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let m = run_measured(&["check-config", c], Duration::from_secs(10));
    assert_eq!(m.code, 0, "{}{}", m.stdout, m.stderr);
    assert!(
        m.stdout
            .contains(&format!("OK: rtmp://127.0.0.1:{port}/live/<key hidden>")),
        "{}",
        m.stdout
    );
    let m2 = run_measured(
        &["run", "--config", c, "--seconds", "1.5"],
        Duration::from_secs(20),
    );
    assert!(
        m2.stderr.contains(&format!(
            "connecting to rtmp://127.0.0.1:{port}/live/<key hidden>"
        )),
        "{}",
        m2.stderr
    );
    for out in [&m.stdout, &m.stderr, &m2.stdout, &m2.stderr] {
        assert!(!out.contains("TOKEN99") && !out.contains(SECRET), "{out}");
    }
    std::fs::write(
        &cfg,
        config(&format!("rtmp:/127.0.0.1/live/{SECRET}?next=rtmp://x"), ""),
    )
    .unwrap();
    let m = run_measured(&["check-config", c], Duration::from_secs(10));
    assert_eq!(m.code, 2);
    assert!(
        m.stdout.contains("scheme must be rtmp:// or rtmps://"),
        "{}",
        m.stdout
    );
    assert!(!m.stdout.contains(SECRET), "{}", m.stdout);
}

/// A camera's corrupt and truncated MJPEG frames (issue 18), through the
/// `mjpeg:` file source that runs the camera's decoding: each is dropped
/// and counted, the last good picture goes out in its place (the frame rate
/// holds), and the warning is rate-limited.
#[test]
fn corrupt_mjpeg_frames_are_dropped_counted_and_the_last_good_picture_repeated() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    // 20 flat frames whose luma says which one they are (10 levels apart)
    let clean = dir.path().join("clean.mjpeg");
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=black:s=320x180:r=10,format=yuvj422p,geq=lum='20+N*10':cb=128:cr=128")
        .args(["-frames:v", "20", "-q:v", "2", "-f", "mjpeg"])
        .arg(&clean)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let data = std::fs::read(&clean).unwrap();
    let frames = livepush_images::mjpeg_file::frames(&data);
    assert_eq!(frames.len(), 20);
    let frame = |i: usize| &data[frames[i].clone()];
    // frame 5 cut short (a USB transfer lost), frame 13 garbage after its
    // start-of-image marker (no frame header at all); frames 8 and 16 good
    // but carrying an EXIF segment with a thumbnail (a whole JPEG: its own
    // FF D8 FF inside the frame), as stills cameras' MJPEG does
    let mut exif = vec![0xff, 0xe1];
    exif.extend_from_slice(&((frame(0).len() + 8) as u16).to_be_bytes());
    exif.extend_from_slice(b"Exif\0\0");
    exif.extend_from_slice(frame(0));
    let mut file = Vec::new();
    for i in 0..20 {
        let f = frame(i);
        match i {
            5 => file.extend_from_slice(&f[..f.len() / 2]),
            13 => {
                file.extend_from_slice(&f[..3]);
                file.extend(std::iter::repeat_n(0x5a, f.len() - 5));
                file.extend_from_slice(&[0xff, 0xd9]);
            }
            8 | 16 => {
                file.extend_from_slice(&f[..2]);
                file.extend_from_slice(&exif);
                file.extend_from_slice(&f[2..]);
            }
            _ => file.extend_from_slice(f),
        }
    }
    let src = dir.path().join("camera.mjpeg");
    std::fs::write(&src, &file).unwrap();

    let rx = Receiver::start(dir.path(), &[]);
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{SECRET}\"\nautopush = true\nmode = \"RTC\"\n[video]\ndevice = \"mjpeg:{}\"\nwidth = 320\nheight = 180\nfps = 10\n[control]\nlisten = \"unix:{}\"\n",
        rx.port,
        src.display(),
        sock.display()
    );
    let r = Running::start(dir.path(), &cfg);
    r.wait_code(1002, 0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(7));
    let corrupt = unix_metric(
        &sock,
        "livepush_frames_dropped_total{track=\"video\",reason=\"corrupt\"}",
    )
    .expect("the corrupt counter in /metrics");
    let out = r.stop();
    rx.finish(Duration::from_secs(10));

    // the recording: every frame is one of the file's good pictures, told
    // apart by their mean luma as ffmpeg decodes the clean file
    let mean = |f: &Vec<u8>| f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len() as f64;
    let levels: Vec<f64> = luma_frames(&clean, 320, 180).iter().map(mean).collect();
    assert_eq!(levels.len(), 20);
    let lumas: Vec<usize> = luma_frames(&dir.path().join("received.flv"), 320, 180)
        .iter()
        .map(|f| {
            let m = mean(f);
            (0..20)
                .min_by(|&a, &b| (levels[a] - m).abs().total_cmp(&(levels[b] - m).abs()))
                .unwrap()
        })
        .collect();
    assert!(lumas.len() >= 60, "{} frames in 7 s at 10 fps", lumas.len());
    assert!(
        !lumas.contains(&5) && !lumas.contains(&13),
        "a corrupt frame's index was shown: {lumas:?}"
    );
    assert!(
        lumas.contains(&8) && lumas.contains(&16),
        "a frame with an EXIF thumbnail was lost: {lumas:?}"
    );
    // the frame rate held: each corrupt frame's slot carries the picture before it
    let mut repeats = 0;
    for w in lumas.windows(3) {
        if w[0] == 4 && w[1] == 4 {
            assert_eq!(w[2], 6, "{lumas:?}");
            repeats += 1;
        }
        if w[0] == 12 && w[1] == 12 {
            assert_eq!(w[2], 14, "{lumas:?}");
            repeats += 1;
        }
        if w[0] != w[1] && !(w[0] == 4 || w[0] == 12) {
            assert_eq!((w[0] + 1) % 20, w[1], "frames in order: {lumas:?}");
        }
    }
    let loops = lumas.len() / 20;
    assert!(
        repeats >= 2 * loops.saturating_sub(1),
        "{repeats} repeats in {} frames",
        lumas.len()
    );
    assert!(
        corrupt >= repeats as f64 && corrupt <= repeats as f64 + 4.0,
        "counter {corrupt}, {repeats} repeats recorded"
    );
    // one warning at most every 10 s, naming the file and the reason
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("a corrupt picture was dropped"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("camera.mjpeg") && warnings[0].contains("JPEG"),
        "{}",
        warnings[0]
    );
    assert!(!out.stderr.contains(SECRET) && !out.stdout.contains(SECRET));
}
