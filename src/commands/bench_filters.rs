//! `livepush bench --filters`: what `beauty` and `whiteness` cost at 720p,
//! beside the software encoder's own time on the same pictures, and beside
//! ffmpeg's nearest filters (smartblur, an edge-preserving blur, and lutyuv
//! with the same tone curve) on the same input in the same run.
//!
//! The input is a camera-like 1280x720 I420 clip (ffmpeg's testsrc2 with
//! temporal noise, as a sensor gives). Times are this process's CPU time
//! (getrusage) around each stage alone, per frame; per stream-minute is
//! that times 30 fps x 60 s. Level 0 is measured too: it must cost nothing.
//! On the zero-copy path (a hardware encoder reading the camera's DMABUF)
//! a non-zero level needs the pixels in memory the filter may write: the
//! row "copy (what a filter costs zero copy)" is that picture copy. On an
//! x86-64 CPU with AVX2 the filters run their AVX2 build; the row "without
//! AVX2" is the baseline (SSE2) build on the same CPU.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use livepush_core::encoder::interface::{SyncEncoder, I420};
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::video::filters::{self, Filters};

const W: u32 = 1280;
const H: u32 = 720;
const FPS: u32 = 30;

fn cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Runs the filter benchmark over `frames` pictures; prints the table.
pub fn run(frames: u32, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let frames = frames.max(10);
    let yuv = dir.join(format!("camera-like-{frames}.yuv"));
    let size = (W * H * 3 / 2) as usize;
    if std::fs::metadata(&yuv).map(|m| m.len()).unwrap_or(0) != (size * frames as usize) as u64 {
        eprintln!("bench: generating {} ({frames} frames)", yuv.display());
        let st = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!(
                "testsrc2=size={W}x{H}:rate={FPS},noise=alls=10:allf=t"
            ))
            .args([
                "-frames:v",
                &frames.to_string(),
                "-pix_fmt",
                "yuv420p",
                "-f",
                "rawvideo",
            ])
            .arg(&yuv)
            .status()
            .map_err(|e| format!("ffmpeg: {e} (apt-get install ffmpeg)"))?;
        if !st.success() {
            return Err("ffmpeg could not make the input".into());
        }
    }
    let input = std::fs::read(&yuv).map_err(|e| format!("{}: {e}", yuv.display()))?;
    let pics: Vec<&[u8]> = input.chunks_exact(size).collect();

    // the software encoder's own time on these pictures (2.5 Mbit/s, as `bench`)
    let params = livepush_core::config::VideoParams {
        width: W,
        height: H,
        fps: FPS,
        gop_frames: 2 * FPS,
        bitrate_kbps: 2500,
        max_kbps: 2500,
    };
    let mut enc = crate::hw::openh264::OpenH264::new(&EncoderSettings::new(&params, false))
        .map_err(|e| format!("openh264: {e}"))?;
    let mut out = Vec::new();
    let t = cpu();
    for (i, p) in pics.iter().enumerate() {
        out.clear();
        let pic = I420 {
            width: W,
            height: H,
            data: p,
        };
        enc.encode(&pic, i == 0, &mut out)
            .map_err(|e| format!("openh264: {e}"))?;
    }
    let encoder_ms = ms_per_frame(cpu() - t, frames);

    let mut buf = pics[0].to_vec();
    let mut measure_in = |beauty: u8, whiteness: u8, baseline: bool| -> f64 {
        let mut f = Filters::new(beauty, whiteness);
        let apply = |f: &mut Filters, buf: &mut [u8]| {
            if baseline {
                f.apply_i420_baseline(buf, W as usize, H as usize)
            } else {
                f.apply_i420(buf, W as usize, H as usize)
            }
        };
        // warm: scratch made
        apply(&mut f, &mut buf);
        let mut spent = Duration::ZERO;
        for p in &pics {
            buf.copy_from_slice(p);
            let t = cpu();
            apply(&mut f, &mut buf);
            spent += cpu() - t;
        }
        ms_per_frame(spent, frames)
    };
    let mut measure = |beauty: u8, whiteness: u8| measure_in(beauty, whiteness, false);
    let mut rows: Vec<(String, f64)> = Vec::new();
    rows.push(("beauty 0, whiteness 0".into(), measure(0, 0)));
    for l in [1u8, 3, 5, 7, 9] {
        rows.push((format!("beauty {l}"), measure(l, 0)));
    }
    for l in [1u8, 3, 5, 7, 9] {
        rows.push((format!("whiteness {l}"), measure(0, l)));
    }
    let both5 = measure(5, 5);
    rows.push(("beauty 5 + whiteness 5".into(), both5));
    let both9 = measure(9, 9);
    rows.push(("beauty 9 + whiteness 9".into(), both9));
    // what a CPU without the wider vector unit runs (x86-64: SSE2 only,
    // e.g. Celeron J4125/N5105 mini-PCs; elsewhere the same build)
    let wide = filters::uses_avx2();
    if wide {
        rows.push((
            "beauty 5 + whiteness 5, without AVX2".into(),
            measure_in(5, 5, true),
        ));
    }
    // the copy a filter forces on the zero-copy path
    let t = cpu();
    for p in &pics {
        buf.copy_from_slice(p);
        std::hint::black_box(&buf);
    }
    let copy_ms = ms_per_frame(cpu() - t, frames);

    // ffmpeg's nearest: smartblur (radius 2, blur only where flat) and the
    // same tone curve through lutyuv, minus ffmpeg reading the same input
    let ff = |vf: &str| -> Option<f64> {
        let out = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-hide_banner",
                "-nostats",
                "-benchmark",
                "-threads",
                "1",
                "-filter_threads",
                "1",
            ])
            .args([
                "-f",
                "rawvideo",
                "-pix_fmt",
                "yuv420p",
                "-s",
                &format!("{W}x{H}"),
                "-i",
            ])
            .arg(&yuv)
            .args(["-vf", vf, "-f", "null", "-"])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        // "bench: utime=1.234s stime=0.010s rtime=1.300s"
        let field = |k: &str| -> Option<f64> {
            let s = text.split("bench: utime=").nth(1)?;
            let s = if k == "utime=" { s } else { s.split(k).nth(1)? };
            s.split('s').next()?.parse().ok()
        };
        Some(field("utime=")? + field("stime=")?)
    };
    let curve = "clip(val+0.3*(val-16)*(235-val)/219,16,235)";
    let ffmpeg_ms = match (
        ff("null"),
        ff(&format!(
            "smartblur=lr=2.5:ls=0.8:lt=10,lutyuv=y='if(between(val,16,235),{curve},val)'"
        )),
    ) {
        (Some(base), Some(with)) => Some(((with - base).max(0.0)) * 1000.0 / f64::from(frames)),
        _ => None,
    };

    println!("\n{frames} frames of 1280x720 I420 (testsrc2 with sensor-like noise); CPU per frame and per stream-minute at 30 fps");
    println!(
        "filters built for: {}",
        if wide {
            "AVX2 (this CPU has it)"
        } else {
            "the baseline instruction set"
        }
    );
    println!(
        "{:<44} {:>10} {:>14} {:>12}",
        "", "ms/frame", "CPU s/min", "of encoder"
    );
    let line = |name: &str, ms: f64| {
        println!(
            "{:<44} {:>10.3} {:>14.2} {:>11.1}%",
            name,
            ms,
            ms * f64::from(FPS) * 60.0 / 1000.0,
            100.0 * ms / encoder_ms
        );
    };
    line("openh264 encode (2.5 Mbit/s), for scale", encoder_ms);
    for (name, ms) in &rows {
        line(name, *ms);
    }
    line("copy (what a filter costs zero copy)", copy_ms);
    if let Some(f) = ffmpeg_ms {
        line("ffmpeg smartblur + lutyuv (same input)", f);
        println!(
            "beauty 5 + whiteness 5 / ffmpeg smartblur + lutyuv: {:.2}x the CPU",
            both5 / f
        );
    }
    println!(
        "beauty 5 + whiteness 5: {:.1}% of the software encoder's time (target under 15%)",
        100.0 * both5 / encoder_ms
    );
    Ok(())
}

fn ms_per_frame(d: Duration, frames: u32) -> f64 {
    d.as_secs_f64() * 1000.0 / f64::from(frames)
}
