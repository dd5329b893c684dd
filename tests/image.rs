//! The flashable image, booted (issue 15): `image-build/build.sh`'s qemu-virt
//! image starts under qemu (software emulation, UEFI firmware from Debian's
//! qemu-efi-aarch64 / ovmf, the image's own systemd-boot, kernel and
//! initramfs) with nothing but what a person would put on its boot
//! partition: `livepush.toml` pointing at nginx-rtmp on the host (qemu's
//! user network: the host is 10.0.2.2), an ssh key, and the kernel command
//! line loading vivid and snd-aloop (the camera and the microphone a real box
//! has on USB). From the host the tests check that the box publishes on its
//! own (and how long after power-on), that the recording decodes with vivid's
//! colour bars and the tone played into the loopback, that `systemctl
//! status` reads like the LEDs, that systemd's watchdog restarts a frozen
//! livepush (and how long the stream is gone), that a power cut mid-stream
//! leaves a disk that boots and streams again (with the last good
//! configuration, though a broken one was put on the card meanwhile), and
//! that a bad key on a new box's boot partition is refused with its line and
//! column in the journal and nothing is streamed.
//!
//! They need the image (`bash image-build/build.sh qemu-virt-arm64`, and
//! `qemu-virt-amd64`), qemu, mtools and ssh (scripts/deps.sh image); they
//! are `#[ignore]`d so that a plain `cargo test` does not boot them.
//! scripts/test.sh builds the images and runs them with `--ignored`.
//! `LIVEPUSH_KEEP_TEST_DIR=1` keeps each test's folder (the disk, the serial
//! consoles, nginx's recordings) for a look afterwards;
//! `LIVEPUSH_IMAGE_CMDLINE` adds kernel command-line words (e.g.
//! `systemd.journald.forward_to_console=1` puts the journal on the console).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fault_proxy::flv_progress;
use common::*;

const SECRET: &str = "image-KEY-5ecret";
/// The control API's token put on the card (`api-token`).
const API_TOKEN: &str = "image-api-T0KEN-7781";

/// One GET to the box's control API through qemu's forwarded port: status
/// and body.
fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: box\r\n{auth}Connection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built image of `board`, or a panic that says how to build it.
fn image(board: &str) -> PathBuf {
    let dir = std::env::var_os("LIVEPUSH_IMAGE_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/images"));
    let p = dir.join(format!("livepush-{board}.img"));
    assert!(
        p.exists(),
        "{} missing: bash image-build/build.sh {board}",
        p.display()
    );
    p
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A copy of the image with the boot partition (FAT, at 1 MiB) as a person
/// would prepare it on their computer: `livepush.toml`, `authorized_keys`,
/// and `extra` appended to the kernel command line.
fn prepare_disk(dir: &Path, board: &str, config: &str, extra_cmdline: &str) -> PathBuf {
    let extra_cmdline = format!(
        "{extra_cmdline} {}",
        std::env::var("LIVEPUSH_IMAGE_CMDLINE").unwrap_or_default()
    );
    let extra_cmdline = extra_cmdline.trim_end();
    let disk = dir.join("disk.img");
    run(Command::new("cp")
        .arg("--sparse=always")
        .arg(image(board))
        .arg(&disk));
    let fat = format!("{}@@1M", disk.display());
    std::fs::write(dir.join("livepush.toml"), config).unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat])
        .arg(dir.join("livepush.toml"))
        .arg("::/livepush.toml"));
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat])
        .arg(dir.join("key.pub"))
        .arg("::/authorized_keys"));
    std::fs::write(dir.join("api-token"), format!("{API_TOKEN}\n")).unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat])
        .arg(dir.join("api-token"))
        .arg("::/api-token"));
    let entry = run(Command::new("mtype").args(["-i", &fat, "::/loader/entries/livepush.conf"]));
    let entry = String::from_utf8_lossy(&entry.stdout)
        .lines()
        .map(|l| {
            if l.starts_with("options ") {
                format!("{l} {extra_cmdline}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("entry.conf"), entry + "\n").unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &fat])
        .arg(dir.join("entry.conf"))
        .arg("::/loader/entries/livepush.conf"));
    disk
}

/// A booted box: qemu with the disk, its serial console in a file, ssh on a
/// forwarded host port.
struct Guest {
    child: Child,
    console: PathBuf,
    ssh_port: u16,
    /// The box's control API (its port 8088) on the host.
    api_port: u16,
    key: PathBuf,
    powered: Instant,
}

fn ssh_key(dir: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "image-test", "-f"])
        .arg(dir.join("key")));
}

impl Guest {
    fn boot(dir: &Path, board: &str, disk: &Path, tag: &str) -> Guest {
        let ssh_port = free_port();
        let console = dir.join(format!("console-{tag}.log"));
        let api_port = free_port();
        let nic = format!(
            "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{ssh_port}-:22,hostfwd=tcp:127.0.0.1:{api_port}-:8088"
        );
        let drive = format!("if=none,id=d0,format=raw,file={}", disk.display());
        let (qemu, machine, code, vars): (&str, &[&str], &str, &str) = if board.ends_with("arm64") {
            (
                "qemu-system-aarch64",
                &["-M", "virt", "-cpu", "cortex-a72"],
                "/usr/share/AAVMF/AAVMF_CODE.fd",
                "/usr/share/AAVMF/AAVMF_VARS.fd",
            )
        } else {
            (
                "qemu-system-x86_64",
                &["-M", "q35", "-cpu", "max"],
                "/usr/share/OVMF/OVMF_CODE_4M.fd",
                "/usr/share/OVMF/OVMF_VARS_4M.fd",
            )
        };
        let vars_copy = dir.join(format!("vars-{tag}.fd"));
        std::fs::copy(vars, &vars_copy).unwrap();
        let child = Command::new(qemu)
            .args(machine)
            .args(["-accel", "tcg,thread=multi", "-smp", "2", "-m", "1024"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={code}"))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars_copy.display()))
            .args(["-drive", &drive, "-device", "virtio-blk-pci,drive=d0"])
            .args(["-nic", &nic])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start qemu");
        Guest {
            child,
            console,
            ssh_port,
            api_port,
            key: dir.join("key"),
            powered: Instant::now(),
        }
    }

    fn console(&self) -> String {
        let s = std::fs::read(&self.console).unwrap_or_default();
        let s = String::from_utf8_lossy(&s);
        // the last 60 lines: where it stopped
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn ssh_cmd(&self, cmd: &str) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-p", &self.ssh_port.to_string(), "-i"])
            .arg(&self.key)
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-o",
                "LogLevel=ERROR",
                "root@127.0.0.1",
                cmd,
            ])
            .stdin(Stdio::null());
        c
    }

    /// A command on the box over ssh: its output (stdout and stderr) and
    /// whether it succeeded.
    fn sh(&self, cmd: &str) -> (bool, String) {
        let out = self.ssh_cmd(cmd).output().unwrap();
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), s)
    }

    /// Polls `f` every `every` until it gives a value; fails after `within`
    /// (showing the console's end) or as soon as qemu is gone.
    fn wait_for<T>(
        &mut self,
        what: &str,
        within: Duration,
        every: Duration,
        mut f: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let t = Instant::now();
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            self.assert_running();
            if t.elapsed() >= within {
                // what the box says about it, when it lets us in
                let (_, journal) = self.sh(
                    "journalctl -b --no-pager -o short-monotonic -u livepush -u livepush-boot-config | tail -60",
                );
                panic!(
                    "no {what} within {within:?}; console:\n{}\n--- journal\n{journal}",
                    self.console()
                );
            }
            std::thread::sleep(every);
        }
    }

    fn wait_ssh(&mut self, within: Duration) {
        self.wait_for("ssh", within, Duration::from_secs(2), |g| {
            g.sh("true").0.then_some(())
        })
    }

    fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            let mut e = String::new();
            if let Some(mut s) = self.child.stderr.take() {
                let _ = s.read_to_string(&mut e);
            }
            panic!("qemu exited ({st}): {e}\nconsole:\n{}", self.console());
        }
    }

    /// The power cord pulled: qemu killed, nothing flushed.
    fn power_cut(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a recording not in `before` that holds video frames; returns it
/// and when it got its first frame.
fn wait_new_stream(
    nginx: &Nginx,
    before: &[PathBuf],
    guest: &mut Guest,
    within: Duration,
) -> (PathBuf, Instant) {
    guest.wait_for(
        "stream at nginx",
        within,
        Duration::from_millis(200),
        |_| {
            nginx
                .recordings()
                .into_iter()
                .find(|p| !before.contains(p) && flv_progress(p).is_some_and(|(_, v)| v > 0))
                .map(|p| (p, Instant::now()))
        },
    )
}

/// Waits until the recording holds `secs` seconds past `from_ms`.
fn wait_recorded(rec: &Path, from_ms: u32, secs: u32, within: Duration) -> u32 {
    let t = Instant::now();
    loop {
        let now = flv_progress(rec).map(|(ts, _)| ts).unwrap_or(0);
        if now >= from_ms + secs * 1000 {
            return now;
        }
        assert!(
            t.elapsed() < within,
            "{}: only to {now} ms (wanted {} ms)",
            rec.display(),
            from_ms + secs * 1000
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// vivid's default test pattern (75% colour bars: white, yellow, cyan,
/// green, magenta, red, blue, black, left to right) in a decoded frame near
/// the end of the recording: each bar's mean colour.
fn assert_colour_bars(rec: &Path) {
    let out = run(Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-sseof", "-2", "-i"])
        .arg(rec)
        .args([
            "-frames:v",
            "1",
            "-vf",
            // the bottom sixth: below the text vivid writes over the bars
            "crop=iw:ih/6:0:ih*5/6,format=rgb24,scale=8:1:flags=area",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ]));
    let px = out.stdout;
    assert_eq!(px.len(), 24, "one 8x1 RGB frame");
    // 75% bars: a channel is either about 191 or about 0
    let want: [[bool; 3]; 8] = [
        [true, true, true],
        [true, true, false],
        [false, true, true],
        [false, true, false],
        [true, false, true],
        [true, false, false],
        [false, false, true],
        [false, false, false],
    ];
    for (i, w) in want.iter().enumerate() {
        let got = &px[i * 3..i * 3 + 3];
        for c in 0..3 {
            let v = got[c];
            let ok = if w[c] { v > 140 } else { v < 60 };
            assert!(ok, "bar {i}: RGB {got:?}, want {w:?} (all bars: {px:?})");
        }
    }
}

/// The tone's frequency over the recording's last two seconds, from the
/// median period between rising crossings (with hysteresis: below -10% of
/// the peak, then above +10%, so coding noise adds no crossings; the median,
/// so a dropout under emulation, the player starved of CPU, moves nothing).
fn tone_hz_at_end(rec: &Path) -> f64 {
    let s = decode_audio(rec);
    assert!(s.len() > 48000 * 3, "only {} samples", s.len());
    let end = &s[s.len() - 48000 * 2..];
    let peak = end.iter().map(|v| i32::from(*v).abs()).max().unwrap_or(0);
    assert!(peak > 1000, "silence at the end (peak {peak})");
    let t = peak / 10;
    let mut low = false;
    let mut rises = Vec::new();
    for (i, v) in end.iter().map(|v| i32::from(*v)).enumerate() {
        if v < -t {
            low = true;
        } else if v > t && low {
            low = false;
            rises.push(i);
        }
    }
    let mut periods: Vec<usize> = rises.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(periods.len() > 100, "{} periods", periods.len());
    periods.sort_unstable();
    // the median of whole-sample periods, refined by the mean of those
    // within one sample of it (48 samples at 1 kHz: 2% steps otherwise)
    let m = periods[periods.len() / 2];
    let near: Vec<f64> = periods
        .iter()
        .filter(|p| p.abs_diff(m) <= 1)
        .map(|p| *p as f64)
        .collect();
    48000.0 / (near.iter().sum::<f64>() / near.len() as f64)
}

fn config(nginx: &Nginx) -> String {
    format!(
        "board = \"qemu-virt\"\nurl = \"rtmp://10.0.2.2:{}/live/{SECRET}\"\nmode = \"RTC\"\nautopush = true\n[video]\ndevice = \"/dev/video0\"\nwidth = 320\nheight = 180\nfps = 10\n[audio]\ndevice = \"hw:Loopback,1,0\"\nsample-rate = 48000\nchannels = 2\n[control]\nlisten = [\"unix:/run/livepush/control.sock\", \"tcp:0.0.0.0:8088\"]\ntoken-file = \"/etc/livepush/api-token\"\n",
        nginx.rtmp_port
    )
}

/// The kernel command line a person would add to load the test's camera
/// (vivid: one capture node, /dev/video0) and microphone (snd-aloop).
const DEVICES: &str = "modules-load=vivid,snd-aloop vivid.n_devs=1 vivid.node_types=0x1";

const TONE: &str = "nohup speaker-test -D hw:Loopback,0,0 -c 2 -r 48000 -F S16_LE -t sine -f 1000 >/dev/null 2>&1 &";

/// The test's folder (recordings, consoles, the disk): removed at the end,
/// or kept for a look when LIVEPUSH_KEEP_TEST_DIR is set.
struct TestDir(#[allow(dead_code)] Option<tempfile::TempDir>, PathBuf);

impl TestDir {
    fn new() -> TestDir {
        let t = tempfile::tempdir().unwrap();
        if std::env::var_os("LIVEPUSH_KEEP_TEST_DIR").is_some() {
            let p = t.keep();
            eprintln!("keeping {}", p.display());
            TestDir(None, p)
        } else {
            let p = t.path().to_path_buf();
            TestDir(Some(t), p)
        }
    }
    fn path(&self) -> &Path {
        &self.1
    }
}

fn boots_publishes_survives_a_hang_and_a_power_cut(board: &str) {
    let dir = TestDir::new();
    let d = dir.path();
    let nginx = Nginx::start(d, "");
    ssh_key(d);
    let disk = prepare_disk(d, board, &config(&nginx), DEVICES);

    // 1. power on: the box publishes on its own
    let mut g = Guest::boot(d, board, &disk, "first");
    let (rec, first_frame) = wait_new_stream(&nginx, &[], &mut g, Duration::from_secs(420));
    let boot_to_publish = first_frame - g.powered;
    println!(
        "{board}: power-on to the first video frame at nginx: {:.1} s",
        boot_to_publish.as_secs_f64()
    );
    g.wait_ssh(Duration::from_secs(120));
    let (ok, out) = g.sh(TONE);
    assert!(ok, "tone: {out}");
    let now = flv_progress(&rec).map(|(ts, _)| ts).unwrap_or(0);
    wait_recorded(&rec, now, 6, Duration::from_secs(90));
    let errs = decode_errors(&rec);
    assert!(errs.is_empty(), "the recording decodes cleanly: {errs}");
    let p = probe(&rec);
    let v = p
        .streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("a video stream");
    assert_eq!(v["codec_name"], "h264");
    assert_eq!(
        (v["width"].as_i64(), v["height"].as_i64()),
        (Some(320), Some(180))
    );
    assert!(p.audio_packets > 0, "an audio track");
    assert_colour_bars(&rec);
    let hz = tone_hz_at_end(&rec);
    println!("{board}: vivid's colour bars, the tone at {hz:.1} Hz");
    assert!((hz - 1000.0).abs() <= 20.0, "tone at {hz} Hz, want 1000");

    // what `systemctl status` says is what the LEDs show
    let (_, status) = g.sh("systemctl status --no-pager --lines=0 livepush");
    println!("{board}: systemctl status livepush:\n{status}");
    assert!(status.contains("active (running)"), "{status}");
    assert!(
        status.contains("Status: \"LIVE"),
        "the phase in STATUS=: {status}"
    );
    assert!(
        !status.contains(SECRET),
        "the stream key in the status: {status}"
    );
    // the control API on its socket in the service's runtime directory
    let (ok, st) = g.sh("stat -c '%U:%G %a' /run/livepush/control.sock && livepush ctl status");
    println!("{board}: livepush ctl status:\n{st}");
    assert!(ok, "livepush ctl status: {st}");
    assert!(
        st.starts_with("livepush:livepush 660") && st.contains("\"state\":\"publishing\""),
        "{st}"
    );
    assert!(!st.contains(SECRET), "the stream key in the API: {st}");

    // the appliance: read-only root under a RAM overlay, the journal in RAM,
    // no password, the services that should run and nothing failed
    let (_, root) = g.sh("findmnt -no FSTYPE /; findmnt -no OPTIONS /run/livepush-overlay/root-ro; touch /run/livepush-overlay/root-ro/x 2>&1; test -d /var/log/journal && echo persistent-journal; passwd -S root; systemctl is-enabled ssh; systemctl --failed --no-legend --plain");
    println!("{board}: root and services:\n{root}");
    let mut lines = root.lines();
    assert_eq!(lines.next(), Some("overlay"), "{root}");
    assert!(lines.next().unwrap_or("").starts_with("ro,"), "{root}");
    assert!(root.contains("Read-only file system"), "{root}");
    assert!(!root.contains("persistent-journal"), "{root}");
    assert!(root.contains("root L "), "root is locked: {root}");
    assert!(
        root.contains("disabled"),
        "ssh is not enabled in the image: {root}"
    );
    let (_, failed) = g.sh("systemctl --failed --no-legend --plain");
    assert!(failed.trim().is_empty(), "failed units: {failed}");
    let (_, journal) = g.sh("journalctl --no-pager -b -o cat");
    assert!(!journal.contains(SECRET), "the stream key in the journal");
    // the journal has structured records (CODE=, PHASE=), no timestamps of
    // ours and no event lines (a netstatus line a second would fill it)
    let (ok, j) = g.sh("journalctl --no-pager -b -u livepush -o json CODE=1002 | head -1");
    assert!(ok, "{j}");
    let line = j.lines().find(|l| l.starts_with('{')).unwrap_or("");
    let rec: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("a journal record with CODE=1002 ({e}): {j}"));
    println!("{board}: the journal's 1002 record: {rec}");
    assert_eq!(rec["SYSLOG_IDENTIFIER"], "livepush", "{rec}");
    // log's info is the journal's notice (5); warnings 4, errors 3
    assert_eq!(rec["PRIORITY"], "5", "{rec}");
    assert!(rec["PHASE"].is_string(), "{rec}");
    let msg = rec["MESSAGE"].as_str().unwrap_or("");
    assert!(msg.starts_with("1002 "), "no timestamp of ours: {msg}");
    assert!(
        !journal.contains("\"event\":\"netstatus\""),
        "no event lines in the journal"
    );
    // the status page, metrics and health over the box's network (qemu
    // forwards a host port to the box's 8088): off loopback the token is
    // required, and the page itself loads without it
    assert_eq!(http_get(g.api_port, "/metrics", None).0, 401);
    let (code, m) = http_get(g.api_port, "/metrics", Some(API_TOKEN));
    assert_eq!(code, 200, "{m}");
    assert!(
        m.contains("livepush_phase{phase=\"publishing\"} 1.0")
            && m.contains("board=\"qemu-virt\"")
            && m.contains("process_resident_memory_bytes"),
        "{m}"
    );
    let (code, h) = http_get(g.api_port, "/healthz", Some(API_TOKEN));
    assert_eq!(code, 200, "{h}");
    let (code, page) = http_get(g.api_port, "/", None);
    assert!(
        code == 200 && page.contains("<title>livepush</title>"),
        "{code} {page}"
    );
    assert!(!m.contains(SECRET) && !h.contains(SECRET));
    // `livepush status` on the box, for a person on ssh
    let (ok, st) = g.sh("livepush status");
    println!("{board}: livepush status:\n{st}");
    // LIVE (SW): no hardware encoder in the guest (1103)
    assert!(
        ok && st.starts_with("LIVE") && st.contains("(publishing; healthy)"),
        "{st}"
    );
    assert!(!st.contains(SECRET), "{st}");

    // 2. livepush frozen: systemd's watchdog kills and restarts it
    let before = nginx.recordings();
    let (ok, out) = g.sh("kill -STOP $(systemctl show -p MainPID --value livepush)");
    assert!(ok, "SIGSTOP: {out}");
    let frozen = Instant::now();
    let (_, back_at) = wait_new_stream(&nginx, &before, &mut g, Duration::from_secs(180));
    let gap = back_at - frozen;
    println!(
        "{board}: livepush frozen (SIGSTOP): the stream back {:.1} s later (WatchdogSec=30, RestartSec=3)",
        gap.as_secs_f64()
    );
    let (_, j) = g.sh("journalctl --no-pager -b -u livepush -o cat");
    assert!(
        j.contains("Watchdog timeout"),
        "systemd's watchdog restarted it: {j}"
    );
    // the watchdog fires 20 to 30 s after the freeze (a ping every 10 s)
    assert!(
        gap >= Duration::from_secs(20),
        "not before the watchdog: {gap:?}"
    );

    // 3. the power cut mid-stream, then the same disk again
    let before = nginx.recordings();
    std::thread::sleep(Duration::from_secs(3));
    g.power_cut();
    // and meanwhile someone put a broken livepush.toml on the card: the box
    // keeps the last good configuration (saved on the data partition)
    let broken = format!("bitrate-kbps = 500\n{}", config(&nginx));
    std::fs::write(d.join("livepush.toml"), broken).unwrap();
    run(Command::new("mcopy")
        .args(["-o", "-i", &format!("{}@@1M", disk.display())])
        .arg(d.join("livepush.toml"))
        .arg("::/livepush.toml"));
    let mut g = Guest::boot(d, board, &disk, "after-cut");
    let (_, again) = wait_new_stream(&nginx, &before, &mut g, Duration::from_secs(420));
    println!(
        "{board}: after a power cut mid-stream: power-on to publishing again {:.1} s",
        (again - g.powered).as_secs_f64()
    );
    g.wait_ssh(Duration::from_secs(120));
    let (_, failed) = g.sh("systemctl --failed --no-legend --plain; dmesg | grep -iE 'EXT4-fs (error|warning)' || true");
    assert!(failed.trim().is_empty(), "after the power cut: {failed}");
    let (_, j) = g.sh("journalctl --no-pager -b -u livepush-boot-config -o cat");
    assert!(
        j.contains("key `bitrate-kbps`: unknown key")
            && j.contains("keeping the last good configuration"),
        "the broken file refused, the last good one kept: {j}"
    );
    drop(g);
    // the server saw the key only in its own logs: nothing here prints it
    for f in ["console-first.log", "console-after-cut.log"] {
        let c = std::fs::read(d.join(f)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&c).contains(SECRET),
            "{f} shows the stream key"
        );
    }
}

fn a_bad_key_is_refused_with_its_line_and_column(board: &str) {
    let dir = TestDir::new();
    let d = dir.path();
    let nginx = Nginx::start(d, "");
    ssh_key(d);
    // line 4, column 1
    let bad = config(&nginx).replacen(
        "mode = \"RTC\"\n",
        "mode = \"RTC\"\nbitrate-kbps = 500\n",
        1,
    );
    assert_eq!(bad.lines().nth(3), Some("bitrate-kbps = 500"));
    let disk = prepare_disk(d, board, &bad, DEVICES);
    let mut g = Guest::boot(d, board, &disk, "bad");
    g.wait_ssh(Duration::from_secs(420));
    // livepush has tried (and been refused) at least once
    let t = Instant::now();
    let journal = loop {
        let (_, j) = g.sh("journalctl --no-pager -b -u livepush -u livepush-boot-config -o cat");
        if j.contains("exited, code=exited, status=2") || t.elapsed() > Duration::from_secs(120) {
            break j;
        }
        std::thread::sleep(Duration::from_secs(3));
    };
    println!("{board}: the journal on a bad key:\n{journal}");
    assert!(
        journal.contains("livepush.toml: line 4, column 1: key `bitrate-kbps`: unknown key"),
        "the key with its line and column: {journal}"
    );
    assert!(journal.contains("no good one before it"), "{journal}");
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        nginx
            .recordings()
            .iter()
            .all(|p| flv_progress(p).is_none_or(|(_, v)| v == 0)),
        "the box streamed with a refused configuration"
    );
    assert!(!journal.contains(SECRET), "the stream key in the journal");
}

#[test]
#[ignore = "boots the image under qemu: bash image-build/build.sh qemu-virt-arm64 first"]
fn arm64_image_boots_publishes_survives_a_hang_and_a_power_cut() {
    boots_publishes_survives_a_hang_and_a_power_cut("qemu-virt-arm64");
}

#[test]
#[ignore = "boots the image under qemu: bash image-build/build.sh qemu-virt-arm64 first"]
fn arm64_image_refuses_a_bad_key_with_its_line_and_column() {
    a_bad_key_is_refused_with_its_line_and_column("qemu-virt-arm64");
}

#[test]
#[ignore = "boots the image under qemu: bash image-build/build.sh qemu-virt-amd64 first"]
fn amd64_image_boots_publishes_survives_a_hang_and_a_power_cut() {
    boots_publishes_survives_a_hang_and_a_power_cut("qemu-virt-amd64");
}
