//! The control API and its commands against a real nginx-rtmp, with the
//! recording read back by ffprobe/ffmpeg: `autopush = false` publishes
//! nothing until `start`; a pause puts the waiting image on the same
//! publish at `pause-fps` (silence with `background-mute`) and a resume
//! brings the camera back; a stop ends the publish with no reconnect and a
//! start makes a second one. The API's refusals: bad JSON, unknown
//! endpoints, oversize bodies, wrong methods, missing or wrong tokens, a
//! slow client (the stream keeps its frame rate meanwhile), a TCP listener
//! off loopback without a token (refused at start).

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const KEY: &str = "ctl-cam?token=K3YSECRET";
const TOKEN: &str = "T0KEN-abcdef-123456";

fn ctl(socket: &Path, cmd: &str) -> (i32, String) {
    let out = Command::new(bin())
        .args(["ctl", "--socket"])
        .arg(socket)
        .arg(cmd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// One raw HTTP/1.1 exchange on the Unix socket (`Connection: close`).
fn raw(socket: &Path, request: &[u8]) -> String {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn tcp(port: u16, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn code_time(r: &Running, code: i64, from: usize) -> (usize, Instant) {
    r.wait_code(code, from, Duration::from_secs(20))
}

#[test]
fn start_pause_resume_stop_start_on_a_real_server() {
    need("nginx");
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // the waiting image: a flat blue picture at the output size
    let img = dir.path().join("waiting.png");
    flat_image(&img, "0x2040c0", 320, 180);
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nmode = \"RTC\"\npause-fps = 5\nbackground-mute = true\nwaiting-image = \"{}\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[audio]\ndevice = \"sine\"\n[control]\nlisten = \"unix:{}\"\n",
        nginx.rtmp_port,
        img.display(),
        sock.display()
    );
    let r = Running::start(dir.path(), &cfg);
    code_time(&r, 1008, 0);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        nginx.recordings().is_empty(),
        "nothing published before start"
    );
    let (_, status) = ctl(&sock, "status");
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["state"], "idle", "{status}");
    assert!(!status.contains("K3YSECRET"), "{status}");
    assert_eq!(ctl(&sock, "pause").0, 1, "pause before start is refused");

    assert_eq!(ctl(&sock, "start").0, 0);
    let (i, published) = code_time(&r, 1002, 0);
    let (c, out) = ctl(&sock, "start");
    assert_eq!(c, 0);
    assert!(
        out.contains("\"changed\":false"),
        "a second start changes nothing: {out}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ctl(&sock, "pause").0, 0);
    let (i, paused) = code_time(&r, 1201, i);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(ctl(&sock, "resume").0, 0);
    let (i, resumed) = code_time(&r, 1202, i);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ctl(&sock, "stop").0, 0);
    let (i, _) = code_time(&r, 1203, i);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ctl(&sock, "start").0, 0);
    code_time(&r, 1002, i);
    std::thread::sleep(Duration::from_secs(2));
    let p = r.stop();
    p.assert_secret_hidden("K3YSECRET");
    let codes = p.codes();
    assert_eq!(codes.iter().filter(|c| **c == 1002).count(), 2, "{codes:?}");
    assert!(
        !codes
            .iter()
            .any(|c| *c == 1102 || (3001..=3005).contains(c)),
        "no reconnect after a deliberate stop: {codes:?}"
    );
    drop(nginx);
    let recs = Nginx::recordings_in(dir.path());
    assert_eq!(recs.len(), 2, "two publishes, two recordings: {recs:?}");

    // the first publish: camera, then the waiting image at 5 fps, then the camera
    let f = &recs[0];
    assert_eq!(decode_errors(f), "", "clean decode");
    let t_pause = paused.duration_since(published).as_secs_f64();
    let t_resume = resumed.duration_since(published).as_secs_f64();
    let times = packet_times(f, "v");
    let frames = luma_frames(f, 320, 180);
    let counters = frame_counters(f, 320, 180);
    assert_eq!(times.len(), frames.len());
    // the image's own luma, as ffmpeg reads the PNG
    let want = {
        let g = luma_frames(&img, 320, 180);
        g[0].iter().map(|v| u64::from(*v)).sum::<u64>() / g[0].len() as u64
    };
    let mut in_pause = Vec::new();
    for (k, t) in times.iter().enumerate() {
        if *t > t_pause + 0.6 && *t < t_resume - 0.1 {
            in_pause.push(*t);
            let mean =
                frames[k].iter().map(|v| u64::from(*v)).sum::<u64>() / frames[k].len() as u64;
            assert!(
                mean.abs_diff(want) <= 4,
                "frame at {t:.2} s: mean luma {mean}, the image's {want}"
            );
            assert_eq!(
                counters[k], None,
                "no counter at {t:.2} s (the waiting image)"
            );
        }
        if *t < t_pause - 0.3 || *t > t_resume + 0.6 {
            assert!(counters[k].is_some(), "the camera's counter at {t:.2} s");
        }
    }
    let span = t_resume - 0.1 - (t_pause + 0.6);
    let fps = in_pause.len() as f64 / span;
    assert!(
        (4.0..=6.0).contains(&fps),
        "{} frames in {span:.2} s: {fps:.1} fps while paused",
        in_pause.len()
    );
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    assert!(
        worst < 0.45,
        "a video gap of {worst:.3} s (players must not stall)"
    );
    // audio: the tone before, silence during the pause (background-mute)
    let pcm = decode_audio(f);
    let rms = |a: f64, b: f64| {
        let s = &pcm[(a * 48000.0) as usize..(b * 48000.0) as usize];
        (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    };
    assert!(
        rms(0.5, t_pause - 0.3) > 1000.0,
        "the tone before the pause"
    );
    assert!(
        rms(t_pause + 0.6, t_resume - 0.2) < 10.0,
        "silence while paused"
    );
    assert!(
        rms(t_resume + 0.6, t_resume + 2.0) > 1000.0,
        "the tone again"
    );
}

#[test]
fn the_api_refuses_what_it_must_and_a_slow_client_holds_up_nothing() {
    need("nginx");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let sock = dir.path().join("ctl.sock");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let port = free_port();
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[control]\nlisten = [\"unix:{}\", \"tcp:127.0.0.1:{port}\"]\ntoken-file = \"{}\"\n",
        nginx.rtmp_port,
        sock.display(),
        token_file.display()
    );
    let r = Running::start(dir.path(), &cfg);
    code_time(&r, 1002, 0);
    let mut answers = String::new();
    let post = |path: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let a = raw(&sock, post("/v1/pause", "{not json").as_bytes());
    assert!(
        a.starts_with("HTTP/1.1 400") && a.contains("bad-json"),
        "{a}"
    );
    answers += &a;
    let a = raw(&sock, post("/v1/launch", "").as_bytes());
    assert!(
        a.starts_with("HTTP/1.1 404") && a.contains("unknown-command"),
        "{a}"
    );
    answers += &a;
    let big = "x".repeat(64 * 1024);
    let a = raw(
        &sock,
        post("/v1/pause", &format!("{{\"a\":\"{big}\"}}")).as_bytes(),
    );
    assert!(a.starts_with("HTTP/1.1 413"), "{}", &a[..a.len().min(200)]);
    let a = raw(
        &sock,
        b"GET /v1/stop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(a.starts_with("HTTP/1.1 405"), "{a}");
    let a = raw(
        &sock,
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        a.starts_with("HTTP/1.1 200") && a.contains("\"state\":\"publishing\""),
        "{a}"
    );
    answers += &a;
    // TCP: the token, checked
    let get = |auth: &str| {
        format!("GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\r\n")
    };
    let a = tcp(port, &get(""));
    assert!(a.starts_with("HTTP/1.1 401"), "{a}");
    let a = tcp(port, &get("Authorization: Bearer wrong-token\r\n"));
    assert!(a.starts_with("HTTP/1.1 401"), "{a}");
    let a = tcp(port, &get(&format!("Authorization: Bearer {TOKEN}\r\n")));
    assert!(a.starts_with("HTTP/1.1 200"), "{a}");
    answers += &a;

    // a client that sends a byte a second is dropped; frames flow meanwhile
    let from = r.events().len();
    let t = Instant::now();
    let mut slow = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    let mut closed_after = None;
    for b in b"GET /v1/status HTTP/1.1\r\nHost: slow\r\n\r\n" {
        if slow.write_all(&[*b]).is_err() {
            closed_after = Some(t.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        if t.elapsed() > Duration::from_secs(12) {
            break;
        }
    }
    let closed_after = closed_after.expect("the slow client was never dropped");
    assert!(
        closed_after <= Duration::from_secs(8),
        "dropped after {closed_after:?}"
    );
    let fps: Vec<f64> = r.events()[from..]
        .iter()
        .filter(|(_, e)| e["event"] == "netstatus")
        .map(|(_, e)| e["info"]["videoFPS"].as_f64().unwrap())
        .collect();
    assert!(fps.len() >= 4, "{fps:?}");
    assert!(
        fps.iter().all(|f| *f >= 9.0),
        "the stream kept its 10 fps while the slow client dribbled: {fps:?}"
    );
    eprintln!("slow client dropped after {closed_after:?}; videoFPS meanwhile {fps:?}");
    let p = r.stop();
    p.assert_secret_hidden(TOKEN);
    p.assert_secret_hidden("K3YSECRET");
    assert!(!answers.contains(TOKEN) && !answers.contains("K3YSECRET"));
}

#[test]
fn a_tcp_listener_off_loopback_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "url = \"rtmp://127.0.0.1:9/live/k\"\n[control]\nlisten = \"tcp:0.0.0.0:8088\"\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["run", "--config"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3, column 10: key `control.listen`: tcp:0.0.0.0:8088 is reachable from other machines"),
        "{err}"
    );
}

fn mean(v: &[u8]) -> u64 {
    v.iter().map(|x| u64::from(*x)).sum::<u64>() / v.len().max(1) as u64
}

#[test]
fn switch_camera_snapshot_preview_and_pause_time_on_one_publish() {
    need("nginx");
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let red = dir.path().join("red.yuv");
    flat_image(&red, "red", 320, 180);
    let green = dir.path().join("green.yuv");
    flat_image(&green, "lime", 640, 360);
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\npause-time = 2\n[video]\nwidth = 320\nheight = 180\nfps = 10\ndevices = [\"file:{}\", \"file:{}@640x360\", \"/dev/nonexistent-camera\"]\n[control]\nlisten = \"unix:{}\"\nstop-closes-camera = true\n",
        nginx.rtmp_port,
        red.display(),
        green.display(),
        sock.display()
    );
    let r = Running::start(dir.path(), &cfg);
    let (i, published) = code_time(&r, 1002, 0);
    std::thread::sleep(Duration::from_secs(2));
    // a snapshot: the red picture as JPEG, at the size asked for
    let snap = dir.path().join("a.jpg");
    let (c, v) = ctl_json(
        &sock,
        &[
            "snapshot",
            "--out",
            snap.to_str().unwrap(),
            "--width",
            "160",
        ],
    );
    assert_eq!(c, 0, "{v}");
    let gray = luma_frames(&snap, 160, 90);
    let red_luma = mean(&gray[0]);
    // switch: the green 640x360 file scaled to 320x180, 1005, same publish
    let (c, v) = ctl_json(&sock, &["switch-camera"]);
    assert_eq!(c, 0, "{v}");
    assert!(v["camera"].as_str().unwrap().contains("green.yuv"), "{v}");
    let (i, switched) = code_time(&r, 1005, i);
    std::thread::sleep(Duration::from_secs(2));
    // the next one cannot be opened: -1301, and the green one stays
    let (c, v) = ctl_json(&sock, &["switch-camera"]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["error"]["code"], "camera-failed", "{v}");
    let (i, _) = code_time(&r, -1301, i);
    std::thread::sleep(Duration::from_secs(1));
    // pause past pause-time: a stop (1203) with the reason
    assert_eq!(ctl(&sock, "pause").0, 0);
    let (i, paused) = code_time(&r, 1201, i);
    let (_, stopped) = code_time(&r, 1203, i);
    // stop-closes-camera: no picture until a preview
    let (c, v) = ctl_json(&sock, &["snapshot", "--out", "/dev/null"]);
    assert_eq!(
        (c, v["error"]["code"].as_str()),
        (1, Some("no-picture")),
        "{v}"
    );
    assert_eq!(ctl(&sock, "start-preview").0, 0);
    std::thread::sleep(Duration::from_millis(500));
    let snap2 = dir.path().join("b.jpg");
    let (c, v) = ctl_json(&sock, &["snapshot", "--out", snap2.to_str().unwrap()]);
    assert_eq!(c, 0, "{v}");
    let green_luma = mean(&luma_frames(&snap2, 320, 180)[0]);
    assert!(
        green_luma > red_luma + 40,
        "green {green_luma} red {red_luma}"
    );
    assert_eq!(ctl(&sock, "stop-preview").0, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ctl_json(&sock, &["snapshot", "--out", "/dev/null"]).0, 1);
    let p = r.stop();
    let detail = p
        .events
        .iter()
        .find(|e| e["code"] == 1203)
        .map(|e| e["detail"].to_string())
        .unwrap();
    assert!(detail.contains("pause-time (2 s)"), "{detail}");
    assert!(stopped.duration_since(published) > Duration::from_secs(5));
    drop(nginx);
    let recs = Nginx::recordings_in(dir.path());
    assert_eq!(recs.len(), 1, "one publish: {recs:?}");
    let f = &recs[0];
    assert_eq!(decode_errors(f), "", "clean decode across the switch");
    let pr = probe(f);
    let v = pr
        .streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(320), Some(180))
    );
    // no background-mute: the tone goes on through the pause
    let t_pause = paused.duration_since(published).as_secs_f64();
    let pcm = decode_audio(f);
    let from = ((t_pause + 0.5) * 48000.0) as usize;
    let to = ((t_pause + 1.7) * 48000.0) as usize;
    let rms = (pcm[from..to.min(pcm.len())]
        .iter()
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        / (to - from) as f64)
        .sqrt();
    assert!(
        rms > 1000.0,
        "the tone while paused without background-mute: rms {rms:.0}"
    );
    let t_switch = switched.duration_since(published).as_secs_f64();
    let times = packet_times(f, "v");
    let frames = luma_frames(f, 320, 180);
    for (k, t) in times.iter().enumerate() {
        let m = mean(&frames[k]);
        if *t < t_switch - 0.3 {
            assert!(
                m.abs_diff(red_luma) <= 6,
                "red at {t:.2}: {m} vs {red_luma}"
            );
        } else if *t > t_switch + 0.5 && *t < t_switch + 2.5 {
            assert!(
                m.abs_diff(green_luma) <= 6,
                "green at {t:.2}: {m} vs {green_luma}"
            );
        }
    }
}

#[test]
fn a_snapshot_shows_the_picture_being_pushed() {
    need("nginx");
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[control]\nlisten = \"unix:{}\"\n",
        nginx.rtmp_port,
        sock.display()
    );
    let r = Running::start(dir.path(), &cfg);
    let (_, published) = code_time(&r, 1002, 0);
    std::thread::sleep(Duration::from_secs(3));
    let asked = Instant::now();
    let snap = dir.path().join("s.jpg");
    let (c, v) = ctl_json(
        &sock,
        &[
            "snapshot",
            "--out",
            snap.to_str().unwrap(),
            "--quality",
            "95",
        ],
    );
    assert_eq!(c, 0, "{v}");
    std::thread::sleep(Duration::from_secs(2));
    r.stop();
    drop(nginx);
    let counter =
        livepush_core::synth::pattern::read_counter(&luma_frames(&snap, 320, 180)[0], 320, 180)
            .expect("the snapshot shows the burned-in counter");
    let f = &Nginx::recordings_in(dir.path())[0];
    let times = packet_times(f, "v");
    let counters = frame_counters(f, 320, 180);
    let k = counters
        .iter()
        .position(|c| *c == Some(counter))
        .expect("the snapshot's frame is in the stream");
    let t_req = asked.duration_since(published).as_secs_f64();
    let off = times[k] - t_req;
    eprintln!(
        "snapshot counter {counter}: stream frame at {:.2} s, asked at {t_req:.2} s ({off:+.2} s)",
        times[k]
    );
    assert!(
        off.abs() < 0.5,
        "the snapshot is {off:+.2} s from the stream (a few frames at most)"
    );
}

#[test]
fn reload_applies_live_keys_refuses_a_bad_file_and_a_url_waiting_image_is_fetched() {
    need("nginx");
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // the waiting image served by nginx over HTTP (a token in the query)
    let img = dir.path().join("files/w.png");
    flat_image(&img, "0xe0e0e0", 320, 180);
    let url = format!(
        "http://127.0.0.1:{}/files/w.png?auth=IMGTOKEN",
        nginx.http_port
    );
    let sock = dir.path().join("ctl.sock");
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let cfg = |max: u32, fps: u32, extra: &str| {
        format!(
            "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\nmode = \"RTC\"\nmax-bitrate = {max}\nwaiting-image = \"{url}\"\n{extra}[video]\nwidth = 320\nheight = 180\nfps = {fps}\n[control]\nlisten = \"unix:{}\"\n",
            nginx.rtmp_port,
            sock.display()
        )
    };
    let path = dir.path().join("livepush.toml");
    std::fs::write(&path, cfg(900, 10, "")).unwrap();
    // the runner writes the same file; CACHE_DIRECTORY as systemd sets it
    let r = Running::start_env(
        dir.path(),
        &cfg(900, 10, ""),
        &[("CACHE_DIRECTORY", cache.as_path())],
    );
    let (i, _) = code_time(&r, 1002, 0);
    // a good reload: a live key applied, a pipeline key reported
    std::fs::write(&path, cfg(400, 15, "pause-fps = 2\n")).unwrap();
    let (c, v) = ctl_json(&sock, &["reload"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        v["applied"],
        serde_json::json!(["max-bitrate", "pause-fps"]),
        "{v}"
    );
    assert_eq!(v["restart_needed"], serde_json::json!(["video"]), "{v}");
    // a bad one: every error with its position, nothing changes
    std::fs::write(&path, cfg(400, 15, "beauty = 12\nbogus = 1\n")).unwrap();
    let (c, v) = ctl_json(&sock, &["reload"]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["error"]["code"], "bad-config");
    let errs = v["error"]["errors"].to_string();
    assert!(
        errs.contains("line 6, column 10: key `beauty`")
            && errs.contains("line 7, column 1: key `bogus`: unknown key"),
        "{errs}"
    );
    // SIGHUP reads it too (still bad: refused, logged)
    r.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    // pause: the fetched image is on air
    assert_eq!(ctl(&sock, "pause").0, 0);
    code_time(&r, 1201, i);
    std::thread::sleep(Duration::from_secs(2));
    let p = r.stop();
    assert_eq!(
        p.codes().iter().filter(|c| **c == 1002).count(),
        1,
        "the stream ran on: {:?}",
        p.codes()
    );
    assert!(p.stderr.contains("reload refused"), "{}", p.stderr);
    assert!(
        p.stderr.contains("waiting-image http://127.0.0.1"),
        "{}",
        p.stderr
    );
    p.assert_secret_hidden("IMGTOKEN");
    p.assert_secret_hidden("K3YSECRET");
    let cached: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(cached.len(), 1, "the fetched image is cached");
    drop(nginx);
    let f = &Nginx::recordings_in(dir.path())[0];
    let frames = luma_frames(f, 320, 180);
    let last = mean(frames.last().unwrap());
    let want = mean(&luma_frames(&img, 320, 180)[0]);
    assert!(
        last.abs_diff(want) <= 4,
        "the waiting image on air: {last} vs {want}"
    );

    // nginx gone: the fetch fails and the cached copy is used
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::write(
        dir2.path().join("c.toml"),
        format!("url = \"rtmp://127.0.0.1:9/live/k\"\nwaiting-image = \"{url}\"\n"),
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["check-config"])
        .arg(dir2.path().join("c.toml"))
        .env("CACHE_DIRECTORY", &cache)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("using the cached copy") && !err.contains("IMGTOKEN"),
        "{err}"
    );
}

#[test]
fn events_stream_and_the_torch_without_one() {
    need("nginx");
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let sock = dir.path().join("ctl.sock");
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/{KEY}\"\nautopush = true\n[video]\nwidth = 320\nheight = 180\nfps = 10\n[control]\nlisten = \"unix:{}\"\n",
        nginx.rtmp_port,
        sock.display()
    );
    let r = Running::start(dir.path(), &cfg);
    code_time(&r, 1002, 0);
    let (c, v) = ctl_json(&sock, &["toggle-torch"]);
    assert_eq!(
        (c, v["error"]["code"].as_str()),
        (1, Some("no-torch")),
        "{v}"
    );
    // two seconds of the event stream: netstatus lines, as SSE
    let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    s.write_all(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(2500)))
        .unwrap();
    let mut got = Vec::new();
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    while t.elapsed() < Duration::from_millis(2500) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.contains("text/event-stream"),
        "{text}"
    );
    assert!(
        text.matches("data: {\"event\":\"netstatus\"").count() >= 1,
        "{text}"
    );
    r.stop();
}
