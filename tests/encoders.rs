//! The encoder chain with the real binary on this machine (which has no
//! hardware encoder): hardware backends that cannot start are reported once
//! (1103, each with its reason) and software takes over before 1008; an
//! encoder that fails mid-stream is restarted (1104) on the same RTMP session
//! and the recording decodes cleanly; with no restarts allowed and nothing
//! left, -1303. Also: every board profile in `boards/` parses and is built in.

mod common;

use std::process::Command;

use common::*;

const KEY: &str = "enc?token=ENCSECRET9";

fn config(port: u16, video: &str) -> String {
    format!(
        "url = \"rtmp://127.0.0.1:{port}/live/{KEY}\"\nautopush = true\nmode = \"SD\"\norientation = \"horizontal\"\n[video]\ndevice = \"test-pattern\"\n{video}\n[audio]\ndevice = \"sine\"\nsample-rate = 44100\nchannels = 2\n"
    )
}

const EXPECT: Expect = Expect {
    width: 640,
    height: 360,
    fps: 25.0,
    seconds: 8.0,
    sample_rate: 44100,
    channels: 2,
};

#[test]
fn missing_hardware_encoders_fall_back_to_software_with_1103_then_1008() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let p = push(
        dir.path(),
        &config(
            nginx.rtmp_port,
            "encoders = [\"vaapi\", \"v4l2-m2m\", \"software\"]",
        ),
        8.0,
    );
    assert!(p.status.success(), "{}", p.stderr);
    p.assert_secret_hidden("ENCSECRET9");
    assert_eq!(
        p.codes(),
        vec![1003, 1007, 1103, 1008, 1001, 1002],
        "{}",
        p.stdout
    );
    let detail = p
        .events
        .iter()
        .find(|e| e["code"] == 1103)
        .and_then(|e| e["detail"].as_str())
        .unwrap();
    assert!(detail.contains("vaapi: "), "{detail}");
    assert!(detail.contains("v4l2-m2m: "), "{detail}");
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1);
    check_recording(&rec[0], &EXPECT);
}

#[test]
fn an_encoder_failing_mid_stream_is_restarted_on_the_same_session() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(dir.path(), "");
    let p = push_with_env(
        dir.path(),
        &config(nginx.rtmp_port, ""),
        8.0,
        &[("LIVEPUSH_INJECT_ENCODER_FAULT", "75")],
    );
    assert!(p.status.success(), "{}", p.stderr);
    assert_eq!(
        p.codes(),
        vec![1003, 1007, 1008, 1001, 1002, 1104],
        "{}",
        p.stdout
    );
    p.assert_secret_hidden("ENCSECRET9");
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "one publish throughout");
    let errs = decode_errors(&rec[0]);
    assert!(errs.is_empty(), "{errs}");
    // the burned-in counter: in order, one frame lost at the fault, no repeats
    let counters: Vec<u32> = frame_counters(&rec[0], 640, 360)
        .into_iter()
        .map(|c| c.expect("counter readable in every frame"))
        .collect();
    let gaps: Vec<u32> = counters.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g >= 1), "in order: {gaps:?}");
    let skipped: u32 = gaps.iter().map(|g| g - 1).sum();
    assert!(skipped <= 2, "at most the failed frame lost: {skipped}");
    assert!(counters.len() >= 190, "{} frames", counters.len());
}

#[test]
fn with_no_restarts_and_nothing_left_it_is_1303_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &["--keep-listening"]);
    let p = push_with_env(
        dir.path(),
        &config(r.port, "encoder-restarts = 0"),
        8.0,
        &[("LIVEPUSH_INJECT_ENCODER_FAULT", "25")],
    );
    assert_eq!(p.status.code(), Some(1), "{}", p.stdout);
    assert!(p.codes().contains(&-1303), "{}", p.stdout);
    assert!(!p.codes().contains(&1104), "{}", p.stdout);
    p.assert_secret_hidden("ENCSECRET9");
}

#[test]
fn every_board_profile_parses_is_built_in_and_ends_in_software() {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/boards")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        let id = p.file_stem().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&p).unwrap();
        let b = livepush_core::config::parse_board(&text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
        assert_eq!(
            b.encoders.last(),
            Some(&livepush_core::encoder::Backend::Software),
            "{id}"
        );
        // the binary knows it by id
        let cfg = dir.path().join(format!("{id}.toml"));
        std::fs::write(
            &cfg,
            format!("url = \"rtmp://h/live/k\"\nboard = \"{id}\"\n"),
        )
        .unwrap();
        let out = Command::new(bin())
            .arg("check-config")
            .arg(&cfg)
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{id}: {s}");
        assert!(s.contains(&format!("(board: {})", b.name)), "{s}");
        ids.push(id);
    }
    ids.sort();
    assert_eq!(ids, ["qemu-virt", "rk3588", "rpi4", "rpi5", "x86-vaapi"]);
    // an unknown board is refused naming the ones there are
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "url = \"rtmp://h/live/k\"\nboard = \"pi9\"\n").unwrap();
    let out = Command::new(bin())
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        s.contains("board \"pi9\": no such profile") && s.contains("rpi4"),
        "{s}"
    );
}
