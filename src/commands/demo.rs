//! `livepush demo`: the built-in receiver and the pusher on loopback, with the
//! synthetic camera and microphone, for a few seconds. Leaves an FLV file.

use std::net::TcpListener;
use std::time::Duration;

use crate::commands::receive::{self as receiver, ReceiveOptions};
use crate::events_out::EventWriter;
use crate::shell::{self, RunOptions};

/// Runs the demo. Returns a one-paragraph report.
pub fn run(seconds: f64, out: &str, mode: &str) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let toml = format!(
        "url = \"rtmp://127.0.0.1:{port}/live/demo-key\"\nmode = \"{mode}\"\nautopush = true\norientation = \"horizontal\"\n[video]\ndevice = \"test-pattern\"\n[audio]\ndevice = \"sine\"\n[control]\nlisten = []\n"
    );
    let parsed = livepush_core::config::parse(&toml).map_err(|e| {
        format!(
            "demo config: {}",
            e.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let p = parsed.config.video_params();
    eprintln!(
        "demo: receiver on 127.0.0.1:{port} -> {out}; pushing {}x{} {} fps test pattern + 1 kHz tone for {seconds} s (mode {mode})",
        p.width, p.height, p.fps
    );
    let ropts = ReceiveOptions::new(out);
    let recv = std::thread::spawn(move || receiver::serve(listener, &ropts));
    let summary = shell::run(RunOptions {
        fast_clock: 1,
        control_token: None,
        config_path: None,
        config: parsed.config,
        stop_after: Some(Duration::from_secs_f64(seconds)),
        report_allocations: false,
        waiting_image: None,
        tls: None,
        board: None,
        events: EventWriter::Stdout,
    })?;
    let rec = recv
        .join()
        .map_err(|_| "receiver thread panicked".to_string())??;
    Ok(format!(
        "demo: pushed {} video and {} audio frames; {out} holds {} video and {} audio tags, {:.1} s. Open it with: ffprobe {out}  (or ffplay / VLC)",
        summary.video_frames_sent,
        summary.audio_frames_sent,
        rec.video_tags,
        rec.audio_tags,
        f64::from(rec.last_ts_ms) / 1000.0
    ))
}
