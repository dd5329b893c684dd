//! The command line: check-config output and exit codes, `run` refusing bad or
//! unsupported configs before starting anything, help text.

mod common;

use std::process::Command;

use common::bin;

fn livepush(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin()).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn example_config_is_ok_and_documents_every_contract_key() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/livepush.example.toml");
    let (code, out, _) = livepush(&["check-config", path]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK: rtmp://live.example.com:1935/live/<key hidden> -> 1280x720 30 fps"),
        "{out}"
    );
    assert!(
        !out.contains("STREAM-KEY") && !out.contains("SECRET"),
        "{out}"
    );
    let text = std::fs::read_to_string(path).unwrap();
    for key in [
        "url",
        "mode",
        "autopush",
        "muted",
        "enable-camera",
        "auto-focus",
        "orientation",
        "beauty",
        "whiteness",
        "aspect",
        "min-bitrate",
        "max-bitrate",
        "waiting-image",
        "waiting-image-md5",
        "background-mute",
        "[video]",
        "device",
        "[audio]",
        "[network]",
        "[events]",
    ] {
        assert!(text.contains(key), "example config does not document {key}");
    }
}

#[test]
fn check_config_prints_every_error_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "url = \"rtmp://h/live/MYKEY\"\nbeauty = 10\nmode = 3\nmax-bitrate = 100\nmin-bitrate = 150\nbogus = 1\n").unwrap();
    let (code, out, _) = livepush(&["check-config", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = out.lines().collect();
    let p = f.display().to_string();
    assert_eq!(
        lines,
        vec![
            format!("{p}: line 2, column 10: key `beauty`: must be 0..9, got 10"),
            format!("{p}: line 3, column 8: key `mode`: expected a string, got an integer"),
            format!("{p}: line 5, column 15: key `min-bitrate`: min-bitrate (150) must not exceed max-bitrate (100)"),
            format!("{p}: line 6, column 1: key `bogus`: unknown key"),
        ]
    );
    assert!(!out.contains("MYKEY"));
}

#[test]
fn run_refuses_bad_and_unsupported_configs_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "url = \"rtmps://127.0.0.1:1/live/k\"\n[network]\nca-file = \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    let (code, out, err) = livepush(&["run", "--config", f.to_str().unwrap(), "--seconds", "5"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "no events: nothing started: {out}");
    assert!(
        err.contains("[network] ca-file /nonexistent/ca.pem: "),
        "{err}"
    );
    std::fs::write(
        &f,
        "url = \"rtmp://127.0.0.1:1/live/k\"\n[video]\ndevice = \"file:/nonexistent.yuv\"\n",
    )
    .unwrap();
    let (code, out, err) = livepush(&["run", "--config", f.to_str().unwrap(), "--seconds", "5"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("video.device file:/nonexistent.yuv: No such file"),
        "{err}"
    );
    let (code, _, err) = livepush(&["run", "--config", "/nonexistent.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.toml: No such file"), "{err}");
}

/// A board of two LED class LEDs made of plain files (LIVEPUSH_LEDS_DIR)
/// in a site profile directory (LIVEPUSH_BOARDS_DIR).
fn file_leds(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("boards")).unwrap();
    std::fs::write(
        dir.join("boards/t.toml"),
        "name = \"t\"\narch = \"x86_64\"\nencoders = [\"software\"]\n[leds]\npower = \"t:power\"\nerror = \"t:error\"\n",
    )
    .unwrap();
    for n in ["t:power", "t:error"] {
        let d = dir.join("leds").join(n);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("max_brightness"), "255\n").unwrap();
        std::fs::write(d.join("trigger"), "[none] timer pattern\n").unwrap();
        std::fs::write(d.join("brightness"), "0\n").unwrap();
    }
}

#[test]
fn a_refused_config_shows_bad_config_on_the_boards_leds_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    file_leds(dir.path());
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "url = \"rtmp://127.0.0.1:1/live/k\"\nboard = \"t\"\nurll = 1\n",
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .env("LIVEPUSH_BOARDS_DIR", dir.path().join("boards"))
        .env("LIVEPUSH_LEDS_DIR", dir.path().join("leds"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let get = |led: &str, f: &str| {
        std::fs::read_to_string(dir.path().join("leds").join(led).join(f)).unwrap()
    };
    // power: double blink through the pattern trigger; error: fast through the timer
    assert_eq!(get("t:power", "trigger"), "pattern");
    assert_eq!(
        get("t:power", "pattern"),
        "255 150 255 0 0 150 0 0 255 150 255 0 0 1050 0 0"
    );
    assert_eq!(get("t:error", "trigger"), "timer");
    assert_eq!(
        (get("t:error", "delay_on"), get("t:error", "delay_off")),
        ("150".into(), "150".into())
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("line 3, column 1: key `urll`: unknown key"),
        "{stderr}"
    );
}

#[test]
fn help_names_every_command() {
    let (code, out, _) = livepush(&["--help"]);
    assert_eq!(code, 0);
    for c in ["run", "check-config", "receive", "demo"] {
        assert!(out.contains(c), "{out}");
    }
    let (code, _, _) = livepush(&["frobnicate"]);
    assert_ne!(code, 0);
}

#[test]
fn a_missing_camera_at_start_is_1301_once_then_the_card_is_pushed_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let r = common::Receiver::start(dir.path(), &[]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live/k\"\nautopush = true\nmode = \"RTC\"\n[video]\ndevice = \"/dev/video-none\"\nwidth = 320\nheight = 180\n",
        r.port
    );
    let p = common::push(dir.path(), &cfg, 4.0);
    assert!(
        p.status.success(),
        "a missing camera ended the run: {}\n{}",
        p.status,
        p.stderr
    );
    let codes = p.codes();
    assert_eq!(
        codes.iter().filter(|c| **c == -1301).count(),
        1,
        "-1301 once: {codes:?}"
    );
    let fail = p.events.iter().find(|e| e["code"] == -1301).unwrap();
    assert!(
        fail["detail"].as_str().unwrap().contains("/dev/video-none"),
        "{fail}"
    );
    assert!(codes.contains(&1002), "the card is pushed: {codes:?}");
    assert!(!codes.contains(&1003), "no camera opened: {codes:?}");
    assert!(
        p.stderr.contains("camera still unavailable"),
        "it retries: {}",
        p.stderr
    );
    let out = r.out.clone();
    r.finish(std::time::Duration::from_secs(10));
    let probe = common::probe(&out);
    assert!(
        probe.video_packets.len() >= 40,
        "{} video packets",
        probe.video_packets.len()
    );
}

#[test]
fn mic_check_records_an_alsa_pcm_bit_exact() {
    // alsa-lib's file plugin: capture returns the bytes of `infile` (not paced)
    let dir = tempfile::tempdir().unwrap();
    let tone: Vec<u8> = (0..48000 * 2 * 2).map(|i| (i * 7 % 251) as u8).collect();
    let infile = dir.path().join("in.raw");
    std::fs::write(&infile, &tone).unwrap();
    let asoundrc = dir.path().join("asoundrc");
    std::fs::write(
        &asoundrc,
        format!("pcm.filecap {{ type file slave.pcm \"nullpcm\" file \"/dev/null\" infile \"{}\" format \"raw\" }}\npcm.nullpcm {{ type null }}\n", infile.display()),
    )
    .unwrap();
    let out = dir.path().join("out.raw");
    let o = Command::new(bin())
        .args([
            "mic-check",
            "--device",
            "filecap",
            "--rate",
            "48000",
            "--channels",
            "2",
            "--frames",
            "24000",
            "--out",
        ])
        .arg(&out)
        .env(
            "ALSA_CONFIG_PATH",
            format!("/usr/share/alsa/alsa.conf:{}", asoundrc.display()),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), 24000 * 4);
    assert!(
        got == tone[..got.len()],
        "capture differs from the file's samples"
    );
    // a PCM that does not exist is named in the error
    let o = Command::new(bin())
        .args(["mic-check", "--device", "nosuchpcm", "--frames", "10"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ALSA PCM \"nosuchpcm\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_waiting_image_with_the_wrong_md5_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("wait.png");
    let ok = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=blue:s=64x36",
            "-frames:v",
            "1",
        ])
        .arg(&img)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        format!("url = \"rtmp://127.0.0.1:1/live/k\"\nwaiting-image = \"{}\"\nwaiting-image-md5 = \"0123456789abcdef0123456789abcdef\"\n", img.display()),
    )
    .unwrap();
    let (code, out, err) = livepush(&["run", "--config", f.to_str().unwrap(), "--seconds", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "nothing started: {out}");
    assert!(
        err.contains("wait.png: its MD5 is")
            && err.contains("waiting-image-md5 says 0123456789abcdef0123456789abcdef: refused"),
        "{err}"
    );
}

/// `url-key-file`: the key comes from its own file (the receiver only takes
/// that key), a file others may read gets a warning, and the key shows
/// nowhere; a missing or empty key file is exit 2 naming it.
#[test]
fn the_stream_key_comes_from_url_key_file() {
    use std::os::unix::fs::PermissionsExt;
    const KEY: &str = "KEYFROMFILE7";
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = common::Receiver::start(dir.path(), &["--key", KEY]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live\"\nautopush = true\nurl-key-file = \"{}\"\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\n",
        r.port,
        key.display()
    );
    let p = common::push(dir.path(), &cfg, 3.0);
    assert!(p.status.success(), "{}", p.stderr);
    assert!(
        p.codes().contains(&1002),
        "not published: {:?}\n{}",
        p.codes(),
        p.stderr
    );
    assert!(p.stderr.contains("wider than 0600"), "{}", p.stderr);
    p.assert_secret_hidden(KEY);
    r.finish(std::time::Duration::from_secs(10));
    // 0600: no warning; check-config shows the application, not the key
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = dir.path().join("livepush.toml");
    let (code, out, err) = livepush(&["check-config", c.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("/live/<key hidden>") && !out.contains(KEY),
        "{out}"
    );
    assert!(!err.contains("wider than 0600"), "{err}");
    // empty and missing key files
    std::fs::write(&key, "\n").unwrap();
    let (code, out, _) = livepush(&["check-config", c.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        out.contains(&format!("url-key-file {}: is empty", key.display())),
        "{out}"
    );
    std::fs::remove_file(&key).unwrap();
    let (code, out, _) = livepush(&["check-config", c.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        out.contains(&format!("url-key-file {}: No such file", key.display())),
        "{out}"
    );
}

/// SIGHUP reads `url-key-file` again: a box whose key was rotated on the
/// server publishes with the new key without a restart; an unreadable file
/// keeps the current key; neither key shows anywhere.
#[test]
fn sighup_reads_the_key_file_again() {
    const OLD: &str = "OLDKEY4411";
    const NEW: &str = "NEWKEY9923";
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    std::fs::write(&key, format!("{OLD}\n")).unwrap();
    // the server takes only the new key: the old one is refused, again and again
    let r = common::Receiver::start(dir.path(), &["--key", NEW]);
    let cfg = format!(
        "url = \"rtmp://127.0.0.1:{}/live\"\nautopush = true\nurl-key-file = \"{}\"\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\n",
        r.port,
        key.display()
    );
    let run = common::Running::start(dir.path(), &cfg);
    let (i, _) = run.wait_code(1102, 0, std::time::Duration::from_secs(20));
    // a key file that cannot be read keeps the current key (and says so)
    std::fs::write(&key, "\n").unwrap();
    run.signal("HUP");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::write(&key, format!("{NEW}\n")).unwrap();
    run.signal("HUP");
    run.wait_code(1002, i, std::time::Duration::from_secs(20));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let p = run.stop();
    let log = r.finish(std::time::Duration::from_secs(10));
    assert!(
        p.stderr
            .contains("reload refused, the running configuration goes on")
            && p.stderr.contains(": is empty"),
        "{}",
        p.stderr
    );
    assert!(
        p.stderr
            .contains("a new stream key, used from the next connection"),
        "{}",
        p.stderr
    );
    for k in [OLD, NEW] {
        p.assert_secret_hidden(k);
        assert!(!log.contains(k), "the receiver logged a key:\n{log}");
    }
}
