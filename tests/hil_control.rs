//! Hardware in the loop for the control API: the real livepush binary in
//! the amd64 qemu guest (tests/hil/) with two vivid cameras (`n_devs=2`):
//! `switch-camera` moves the push from the first to the second on the same
//! publish (the recording read back by ffmpeg: red pictures, then green);
//! `toggle-torch` switches the board profile's `[leds] torch`, a gpio-sim
//! line (vivid has no flash control, so the camera's own torch path answers
//! "no such control" and the board's line is used; the line's simulated
//! value is read from sysfs).
//!
//! Like tests/hil.rs this needs the rig (`tests/hil/setup.sh amd64`) and
//! the release binary; `#[ignore]`d, scripts/test.sh runs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Mean luma (full range) of every decoded frame.
fn lumas(file: &Path, w: u32, h: u32) -> Vec<f64> {
    common::luma_frames(file, w, h)
        .iter()
        .map(|f| f.iter().map(|v| f64::from(*v)).sum::<f64>() / f.len() as f64)
        .collect()
}

fn uptime_ms(events: &[serde_json::Value], code: i64, nth: usize) -> u64 {
    events
        .iter()
        .filter(|e| e["code"] == code)
        .nth(nth)
        .and_then(|e| e["uptime_ms"].as_u64())
        .unwrap_or_else(|| panic!("no {code} #{nth} in {events:?}"))
}

#[test]
#[ignore = "boots a qemu guest: run by scripts/test.sh with --ignored after tests/hil/setup.sh"]
fn amd64_switch_between_two_vivid_cameras_and_the_board_torch_on_gpio_sim() {
    common::need("ffmpeg");
    let bin = repo().join("target/release/livepush");
    assert!(bin.exists(), "{} is missing: build it first", bin.display());
    let share = tempfile::tempdir().unwrap();
    let d = share.path();
    std::fs::copy(&bin, d.join("livepush")).unwrap();
    let script = "mount -t configfs none /sys/kernel/config\n\
C=/sys/kernel/config/gpio-sim/hil\n\
mkdir $C $C/bank0\n\
echo 4 > $C/bank0/num_lines\n\
echo 1 > $C/live\n\
CH=$(cat $C/bank0/chip_name)\n\
G=/sys/devices/platform/gpio-sim.0/$CH\n\
mkdir -p /etc/livepush/boards\n\
cat > /etc/livepush/boards/hil.toml <<EOT\n\
name = \"HIL\"\n\
arch = \"x86_64\"\n\
encoders = [\"software\"]\n\
[leds]\n\
torch = { gpio = \"$CH\", line = 3 }\n\
EOT\n\
v4l2-ctl -d /dev/video0 -c osd_text_mode=2,test_pattern=7\n\
v4l2-ctl -d /dev/video1 -c osd_text_mode=2,test_pattern=8\n\
printf 'url = \"rtmp://127.0.0.1:1935/live/hil-KEY\"\\nautopush = true\\nboard = \"hil\"\\nmode = \"RTC\"\\n[video]\\ndevices = [\"/dev/video0\", \"/dev/video1\"]\\nwidth = 320\\nheight = 180\\nfps = 10\\n[audio]\\ndevice = \"sine\"\\n[control]\\nlisten = \"unix:/tmp/ctl.sock\"\\n' > hil.toml\n\
./livepush receive --listen 127.0.0.1:1935 --out /tmp/rec.flv 2> recv.log &\n\
RPID=$!\n\
./livepush run --config hil.toml --seconds 24 > events.jsonl 2> run.log &\n\
LPID=$!\n\
i=0; while ! grep -q '\"code\":1002' events.jsonl && [ $i -lt 200 ]; do usleep 100000; i=$((i+1)); done\n\
sleep 5\n\
./livepush ctl --socket /tmp/ctl.sock switch-camera > switch.json; echo \"rc $?\" >> switch.json\n\
sleep 1\n\
cat $G/sim_gpio3/value > torch0\n\
./livepush ctl --socket /tmp/ctl.sock toggle-torch > torch1.json\n\
cat $G/sim_gpio3/value > torch1\n\
./livepush ctl --socket /tmp/ctl.sock toggle-torch > torch2.json\n\
cat $G/sim_gpio3/value > torch2\n\
wait $LPID\n\
wait $RPID\n\
cp /tmp/rec.flv rec.flv\n\
exit 0\n";
    std::fs::write(d.join("t.sh"), script).unwrap();
    let out = Command::new(repo().join("tests/hil/run-guest.sh"))
        .args([
            "-a",
            "amd64",
            "-t",
            "240",
            "-o",
            "opt_vivid=\"n_devs=2 node_types=0x1,0x1\"",
        ])
        .arg(d)
        .arg("sh t.sh")
        .output()
        .expect("run tests/hil/run-guest.sh");
    let read = |n: &str| std::fs::read_to_string(d.join(n)).unwrap_or_default();
    let ctx = format!(
        "{}{}\n--- run.log\n{}\n--- events\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        read("run.log"),
        read("events.jsonl")
    );
    assert!(out.status.success(), "guest failed:\n{ctx}");
    assert!(
        !read("run.log").contains("hil-KEY"),
        "stream key in the log"
    );
    // the switch: answered with the second camera
    let sw = read("switch.json");
    assert!(
        sw.contains("\"camera\":\"/dev/video1\"") && sw.contains("rc 0"),
        "{sw}\n{ctx}"
    );
    // the torch: the board's gpio-sim line, on then off
    let t1 = read("torch1.json");
    assert!(
        t1.contains("\"on\":true") && t1.contains("board torch"),
        "{t1}\n{ctx}"
    );
    assert!(read("torch2.json").contains("\"on\":false"), "{ctx}");
    let v = |n: &str| read(n).trim().to_string();
    assert_eq!(
        (v("torch0"), v("torch1"), v("torch2")),
        ("0".into(), "1".into(), "0".into()),
        "{ctx}"
    );
    // one publish: red (video0), then green (video1) after the second 1003
    let events: Vec<serde_json::Value> = read("events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let codes: Vec<i64> = events.iter().filter_map(|e| e["code"].as_i64()).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 1002).count(),
        1,
        "one publish: {codes:?}"
    );
    let t_switch = (uptime_ms(&events, 1003, 1) - uptime_ms(&events, 1002, 0)) as f64 / 1000.0;
    let rec = d.join("rec.flv");
    let times = common::packet_times(&rec, "v");
    let y = lumas(&rec, 320, 180);
    assert_eq!(times.len(), y.len());
    let before: Vec<f64> = times
        .iter()
        .zip(&y)
        .filter(|(t, _)| **t < t_switch - 0.5)
        .map(|x| *x.1)
        .collect();
    let after: Vec<f64> = times
        .iter()
        .zip(&y)
        .filter(|(t, _)| **t > t_switch + 1.0)
        .map(|x| *x.1)
        .collect();
    eprintln!(
        "switch at {t_switch:.2} s of the stream; {} frames before (luma {:.0}..{:.0}), {} after ({:.0}..{:.0})",
        before.len(),
        before.iter().cloned().fold(f64::MAX, f64::min),
        before.iter().cloned().fold(0.0, f64::max),
        after.len(),
        after.iter().cloned().fold(f64::MAX, f64::min),
        after.iter().cloned().fold(0.0, f64::max)
    );
    assert!(before.len() >= 20 && after.len() >= 20, "{ctx}");
    // 100% red: Y 82 (76 full range); 100% green: Y 145 (150)
    assert!(
        before.iter().all(|l| (60.0..95.0).contains(l)),
        "red before the switch: {before:?}"
    );
    assert!(
        after.iter().all(|l| (135.0..170.0).contains(l)),
        "green after it: {after:?}"
    );
    assert_eq!(
        common::decode_errors(&rec),
        "",
        "clean decode across the switch"
    );
}
