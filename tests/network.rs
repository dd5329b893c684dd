//! Never-down networking against real parts on loopback: nginx-rtmp killed
//! and restarted 20 times under a running pusher, and a fault proxy between
//! pusher and nginx that caps the uplink at half the bitrate for a minute or
//! accepts slowly. What reached nginx is read back (while it is being
//! written, for the delay behind live; afterwards with ffmpeg).

mod common;

use std::time::{Duration, Instant};

use common::fault_proxy::{flv_progress, FaultProxy};
use common::*;

const SECRET: &str = "NETSECRET77";

/// The two long measurements (a minute under the cap, twenty restarts) time
/// things to the second: they run one after the other, not against each
/// other on a 2-core machine.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn config(port: u16, extra: &str) -> String {
    let c = format!(
        "url = \"rtmp://127.0.0.1:{port}/live/box?token={SECRET}\"\nautopush = true\nmode = \"SD\"\norientation = \"horizontal\"\n{extra}\n[video]\ndevice = \"test-pattern\"\n[audio]\ndevice = \"sine\"\nbitrate = 64\n"
    );
    // an extra `mode` replaces the default SD
    if extra.contains("mode = ") {
        c.replace("mode = \"SD\"\n", "")
    } else {
        c
    }
}

/// 4 s of 640x360 video busy enough that the encoder spends its whole
/// bitrate (a moving test card under fresh noise every frame, as a real
/// sensor gives), made by ffmpeg and looped by the raw-file source.
fn busy_video(dir: &std::path::Path) -> String {
    let yuv = lavfi_yuv(
        dir,
        "busy.yuv",
        "testsrc2=size=640x360:rate=25,noise=alls=3:allf=t+u",
        100,
    );
    format!("file:{}", yuv.display())
}

/// The newest recording in nginx's record directory.
fn newest_recording(n: &Nginx) -> Option<std::path::PathBuf> {
    n.recordings().into_iter().max_by_key(|p| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .unwrap_or(std::time::UNIX_EPOCH)
    })
}

/// What a run under an uplink cap showed.
struct CapRun {
    /// Statechange codes while capped.
    codes: Vec<i64>,
    /// (videoBitrate, audioBitrate, netSpeed) per netstatus second, from 10 s after the cap on.
    settled: Vec<(u64, u64, u64)>,
    /// Worst delay behind live while capped.
    worst: Duration,
    /// Everything the pusher printed.
    pushed: Pushed,
}

impl CapRun {
    fn worst_5s_media(&self) -> u64 {
        self.settled
            .windows(5)
            .map(|w| w.iter().map(|(v, a, _)| v + a).sum::<u64>() / 5)
            .max()
            .unwrap_or(0)
    }
    fn mean_media(&self) -> u64 {
        self.settled.iter().map(|(v, a, _)| v + a).sum::<u64>() / (self.settled.len() as u64).max(1)
    }
    fn mean_speed(&self) -> u64 {
        self.settled.iter().map(|(_, _, s)| s).sum::<u64>() / (self.settled.len() as u64).max(1)
    }
}

/// Pushes the busy video through the fault proxy to nginx with `extra`
/// config; after 5 s caps the uplink at `cap` kbit/s for `secs`, sampling
/// the growing recording for the delay behind live; then lifts the cap.
fn under_cap(dir: &std::path::Path, nginx: &Nginx, extra: &str, cap: u64, secs: u64) -> CapRun {
    let proxy = FaultProxy::start(nginx.rtmp_port);
    let cfg = config(proxy.port, extra).replace("test-pattern", &busy_video(dir));
    let run = Running::start(dir, &cfg);
    let (_, published) = run.wait_code(1002, 0, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(5));
    proxy.cap(cap);
    let capped_at = Instant::now();
    let capped_from = run.events().len();
    // delay behind live = wall time since the publish minus the media time
    // that has reached the server's recording
    let rec = newest_recording(nginx).expect("a recording");
    let mut worst = Duration::ZERO;
    let mut series = Vec::new();
    while capped_at.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(250));
        if let Some((ts, _)) = flv_progress(&rec) {
            let behind = published
                .elapsed()
                .saturating_sub(Duration::from_millis(u64::from(ts)));
            worst = worst.max(behind);
            series.push((capped_at.elapsed().as_secs(), behind.as_millis()));
        }
    }
    proxy.cap(0);
    std::thread::sleep(Duration::from_secs(3));
    let events = run.events();
    let pushed = run.stop();
    pushed.assert_secret_hidden(SECRET);
    let capped: Vec<_> = events[capped_from..]
        .iter()
        .filter(|(t, _)| *t <= capped_at + Duration::from_secs(secs))
        .collect();
    let codes = capped
        .iter()
        .filter(|(_, e)| e["event"] == "statechange")
        .map(|(_, e)| e["code"].as_i64().unwrap())
        .collect();
    let settled = capped
        .iter()
        .filter(|(t, e)| e["event"] == "netstatus" && *t >= capped_at + Duration::from_secs(10))
        .map(|(_, e)| {
            let i = &e["info"];
            (
                i["videoBitrate"].as_u64().unwrap(),
                i["audioBitrate"].as_u64().unwrap(),
                i["netSpeed"].as_u64().unwrap(),
            )
        })
        .collect();
    let r = CapRun {
        codes,
        settled,
        worst,
        pushed,
    };
    println!(
        "cap {cap} kbit/s for {secs} s: codes {:?}; from 10 s on: media mean {} kbit/s, worst 5-s mean {}, netSpeed mean {}; delay behind live worst {} ms",
        r.codes,
        r.mean_media(),
        r.worst_5s_media(),
        r.mean_speed(),
        r.worst.as_millis()
    );
    println!("delay behind live (s since cap, ms): {series:?}");
    println!(
        "netstatus from 10 s on (video, audio, netSpeed kbit/s): {:?}",
        r.settled
    );
    for l in r
        .pushed
        .stderr
        .lines()
        .filter(|l| l.contains("kbps") || l.contains("1005"))
    {
        println!("  {l}");
    }
    r
}

#[test]
fn a_cap_at_half_the_bitrate_is_met_by_adapting_and_the_delay_stays_bounded() {
    let _serial = heavy();
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // SD: 640x360 at 800 kbit/s, down to 150 when needed; the cap is half of 800
    let cap = 400;
    let r = under_cap(
        dir.path(),
        &nginx,
        "min-bitrate = 150\nmax-bitrate = 800",
        cap,
        60,
    );
    assert!(r.codes.contains(&1101), "1101 under the cap: {:?}", r.codes);
    assert!(r.codes.contains(&1006), "1006 under the cap: {:?}", r.codes);
    assert!(
        !r.codes.iter().any(|c| (3001..=3005).contains(c)),
        "the connection survives a slow uplink: {:?}",
        r.codes
    );
    assert!(
        r.settled.len() >= 45,
        "netstatus kept coming: {}",
        r.settled.len()
    );
    // settled within 10 s: on average under the cap, and no 5 s above it by
    // more than the 10% a probe upwards may briefly take
    // (the mean may sit a hair over the cap: upward probes are part of it,
    // and the send queue absorbs them; without adapting it would be 2x)
    assert!(
        r.mean_media() <= cap * 103 / 100 && r.worst_5s_media() <= cap * 115 / 100,
        "encoder output settled under the {cap} kbit/s cap within 10 s: mean {}, worst 5-s mean {}",
        r.mean_media(),
        r.worst_5s_media()
    );
    let speed = r.mean_speed();
    assert!(
        speed * 100 >= cap * 60 && speed * 100 <= cap * 115,
        "netSpeed is what the capped link carried: {speed} kbit/s for a {cap} kbit/s cap"
    );
    assert!(
        r.worst <= Duration::from_secs(5),
        "delay behind live bounded (SD mode: 5 s): worst {} ms",
        r.worst.as_millis()
    );
    // after the cap lifts the stream still runs on the same connection
    assert_eq!(
        r.pushed.codes().iter().filter(|c| **c == 1002).count(),
        1,
        "{}",
        r.pushed.stdout
    );
    drop(nginx);
    assert_clean_dir(dir.path());
}

#[test]
fn rtc_mode_keeps_the_delay_behind_live_under_two_seconds_under_a_cap() {
    let _serial = heavy();
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // RTC: 640x360@20, 600 kbit/s, 1 s GOP, 1 s queue; capped at half
    let cap = 300;
    let extra = "min-bitrate = 150\nmax-bitrate = 600";
    let extra = format!("mode = \"RTC\"\n{extra}");
    let r = under_cap(dir.path(), &nginx, &extra, cap, 30);
    assert!(r.codes.contains(&1006), "{:?}", r.codes);
    assert!(
        !r.codes.iter().any(|c| (3001..=3005).contains(c)),
        "{:?}",
        r.codes
    );
    assert!(
        r.worst <= Duration::from_secs(2),
        "delay behind live bounded (RTC mode: 2 s): worst {} ms",
        r.worst.as_millis()
    );
    assert!(
        r.mean_media() <= cap * 103 / 100 && r.worst_5s_media() <= cap * 115 / 100,
        "mean {}, worst 5-s mean {}",
        r.mean_media(),
        r.worst_5s_media()
    );
    drop(nginx);
    assert_clean_dir(dir.path());
}

#[test]
fn below_min_bitrate_the_picture_steps_down_and_the_recording_still_decodes() {
    let _serial = heavy();
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // min-bitrate 500 of 800 and a 250 kbit/s cap: the bitrate floors, the size steps down
    let r = under_cap(
        dir.path(),
        &nginx,
        "min-bitrate = 500\nmax-bitrate = 800",
        250,
        25,
    );
    assert!(r.codes.contains(&1005), "{:?}", r.codes);
    let detail = r
        .pushed
        .events
        .iter()
        .find(|e| e["code"] == 1005)
        .and_then(|e| e["detail"].as_str())
        .unwrap()
        .to_string();
    assert!(detail.contains("640x360 -> 480x268"), "{detail}");
    assert!(
        !r.codes.iter().any(|c| (3001..=3005).contains(c)),
        "{:?}",
        r.codes
    );
    assert!(
        r.worst <= Duration::from_secs(5),
        "worst {} ms",
        r.worst.as_millis()
    );
    drop(nginx);
    // one recording, decoding cleanly across the size change, with both sizes in it
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "{rec:?}");
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&rec[0])
        .output()
        .unwrap();
    let sizes: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert!(
        sizes.contains("640,360") && sizes.contains("480,268"),
        "{sizes:?}"
    );
    assert_clean_dir(dir.path());
}

fn assert_clean_dir(dir: &std::path::Path) {
    let files: Vec<_> = std::fs::read_dir(dir.join("rec"))
        .unwrap()
        .flatten()
        .collect();
    assert!(!files.is_empty(), "nothing was recorded");
    for e in files {
        let errs = decode_errors(&e.path());
        assert!(errs.is_empty(), "{}: {errs}", e.path().display());
    }
}

#[test]
fn twenty_server_restarts_in_a_row_the_pusher_comes_back_each_time_within_a_second() {
    let _serial = heavy();
    let dir = tempfile::tempdir().unwrap();
    let mut nginx = Nginx::start(dir.path(), "");
    let run = Running::start(dir.path(), &config(nginx.rtmp_port, ""));
    let (mut from, _) = run.wait_code(1002, 0, Duration::from_secs(20));
    // long enough for a publish to count as stable (5 s)
    std::thread::sleep(Duration::from_millis(5500));
    let mut rss_after_first = 0;
    let mut resumes = Vec::new();
    let mut video_after_accept = Vec::new();
    for cycle in 1..=20 {
        let before: std::collections::HashSet<_> = nginx.recordings().into_iter().collect();
        let cycle_from = from + 1;
        nginx.kill();
        let listening = nginx.restart();
        let (i, _) = run.wait_code(1102, from + 1, Duration::from_secs(10));
        let (i, _) = run.wait_code(1001, i, Duration::from_secs(10));
        let (i, accepted) = run.wait_code(1002, i, Duration::from_secs(10));
        from = i;
        // the first video tag in the restarted server's new recording
        let first_video = loop {
            let fresh = nginx
                .recordings()
                .into_iter()
                .find(|p| !before.contains(p) && flv_progress(p).is_some_and(|(_, v)| v > 0));
            if fresh.is_some() {
                break Instant::now();
            }
            assert!(
                listening.elapsed() < Duration::from_secs(10),
                "cycle {cycle}: no video reached the restarted server"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        // the publish accepted (1002), and the stream's first video tag at
        // the server, after nginx listened again
        let resume = accepted.saturating_duration_since(listening);
        let video = first_video - listening;
        println!(
            "cycle {cycle}: publish accepted {} ms, first video tag {} ms after nginx listened again",
            resume.as_millis(),
            video.as_millis()
        );
        video_after_accept.push(first_video.saturating_duration_since(accepted));
        if video > Duration::from_millis(600) {
            // what the pusher said from the kill on, timed from nginx listening
            for (t, e) in &run.events()[cycle_from..=from] {
                let ms = if *t >= listening {
                    format!("+{}", (*t - listening).as_millis())
                } else {
                    format!("-{}", (listening - *t).as_millis())
                };
                println!("  {ms} ms: {e}");
            }
        }
        resumes.push(resume);
        std::thread::sleep(Duration::from_millis(5500));
        if cycle == 1 {
            rss_after_first = run.rss_kb();
        }
    }
    let rss_end = run.rss_kb();
    let mut run = run;
    assert!(run.alive(), "the pusher never exits");
    let p = run.stop();
    p.assert_secret_hidden(SECRET);
    let worst = resumes.iter().max().unwrap();
    let mean = resumes.iter().sum::<Duration>() / resumes.len() as u32;
    println!(
        "20 restarts: resume mean {} ms, worst {} ms; RSS after the first {rss_after_first} kB, after the 20th {rss_end} kB",
        mean.as_millis(),
        worst.as_millis()
    );
    assert!(
        *worst <= Duration::from_secs(1),
        "every publish accepted within 1 s of nginx listening: {resumes:?}"
    );
    // the stream starts at once: a key frame kept from before, or a forced one
    let late_video = video_after_accept.iter().max().unwrap();
    assert!(
        *late_video <= Duration::from_millis(500),
        "the first video tag within 500 ms of the publish: {video_after_accept:?}"
    );
    assert!(
        rss_end * 10 <= rss_after_first * 11,
        "memory after 20 cycles within 10% of after the first: {rss_after_first} -> {rss_end} kB"
    );
    assert_eq!(
        p.codes().iter().filter(|c| **c == 1002).count(),
        21,
        "{}",
        p.stdout
    );
    drop(nginx);
    assert_clean_dir(dir.path());
}

#[test]
fn a_slow_accept_within_the_handshake_timeout_publishes_and_beyond_it_is_3003_then_it_retries() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let proxy = FaultProxy::start(nginx.rtmp_port);
    proxy
        .accept_delay_ms
        .store(3000, std::sync::atomic::Ordering::SeqCst);
    let run = Running::start(
        dir.path(),
        &config(proxy.port, "[network]\nhandshake-timeout = 2000"),
    );
    let (i, _) = run.wait_code(3003, 0, Duration::from_secs(10));
    run.wait_code(1102, i, Duration::from_secs(2));
    // the server gets quicker (still slow, inside the timeout): it publishes
    proxy
        .accept_delay_ms
        .store(1000, std::sync::atomic::Ordering::SeqCst);
    run.wait_code(1002, i, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    let p = run.stop();
    p.assert_secret_hidden(SECRET);
    let e = &p.stdout;
    assert!(
        e.contains("no handshake") || e.contains("timed out") || e.contains("handshake"),
        "{e}"
    );
    drop(nginx);
    assert_clean_dir(dir.path());
}

#[test]
fn an_enhanced_rtmp_reconnect_request_moves_the_stream_to_the_tc_url_it_names() {
    use common::fault_server::{Fault, FaultServer};
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // the first server takes the publish, then asks the client to move to nginx
    let tc_url = format!("rtmp://127.0.0.1:{}/live", nginx.rtmp_port);
    let first = FaultServer::start(Fault::ReconnectRequestAfterMedia(50, Some(tc_url)));
    let run = Running::start(dir.path(), &config(first.port, ""));
    let (i, _) = run.wait_code(1002, 0, Duration::from_secs(20));
    let (j, _) = run.wait_code(1102, i, Duration::from_secs(20));
    run.wait_code(1002, j, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    let p = run.stop();
    p.assert_secret_hidden(SECRET);
    let codes = p.codes();
    assert!(
        !codes
            .iter()
            .any(|c| (3001..=3005).contains(c) || *c == -1307),
        "a reconnect request is not a failure: {codes:?}"
    );
    let detail = p
        .events
        .iter()
        .find(|e| e["code"] == 1102)
        .and_then(|e| e["detail"].as_str())
        .unwrap()
        .to_string();
    assert!(
        detail.contains(&format!("127.0.0.1:{}", nginx.rtmp_port))
            && detail.contains("node draining"),
        "{detail}"
    );
    assert_eq!(
        first.connections.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "the stream went on at nginx: {rec:?}");
    let pr = probe(&rec[0]);
    assert!(pr.duration > 2.0, "{pr:?}");
    assert_clean_dir(dir.path());
}

#[test]
fn a_reconnect_request_without_a_tc_url_reconnects_to_the_same_server() {
    use common::fault_server::{Fault, FaultServer};
    let dir = tempfile::tempdir().unwrap();
    let server = FaultServer::start(Fault::ReconnectRequestAfterMedia(30, None));
    let run = Running::start(dir.path(), &config(server.port, ""));
    let (i, _) = run.wait_code(1002, 0, Duration::from_secs(20));
    let (j, _) = run.wait_code(1102, i, Duration::from_secs(20));
    run.wait_code(1002, j, Duration::from_secs(10));
    let p = run.stop();
    p.assert_secret_hidden(SECRET);
    assert!(server.connections.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(
        !p.codes().iter().any(|c| (3001..=3005).contains(c)),
        "{:?}",
        p.codes()
    );
}
