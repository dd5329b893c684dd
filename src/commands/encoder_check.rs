//! `livepush encoder-check`: runs one encoder backend on the built-in test
//! pattern, outside the streaming pipeline, and reports what went in and
//! what came out: pictures submitted and handed back busy, access units,
//! key frames and their spacing, bytes, whether the drain finished. A person
//! runs it on a new box to see that the hardware encoder really encodes; the
//! HIL tests run it against vicodec (`--codec FWHT`), the kernel's virtual
//! M2M codec, through the same M2M code that encodes H.264 on a Raspberry Pi.
//! `--stream-off-after N` stops the M2M CAPTURE queue under the encoder to
//! show that such a failure is reported (exit 1, "encoder failure: ...").

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use livepush_core::config::{EncoderChoice, VideoDevice, VideoParams};
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::encoder::Backend;

use crate::hw::{Polled, Submitted, VideoEncoder, I420};

/// What to run.
pub struct Check {
    /// The backend.
    pub backend: Backend,
    /// M2M: the device (default: the first M2M node offering the codec).
    pub device: Option<String>,
    /// M2M: the codec fourcc (H264; FWHT for vicodec).
    pub codec: [u8; 4],
    /// Size, rate, GOP, bitrate.
    pub params: VideoParams,
    /// Pictures to submit.
    pub frames: u64,
    /// Write the access units here, back to back.
    pub out: Option<String>,
    /// M2M test hook: STREAMOFF the CAPTURE queue after this many pictures.
    pub stream_off_after: Option<u64>,
    /// Take pictures from this camera instead of the test pattern (M2M
    /// only): imported as DMABUFs when the layouts agree, copied otherwise.
    pub camera: Option<String>,
    /// With `camera`: write the pictures taken (I420) here too.
    pub raw_out: Option<String>,
}

/// Runs the check; Ok(the report) or Err(the report so far and the failure).
pub fn run(c: &Check) -> Result<String, String> {
    #[cfg(feature = "v4l2-m2m")]
    if let Some(cam) = &c.camera {
        return run_camera(c, cam);
    }
    if c.camera.is_some() {
        return Err("--camera needs the v4l2-m2m feature".into());
    }
    let s = EncoderSettings::new(&c.params, false);
    let mut report = String::new();
    let mut opened = open(c, &s, &mut report)?;
    let mut file = match &c.out {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let mut src = crate::hw::synthetic::VideoSource::open(
        &VideoDevice::TestPattern,
        c.params.width,
        c.params.height,
    )
    .map_err(|e| format!("test pattern: {e}"))?;
    let mut picture = vec![0u8; (c.params.width * c.params.height * 3 / 2) as usize];
    let frame_us = 1_000_000 / u64::from(c.params.fps.max(1));
    let mut st = Stats::default();
    let fail = |st: &Stats, report: &str, e: &dyn std::fmt::Display| {
        Err(format!("{report}{}encoder failure: {e}", st.line()))
    };
    let started = Instant::now();
    for i in 0..c.frames {
        if c.stream_off_after == Some(i) {
            match &mut opened {
                #[cfg(feature = "v4l2-m2m")]
                Opened::M2m(e) => e.stream_off_capture().map_err(|e| e.to_string())?,
                Opened::Other(_) => {
                    return Err("--stream-off-after works with the v4l2-m2m backend only".into())
                }
            }
        }
        let enc = opened.encoder();
        src.next(i, &mut picture)?;
        let pic = I420 {
            width: c.params.width,
            height: c.params.height,
            data: &picture,
        };
        // offer until taken, taking finished units while it is busy
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            match enc.submit(&pic, i * frame_us) {
                Ok(Submitted::Taken) => break,
                Ok(Submitted::Busy) => st.busy += 1,
                Err(e) => return fail(&st, &report, &e),
            }
            if let Err(e) = take(enc, &mut st, &mut file) {
                return fail(&st, &report, &e);
            }
            if Instant::now() > until {
                return fail(&st, &report, &"busy for 2 s (wedged)");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        st.submitted += 1;
        if let Err(e) = take(enc, &mut st, &mut file) {
            return fail(&st, &report, &e);
        }
    }
    finish(opened.encoder(), st, file, report, started)
}

/// Drains `enc` (5 s at most) and completes the report.
fn finish(
    enc: &mut dyn VideoEncoder,
    mut st: Stats,
    mut file: Option<std::fs::File>,
    mut report: String,
    started: Instant,
) -> Result<String, String> {
    if let Err(e) = enc.drain() {
        return Err(format!("{report}{}encoder failure: {e}", st.line()));
    }
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match take(enc, &mut st, &mut file) {
            Ok(true) => {
                st.drained = true;
                break;
            }
            Ok(false) if Instant::now() > until => break,
            Ok(false) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("{report}{}encoder failure: {e}", st.line())),
        }
    }
    let _ = writeln!(
        report,
        "{} in {:.2} s",
        st.line().trim_end(),
        started.elapsed().as_secs_f64()
    );
    if !st.drained {
        return Err(format!(
            "{report}encoder failure: the drain did not finish within 5 s"
        ));
    }
    Ok(report)
}

/// The camera variant: pictures from `cam_path` into the M2M encoder,
/// imported as DMABUFs (zero copy) when the camera's buffers have the
/// encoder's layout, copied otherwise; the report says which and why.
#[cfg(feature = "v4l2-m2m")]
fn run_camera(c: &Check, cam_path: &str) -> Result<String, String> {
    use crate::hw::capture_dmabuf::ExportingCamera;
    use crate::hw::m2m::encoder::M2mEncoder;
    use livepush_core::encoder::interface::DmaPicture;
    use livepush_core::video::layout::zero_copy_fits;
    use livepush_core::video::layout::YU12;
    if c.backend != Backend::V4l2M2m {
        return Err("--camera works with the v4l2-m2m backend only".into());
    }
    let s = EncoderSettings::new(&c.params, false);
    let (w, h) = (c.params.width, c.params.height);
    let path = match &c.device {
        Some(p) => p.clone(),
        None => crate::hw::m2m::find_encoder(None, &c.codec)?.path,
    };
    let mut enc = M2mEncoder::open_with(&path, c.codec, &s, true).map_err(|e| e.to_string())?;
    let want = enc.layout();
    let mut cam = ExportingCamera::open(cam_path, w, h, want.fourcc)?;
    let got = cam.layout();
    let copy_why = zero_copy_fits(&got, &want).err();
    if copy_why.is_some() {
        enc = M2mEncoder::open_with(&path, c.codec, &s, false).map_err(|e| e.to_string())?;
    }
    let mut report = format!(
        "encoder v4l2-m2m {path}: {} {w}x{h}; camera {cam_path}: {} {w}x{h} stride {}, {} bytes\n",
        String::from_utf8_lossy(&c.codec),
        crate::hw::v4l2_uapi::fourcc_text(got.fourcc),
        got.stride,
        got.size
    );
    match &copy_why {
        None => report.push_str("input: dmabuf import (zero copy)\n"),
        Some(why) => {
            let _ = writeln!(report, "input: copy ({why})");
            if got.fourcc != YU12 || got.stride != w {
                return Err(format!(
                    "{report}the copy path takes YU12 without row padding"
                ));
            }
        }
    }
    let mut file = match &c.out {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let mut raw = match &c.raw_out {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => None,
    };
    let mut st = Stats::default();
    let started = Instant::now();
    let pic_len = (w * h * 3 / 2) as usize;
    for _ in 0..c.frames {
        let cap = cam.next(Duration::from_secs(2))?;
        if (cap.bytesused as usize) < pic_len {
            return Err(format!(
                "{cam_path}: a picture of {} bytes, {pic_len} expected",
                cap.bytesused
            ));
        }
        if let Some(f) = raw.as_mut() {
            let data = &cam.data(cap.index)[..pic_len];
            f.write_all(data)
                .map_err(|e| format!("writing raw pictures: {e}"))?;
        }
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            let r = if copy_why.is_none() {
                let (fd, len) = cam.dmabuf(cap.index);
                enc.submit_dmabuf(&DmaPicture { fd, len }, cap.pts_us)
            } else {
                let pic = I420 {
                    width: w,
                    height: h,
                    data: &cam.data(cap.index)[..pic_len],
                };
                enc.submit(&pic, cap.pts_us)
            };
            match r {
                Ok(Submitted::Taken) => break,
                Ok(Submitted::Busy) => st.busy += 1,
                Err(e) => return Err(format!("{report}{}encoder failure: {e}", st.line())),
            }
            take(&mut enc, &mut st, &mut file)?;
            if Instant::now() > until {
                return Err(format!(
                    "{report}{}encoder failure: busy for 2 s",
                    st.line()
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        st.submitted += 1;
        // the camera buffer goes back only once the encoder has let go of it
        if copy_why.is_none() {
            let until = Instant::now() + Duration::from_secs(2);
            while !enc.imports_done().map_err(|e| e.to_string())? {
                take(&mut enc, &mut st, &mut file)?;
                if Instant::now() > until {
                    return Err(format!(
                        "{report}{}encoder failure: an imported buffer was not released within 2 s",
                        st.line()
                    ));
                }
                crate::hw::v4l2_uapi::wait_ready(enc.release_fd(), libc::POLLOUT, until);
            }
        }
        cam.release(cap.index)?;
        take(&mut enc, &mut st, &mut file)?;
    }
    finish(&mut enc, st, file, report, started)
}

/// The backend under test (the M2M one kept concrete for its test hook).
enum Opened {
    #[cfg(feature = "v4l2-m2m")]
    M2m(crate::hw::m2m::encoder::M2mEncoder),
    Other(Box<dyn VideoEncoder>),
}

impl Opened {
    fn encoder(&mut self) -> &mut dyn VideoEncoder {
        match self {
            #[cfg(feature = "v4l2-m2m")]
            Opened::M2m(e) => e,
            Opened::Other(e) => e.as_mut(),
        }
    }
}

fn open(c: &Check, s: &EncoderSettings, report: &mut String) -> Result<Opened, String> {
    match c.backend {
        #[cfg(feature = "v4l2-m2m")]
        Backend::V4l2M2m => {
            let path = match &c.device {
                Some(p) => p.clone(),
                None => crate::hw::m2m::find_encoder(None, &c.codec)?.path,
            };
            let e = crate::hw::m2m::encoder::M2mEncoder::open(&path, c.codec, s)
                .map_err(|e| e.to_string())?;
            let l = e.layout();
            let _ = writeln!(
                report,
                "encoder v4l2-m2m {path}: {} {}x{} from {} {}x{} stride {}, {}",
                String::from_utf8_lossy(&c.codec),
                s.width,
                s.height,
                crate::hw::v4l2_uapi::fourcc_text(l.fourcc),
                l.width,
                l.height,
                l.stride,
                if e.multiplanar() {
                    "multi-planar"
                } else {
                    "single-planar"
                }
            );
            if !e.missing_controls.is_empty() {
                let _ = writeln!(
                    report,
                    "controls missing: {}",
                    e.missing_controls.join(", ")
                );
            }
            Ok(Opened::M2m(e))
        }
        other => {
            let e = crate::hw::open_backend(other, EncoderChoice::Auto, s, c.device.as_deref())
                .map_err(|e| e.to_string())?;
            let _ = writeln!(report, "encoder {} {}x{}", e.name(), s.width, s.height);
            Ok(Opened::Other(e))
        }
    }
}

#[derive(Default)]
struct Stats {
    submitted: u64,
    busy: u64,
    units: u64,
    keys: u64,
    key_at: Vec<u64>,
    bytes: u64,
    last_pts: Option<u64>,
    out_of_order: u64,
    drained: bool,
}

impl Stats {
    fn line(&self) -> String {
        let gaps: Vec<String> = self
            .key_at
            .windows(2)
            .map(|w| (w[1] - w[0]).to_string())
            .collect();
        format!(
            "in={} busy={} out={} keys={} key_interval={} bytes={} out_of_order={} drained={}\n",
            self.submitted,
            self.busy,
            self.units,
            self.keys,
            if gaps.is_empty() {
                "-".into()
            } else {
                gaps.join(",")
            },
            self.bytes,
            self.out_of_order,
            if self.drained { "yes" } else { "no" }
        )
    }
}

/// Takes every finished unit. Ok(true) once the encoder is drained.
fn take(
    enc: &mut dyn VideoEncoder,
    st: &mut Stats,
    file: &mut Option<std::fs::File>,
) -> Result<bool, String> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match enc.poll(&mut buf).map_err(|e| e.to_string())? {
            Polled::Unit(c) => {
                if st.last_pts.is_some_and(|p| c.pts_us <= p) {
                    st.out_of_order += 1;
                }
                st.last_pts = Some(c.pts_us);
                if c.key {
                    st.keys += 1;
                    st.key_at.push(st.units);
                }
                st.units += 1;
                st.bytes += buf.len() as u64;
                if let Some(f) = file {
                    f.write_all(&buf)
                        .map_err(|e| format!("writing output: {e}"))?;
                }
            }
            Polled::Pending => return Ok(false),
            Polled::Drained => return Ok(true),
        }
    }
}
