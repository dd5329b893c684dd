//! V4L2 memory-to-memory encoders: finding one. A stateful M2M encoder is a
//! /dev/video* node whose capabilities say M2M and whose CAPTURE queue (the
//! compressed side) offers H.264 (Raspberry Pi 4: bcm2835-codec at
//! /dev/video11). The probe is plain ioctls (VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT
//! on both the single- and multi-planar capture types), so it runs on any
//! kernel; under qemu it meets vicodec (FWHT, not H.264) and says so.
//!
//! Encoding through the M2M queues is not built yet: a node that offers
//! H.264 is reported as found, and the chain moves on to the next backend.

use std::os::fd::AsRawFd;

/// What one /dev/video* node is, as far as encoding goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct M2mNode {
    /// The device path.
    pub path: String,
    /// Driver and card name.
    pub driver: String,
    /// Whether it is a memory-to-memory device.
    pub m2m: bool,
    /// The compressed formats its CAPTURE queue offers (fourcc strings).
    pub capture_formats: Vec<String>,
}

#[repr(C)]
struct Capability {
    driver: [u8; 16],
    card: [u8; 32],
    bus_info: [u8; 32],
    version: u32,
    capabilities: u32,
    device_caps: u32,
    reserved: [u32; 3],
}

#[repr(C)]
struct FmtDesc {
    index: u32,
    kind: u32,
    flags: u32,
    description: [u8; 32],
    pixelformat: u32,
    mbus_code: u32,
    reserved: [u32; 3],
}

const VIDIOC_QUERYCAP: libc::c_ulong = 0x8068_5600;
const VIDIOC_ENUM_FMT: libc::c_ulong = 0xc040_5602;
const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
const CAP_VIDEO_M2M: u32 = 0x0000_8000;
const CAP_DEVICE_CAPS: u32 = 0x8000_0000;
const BUF_VIDEO_CAPTURE: u32 = 1;
const BUF_VIDEO_CAPTURE_MPLANE: u32 = 9;

fn text(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Queries one node. Errors name the path.
pub fn query(path: &str) -> Result<M2mNode, String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("{path}: {e}"))?;
    let fd = f.as_raw_fd();
    // SAFETY: a zeroed plain-data struct of the kernel's layout (104 bytes).
    let mut cap: Capability = unsafe { std::mem::zeroed() };
    // SAFETY: VIDIOC_QUERYCAP fills a struct v4l2_capability.
    if unsafe { libc::ioctl(fd, VIDIOC_QUERYCAP as _, &mut cap) } < 0 {
        return Err(format!(
            "{path}: VIDIOC_QUERYCAP: {}",
            std::io::Error::last_os_error()
        ));
    }
    let caps = if cap.capabilities & CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    let m2m = caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE) != 0;
    let mut capture_formats = Vec::new();
    if m2m {
        for kind in [BUF_VIDEO_CAPTURE, BUF_VIDEO_CAPTURE_MPLANE] {
            for index in 0..64 {
                // SAFETY: zeroed struct v4l2_fmtdesc (64 bytes) with index and type set.
                let mut d: FmtDesc = unsafe { std::mem::zeroed() };
                d.index = index;
                d.kind = kind;
                // SAFETY: VIDIOC_ENUM_FMT fills the struct or fails with EINVAL at the end.
                if unsafe { libc::ioctl(fd, VIDIOC_ENUM_FMT as _, &mut d) } < 0 {
                    break;
                }
                let f = String::from_utf8_lossy(&d.pixelformat.to_le_bytes()).into_owned();
                if !capture_formats.contains(&f) {
                    capture_formats.push(f);
                }
            }
        }
    }
    Ok(M2mNode {
        path: path.to_string(),
        driver: format!("{} ({})", text(&cap.driver), text(&cap.card)),
        m2m,
        capture_formats,
    })
}

/// Every /dev/video* node, sorted, queried (nodes that fail to open are skipped).
pub fn scan() -> Vec<M2mNode> {
    super::v4l2::video_nodes()
        .iter()
        .filter_map(|p| query(p).ok())
        .collect()
}

/// The first M2M node whose capture side offers H.264, or why there is none.
pub fn find_h264_encoder(preferred: Option<&str>) -> Result<M2mNode, String> {
    let nodes = match preferred {
        Some(p) => vec![query(p)?],
        None => scan(),
    };
    if let Some(n) = nodes
        .iter()
        .find(|n| n.m2m && n.capture_formats.iter().any(|f| f == "H264"))
    {
        return Ok(n.clone());
    }
    let m2m: Vec<String> = nodes
        .iter()
        .filter(|n| n.m2m)
        .map(|n| {
            format!(
                "{} {} offers {}",
                n.path,
                n.driver,
                n.capture_formats.join("/")
            )
        })
        .collect();
    Err(if m2m.is_empty() {
        format!(
            "no device: none of the {} /dev/video* nodes is a memory-to-memory device",
            nodes.len()
        )
    } else {
        format!("no H.264 encoder: {}", m2m.join("; "))
    })
}
