//! Metrics and health against a real nginx-rtmp, read back three ways: the
//! figures in `/metrics` are the netstatus event's they name, the state
//! code counters are the events' counts, and after a stop the bytes and
//! frames sent are what crossed the wire (a relaying proxy counts the
//! bytes) and what nginx recorded (ffprobe counts the packets).
//! `/healthz` turns 503 while the video thread stalls (fault injection)
//! and 200 after; `livepush status` says so in words. Scraping as fast as
//! two clients can leaves the stream's frame rate and frames alone.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::*;

const KEY: &str = "metrics-cam?secret=M3TR1CSKEY";
const TOKEN: &str = "prom-T0KEN-0123456789";

/// One GET on 127.0.0.1:`port` (HTTP/1.1, `Connection: close`): status and body.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: box\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The exposition's samples: series (name with labels) -> value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn scrape(port: u16) -> HashMap<String, f64> {
    let (status, body) = get(port, "/metrics", Some(TOKEN));
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    samples(&body)
}

fn code_counts(r: &Running) -> HashMap<i64, u64> {
    let mut m = HashMap::new();
    for (_, e) in r.events() {
        if e["event"] == "statechange" {
            *m.entry(e["code"].as_i64().unwrap()).or_default() += 1;
        }
    }
    m
}

fn config(dir: &Path, rtmp_port: u16, api_port: u16, sock: &Path) -> String {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    format!(
        "url = \"rtmp://127.0.0.1:{rtmp_port}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[audio]\ndevice = \"sine\"\n[control]\nlisten = [\"unix:{}\", \"tcp:127.0.0.1:{api_port}\"]\ntoken-file = \"{}\"\n",
        sock.display(),
        token_file.display()
    )
}

#[test]
fn metrics_agree_with_the_events_the_wire_and_the_recording() {
    need("nginx");
    need("ffprobe");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let proxy = FaultProxy::start(nginx.rtmp_port);
    let api = free_port();
    let sock = dir.path().join("ctl.sock");
    let r = Running::start(dir.path(), &config(dir.path(), proxy.port, api, &sock));
    r.wait_code(1002, 0, Duration::from_secs(20));
    wait_listening(api, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(4));

    // the token guards the figures on TCP; the page itself loads without it
    assert_eq!(get(api, "/metrics", None).0, 401);
    assert_eq!(get(api, "/metrics", Some("wrong")).0, 401);
    assert_eq!(get(api, "/healthz", None).0, 401);
    let (status, page) = get(api, "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("<title>livepush</title>"), "{page}");

    // a scrape with no code between the events read before and after it
    let (m, codes) = (0..5)
        .find_map(|_| {
            let before = code_counts(&r);
            let m = scrape(api);
            let after = code_counts(&r);
            (before == after).then_some((m, after))
        })
        .expect("a quiet moment for a scrape");
    for code in [
        1001, 1002, 1003, 1007, 1008, 1101, 1102, 3002, 3005, -1301, 1201,
    ] {
        let want = codes.get(&code).copied().unwrap_or(0) as f64;
        assert_eq!(
            m[&format!("livepush_state_changes_total{{code=\"{code}\"}}")],
            want,
            "code {code}"
        );
    }
    assert_eq!(m["livepush_state_code"], 1002.0);
    assert_eq!(m["livepush_phase{phase=\"publishing\"}"], 1.0);
    assert_eq!(m["livepush_phase{phase=\"retrying\"}"], 0.0);
    assert_eq!(m["livepush_healthy"], 1.0);
    assert_eq!(m["livepush_publishes_total"], 1.0);
    assert_eq!(m["livepush_connection_attempts_total"], 1.0);
    assert_eq!(
        m["livepush_video_target_bitrate_bits_per_second"],
        600_000.0
    );
    assert!(m.keys().any(|k| k.starts_with("livepush_build_info{")
        && k.contains("encoder=\"openh264\"")
        && k.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))));

    // the figures are those of the netstatus event they name
    let at_ms = (m["livepush_netstatus_uptime_seconds"] * 1000.0).round() as i64;
    let events = r.events();
    let n = events
        .iter()
        .map(|(_, e)| e)
        .find(|e| e["event"] == "netstatus" && e["uptime_ms"] == at_ms)
        .unwrap_or_else(|| panic!("no netstatus event at {at_ms} ms"));
    let i = &n["info"];
    let f = |k: &str| i[k].as_f64().unwrap();
    assert_eq!(
        m["livepush_video_bitrate_bits_per_second"],
        f("videoBitrate") * 1000.0
    );
    assert_eq!(
        m["livepush_audio_bitrate_bits_per_second"],
        f("audioBitrate") * 1000.0
    );
    assert_eq!(
        m["livepush_net_speed_bits_per_second"],
        f("netSpeed") * 1000.0
    );
    assert!((m["livepush_net_jitter_seconds"] - f("netJitter") / 1000.0).abs() < 1e-9);
    assert!((m["livepush_video_fps"] - f("videoFPS")).abs() < 1e-3);
    assert!((m["livepush_video_gop_seconds"] - f("videoGOP")).abs() < 1e-3);
    assert_eq!(m["livepush_video_width_pixels"], 320.0);
    assert_eq!(m["livepush_video_height_pixels"], f("videoHeight"));
    assert!(f("videoBitrate") > 0.0 && f("netSpeed") > 0.0, "{n}");

    // the media path's counters: 10 fps for about 5 s
    let video = |k: &str| m[&format!("livepush_frames_{k}_total{{track=\"video\"}}")];
    assert!(video("captured") >= 40.0, "{}", video("captured"));
    assert!(video("encoded") <= video("captured"));
    assert!(video("sent") > 0.0 && video("sent") <= video("encoded"));
    assert_eq!(
        m["livepush_frames_dropped_total{track=\"video\",reason=\"queue_shed\"}"],
        0.0
    );
    // the process's own figures: the RSS /proc shows, within a few pages
    let rss = r.rss_kb() as f64 * 1024.0;
    let got = m["process_resident_memory_bytes"];
    assert!((got - rss).abs() < rss * 0.2, "{got} vs {rss}");
    assert!(m["process_cpu_seconds_total"] > 0.0);
    assert!(m["livepush_uptime_seconds"] > 4.0);

    // a clean stop: everything flushed and the socket closed, then the
    // totals are what crossed the wire and what nginx recorded
    let (status, body) = {
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.write_all(
            b"POST /v1/stop HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        (out.split(' ').nth(1).unwrap_or("").to_string(), out)
    };
    assert_eq!(status, "200", "{body}");
    r.wait_code(1203, 0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(2500));
    let m = scrape(api);
    let up = proxy.bytes_up.load(std::sync::atomic::Ordering::SeqCst) as f64;
    assert_eq!(
        m["livepush_sent_bytes_total"], up,
        "bytes the proxy relayed"
    );
    assert_eq!(m["livepush_phase{phase=\"idle\"}"], 1.0);
    let rec = nginx.recordings();
    assert_eq!(rec.len(), 1, "{rec:?}");
    let p = probe(&rec[0]);
    assert_eq!(
        m["livepush_frames_sent_total{track=\"video\"}"],
        p.video_packets.len() as f64,
        "video frames nginx recorded"
    );
    assert_eq!(
        m["livepush_frames_sent_total{track=\"audio\"}"], p.audio_packets as f64,
        "audio frames nginx recorded"
    );
    let out = r.stop();
    out.assert_secret_hidden("M3TR1CSKEY");
    out.assert_secret_hidden(TOKEN);
}

#[test]
fn healthz_turns_503_while_the_video_thread_stalls_and_200_after() {
    need("nginx");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let api = free_port();
    let sock = dir.path().join("ctl.sock");
    // 10 fps: the video thread stalls after 50 frames for 6 s, then goes on
    let r = Running::start_env(
        dir.path(),
        &config(dir.path(), nginx.rtmp_port, api, &sock),
        &[("LIVEPUSH_INJECT_VIDEO_HANG", Path::new("50:6"))],
    );
    r.wait_code(1002, 0, Duration::from_secs(20));
    wait_listening(api, Duration::from_secs(5));
    // "starting" (503) until the loop's first tally, a second in
    let (code, body) = get(api, "/healthz", Some(TOKEN));
    if code == 503 {
        assert!(body.contains("\"reason\":\"starting\""), "{body}");
    }
    let t0 = Instant::now();
    while get(api, "/healthz", Some(TOKEN)).0 != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "not healthy after the start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let t0 = Instant::now();
    let mut seen: Vec<(f64, u16, String)> = Vec::new();
    let mut status_while_sick = None;
    while t0.elapsed() < Duration::from_secs(16) {
        let (code, body) = get(api, "/healthz", Some(TOKEN));
        if code == 503 && status_while_sick.is_none() {
            let out = Command::new(bin())
                .args(["status", "--socket"])
                .arg(&sock)
                .output()
                .unwrap();
            let m = scrape(api);
            status_while_sick = Some((
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                m["livepush_healthy"],
            ));
        }
        seen.push((t0.elapsed().as_secs_f64(), code, body));
        std::thread::sleep(Duration::from_millis(200));
    }
    let first_bad = seen
        .iter()
        .position(|s| s.1 == 503)
        .unwrap_or_else(|| panic!("never 503: {seen:?}"));
    assert!(
        seen[..first_bad].iter().all(|s| s.1 == 200) && first_bad > 0,
        "healthy before the stall: {seen:?}"
    );
    assert!(
        seen[first_bad]
            .2
            .contains("no video frames from the encoder"),
        "{}",
        seen[first_bad].2
    );
    let back = seen[first_bad..]
        .iter()
        .position(|s| s.1 == 200)
        .map(|i| i + first_bad)
        .unwrap_or_else(|| panic!("never healthy again: {seen:?}"));
    // unhealthy for the stall less the 3 s grace (6 - 3 = 3 s), give or take
    let sick_s = seen[back].0 - seen[first_bad].0;
    assert!(
        (1.5..5.5).contains(&sick_s),
        "unhealthy for {sick_s} s: {seen:?}"
    );
    assert!(seen[back..].iter().all(|s| s.1 == 200), "{seen:?}");
    let (exit, text, gauge) = status_while_sick.unwrap();
    assert_eq!(exit, Some(1), "{text}");
    assert!(text.contains("NOT HEALTHY: no video frames"), "{text}");
    assert_eq!(gauge, 0.0);
    // healthy again: `livepush status` says so and exits 0
    let out = Command::new(bin())
        .args(["status", "--socket"])
        .arg(&sock)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("LIVE  (publishing; healthy)"), "{text}");
    assert!(text.contains("openh264"), "{text}");
    assert!(!text.contains("M3TR1CSKEY"), "{text}");
    let out = r.stop();
    assert!(
        out.stderr.contains("the video thread stalls for 6 s"),
        "{}",
        out.stderr
    );
}

#[test]
fn scraping_as_fast_as_possible_leaves_the_stream_alone() {
    need("nginx");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let api = free_port();
    let sock = dir.path().join("ctl.sock");
    let r = Running::start(dir.path(), &config(dir.path(), nginx.rtmp_port, api, &sock));
    r.wait_code(1002, 0, Duration::from_secs(20));
    wait_listening(api, Duration::from_secs(5));
    std::thread::sleep(Duration::from_secs(2));
    let before = scrape(api);
    let from = r.events().len();
    // two scrapers back to back for 6 s (Prometheus asks every 15 s)
    let t0 = Instant::now();
    let scrapers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut n = 0u32;
                while t0.elapsed() < Duration::from_secs(6) {
                    let (code, body) = get(api, "/metrics", Some(TOKEN));
                    assert!(code == 200 && body.ends_with("# EOF\n"));
                    n += 1;
                }
                n
            })
        })
        .collect();
    let scrapes: u32 = scrapers.into_iter().map(|h| h.join().unwrap()).sum();
    let after = scrape(api);
    println!("{scrapes} scrapes in 6 s");
    assert!(scrapes >= 100, "{scrapes} scrapes");
    let events = r.events();
    let window: Vec<_> = events[from..]
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["event"] == "netstatus")
        .collect();
    assert!(window.len() >= 5, "{window:?}");
    for n in &window {
        let fps = n["info"]["videoFPS"].as_f64().unwrap();
        assert!(fps >= 9.0, "the stream kept its 10 fps while scraped: {n}");
    }
    assert!(
        !events[from..]
            .iter()
            .any(|(_, e)| e["event"] == "statechange"),
        "no state change while scraped: {:?}",
        &events[from..]
    );
    let d = |k: &str| after[k] - before[k];
    for reason in ["loop", "encoder", "queue_shed"] {
        assert_eq!(
            d(&format!(
                "livepush_frames_dropped_total{{track=\"video\",reason=\"{reason}\"}}"
            )),
            0.0,
            "{reason}"
        );
    }
    let sent = d("livepush_frames_sent_total{track=\"video\"}");
    assert!(sent >= 55.0, "about 60 frames in those 6 s: {sent}");
    r.stop();
}
