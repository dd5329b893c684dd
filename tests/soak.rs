//! Long runs faster than real time (issue 18). `livepush run --fast-clock
//! N` makes the synthetic sources produce media N times as fast as real
//! time, timestamped on the media clock, so hours of a stream pass through
//! the whole pipeline (capture, encoders, publisher, the built-in receiver)
//! in minutes. What a box in the field would suffer from over months shows
//! up as a trend: A/V drift (measured in the recording: the tone's sync
//! marks against the picture's burned-in counter, at the start and at the
//! end), timestamps that slip, memory or file descriptors that grow, a
//! queue that fills. And a thousand reconnects against a server that drops
//! every publish: file descriptors and memory must not follow the count.
//!
//! In the normal test run: one hour of media at 120x and 200 reconnects.
//! The long forms (10 hours; 1000 reconnects) are `--ignored`:
//! `cargo test --release --test soak -- --ignored --nocapture`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::fault_server::{Fault, FaultServer};
use common::*;
use livepush_core::flv::read::{self, Audio, Video};
use livepush_core::flv::tag::{TAG_AUDIO, TAG_VIDEO};

/// One soak at a time: they measure CPU-bound pacing and memory.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// What one soak measured.
#[derive(Debug)]
struct Soak {
    media_s: f64,
    drift_start_ms: f64,
    drift_end_ms: f64,
    rss_warm_kb: u64,
    #[allow(dead_code)] // printed with the figures (Debug), not asserted
    rss_end_kb: u64,
    rss_max_kb: u64,
    /// The anonymous part of RSS (heap, stacks): what a leak grows.
    anon_warm_kb: u64,
    anon_max_kb: u64,
    /// (seconds, RSS kB, anonymous kB) once a second after warm-up: what
    /// a failure prints.
    #[allow(dead_code)] // printed with the figures (Debug)
    samples: Vec<(u32, u64, u64)>,
    fds: Vec<usize>,
    max_queue_age_s: f64,
    /// Frames dropped anywhere (`livepush_frames_dropped_total`, each
    /// series that is not 0): at 120x a stall of a second anywhere is two
    /// minutes of media for the send queue.
    dropped: Vec<String>,
    #[allow(dead_code)] // printed; media_s is made from it
    video_frames: u32,
    audio_frames: u32,
    timestamp_slips: usize,
}

/// The A/V offsets (ms) in `len` seconds of `rec` from `from` (None: the end).
fn offsets(dir: &Path, rec: &Path, from: Option<f64>, len: f64) -> Vec<f64> {
    let cut = dir.join(format!("cut-{}.flv", from.map_or(-1.0, |f| f)));
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-v", "error", "-y"]);
    match from {
        Some(f) => c.args(["-ss", &f.to_string()]),
        None => c.args(["-sseof", &format!("-{len}")]),
    };
    let ok = c
        .arg("-i")
        .arg(rec)
        .args(["-t", &len.to_string(), "-c", "copy"])
        .arg(&cut)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not cut {}", rec.display());
    av_offsets_ms(&cut, 320, 180, 10)
}

/// Free bytes in /dev/shm (0: none there).
fn shm_free_bytes() -> u64 {
    let path = std::ffi::CString::new("/dev/shm").unwrap();
    // SAFETY: statvfs fills the struct it is given; the path is a valid C string
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}

fn soak(media_hours: f64, speed: u32) -> Soak {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    need("ffmpeg");
    // the recording (about 47 MB an hour of media) in memory when there is
    // a tmpfs with room for it: a 10-hour run with it on disk once stalled
    // for about a second (cause not found; the receiver's writes are one
    // candidate), which at 120x is two minutes of media for the send queue:
    // 120 s of video were shed. Not one since, with it in memory.
    let in_memory = shm_free_bytes() > (media_hours * 200e6) as u64;
    let dir = in_memory
        .then(|| tempfile::tempdir_in("/dev/shm").ok())
        .flatten()
        .unwrap_or_else(|| tempfile::tempdir().unwrap());
    let rx = Receiver::start(dir.path(), &[]);
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/soak\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[audio]\ndevice = \"sine\"\nsample-rate = 48000\nchannels = 1\nbitrate = 64\n[events]\nto = \"file:/dev/null\"\n[control]\nlisten = \"unix:{}\"\n",
        rx.port,
        sock.display()
    );
    let real = Duration::from_secs_f64(media_hours * 3600.0 / f64::from(speed));
    let r = Running::start_with(dir.path(), &cfg, &["--fast-clock", &speed.to_string()], &[]);
    let t0 = Instant::now();
    // warmed up after half the run (at most 60 s): buffers, pools and
    // queues at their high-water marks (bursts of frames at 120x find new
    // ones for a while: a few tens of kB)
    let warm = (real / 2).min(Duration::from_secs(60));
    let mut n = 0u32;
    let (mut rss_warm, mut rss_max, mut rss_end) = (0, 0, 0);
    let (mut anon_warm, mut anon_max) = (0, 0);
    let mut samples = Vec::new();
    let mut fds = Vec::new();
    let mut max_queue = 0f64;
    // the control API's high-water mark first: 200 scrapes in a burst (the
    // heap grows by about 1% over the first few hundred, then stays: 6000
    // more leave it flat)
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..200 {
        let _ = unix_metric(&sock, "livepush_send_queue_age_seconds");
    }
    while t0.elapsed() < real {
        std::thread::sleep(Duration::from_secs(1));
        n += 1;
        if t0.elapsed() >= warm {
            let (rss, anon) = (r.rss_kb(), r.anon_kb());
            if rss_warm == 0 {
                (rss_warm, anon_warm) = (rss, anon);
            }
            rss_max = rss_max.max(rss);
            anon_max = anon_max.max(anon);
            rss_end = rss;
            samples.push((t0.elapsed().as_secs() as u32, rss, anon));
            fds.push(r.fds());
        }
        // the queue every 5 s from the start (a scrape is an HTTP request:
        // its first ones are part of the warm-up; sampled after the
        // descriptors, so its connection is not counted)
        if n % 5 == 1 {
            if let Some(q) = unix_metric(&sock, "livepush_send_queue_age_seconds") {
                max_queue = max_queue.max(q);
            }
        }
    }
    let dropped: Vec<String> = unix_metrics(&sock)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("livepush_frames_dropped_total{") && !l.ends_with(" 0"))
        .map(str::to_string)
        .collect();
    let out = r.stop();
    assert!(out.status.success(), "{}", out.stderr);
    rx.finish(Duration::from_secs(30));
    let rec = dir.path().join("received.flv");
    let bytes = std::fs::read(&rec).unwrap();
    // timestamps: every video step one frame (100 ms), every audio step one
    // AAC frame (1024 samples: 21.33 ms, so 21 or 22 in whole ms)
    let (mut last_v, mut last_a) = (None::<u32>, None::<u32>);
    let mut slips = 0;
    let (mut video_frames, mut audio_frames) = (0, 0);
    for t in read::tags(&bytes).unwrap() {
        match t.kind {
            TAG_VIDEO if matches!(read::video(t.body), Video::Frame { .. }) => {
                if let Some(p) = last_v {
                    slips += usize::from(t.timestamp_ms.wrapping_sub(p) != 100);
                }
                last_v = Some(t.timestamp_ms);
                video_frames += 1;
            }
            TAG_AUDIO if matches!(read::audio(t.body), Audio::AacRaw(_)) => {
                if let Some(p) = last_a {
                    slips += usize::from(!(21..=22).contains(&t.timestamp_ms.wrapping_sub(p)));
                }
                last_a = Some(t.timestamp_ms);
                audio_frames += 1;
            }
            _ => {}
        }
    }
    let media_s = f64::from(video_frames) / 10.0;
    let mean = |v: Vec<f64>| {
        assert!(v.len() >= 5, "too few sync marks: {v:?}");
        v.iter().sum::<f64>() / v.len() as f64
    };
    let s = Soak {
        media_s,
        drift_start_ms: mean(offsets(dir.path(), &rec, Some(5.0), 20.0)),
        drift_end_ms: mean(offsets(dir.path(), &rec, None, 20.0)),
        rss_warm_kb: rss_warm,
        rss_end_kb: rss_end,
        rss_max_kb: rss_max,
        anon_warm_kb: anon_warm,
        anon_max_kb: anon_max,
        samples,
        fds,
        max_queue_age_s: max_queue,
        dropped,
        video_frames,
        audio_frames,
        timestamp_slips: slips,
    };
    eprintln!(
        "soak {media_hours} h at {speed}x in {:.0} s: {s:?}",
        t0.elapsed().as_secs_f64()
    );
    s
}

/// The memory rule of the soak and the reconnect cycles, from `(RSS,
/// anonymous)` kB at the start of the window to the most seen in it: the
/// anonymous part (heap, stacks, what a leak grows) by under 1% of RSS,
/// RSS as a whole by under 3%. The rest of RSS is file pages, the binary's
/// and libraries' code paged in the first time a code path runs, which
/// the kernel can drop at any time (in a one-hour soak after the
/// write-buffer fix, RSS rose 116 kB, 64 kB of them file pages).
fn memory_held(from: (u64, u64), to: (u64, u64), context: &str) {
    let pct = |a: u64, b: u64| (b as f64 - a as f64) / from.0 as f64 * 100.0;
    let anon = pct(from.1, to.1);
    assert!(
        anon < 1.0,
        "anonymous memory {} kB then {} kB: {anon:.2}% of RSS {context}",
        from.1,
        to.1
    );
    let rss = pct(from.0, to.0);
    assert!(
        rss < 3.0,
        "RSS {} kB then {} kB: {rss:.2}% {context}",
        from.0,
        to.0
    );
}

fn check(s: &Soak, media_hours: f64) {
    let want = media_hours * 3600.0;
    assert!(
        s.media_s > want * 0.97,
        "{} s of media recorded of {want}: frames were lost or the clock lagged (dropped: {:?})",
        s.media_s,
        s.dropped
    );
    // audio and video cover the same media time (1024-sample AAC frames)
    let audio_s = f64::from(s.audio_frames) * 1024.0 / 48000.0;
    assert!(
        (audio_s - s.media_s).abs() < 2.0,
        "audio {audio_s} s, video {} s (dropped: {:?})",
        s.media_s,
        s.dropped
    );
    assert_eq!(s.timestamp_slips, 0, "timestamps slipped");
    assert!(
        s.drift_start_ms.abs() < 20.0,
        "A/V at the start: {} ms",
        s.drift_start_ms
    );
    assert!(
        s.drift_end_ms.abs() < 20.0,
        "A/V at the end: {} ms",
        s.drift_end_ms
    );
    memory_held(
        (s.rss_warm_kb, s.anon_warm_kb),
        (s.rss_max_kb, s.anon_max_kb),
        &format!("after warm-up: {s:?}"),
    );
    let (lo, hi) = (s.fds.iter().min().unwrap(), s.fds.iter().max().unwrap());
    assert_eq!(lo, hi, "open file descriptors changed: {:?}", s.fds);
    assert!(
        s.max_queue_age_s < 1.0,
        "the send queue grew: {} s",
        s.max_queue_age_s
    );
}

/// One hour of media at 120x (30 s): A/V within 20 ms at both ends,
/// timestamps exact, memory, descriptors and the queue flat.
#[test]
fn an_hour_of_media_in_thirty_seconds_keeps_sync_memory_and_descriptors() {
    let s = soak(1.0, 120);
    check(&s, 1.0);
}

/// Ten hours of media at 120x (5 minutes): the figures README reports.
#[test]
#[ignore]
fn ten_hours_of_media_keep_sync_memory_and_descriptors() {
    let s = soak(10.0, 120);
    check(&s, 10.0);
}

/// Publishes that a server drops (a reset 3 media messages in), again and
/// again: after `cycles` reconnects the pusher holds no more descriptors
/// than after the first tenth of them, and the same memory as then, judged
/// as the soak judges it: the anonymous part (heap, stacks) within 1% of
/// RSS, RSS as a whole within 3% (file pages: code paged in late).
fn reconnects(cycles: usize) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let server = FaultServer::start(Fault::ResetAfterMedia(3));
    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/cycles\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[network]\nreconnect-delay = 100\nreconnect-max-delay = 100\n[events]\nto = \"file:/dev/null\"\n[control]\nlisten = []\n",
        server.port
    );
    let r = Running::start(dir.path(), &cfg);
    let conns = || server.connections.load(std::sync::atomic::Ordering::SeqCst);
    let t0 = Instant::now();
    // (descriptors, RSS kB, anonymous kB)
    let mut early: Vec<(usize, u64, u64)> = Vec::new();
    let mut late: Vec<(usize, u64, u64)> = Vec::new();
    while conns() < cycles {
        assert!(
            t0.elapsed() < Duration::from_secs(cycles as u64),
            "{} cycles in {:?}",
            conns(),
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
        let c = conns();
        let sample = (r.fds(), r.rss_kb(), r.anon_kb());
        if (cycles / 10..cycles / 5).contains(&c) {
            early.push(sample);
        } else if c >= cycles * 9 / 10 {
            late.push(sample);
        }
    }
    let took = t0.elapsed();
    let out = r.stop();
    assert!(out.status.success(), "{}", out.stderr);
    // descriptors: the fewest open (between connections) is the same
    type Samples = [(usize, u64, u64)];
    let fds = |v: &Samples| v.iter().map(|s| s.0).min().unwrap();
    let rss = |v: &Samples| v.iter().map(|s| s.1).max().unwrap();
    let anon = |v: &Samples| v.iter().map(|s| s.2).max().unwrap();
    eprintln!(
        "{cycles} reconnects in {:.0} s: fds {} then {}, RSS {} kB then {} kB, anonymous {} kB then {} kB",
        took.as_secs_f64(),
        fds(&early),
        fds(&late),
        rss(&early),
        rss(&late),
        anon(&early),
        anon(&late)
    );
    // (the fewest seen: at rest between connections, or one connection open
    // at every sample of a window; never more after the cycles)
    assert!(
        fds(&late) <= fds(&early),
        "descriptors leaked: {} then {}",
        fds(&early),
        fds(&late)
    );
    memory_held(
        (rss(&early), anon(&early)),
        (rss(&late), anon(&late)),
        &format!("from {} to {cycles} reconnects", cycles / 10),
    );
}

/// 200 dropped publishes (about 30 s).
#[test]
fn two_hundred_reconnects_leak_nothing() {
    reconnects(200);
}

/// 1000 dropped publishes (about 2.5 minutes).
#[test]
#[ignore]
fn a_thousand_reconnects_leak_nothing() {
    reconnects(1000);
}
