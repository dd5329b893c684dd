//! Network benchmark: livepush next to ffmpeg and GStreamer, in the same run,
//! on the same input (ffmpeg-made 640x360@25 busy video, looped, plus a sine
//! tone), under the same two scenarios against a real nginx-rtmp on loopback:
//!
//! - restart: nginx is killed (SIGKILL) 6 s into the push and started again at
//!   once; measured: time from nginx listening again to the first video tag
//!   of a new publish (or "never" within 20 s, and whether the pusher exited);
//! - cap: a fault proxy caps the uplink at 400 kbit/s (half the 800 kbit/s
//!   video bitrate) from 5 s on, for 60 s; measured: the delay behind live
//!   at the end (wall time since the first tag arrived minus the media time
//!   that has arrived), the worst delay, and the video frames delivered.
//!
//! - outage (livepush only; the peers do not resume at all): nginx is down
//!   for 2, 10 and 60 s, five times each, under one running pusher; measured:
//!   time from nginx listening again to the first video tag of the new
//!   publish (median and worst of five).
//!
//! Run: `cargo bench --bench network` (needs nginx, libnginx-mod-rtmp,
//! ffmpeg, gstreamer1.0-tools, -plugins-bad, -libav; about 5 minutes), or
//! `cargo bench --bench network -- outage` for the outage table alone (about
//! 8 minutes).

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fault_proxy::{flv_progress, FaultProxy};
use common::{is_listening, Nginx};

const W: u32 = 640;
const H: u32 = 360;
const FPS: u32 = 25;
const KBPS: u32 = 800;
const CAP: u64 = 400;

#[derive(Clone, Copy)]
enum Pusher {
    Livepush,
    Ffmpeg,
    Gstreamer,
}

impl Pusher {
    fn name(self) -> &'static str {
        match self {
            Pusher::Livepush => "livepush (openh264, fdk-aac)",
            Pusher::Ffmpeg => "ffmpeg (libx264, aac)",
            Pusher::Gstreamer => "GStreamer (openh264enc, avenc_aac, rtmp2sink)",
        }
    }

    fn spawn(self, dir: &Path, yuv: &Path, port: u16) -> Child {
        let url = format!("rtmp://127.0.0.1:{port}/live/bench");
        let mut c = match self {
            Pusher::Livepush => {
                let cfg = dir.join("livepush.toml");
                std::fs::write(
                    &cfg,
                    format!(
                        "url = \"{url}\"\nmode = \"SD\"\norientation = \"horizontal\"\nmin-bitrate = 150\nmax-bitrate = {KBPS}\n[video]\ndevice = \"file:{}\"\n[audio]\ndevice = \"sine\"\nsample-rate = 44100\nbitrate = 64\n",
                        yuv.display()
                    ),
                )
                .unwrap();
                let mut c = Command::new(common::bin());
                c.args(["run", "--config"]).arg(cfg);
                c
            }
            Pusher::Ffmpeg => {
                let mut c = Command::new("ffmpeg");
                c.args([
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-re",
                    "-stream_loop",
                    "-1",
                ])
                .args([
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "yuv420p",
                    "-s",
                    &format!("{W}x{H}"),
                ])
                .args(["-r", &FPS.to_string(), "-i"])
                .arg(yuv)
                .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100"])
                .args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "zerolatency",
                ])
                .args(["-b:v", &format!("{KBPS}k"), "-maxrate", &format!("{KBPS}k")])
                .args(["-bufsize", &format!("{KBPS}k"), "-g", "50"])
                .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv", &url]);
                c
            }
            Pusher::Gstreamer => {
                let gst = format!(
                    "gst-launch-1.0 -q multifilesrc location={y} loop=true ! rawvideoparse width={W} height={H} format=i420 framerate={FPS}/1 ! identity sync=true ! queue max-size-buffers=4 ! openh264enc complexity=low rate-control=bitrate bitrate={b} gop-size=50 ! h264parse ! video/x-h264,stream-format=avc ! queue ! mux. audiotestsrc is-live=true freq=1000 ! audio/x-raw,rate=44100,channels=2 ! audioconvert ! avenc_aac bitrate=64000 ! aacparse ! queue ! mux. flvmux name=mux streamable=true ! rtmp2sink location={url}",
                    y = yuv.display(),
                    b = KBPS * 1000
                );
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("exec {gst}"));
                c
            }
        };
        c.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pusher")
    }
}

fn stop(mut c: Child) {
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(c.id().to_string())
        .status();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// The first recording in `nginx`'s directory that has a video tag and is not in `before`.
fn first_video(nginx: &Nginx, before: &[std::path::PathBuf]) -> Option<std::path::PathBuf> {
    nginx
        .recordings()
        .into_iter()
        .find(|p| !before.contains(p) && flv_progress(p).is_some_and(|(_, v)| v > 0))
}

/// Restart scenario: the resume time, or why there was none.
fn restart(p: Pusher, yuv: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut nginx = Nginx::start(dir.path(), "");
    let mut child = p.spawn(dir.path(), yuv, nginx.rtmp_port);
    let t = Instant::now();
    while first_video(&nginx, &[]).is_none() {
        if t.elapsed() > Duration::from_secs(15) {
            stop(child);
            return "did not start".into();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(6));
    let before = nginx.recordings();
    nginx.kill();
    let listening = nginx.restart();
    assert!(is_listening(nginx.rtmp_port));
    let result = loop {
        if first_video(&nginx, &before).is_some() {
            break format!("{} ms", listening.elapsed().as_millis());
        }
        if let Ok(Some(st)) = child.try_wait() {
            break format!(
                "never (exited {:.1} s after the kill, {st})",
                listening.elapsed().as_secs_f64()
            );
        }
        if listening.elapsed() > Duration::from_secs(20) {
            break "never (still running, not pushing, after 20 s)".into();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    stop(child);
    result
}

/// Outage scenario: nginx down for each of `downs` five times under one
/// livepush; prints the resume delays (server listening -> first video tag).
fn outages(yuv: &Path, downs: &[u64]) {
    let dir = tempfile::tempdir().unwrap();
    let mut nginx = Nginx::start(dir.path(), "");
    let child = Pusher::Livepush.spawn(dir.path(), yuv, nginx.rtmp_port);
    println!(
        "| server down for | resume delays after it listens again (5 runs) | median | worst |"
    );
    println!("|---|---|---|---|");
    for &down in downs {
        let mut delays = Vec::new();
        for _ in 0..5 {
            // a publish that held (the pusher's failure count resets after 5 s)
            let t = Instant::now();
            while first_video(&nginx, &[]).is_none() {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "livepush did not publish"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_secs(6));
            let before = nginx.recordings();
            nginx.kill();
            std::thread::sleep(Duration::from_secs(down));
            let listening = nginx.restart();
            let t = Instant::now();
            while first_video(&nginx, &before).is_none() {
                assert!(
                    t.elapsed() < Duration::from_secs(60),
                    "no resume after {down} s down"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            delays.push(listening.elapsed().as_millis() as u64);
            // the next run waits for this recording to be the one that holds
            for p in before {
                let _ = std::fs::remove_file(p);
            }
        }
        let mut sorted = delays.clone();
        sorted.sort_unstable();
        println!(
            "| {down} s | {} | {} ms | {} ms |",
            delays
                .iter()
                .map(|d| format!("{d} ms"))
                .collect::<Vec<_>>()
                .join(", "),
            sorted[2],
            sorted[4]
        );
    }
    stop(child);
}

/// Cap scenario: (delay behind live at the end, worst delay, video frames delivered, state).
fn cap(p: Pusher, yuv: &Path) -> (Duration, Duration, u32, String) {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let proxy = FaultProxy::start(nginx.rtmp_port);
    let mut child = p.spawn(dir.path(), yuv, proxy.port);
    let t = Instant::now();
    let (rec, first) = loop {
        if let Some(r) = first_video(&nginx, &[]) {
            break (r, Instant::now());
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{} did not start",
            p.name()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    std::thread::sleep(Duration::from_secs(5));
    let delivered = |n: &Nginx| -> u32 {
        n.recordings()
            .iter()
            .map(|r| flv_progress(r).map_or(0, |(_, v)| v))
            .sum()
    };
    let before_cap = delivered(&nginx);
    proxy.cap(CAP);
    let capped = Instant::now();
    let mut worst = Duration::ZERO;
    let mut last = Duration::ZERO;
    let mut frames = 0;
    while capped.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        // the newest recording (a pusher that reconnected started a new one)
        let newest = nginx
            .recordings()
            .into_iter()
            .filter_map(|r| flv_progress(&r).map(|x| (r, x)))
            .max_by_key(|(r, _)| std::fs::metadata(r).and_then(|m| m.modified()).ok());
        if let Some((r, (ts, _))) = newest {
            if r == rec {
                last = first
                    .elapsed()
                    .saturating_sub(Duration::from_millis(u64::from(ts)));
                worst = worst.max(last);
            }
        }
    }
    frames += delivered(&nginx).saturating_sub(before_cap);
    let state = match child.try_wait() {
        Ok(Some(st)) => format!("exited ({st})"),
        _ => "running".to_string(),
    };
    stop(child);
    (last, worst, frames, state)
}

fn main() {
    let outage_only = std::env::args().any(|a| a == "outage");
    let tools: &[&str] = if outage_only {
        &["nginx", "ffmpeg"]
    } else {
        &["nginx", "ffmpeg", "gst-launch-1.0"]
    };
    for t in tools {
        common::need(t);
    }
    let dir = tempfile::tempdir().unwrap();
    let yuv = common::lavfi_yuv(
        dir.path(),
        "busy.yuv",
        &format!("testsrc2=size={W}x{H}:rate={FPS},noise=alls=3:allf=t+u"),
        4 * FPS,
    );
    if outage_only {
        println!("outage benchmark: livepush under nginx outages, real nginx-rtmp on loopback\n");
        // LIVEPUSH_BENCH_OUTAGES="60" runs only those (seconds, comma-separated)
        let downs: Vec<u64> = std::env::var("LIVEPUSH_BENCH_OUTAGES")
            .ok()
            .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![2, 10, 60]);
        outages(&yuv, &downs);
        return;
    }
    println!(
        "network benchmark: {W}x{H}@{FPS} at {KBPS} kbit/s video + 64 kbit/s AAC, real nginx-rtmp on loopback\n"
    );
    println!("| pusher | resume after a server restart | delay behind live after 60 s at {CAP} kbit/s (worst) | video frames delivered in those 60 s | state at the end |");
    println!("|---|---|---|---|---|");
    for p in [Pusher::Livepush, Pusher::Ffmpeg, Pusher::Gstreamer] {
        let r = restart(p, &yuv);
        let (last, worst, frames, state) = cap(p, &yuv);
        println!(
            "| {} | {r} | {:.1} s ({:.1} s) | {frames} of {} | {state} |",
            p.name(),
            last.as_secs_f64(),
            worst.as_secs_f64(),
            60 * FPS
        );
    }
    println!();
    outages(&yuv, &[2, 10, 60]);
}
