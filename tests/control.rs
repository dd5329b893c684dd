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

/// Every decoded frame's luma plane.
fn luma_frames(file: &Path, w: u32, h: u32) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact((w * h) as usize)
        .map(<[u8]>::to_vec)
        .collect()
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
    let st = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=0x2040c0:s=320x180",
            "-frames:v",
            "1",
        ])
        .arg(&img)
        .status()
        .unwrap();
    assert!(st.success());
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
