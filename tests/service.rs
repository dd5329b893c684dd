//! The systemd notify protocol, spoken to a real notify socket (a Unix
//! datagram socket the test binds, as systemd does, named by NOTIFY_SOCKET
//! with WATCHDOG_USEC): READY=1 once the encoders run, STATUS= with the
//! phase, WATCHDOG=1 while frames flow and not once a media thread hangs,
//! STOPPING=1 at the end.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Every datagram received for `for_` (with the time since the start).
fn collect(sock: &UnixDatagram, for_: Duration) -> Vec<(Duration, String)> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while t0.elapsed() < for_ {
        if let Ok(n) = sock.recv(&mut buf) {
            // one assignment a datagram, newline-terminated
            let m = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
            out.push((t0.elapsed(), m));
        }
    }
    out
}

fn start(
    dir: &std::path::Path,
    port: u16,
    env: &[(&str, &str)],
) -> (UnixDatagram, std::process::Child) {
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let cfg = dir.join("livepush.toml");
    std::fs::write(
        &cfg,
        format!("url = \"rtmp://127.0.0.1:{port}/live/k\"\nautopush = true\nmode = \"SD\"\n[video]\nwidth = 320\nheight = 180\nfps = 15\n"),
    )
    .unwrap();
    let child = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "3000000")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (sock, child)
}

#[test]
fn systemd_hears_ready_the_phase_the_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let recv = Receiver::start(dir.path(), &[]);
    let (sock, mut child) = start(dir.path(), recv.port, &[]);
    let got = collect(&sock, Duration::from_secs(7));
    // SIGTERM: a clean stop
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let end = collect(&sock, Duration::from_secs(3));
    let st = child.wait().unwrap();
    assert!(st.success(), "{st}");
    let all: Vec<&str> = got.iter().chain(&end).map(|(_, m)| m.as_str()).collect();
    let ready = all.iter().position(|m| *m == "READY=1").expect("READY=1");
    assert_eq!(
        all.iter().filter(|m| **m == "READY=1").count(),
        1,
        "{all:?}"
    );
    assert!(
        all.iter().any(|m| m.starts_with("STATUS=LIVE")),
        "the phase in STATUS: {all:?}"
    );
    // ready once the encoders run: before the server took the stream
    let live = all
        .iter()
        .position(|m| m.starts_with("STATUS=LIVE"))
        .expect("STATUS=LIVE");
    assert!(ready < live, "READY=1 before live: {all:?}");
    // a ping every second (a third of 3 s) while it streamed
    let pings: Vec<Duration> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 5, "{} pings in 7 s: {all:?}", pings.len());
    assert!(
        pings
            .windows(2)
            .all(|w| w[1] - w[0] < Duration::from_millis(1500)),
        "{pings:?}"
    );
    assert!(end.iter().any(|(_, m)| m == "STOPPING=1"), "{end:?}");
    let _ = recv.finish(Duration::from_secs(10));
}

#[test]
fn a_hung_video_thread_stops_the_watchdog_pings_though_audio_flows() {
    let dir = tempfile::tempdir().unwrap();
    let recv = Receiver::start(dir.path(), &["--keep-listening"]);
    // the video thread hangs after 30 frames (2 s at 15 fps)
    let (sock, mut child) = start(
        dir.path(),
        recv.port,
        &[("LIVEPUSH_INJECT_VIDEO_HANG", "30")],
    );
    let got = collect(&sock, Duration::from_secs(9));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running: only the watchdog can tell"
    );
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("LIVEPUSH_INJECT_VIDEO_HANG"), "{err}");
    let pings: Vec<Duration> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    assert!(!pings.is_empty(), "pings while video flowed: {got:?}");
    // video stops about 2 s in; stale after half the interval (1.5 s): no
    // ping after about 4 s, though the process and its audio go on
    let last = *pings.last().unwrap();
    assert!(
        last < Duration::from_secs(5),
        "last ping at {last:?}: {pings:?}"
    );
    drop(recv);
}

#[test]
fn the_units_hardening_is_scored_by_systemd_analyze() {
    need("systemd-analyze");
    let unit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/livepush.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for livepush.service: ")
                .nth(1)
        })
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no score in:\n{text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    eprintln!("systemd-analyze security livepush.service: {score}");
    assert!(score <= 2.0, "exposure {score}:\n{text}");
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&verify.stderr);
    // the binary is not installed here: that is the one complaint allowed
    for l in err.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            l.contains("/usr/bin/livepush"),
            "systemd-analyze verify: {l}"
        );
    }
}
