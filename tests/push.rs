//! Loopback end-to-end: the real binary pushes 10 s of the synthetic camera
//! and microphone to a real nginx-rtmp and to `livepush receive`; ffprobe and
//! ffmpeg read back exactly what the config asked for.

mod common;

use std::time::Duration;

use common::*;

const KEY: &str = "cam-1?token=TOPSECRET42";

fn config(port: u16) -> String {
    format!(
        "url = \"rtmp://127.0.0.1:{port}/live/{KEY}\"\nmode = \"SD\"\nautopush = true\norientation = \"horizontal\"\n[video]\ndevice = \"test-pattern\"\n[audio]\ndevice = \"sine\"\nsample-rate = 44100\nchannels = 2\n"
    )
}

fn check_events(p: &Pushed) {
    assert!(
        p.status.success(),
        "livepush failed: {}\n{}",
        p.status,
        p.stderr
    );
    p.assert_secret_hidden("TOPSECRET42");
    p.assert_secret_hidden("cam-1");
    // the happy path, pinned
    assert_eq!(
        p.codes(),
        vec![1003, 1007, 1008, 1001, 1002],
        "{}",
        p.stdout
    );
    // netstatus about once a second, with measured values
    let ns = p.netstatus();
    assert!(
        (8..=11).contains(&ns.len()),
        "{} netstatus events",
        ns.len()
    );
    let last = ns[ns.len() - 2];
    assert_eq!(last["videoWidth"], 640);
    assert_eq!(last["videoHeight"], 360);
    let fps = last["videoFPS"].as_f64().unwrap();
    assert!((23.0..=27.0).contains(&fps), "videoFPS {fps}");
    assert!(last["videoBitrate"].as_u64().unwrap() > 0);
    let abr = last["audioBitrate"].as_u64().unwrap();
    assert!((100..=160).contains(&abr), "audioBitrate {abr}");
    let speed = last["netSpeed"].as_u64().unwrap();
    assert!(
        speed > abr,
        "netSpeed {speed} counts audio and video on the wire"
    );
    // one key frame at start, then the configured GOP: never a shorter one
    for n in &ns {
        assert_eq!(n["videoGOP"].as_f64(), Some(2.0), "{n}");
    }
    // OpenH264's own messages go through the log
    assert!(!p.stderr.contains("[OpenH264]"), "{}", p.stderr);
}

/// The stream starts on one key frame and keeps the GOP (2 s at 25 fps)
/// from there; audio and video line up within 5 ms (the AAC encoder's
/// priming compensated) against the tone's sync mark and the counter.
fn check_start_and_sync(file: &std::path::Path) {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=pts_time,flags", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    let keys: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    assert!(keys.len() >= 4, "{keys:?}");
    assert_eq!(keys[0], 0.0, "the first frame is a key frame: {keys:?}");
    for w in keys.windows(2) {
        assert!(
            (w[1] - w[0] - 2.0).abs() < 0.001,
            "key frames every 2 s from the start: {keys:?}"
        );
    }
    let offsets = av_offsets_ms(file, 640, 360, 25);
    println!("A/V offset, ms (positive: sound late): {offsets:.2?}");
    assert!(offsets.len() >= 8, "sync marks found: {offsets:?}");
    assert!(
        offsets.iter().all(|o| o.abs() < 5.0),
        "audio within 5 ms of the video: {offsets:.2?}"
    );
}

const EXPECT: Expect = Expect {
    width: 640,
    height: 360,
    fps: 25.0,
    seconds: 10.0,
    sample_rate: 44100,
    channels: 2,
};

#[test]
fn ten_seconds_to_nginx_read_back_by_ffprobe() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let p = push(dir.path(), &config(nginx.rtmp_port), 10.0);
    check_events(&p);
    drop_nginx_and_check(nginx);
}

fn drop_nginx_and_check(nginx: Nginx) {
    let recs = nginx.recordings();
    let dir = nginx.dir.clone();
    drop(nginx); // closes the recording
    assert_eq!(recs.len(), 1, "one recording: {recs:?}");
    check_recording(&recs[0], &EXPECT);
    let _ = dir;
}

#[test]
fn ten_seconds_to_the_built_in_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &[]);
    let p = push(dir.path(), &config(r.port), 10.0);
    check_events(&p);
    let out = r.out.clone();
    let log = r.finish(Duration::from_secs(10));
    assert!(
        !log.contains("TOPSECRET42") && !log.contains("cam-1"),
        "receiver logged the key:\n{log}"
    );
    check_recording(&out, &EXPECT);
    check_start_and_sync(&out);
}

/// libx264 (the GPL `x264` feature) through the same path, read back the same way.
#[cfg(feature = "x264")]
#[test]
fn x264_feature_pushes_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &[]);
    let cfg = config(r.port).replace(
        "device = \"test-pattern\"",
        "device = \"test-pattern\"\nencoder = \"x264\"",
    );
    let p = push(dir.path(), &cfg, 5.0);
    assert!(p.status.success(), "{}", p.stderr);
    assert!(p.stderr.contains("video encoder: x264"), "{}", p.stderr);
    assert_eq!(p.codes(), vec![1003, 1007, 1008, 1001, 1002]);
    let out = r.out.clone();
    r.finish(Duration::from_secs(10));
    check_recording(
        &out,
        &Expect {
            seconds: 5.0,
            ..EXPECT
        },
    );
}

/// Without the feature, asking for x264 is refused before anything starts.
#[cfg(not(feature = "x264"))]
#[test]
fn x264_without_the_feature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(free_port()).replace(
        "device = \"test-pattern\"",
        "device = \"test-pattern\"\nencoder = \"x264\"",
    );
    let p = push(dir.path(), &cfg, 2.0);
    assert_eq!(p.status.code(), Some(2));
    assert!(p.stdout.is_empty());
    assert!(
        p.stderr.contains("x264 is not built into this binary"),
        "{}",
        p.stderr
    );
}

/// Rate control: camera-like content (ffmpeg's testsrc2, raw I420 through the
/// `file:` source) comes out near the configured bitrate.
#[test]
fn rate_control_holds_the_configured_bitrate() {
    let dir = tempfile::tempdir().unwrap();
    let yuv = lavfi_yuv(dir.path(), "in.yuv", "testsrc2=size=320x180:rate=20", 60);
    let r = Receiver::start(dir.path(), &[]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/rc\"\nautopush = true\nmode = \"RTC\"\nmin-bitrate = 100\n[video]\ndevice = \"file:{}\"\nwidth = 320\nheight = 180\nbitrate = 300\n",
        r.port,
        yuv.display()
    );
    let p = push(dir.path(), &cfg, 8.0);
    assert!(p.status.success(), "{}", p.stderr);
    let out = r.out.clone();
    r.finish(Duration::from_secs(10));
    let probe = probe(&out);
    let n = probe.video_packets.len();
    let span = probe.video_packets[n - 1].0 - probe.video_packets[0].0;
    let kbps = probe.video_bytes as f64 * 8.0 / 1000.0 / span;
    eprintln!("video at {kbps:.0} kbps");
    assert!(
        (210.0..=390.0).contains(&kbps),
        "video at {kbps:.0} kbps, configured 300 (±30%)"
    );
}

/// `enable-camera = false` is an audio-only stream; `muted = true` keeps the
/// audio track but carries silence.
#[test]
fn audio_only_and_muted() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &[]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/a\"\nautopush = true\nenable-camera = false\n",
        r.port
    );
    let p = push(dir.path(), &cfg, 3.0);
    assert!(p.status.success(), "{}", p.stderr);
    assert_eq!(
        p.codes(),
        vec![1008, 1001, 1002],
        "no camera codes in an audio-only stream"
    );
    let out = r.out.clone();
    r.finish(Duration::from_secs(10));
    let pr = probe(&out);
    let kinds: Vec<&str> = pr
        .streams
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["audio"]);
    assert!(pr.audio_packets > 100, "{} audio packets", pr.audio_packets);
    assert!(decode_errors(&out).is_empty());

    let r = Receiver::start(dir.path(), &[]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/m\"\nautopush = true\nmuted = true\n[video]\nwidth = 320\nheight = 180\n",
        r.port
    );
    let p = push(dir.path(), &cfg, 3.0);
    assert!(p.status.success(), "{}", p.stderr);
    let out = r.out.clone();
    r.finish(Duration::from_secs(10));
    let pr = probe(&out);
    assert!(
        pr.streams.iter().any(|s| s["codec_type"] == "audio"),
        "the audio track stays"
    );
    let pcm = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&out)
        .args(["-map", "0:a:0", "-f", "s16le", "-"])
        .output()
        .unwrap()
        .stdout;
    assert!(pcm.len() > 48000 * 4, "{} bytes of audio", pcm.len());
    assert!(
        pcm.iter().all(|&b| b == 0),
        "muted audio is digital silence"
    );
}
