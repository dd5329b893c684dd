//! Shared helpers for the loopback integration tests: a real nginx-rtmp on
//! loopback from a config written at test time, the real livepush binary, and
//! ffprobe/ffmpeg as the oracle reading back what was pushed.

#![allow(dead_code)]

pub mod browser;
pub mod fault_proxy;
pub mod fault_server;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The livepush binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_livepush")
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the port.
pub fn wait_listening(port: u16, within: Duration) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < within, "nothing listens on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fails the test with a clear message when a Debian tool is missing.
pub fn need(tool: &str) {
    let ok = Command::new(tool)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(ok, "{tool} is not installed: run `bash .ci/run` (or apt-get install nginx libnginx-mod-rtmp ffmpeg)");
}

/// nginx with the rtmp module on loopback, recording every publish.
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
    pub rtmp_port: u16,
    pub http_port: u16,
    /// With TLS in front (nginx's stream module terminating it): its port.
    pub tls_port: Option<u16>,
    /// With TLS: HTTPS in front of the http server (`/files/`), its port.
    pub https_port: Option<u16>,
}

impl Nginx {
    /// Starts nginx in `dir`. `app_extra` goes into `application live { }`.
    pub fn start(dir: &Path, app_extra: &str) -> Nginx {
        Self::start_full(dir, app_extra, None)
    }

    /// Starts nginx with a TLS listener (certificate and key PEM files) whose
    /// stream module terminates TLS and relays to the rtmp module: rtmps://.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Nginx {
        Self::start_full(dir, "", Some((cert, key)))
    }

    fn start_full(dir: &Path, app_extra: &str, tls: Option<(&Path, &Path)>) -> Nginx {
        need("nginx");
        let (rtmp_port, http_port) = (free_port(), free_port());
        let tls_port = tls.map(|_| free_port());
        let https_port = tls.map(|_| free_port());
        let (stream_module, stream) = match (tls, tls_port, https_port) {
            (Some((cert, key)), Some(port), Some(https)) => (
                "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n".to_string(),
                format!(
                    "stream {{\n  ssl_certificate {c};\n  ssl_certificate_key {k};\n  server {{\n    listen 127.0.0.1:{port} ssl;\n    proxy_pass 127.0.0.1:{rtmp_port};\n  }}\n  server {{\n    listen 127.0.0.1:{https} ssl;\n    proxy_pass 127.0.0.1:{http_port};\n  }}\n}}\n",
                    c = cert.display(),
                    k = key.display()
                ),
            ),
            _ => (String::new(), String::new()),
        };
        for d in ["logs", "rec", "tmp", "files"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let d = dir.display();
        let user = if unsafe_is_root() {
            "user root root;\n"
        } else {
            ""
        };
        let conf = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n{stream_module}{user}daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log info;\nevents {{ worker_connections 256; }}\n\
rtmp {{\n  access_log {d}/logs/rtmp_access.log;\n  server {{\n    listen 127.0.0.1:{rtmp_port};\n    chunk_size 4096;\n    application live {{\n      live on;\n      record all;\n      record_path {d}/rec;\n      record_unique on;\n      {app_extra}\n    }}\n  }}\n}}\n\
http {{\n  access_log {d}/logs/http_access.log;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n  server {{\n    listen 127.0.0.1:{http_port};\n    location /stat {{ rtmp_stat all; }}\n    location /control {{ rtmp_control all; }}\n    location /files/ {{ alias {d}/files/; }}\n  }}\n}}\n{stream}"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Self::spawn(dir);
        wait_listening(rtmp_port, Duration::from_secs(10));
        if let Some(p) = tls_port {
            wait_listening(p, Duration::from_secs(10));
        }
        Nginx {
            child,
            dir: dir.to_path_buf(),
            rtmp_port,
            http_port,
            tls_port,
            https_port,
        }
    }

    fn spawn(dir: &Path) -> Child {
        use std::os::unix::process::CommandExt;
        Command::new("nginx")
            // its own process group: `kill` reaches the master and every
            // worker at once (one by one, a master could respawn a worker
            // between the two kills, and that orphan would go on serving)
            .process_group(0)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx")
    }

    /// SIGKILL to the master and its workers, all at once (a crash, not a
    /// shutdown); returns once nothing listens on the port any more.
    pub fn kill(&mut self) {
        let group = self.child.id() as i32;
        // SAFETY: kill(2) on nginx's own process group (spawned with it).
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
        let t = Instant::now();
        while is_listening(self.rtmp_port) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "port {} still listening 5 s after nginx was killed",
                self.rtmp_port
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Starts nginx again on the same ports; returns when it listens (and that time).
    pub fn restart(&mut self) -> Instant {
        self.child = Self::spawn(&self.dir);
        let t = Instant::now();
        loop {
            if is_listening(self.rtmp_port) {
                return Instant::now();
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "nginx did not come back"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The FLV files nginx recorded.
    pub fn recordings(&self) -> Vec<PathBuf> {
        Self::recordings_in(&self.dir)
    }

    /// The FLV files an nginx started in `dir` recorded (also after it stopped).
    pub fn recordings_in(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("rec"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }
}

fn unsafe_is_root() -> bool {
    std::env::var("USER").map_or(false, |u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: graceful stop, recordings closed
        let _ = Command::new("kill")
            .arg("-QUIT")
            .arg(self.child.id().to_string())
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a `livepush run` printed and how it ended.
pub struct Pushed {
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
    pub status: ExitStatus,
}

impl Pushed {
    /// The statechange codes in order.
    pub fn codes(&self) -> Vec<i64> {
        self.events
            .iter()
            .filter(|e| e["event"] == "statechange")
            .map(|e| e["code"].as_i64().unwrap())
            .collect()
    }
    /// The netstatus infos.
    pub fn netstatus(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["event"] == "netstatus")
            .map(|e| &e["info"])
            .collect()
    }
    /// Asserts a secret appears nowhere in what livepush printed.
    pub fn assert_secret_hidden(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret),
            "secret in stdout:\n{}",
            self.stdout
        );
        assert!(
            !self.stderr.contains(secret),
            "secret in stderr:\n{}",
            self.stderr
        );
    }
}

/// Writes `config` to `dir/livepush.toml` and runs `livepush run` for `seconds`.
pub fn push(dir: &Path, config: &str, seconds: f64) -> Pushed {
    push_with_env(dir, config, seconds, &[])
}

/// [`push`] with extra environment variables (test hooks).
pub fn push_with_env(dir: &Path, config: &str, seconds: f64, env: &[(&str, &str)]) -> Pushed {
    let path = dir.join("livepush.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(bin())
        .args(["run", "--config"])
        .arg(&path)
        .args(["--seconds", &seconds.to_string()])
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .expect("run livepush");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let events = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
        .collect();
    Pushed {
        stdout,
        stderr,
        events,
        status: out.status,
    }
}

/// A `livepush run` in the background: its events arrive with the time they
/// were printed, so tests can act on them (kill the server after 1002, ...).
pub struct Running {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<(Instant, Value)>>>,
    raw: std::sync::Arc<std::sync::Mutex<String>>,
    stderr_file: PathBuf,
}

impl Running {
    /// Writes `config` to `dir/livepush.toml` and starts `livepush run`.
    pub fn start(dir: &Path, config: &str) -> Running {
        Self::start_env(dir, config, &[])
    }

    /// As [`Running::start`], with extra environment variables.
    pub fn start_env(dir: &Path, config: &str, env: &[(&str, &Path)]) -> Running {
        Self::start_with(dir, config, &[], env)
    }

    /// As [`Running::start`], with extra arguments to `run` and extra
    /// environment variables.
    pub fn start_with(dir: &Path, config: &str, args: &[&str], env: &[(&str, &Path)]) -> Running {
        use std::io::BufRead;
        let path = dir.join("livepush.toml");
        std::fs::write(&path, config).unwrap();
        let stderr_file = dir.join("livepush.stderr");
        let mut child = Command::new(bin())
            .args(["run", "--config"])
            .arg(&path)
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_file).unwrap())
            .spawn()
            .expect("start livepush");
        let out = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let raw = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (l, r) = (lines.clone(), raw.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                r.lock().unwrap().push_str(&(line + "\n"));
                l.lock().unwrap().push((Instant::now(), v));
            }
        });
        Running {
            child,
            lines,
            raw,
            stderr_file,
        }
    }

    /// The events so far, with when they arrived.
    pub fn events(&self) -> Vec<(Instant, Value)> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits for the first statechange `code` among events from index `from` on;
    /// returns its index and arrival time.
    pub fn wait_code(&self, code: i64, from: usize, within: Duration) -> (usize, Instant) {
        let t = Instant::now();
        loop {
            if let Some(hit) = self
                .events()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, (_, e))| e["event"] == "statechange" && e["code"] == code)
            {
                return (hit.0, hit.1 .0);
            }
            assert!(
                t.elapsed() < within,
                "no {code} within {within:?}:\n{}",
                self.raw.lock().unwrap()
            );
            assert!(
                self.child_alive(),
                "livepush exited:\n{}",
                std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn child_alive(&self) -> bool {
        std::fs::metadata(format!("/proc/{}", self.child.id())).is_ok()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
                .unwrap_or_default()
                .contains(") Z")
    }

    /// Sends `signal` (a `kill` name: "HUP", "TERM").
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal}");
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Open file descriptors now.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Resident memory now, kB.
    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS:")
    }

    /// The anonymous part of resident memory now, kB: heap, stacks and
    /// anonymous maps, what a leak grows. (The rest of RSS is file pages:
    /// the binary's and libraries' code, paged in the first time a code
    /// path runs, and shared memory.)
    pub fn anon_kb(&self) -> u64 {
        self.status_kb("RssAnon:")
    }

    /// One "kB" field of /proc/PID/status.
    fn status_kb(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.child.id()))
    }

    /// SIGTERM, wait, and everything it printed.
    pub fn stop(mut self) -> Pushed {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let stdout = self.raw.lock().unwrap().clone();
        let events = self.events().into_iter().map(|(_, v)| v).collect();
        Pushed {
            stdout,
            stderr: std::fs::read_to_string(&self.stderr_file).unwrap_or_default(),
            events,
            status,
        }
    }
}

/// A built-in receiver process.
pub struct Receiver {
    pub child: Child,
    pub port: u16,
    pub out: PathBuf,
}

impl Receiver {
    pub fn start(dir: &Path, extra: &[&str]) -> Receiver {
        let port = free_port();
        let out = dir.join("received.flv");
        let child = Command::new(bin())
            .args(["receive", "--listen", &format!("127.0.0.1:{port}"), "--out"])
            .arg(&out)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start livepush receive");
        wait_listening(port, Duration::from_secs(10));
        Receiver { child, port, out }
    }

    /// Waits for the receiver to exit (it does when the publisher ends); returns its stderr.
    pub fn finish(mut self, within: Duration) -> String {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                assert!(st.success(), "receiver failed: {st}\n{err}");
                return err;
            }
            assert!(t.elapsed() < within, "receiver did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// ffprobe's view of a recording.
#[derive(Debug)]
pub struct Probe {
    pub streams: Vec<Value>,
    pub duration: f64,
    /// Video packet PTS (s) and key flags.
    pub video_packets: Vec<(f64, bool)>,
    /// Bytes of all video packets.
    pub video_bytes: u64,
    pub audio_packets: usize,
}

pub fn probe(file: &Path) -> Probe {
    need("ffprobe");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_entries"])
        .arg("format=duration:stream=index,codec_type,codec_name,profile,width,height,sample_rate,channels:packet=stream_index,pts_time,flags,size")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let vidx = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .and_then(|s| s["index"].as_i64());
    let mut video_packets = Vec::new();
    let mut audio_packets = 0;
    let mut video_bytes = 0;
    for p in v["packets"].as_array().cloned().unwrap_or_default() {
        let idx = p["stream_index"].as_i64();
        if idx == vidx {
            let pts: f64 = p["pts_time"].as_str().unwrap_or("0").parse().unwrap();
            video_packets.push((pts, p["flags"].as_str().unwrap_or("").starts_with('K')));
            video_bytes += p["size"].as_str().unwrap_or("0").parse::<u64>().unwrap();
        } else {
            audio_packets += 1;
        }
    }
    let duration = v["format"]["duration"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap();
    Probe {
        streams,
        duration,
        video_packets,
        video_bytes,
        audio_packets,
    }
}

/// Everything ffmpeg complains about when decoding the whole file (empty = clean).
pub fn decode_errors(file: &Path) -> String {
    need("ffmpeg");
    // every frame at its own time, in milliseconds like FLV: ffmpeg's null
    // output otherwise counts in 1/fps ticks and calls two frames 85 ms apart
    // at 10 fps (camera jitter, valid FLV) "non monotonically increasing dts"
    // (equal FLV timestamps would still be caught)
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-fps_mode",
            "passthrough",
            "-enc_time_base:v",
            "1/1000",
            "-f",
            "null",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg failed on {}", file.display());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every decoded frame's luma plane (ffmpeg's gray: full range).
pub fn luma_frames(file: &Path, w: u32, h: u32) -> Vec<Vec<u8>> {
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
    assert!(
        out.status.success(),
        "ffmpeg gray decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact((w * h) as usize)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Decodes every frame's luma and reads the burned-in counter back.
pub fn frame_counters(file: &Path, w: u32, h: u32) -> Vec<Option<u32>> {
    luma_frames(file, w, h)
        .iter()
        .map(|f| livepush_core::synth::pattern::read_counter(f, w, h))
        .collect()
}

/// A picture file of one colour (`color` as ffmpeg's lavfi names it) made
/// by ffmpeg: PNG or JPEG by the name, or raw I420 (two frames) for `.yuv`.
pub fn flat_image(path: &Path, color: &str, w: u32, h: u32) {
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("color=c={color}:s={w}x{h}"));
    if path.extension().is_some_and(|e| e == "yuv") {
        c.args(["-frames:v", "2", "-pix_fmt", "yuv420p", "-f", "rawvideo"]);
    } else {
        c.args(["-frames:v", "1"]);
    }
    assert!(
        c.arg(path).status().unwrap().success(),
        "ffmpeg made no {}",
        path.display()
    );
}

/// What a recording must hold.
pub struct Expect {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub seconds: f64,
    pub sample_rate: u32,
    pub channels: u32,
}

/// The oracle: streams, size, frame rate, duration, sample rate, clean decode, no lost frames.
pub fn check_recording(file: &Path, e: &Expect) {
    let p = probe(file);
    let video: Vec<&Value> = p
        .streams
        .iter()
        .filter(|s| s["codec_type"] == "video")
        .collect();
    let audio: Vec<&Value> = p
        .streams
        .iter()
        .filter(|s| s["codec_type"] == "audio")
        .collect();
    assert_eq!(video.len(), 1, "one video stream: {:?}", p.streams);
    assert_eq!(audio.len(), 1, "one audio stream: {:?}", p.streams);
    assert_eq!(video[0]["codec_name"], "h264");
    assert_eq!(audio[0]["codec_name"], "aac");
    assert_eq!(audio[0]["profile"], "LC");
    assert_eq!(video[0]["width"].as_u64(), Some(u64::from(e.width)));
    assert_eq!(video[0]["height"].as_u64(), Some(u64::from(e.height)));
    assert_eq!(
        audio[0]["sample_rate"].as_str(),
        Some(e.sample_rate.to_string().as_str())
    );
    assert_eq!(audio[0]["channels"].as_u64(), Some(u64::from(e.channels)));
    // frame rate from packet count over the PTS span (FLV has ms timestamps)
    let n = p.video_packets.len();
    assert!(n > 10, "only {n} video packets");
    assert!(p.video_packets[0].1, "first video packet is a key frame");
    let span = p.video_packets[n - 1].0 - p.video_packets[0].0;
    let fps = (n - 1) as f64 / span;
    assert!(
        (fps - e.fps).abs() <= e.fps * 0.05,
        "fps {fps:.2}, want {} ±5%",
        e.fps
    );
    assert!(
        (p.duration - e.seconds).abs() <= e.seconds * 0.10,
        "duration {:.2} s, want {} ±10%",
        p.duration,
        e.seconds
    );
    assert!(p.audio_packets > 0);
    let errors = decode_errors(file);
    assert!(errors.is_empty(), "ffmpeg decode errors:\n{errors}");
    let counters = frame_counters(file, e.width, e.height);
    assert_eq!(counters.len(), n, "decoded frames = packets");
    let read: Vec<u32> = counters
        .iter()
        .map(|c| c.expect("burned-in counter readable in every frame"))
        .collect();
    for w in read.windows(2) {
        assert_eq!(w[1], w[0] + 1, "frame counter gap: {} then {}", w[0], w[1]);
    }
}

/// Whether a socket listens on 127.0.0.1:`port` (read from /proc/net/tcp,
/// without connecting to it).
pub fn is_listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
}

/// Raw I420 video made by ffmpeg from a lavfi source `graph` (like
/// `testsrc2=size=320x180:rate=20`), `frames` long, written to `dir/name`.
pub fn lavfi_yuv(dir: &Path, name: &str, graph: &str, frames: u32) -> PathBuf {
    need("ffmpeg");
    let out = dir.join(name);
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i", graph])
        .args(["-frames:v", &frames.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-f", "rawvideo"])
        .arg(&out)
        .status()
        .expect("run ffmpeg")
        .success();
    assert!(ok, "ffmpeg could not make {graph}");
    out
}

/// Presentation times (s) of a recording's packets of one type (`"v"` or
/// `"a"`: its first video or audio stream), in order.
pub fn packet_times(file: &Path, kind: &str) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams"])
        .arg(format!("{kind}:0"))
        .args(["-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// A recording's audio, decoded to 48 kHz mono s16.
pub fn decode_audio(file: &Path) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map", "0:a:0", "-ac", "1", "-ar", "48000", "-f", "s16le", "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg audio decode failed");
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// The audio/video offset of a recording of the synthetic sources, ms, once
/// per second: the tone's sync mark (silent for the first
/// `synth::tone::SYNC_GAP_MS` of every second of the shared clock) against
/// the frame whose burned-in counter is that second (`fps` frames a second).
/// Positive: the sound comes late. The decoded audio's onset after each gap
/// is found on a 0.25 ms envelope. A mark outside the video's time span
/// (more than half a frame before its first frame or after its last: the
/// edges of a cut, where audio and video start or end at different times)
/// has no frame of its second to compare with and is left out: the nearest
/// one would be a whole second away.
pub fn av_offsets_ms(file: &Path, w: u32, h: u32, fps: u32) -> Vec<f64> {
    const RATE: usize = 48000;
    let video = packet_times(file, "v");
    let audio = packet_times(file, "a");
    let counters = frame_counters(file, w, h);
    assert_eq!(counters.len(), video.len(), "decoded frames = packets");
    let pcm = decode_audio(file);
    // the tone is about 8192 peak: quiet under 1000, sounding over 4000
    let win = RATE / 4000;
    let gap = f64::from(livepush_core::synth::tone::SYNC_GAP_MS) / 1000.0;
    let mut offsets = Vec::new();
    let first = video.iter().copied().fold(f64::INFINITY, f64::min);
    let last = video.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let half = 0.5 / f64::from(fps);
    let mut quiet = 0;
    // after a gap of at least 5 ms: the tone's onset is where it passes half
    // its peak (within 5 ms of rising out of the gap)
    let mut armed: Option<usize> = None;
    for (j, w) in pcm.chunks_exact(win).enumerate() {
        let e = w.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        if e < 1000 {
            quiet += 1;
            armed = None;
            continue;
        }
        if quiet >= 20 {
            armed = Some(j);
        }
        quiet = 0;
        if armed.is_some_and(|a| j - a > 20) {
            armed = None;
        }
        if armed.is_some() && e > 4000 {
            armed = None;
            let onset = audio[0] + (j * win) as f64 / RATE as f64;
            let mark = onset - gap;
            if mark < first - half || mark > last + half {
                continue;
            }
            // the frame showing that whole second
            let frame = counters
                .iter()
                .zip(&video)
                .filter(|(c, _)| c.is_some_and(|c| c % fps == 0))
                .map(|(_, t)| mark - t)
                .min_by(|a, b| a.abs().total_cmp(&b.abs()));
            if let Some(d) = frame {
                offsets.push(d * 1000.0);
            }
        }
    }
    offsets
}

/// One series' value in `/metrics`, read over the control API's Unix socket.
pub fn unix_metric(socket: &Path, series: &str) -> Option<f64> {
    unix_metrics(socket)?
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// The control API's `/metrics` text, read over its Unix socket.
pub fn unix_metrics(socket: &Path) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

/// `livepush ctl --socket SOCKET ARGS...`: its exit code and JSON answer
/// (Null when it printed none).
pub fn ctl_json(socket: &Path, args: &[&str]) -> (i32, Value) {
    let out = Command::new(bin())
        .args(["ctl", "--socket"])
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(text.trim()).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}
