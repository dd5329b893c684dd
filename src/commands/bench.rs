//! `livepush bench`: the same raw 1280x720@30 input and 48 kHz stereo tone
//! pushed for N seconds to one nginx-rtmp on loopback by livepush and by its
//! peers (GStreamer with the same encoder library, ffmpeg with libx264), in
//! one run. A tap proxy in front of nginx times the first key frame at the
//! server and counts the frames delivered; wait4() gives CPU time and peak RSS.
//! Peer command lines are those of `shared/reference/rig.md` section 3.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rml_rtmp::chunk_io::ChunkDeserializer;
use rml_rtmp::messages::RtmpMessage;

const W: u32 = 1280;
const H: u32 = 720;
const FPS: u32 = 30;

/// One measured run.
struct Row {
    name: String,
    cpu_s_per_min: f64,
    peak_rss_mb: f64,
    first_key_ms: Option<f64>,
    video_frames: u64,
    allocs_per_frame: Option<f64>,
    /// The indicator thread's own report (wake-ups, CPU), when it ran.
    indicators: Option<String>,
}

#[derive(Default)]
struct TapStats {
    first_key: Option<Instant>,
    video: u64,
}

/// Runs the benchmark; prints the table.
pub fn run(seconds: u32, dir: &Path) -> Result<(), String> {
    for t in ["ffmpeg", "nginx", "gst-launch-1.0"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            return Err(format!("{t} is not installed (apt-get install ffmpeg nginx libnginx-mod-rtmp gstreamer1.0-tools gstreamer1.0-plugins-bad gstreamer1.0-libav)"));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = &dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let yuv = dir.join(format!("in{seconds}.yuv"));
    let tone = dir.join(format!("tone{seconds}.raw"));
    make_inputs(seconds, &yuv, &tone)?;
    let (port, _nginx) = start_nginx(&dir.join("nginx"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let cfg = dir.join("bench.toml");
    let mut rows = Vec::new();

    // livepush with openh264, and with libx264 when built with the feature;
    // openh264 again with the indicators: a 128x64 SSD1306 (the real driver
    // and drawing on a null I2C bus: no adapter here) and four LED class
    // LEDs (plain files standing in for sysfs)
    let mut encoders = vec![
        ("livepush (openh264 + fdk-aac)", "openh264", false),
        (
            "livepush (openh264 + fdk-aac) + indicators",
            "openh264",
            true,
        ),
    ];
    if cfg!(feature = "x264") {
        encoders.push(("livepush (x264 ultrafast + fdk-aac)", "x264", false));
    }
    let boards = dir.join("boards");
    let leds = dir.join("leds");
    indicator_fixtures(&boards, &leds)?;
    for (name, encoder, indicators) in encoders {
        let tap = Tap::start(port)?;
        std::fs::write(
            &cfg,
            format!(
                "url = \"rtmp://127.0.0.1:{}/live/livepush-{encoder}\"\nautopush = true\n{}mode = \"HD\"\norientation = \"horizontal\"\nmax-bitrate = 2500\n[video]\ndevice = \"file:{}\"\nbitrate = 2500\nencoder = \"{encoder}\"\n[audio]\ndevice = \"file:{}\"\nsample-rate = 48000\nchannels = 2\nbitrate = 128\n[events]\nto = \"file:/dev/null\"\n[control]\nlisten = []\n",
                tap.port,
                if indicators { "board = \"bench\"\n" } else { "" },
                yuv.display(),
                tone.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let mut c = Command::new(&exe);
        c.args(["run", "--config"])
            .arg(&cfg)
            .args(["--seconds", &seconds.to_string()]);
        if indicators {
            c.env("LIVEPUSH_BOARDS_DIR", &boards)
                .env("LIVEPUSH_LEDS_DIR", &leds)
                .env("LIVEPUSH_NULL_I2C", "1");
        }
        rows.push(measure(name, c, tap, seconds)?);
    }

    // GStreamer with the same H.264 library
    let tap = Tap::start(port)?;
    let gst = format!(
        "gst-launch-1.0 -q -e filesrc location={y} ! rawvideoparse width={W} height={H} format=i420 framerate={FPS}/1 ! queue max-size-buffers=4 ! openh264enc complexity=low rate-control=bitrate bitrate=2500000 gop-size=60 ! h264parse ! video/x-h264,stream-format=avc ! queue ! mux. filesrc location={t} ! rawaudioparse format=pcm pcm-format=s16le sample-rate=48000 num-channels=2 ! queue ! audioconvert ! avenc_aac bitrate=128000 ! aacparse ! queue ! mux. flvmux name=mux streamable=true ! rtmp2sink location=rtmp://127.0.0.1:{p}/live/gst",
        y = yuv.display(),
        t = tone.display(),
        p = tap.port
    );
    let mut c = Command::new("sh");
    c.arg("-c").arg(format!("exec {gst}"));
    rows.push(measure(
        "GStreamer openh264enc + avenc_aac + rtmp2sink",
        c,
        tap,
        seconds,
    )?);

    // ffmpeg with libx264 (livepush's x264 feature is not built yet)
    let tap = Tap::start(port)?;
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-loglevel", "error", "-y", "-re", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", &format!("{W}x{H}"), "-r", &FPS.to_string(), "-i"])
        .arg(&yuv)
        .args(["-re", "-f", "s16le", "-ar", "48000", "-ac", "2", "-i"])
        .arg(&tone)
        .args(["-t", &seconds.to_string()])
        .args("-c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -g 60 -b:v 2500k -maxrate 2500k -bufsize 2500k -c:a aac -b:a 128k -ar 48000 -ac 2 -f flv".split(' '))
        .arg(format!("rtmp://127.0.0.1:{}/live/ff", tap.port));
    rows.push(measure("ffmpeg libx264 ultrafast + aac", c, tap, seconds)?);

    println!("\n{seconds} s of 1280x720@30 I420 + 48 kHz stereo s16le, 2.5 Mbit/s H.264 + 128 kbit/s AAC, to nginx-rtmp on loopback");
    println!(
        "{:<48} {:>12} {:>10} {:>16} {:>8} {:>12}",
        "", "CPU s/min", "peak RSS", "1st key frame", "frames", "allocs/frame"
    );
    for r in &rows {
        println!(
            "{:<48} {:>12.2} {:>7.1} MB {:>13} {:>8} {:>12}",
            r.name,
            r.cpu_s_per_min,
            r.peak_rss_mb,
            r.first_key_ms.map_or("-".into(), |m| format!("{m:.0} ms")),
            r.video_frames,
            r.allocs_per_frame.map_or("-".into(), |a| format!("{a:.2}"))
        );
    }
    for r in rows.iter().filter(|r| r.indicators.is_some()) {
        println!(
            "{}: {}",
            r.name,
            r.indicators.as_deref().unwrap_or_default()
        );
    }
    if let (Some(a), Some(b)) = (
        rows.iter().find(|r| r.indicators.is_some()),
        rows.iter()
            .find(|r| r.name == "livepush (openh264 + fdk-aac)"),
    ) {
        // the indicator thread's own CPU time is the precise figure; the
        // processes' totals differ by more than that from run to run
        let thread_ms = a
            .indicators
            .as_deref()
            .and_then(|r| r.split(", ").nth(1))
            .and_then(|c| c.split(' ').next())
            .and_then(|v| v.parse::<f64>().ok());
        println!(
            "indicators' cost: their thread {} CPU per stream-minute; whole process CPU {:+.2} s/min ({:.3}x, run-to-run noise included), allocations per frame {} vs {}",
            thread_ms.map_or("-".into(), |ms| format!("{:.1} ms", ms * 60.0 / f64::from(seconds))),
            a.cpu_s_per_min - b.cpu_s_per_min,
            a.cpu_s_per_min / b.cpu_s_per_min,
            a.allocs_per_frame.map_or("-".into(), |x| format!("{x:.2}")),
            b.allocs_per_frame.map_or("-".into(), |x| format!("{x:.2}"))
        );
    }
    let find = |prefix: &str| rows.iter().find(|r| r.name.starts_with(prefix));
    let pairs = [
        (
            "livepush (openh264",
            "GStreamer openh264enc",
            "same encoder library",
        ),
        ("livepush (x264", "ffmpeg libx264", "same encoder library"),
        ("livepush (openh264", "ffmpeg libx264", "different encoders"),
    ];
    println!();
    for (a, b, what) in pairs {
        if let (Some(a), Some(b)) = (find(a), find(b)) {
            println!(
                "{} / {} ({what}): CPU {:.2}x, peak RSS {:.2}x, first key frame {}",
                a.name,
                b.name,
                a.cpu_s_per_min / b.cpu_s_per_min,
                a.peak_rss_mb / b.peak_rss_mb,
                ratio(a.first_key_ms, b.first_key_ms)
            );
        }
    }
    Ok(())
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn make_inputs(seconds: u32, yuv: &Path, tone: &Path) -> Result<(), String> {
    let frames = u64::from(seconds * FPS);
    let want = frames * u64::from(W * H * 3 / 2);
    if std::fs::metadata(yuv).map(|m| m.len()).unwrap_or(0) != want {
        eprintln!(
            "bench: generating {} ({frames} frames of testsrc2)",
            yuv.display()
        );
        sh(Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={W}x{H}:rate={FPS}"),
                "-frames:v",
                &frames.to_string(),
                "-pix_fmt",
                "yuv420p",
                "-f",
                "rawvideo",
            ])
            .arg(yuv))?;
    }
    if std::fs::metadata(tone).map(|m| m.len()).unwrap_or(0) != u64::from(seconds) * 48000 * 4 {
        sh(Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                &format!("sine=frequency=1000:sample_rate=48000:duration={seconds}"),
                "-af",
                "pan=stereo|c0=c0|c1=0.5*c0",
                "-ar",
                "48000",
                "-ac",
                "2",
                "-f",
                "s16le",
            ])
            .arg(tone))?;
    }
    Ok(())
}

fn sh(c: &mut Command) -> Result<(), String> {
    let st = c.status().map_err(|e| e.to_string())?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{c:?} failed: {st}"))
    }
}

struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker too (SIGKILL would orphan
        // it, holding the bench's stdout and stderr open)
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_nginx(dir: &Path) -> Result<(u16, Nginx), String> {
    for d in ["logs", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let d = dir.display();
    let conf = format!(
        "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\nevents {{ worker_connections 64; }}\nrtmp {{ server {{ listen 127.0.0.1:{port}; chunk_size 4096; application live {{ live on; }} }} }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("logs/error.log"))
        .spawn()
        .map_err(|e| format!("nginx: {e}"))?;
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(5) {
            return Err("nginx did not start".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((port, Nginx(child)))
}

/// A one-connection TCP proxy in front of nginx that parses the client's RTMP chunks.
struct Tap {
    port: u16,
    stats: Arc<Mutex<TapStats>>,
}

impl Tap {
    fn start(upstream: u16) -> Result<Tap, String> {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        let stats = Arc::new(Mutex::new(TapStats::default()));
        let st = stats.clone();
        std::thread::spawn(move || {
            let Ok((mut client, _)) = l.accept() else {
                return;
            };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
            let mut buf = vec![0u8; 64 * 1024];
            let mut handshake_left = 3073usize; // C0 + C1 + C2
            let mut de = ChunkDeserializer::new();
            loop {
                let n = match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if server.write_all(&buf[..n]).is_err() {
                    break;
                }
                let skip = handshake_left.min(n);
                handshake_left -= skip;
                let mut input = &buf[skip..n];
                while let Ok(Some(p)) = de.get_next_message(input) {
                    input = &[];
                    if p.type_id == 9 {
                        let mut s = st.lock().unwrap();
                        s.video += 1;
                        if s.first_key.is_none()
                            && p.data.len() > 1
                            && p.data[0] == 0x17
                            && p.data[1] == 1
                        {
                            s.first_key = Some(Instant::now());
                        }
                    } else if let Ok(RtmpMessage::SetChunkSize { size }) = p.to_rtmp_message() {
                        let _ = de.set_max_chunk_size(size as usize);
                    }
                }
            }
            let _ = server.shutdown(std::net::Shutdown::Write);
        });
        Ok(Tap { port, stats })
    }
}

fn measure(name: &str, mut cmd: Command, tap: Tap, seconds: u32) -> Result<Row, String> {
    eprintln!("bench: {name} ...");
    let started = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut status = 0;
    // SAFETY: plain wait4 on our own child with a zeroed rusage.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut ru);
        ru
    };
    let err = reader.join().unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("{name} failed (status {status}):\n{err}"));
    }
    std::thread::sleep(Duration::from_millis(200));
    let cpu = ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6;
    let st = tap.stats.lock().unwrap();
    let allocs = err
        .lines()
        .find_map(|l| {
            l.split("steady-state heap allocations per video frame: ")
                .nth(1)
        })
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok());
    Ok(Row {
        name: name.to_string(),
        cpu_s_per_min: cpu * 60.0 / f64::from(seconds),
        peak_rss_mb: ru.ru_maxrss as f64 / 1024.0,
        first_key_ms: st.first_key.map(|t| (t - started).as_secs_f64() * 1000.0),
        video_frames: st.video,
        allocs_per_frame: allocs,
        indicators: err
            .lines()
            .find_map(|l| {
                l.split("indicators: ")
                    .nth(1)
                    .filter(|r| r.contains("wake-ups"))
            })
            .map(str::to_string),
    })
}

/// The benchmark's board: four LED class LEDs (plain files under `leds`)
/// and a 128x64 SSD1306.
fn indicator_fixtures(boards: &Path, leds: &Path) -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(boards).map_err(e)?;
    std::fs::write(
        boards.join("bench.toml"),
        "name = \"bench\"\narch = \"x86_64\"\nencoders = [\"software\"]\n[leds]\npower = \"b:power\"\nlive = \"b:live\"\nnet = \"b:net\"\nerror = \"b:error\"\n[display]\nkind = \"ssd1306\"\ni2c = \"/dev/i2c-1\"\naddress = 0x3c\n",
    )
    .map_err(e)?;
    for n in ["b:power", "b:live", "b:net", "b:error"] {
        let d = leds.join(n);
        std::fs::create_dir_all(&d).map_err(e)?;
        std::fs::write(d.join("max_brightness"), "255\n").map_err(e)?;
        std::fs::write(d.join("trigger"), "[none] timer pattern\n").map_err(e)?;
        std::fs::write(d.join("brightness"), "0\n").map_err(e)?;
    }
    Ok(())
}

/// Default working directory for inputs.
pub fn default_dir() -> PathBuf {
    PathBuf::from("target/bench")
}
