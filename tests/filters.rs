//! `beauty` and `whiteness` in a real push (issue 18): a noisy grey picture
//! from a raw file source goes out untouched at 0/0; a reload to 9/9 on the
//! same publish brightens its mid-tones and smooths its noise in what the
//! built-in receiver recorded (ffmpeg decodes it), with the reload saying
//! both keys were applied live.

mod common;

use std::time::Duration;

use common::*;

fn mean(f: &[u8]) -> f64 {
    f.iter().map(|&v| f64::from(v)).sum::<f64>() / f.len() as f64
}

fn variance(f: &[u8]) -> f64 {
    let m = mean(f);
    f.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / f.len() as f64
}

#[test]
fn a_reload_to_beauty_and_whiteness_9_brightens_and_smooths_the_stream() {
    need("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (320usize, 180usize);
    // two I420 frames: luma 120 with noise of +-12 in 4x4 blocks (so the
    // encoder keeps it), chroma neutral
    let mut seed = 1u32;
    let mut raw = Vec::new();
    for _ in 0..2 {
        let mut luma = vec![0u8; w * h];
        for by in 0..h / 4 {
            for bx in 0..w / 4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let v = (120 + (seed % 25) as i32 - 12) as u8;
                for y in 0..4 {
                    for x in 0..4 {
                        luma[(by * 4 + y) * w + bx * 4 + x] = v;
                    }
                }
            }
        }
        raw.extend_from_slice(&luma);
        raw.extend(std::iter::repeat_n(128u8, w * h / 2));
    }
    let src = dir.path().join("noisy.yuv");
    std::fs::write(&src, &raw).unwrap();

    let rx = Receiver::start(dir.path(), &[]);
    let sock = dir.path().join("ctl.sock");
    let cfg = |levels: &str| {
        format!(
            "url = \"rtmp://127.0.0.1:{}/live/k\"\nautopush = true\nmode = \"RTC\"\nmax-bitrate = 2000\n{levels}[video]\ndevice = \"file:{}\"\nwidth = 320\nheight = 180\nfps = 10\nbitrate = 1500\n[control]\nlisten = \"unix:{}\"\n",
            rx.port,
            src.display(),
            sock.display()
        )
    };
    let r = Running::start(dir.path(), &cfg(""));
    r.wait_code(1002, 0, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(
        dir.path().join("livepush.toml"),
        cfg("beauty = 9\nwhiteness = 9\n"),
    )
    .unwrap();
    let (_, v) = ctl_json(&sock, &["reload"]);
    let applied: Vec<&str> = v["applied"]
        .as_array()
        .unwrap_or_else(|| panic!("reload answer: {v}"))
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    assert!(
        applied.contains(&"beauty") && applied.contains(&"whiteness"),
        "{v}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let out = r.stop();
    rx.finish(Duration::from_secs(10));
    let codes: Vec<i64> = out
        .events
        .iter()
        .filter(|e| e["event"] == "statechange")
        .filter_map(|e| e["code"].as_i64())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 1002).count(),
        1,
        "one publish: {codes:?}"
    );

    let frames = luma_frames(&dir.path().join("received.flv"), 320, 180);
    assert!(frames.len() >= 50, "{} frames", frames.len());
    // ffmpeg's gray is full range: the input's 120 is (120-16)*255/219 = 121
    let (before, after) = (&frames[5..20], &frames[frames.len() - 15..]);
    let (m0, m1) = (
        before.iter().map(|f| mean(f)).sum::<f64>() / 15.0,
        after.iter().map(|f| mean(f)).sum::<f64>() / 15.0,
    );
    let (v0, v1) = (
        before.iter().map(|f| variance(f)).sum::<f64>() / 15.0,
        after.iter().map(|f| variance(f)).sum::<f64>() / 15.0,
    );
    eprintln!("0/0: mean {m0:.1}, variance {v0:.1}; 9/9: mean {m1:.1}, variance {v1:.1}");
    assert!(
        (m0 - 121.0).abs() < 4.0,
        "at 0/0 the picture is as it was: mean {m0}"
    );
    assert!(
        v0 > 30.0,
        "the noise is in the stream at 0/0: variance {v0}"
    );
    // whiteness 9 lifts 120 by about 29 levels (limited range), beauty 9
    // removes most of the noise
    assert!(m1 > m0 + 20.0, "whiteness 9: mean {m0} -> {m1}");
    assert!(v1 < v0 * 0.5, "beauty 9: variance {v0} -> {v1}");
}
