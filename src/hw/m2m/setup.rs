//! Setting up a V4L2 M2M encoder, in the interface's order: which queues
//! the device has (single- or multi-planar), the formats (CAPTURE: the
//! codec; OUTPUT: raw pictures, with the layout the driver chose read back),
//! the frame rate, and the controls that carry the encoder settings (those
//! a driver lacks are reported once and skipped). The running encoder and
//! its buffers are `encoder.rs`.

use std::io;
use std::os::fd::RawFd;

use livepush_core::encoder::settings::{EncoderSettings, Profile};
use livepush_core::video::layout::{RawLayout, NV12, YU12};

use crate::hw::v4l2_uapi::{self as uapi, *};

/// The device's queue types.
pub struct Queues {
    /// Multi-planar API.
    pub mplane: bool,
    /// The OUTPUT (raw pictures in) queue type.
    pub out_kind: u32,
    /// The CAPTURE (coded frames out) queue type.
    pub cap_kind: u32,
}

/// The node's VIDIOC_QUERYCAP answer and its capabilities (the device
/// caps where the driver gives them).
pub fn query_cap(fd: RawFd, path: &str) -> Result<(Capability, u32), String> {
    let mut cap: Capability = zeroed();
    // SAFETY: VIDIOC_QUERYCAP fills a struct v4l2_capability.
    unsafe { uapi::ioctl(fd, VIDIOC_QUERYCAP, &mut cap) }
        .map_err(|e| format!("{path}: VIDIOC_QUERYCAP: {e}"))?;
    let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    Ok((cap, caps))
}

/// What the device is: an M2M device, and with which queue types.
pub fn queues(fd: RawFd, path: &str) -> Result<Queues, String> {
    let (_, caps) = query_cap(fd, path)?;
    let mplane = caps & CAP_VIDEO_M2M_MPLANE != 0;
    if !mplane && caps & CAP_VIDEO_M2M == 0 {
        return Err(format!("{path}: not a memory-to-memory device"));
    }
    let (out_kind, cap_kind) = if mplane {
        (BUF_VIDEO_OUTPUT_MPLANE, BUF_VIDEO_CAPTURE_MPLANE)
    } else {
        (BUF_VIDEO_OUTPUT, BUF_VIDEO_CAPTURE)
    };
    Ok(Queues {
        mplane,
        out_kind,
        cap_kind,
    })
}

/// Sets CAPTURE to `codec` and OUTPUT to YU12 or NV12 at `s`'s size; returns
/// the codec's fourcc and the raw layout the driver chose (which may round
/// the size up).
pub fn formats(
    fd: RawFd,
    path: &str,
    mplane: bool,
    (out_kind, cap_kind): (u32, u32),
    codec: [u8; 4],
    s: &EncoderSettings,
) -> Result<(u32, RawLayout), String> {
    let err = |what: &str, e: io::Error| format!("{path}: {what}: {e}");
    let coded = fourcc(&codec);
    let offered = enum_formats(fd, cap_kind);
    if !offered.contains(&coded) {
        return Err(format!(
            "{path}: does not encode {} (offers {})",
            fourcc_text(coded),
            list(&offered)
        ));
    }
    let inputs = enum_formats(fd, out_kind);
    let raw_fourcc = [YU12, NV12]
        .into_iter()
        .find(|f| inputs.contains(f))
        .ok_or_else(|| {
            format!(
                "{path}: takes neither YU12 nor NV12 pictures (takes {})",
                list(&inputs)
            )
        })?;
    // CAPTURE: the codec (a compressed frame is at most a raw one)
    let mut f = Format {
        kind: cap_kind,
        fmt: FormatUnion { raw: [0; 200] },
    };
    set_pix(
        &mut f,
        mplane,
        s.width,
        s.height,
        coded,
        s.width * s.height * 3 / 2,
    );
    // SAFETY: VIDIOC_S_FMT with a struct v4l2_format.
    unsafe { uapi::ioctl(fd, VIDIOC_S_FMT, &mut f) }
        .map_err(|e| err("VIDIOC_S_FMT (CAPTURE)", e))?;
    // OUTPUT: raw pictures; read back the layout the driver chose
    let mut f = Format {
        kind: out_kind,
        fmt: FormatUnion { raw: [0; 200] },
    };
    set_pix(&mut f, mplane, s.width, s.height, raw_fourcc, 0);
    // SAFETY: as above.
    unsafe { uapi::ioctl(fd, VIDIOC_S_FMT, &mut f) }
        .map_err(|e| err("VIDIOC_S_FMT (OUTPUT)", e))?;
    let raw = read_layout(&f, mplane).map_err(|e| format!("{path}: {e}"))?;
    if raw.fourcc != raw_fourcc || raw.width < s.width || raw.height < s.height {
        return Err(format!(
            "{path}: asked for {} {}x{}, the driver gives {} {}x{}",
            fourcc_text(raw_fourcc),
            s.width,
            s.height,
            fourcc_text(raw.fourcc),
            raw.width,
            raw.height
        ));
    }
    Ok((coded, raw))
}

/// Sets every control for `s`; returns (and logs once) the names of those
/// the device refused.
pub fn apply_controls(fd: RawFd, path: &str, s: &EncoderSettings, h264: bool) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (name, id, value) in controls(s, h264) {
        if set_ctrl(fd, id, value).is_err() {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        log::warn!(
            "{path}: the encoder has no control for: {} (left at its defaults)",
            missing.join(", ")
        );
    }
    missing
}

/// The controls that carry `s` to an encoder of `coded` (name, id, value).
/// H.264-only ones are left out for other codecs.
pub fn controls(s: &EncoderSettings, h264: bool) -> Vec<(&'static str, u32, i32)> {
    let mut c = vec![
        ("GOP size", CID_GOP_SIZE, s.gop_frames as i32),
        ("B-frames", CID_B_FRAMES, 0),
        ("bitrate mode CBR", CID_BITRATE_MODE, BITRATE_MODE_CBR),
        ("bitrate", CID_BITRATE, (s.kbps * 1000) as i32),
        ("peak bitrate", CID_BITRATE_PEAK, (s.max_kbps * 1000) as i32),
    ];
    if h264 {
        let profile = match s.profile {
            Profile::ConstrainedBaseline => 1, // V4L2_MPEG_VIDEO_H264_PROFILE_CONSTRAINED_BASELINE
            Profile::Main => 2,
            Profile::High => 4,
        };
        c.extend([
            ("H.264 I period", CID_H264_I_PERIOD, s.gop_frames as i32),
            ("H.264 profile", CID_H264_PROFILE, profile),
            ("H.264 level", CID_H264_LEVEL, v4l2_level(s.level)),
            // SPS/PPS with every key frame (a restarted stream, a new viewer)
            ("repeat sequence header", CID_REPEAT_SEQ_HEADER, 1),
            (
                "header with first frame",
                CID_HEADER_MODE,
                HEADER_MODE_JOINED_WITH_1ST_FRAME,
            ),
        ]);
    }
    c
}

/// enum v4l2_mpeg_video_h264_level for a level_idc.
pub fn v4l2_level(idc: u8) -> i32 {
    const ORDER: [u8; 16] = [
        10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52,
    ];
    // 1b (index 1) sits between 1.0 and 1.1 in the enum
    match ORDER.iter().position(|l| *l == idc) {
        Some(0) => 0,
        Some(i) => i as i32 + 1,
        None => 16, // 5.2
    }
}

fn list(f: &[u32]) -> String {
    if f.is_empty() {
        return "nothing".into();
    }
    f.iter()
        .map(|v| fourcc_text(*v))
        .collect::<Vec<_>>()
        .join("/")
}

/// The pixel formats a queue type offers.
pub fn enum_formats(fd: RawFd, kind: u32) -> Vec<u32> {
    let mut v = Vec::new();
    for index in 0..64 {
        let mut d: FmtDesc = zeroed();
        d.index = index;
        d.kind = kind;
        // SAFETY: VIDIOC_ENUM_FMT fills the struct or fails with EINVAL at the end.
        if unsafe { uapi::ioctl(fd, VIDIOC_ENUM_FMT, &mut d) }.is_err() {
            break;
        }
        v.push(d.pixelformat);
    }
    v
}

fn set_pix(f: &mut Format, mplane: bool, w: u32, h: u32, fourcc: u32, sizeimage: u32) {
    if mplane {
        let mut p: PixFormatMplane = zeroed();
        p.width = w;
        p.height = h;
        p.pixelformat = fourcc;
        p.num_planes = 1;
        p.plane_fmt[0].sizeimage = sizeimage;
        f.fmt.pix_mp = p;
    } else {
        let mut p: PixFormat = zeroed();
        p.width = w;
        p.height = h;
        p.pixelformat = fourcc;
        p.sizeimage = sizeimage;
        f.fmt.pix = p;
    }
}

/// The raw layout in a format the driver filled in.
fn read_layout(f: &Format, mplane: bool) -> Result<RawLayout, String> {
    // SAFETY: reading the union member that matches the queue type.
    let (fourcc, width, height, stride, size, planes) = unsafe {
        if mplane {
            let p = f.fmt.pix_mp;
            let pf = p.plane_fmt[0];
            (
                p.pixelformat,
                p.width,
                p.height,
                pf.bytesperline,
                pf.sizeimage,
                p.num_planes,
            )
        } else {
            let p = f.fmt.pix;
            (
                p.pixelformat,
                p.width,
                p.height,
                p.bytesperline,
                p.sizeimage,
                1,
            )
        }
    };
    if planes != 1 {
        return Err(format!(
            "the driver wants {planes} separate planes (only one contiguous buffer is supported)"
        ));
    }
    let stride = if stride == 0 { width } else { stride };
    if (size as u64) < u64::from(stride) * u64::from(height) * 3 / 2 {
        return Err(format!(
            "buffer size {size} too small for {width}x{height} (stride {stride})"
        ));
    }
    Ok(RawLayout {
        fourcc,
        width,
        height,
        stride,
        size,
    })
}

pub fn set_ctrl(fd: RawFd, id: u32, value: i32) -> io::Result<()> {
    let mut c = Control { id, value };
    // SAFETY: VIDIOC_S_CTRL with a struct v4l2_control.
    unsafe { uapi::ioctl(fd, VIDIOC_S_CTRL, &mut c) }
}

pub fn set_fps(fd: RawFd, out_kind: u32, fps: u32) -> io::Result<()> {
    let mut p: StreamParm = zeroed();
    p.kind = out_kind;
    p.numerator = 1;
    p.denominator = fps;
    // SAFETY: VIDIOC_S_PARM with a struct v4l2_streamparm.
    unsafe { uapi::ioctl(fd, VIDIOC_S_PARM, &mut p) }
}
