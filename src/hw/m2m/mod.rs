//! V4L2 memory-to-memory encoders: finding one. A stateful M2M encoder is a
//! /dev/video* node whose capabilities say M2M and whose CAPTURE queue (the
//! compressed side) offers H.264 (Raspberry Pi 4: bcm2835-codec at
//! /dev/video11). The probe is plain ioctls (VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT
//! on both the single- and multi-planar capture types), so it runs on any
//! kernel; under qemu it meets vicodec (FWHT, not H.264) and says so.
//!
//! The encoder itself is [`encoder::M2mEncoder`]; `hw::v4l2_uapi` holds the
//! kernel structs and numbers both use.

pub mod encoder;
mod setup;

use std::os::fd::AsRawFd;

use crate::hw::v4l2_uapi::{
    BUF_VIDEO_CAPTURE, BUF_VIDEO_CAPTURE_MPLANE, CAP_VIDEO_M2M, CAP_VIDEO_M2M_MPLANE,
};

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
    let (cap, caps) = setup::query_cap(fd, path)?;
    let m2m = caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE) != 0;
    let mut capture_formats = Vec::new();
    if m2m {
        for kind in [BUF_VIDEO_CAPTURE, BUF_VIDEO_CAPTURE_MPLANE] {
            for f in setup::enum_formats(fd, kind) {
                let f = String::from_utf8_lossy(&f.to_le_bytes()).into_owned();
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
    find_encoder(preferred, b"H264")
}

/// The first M2M node whose capture side offers `codec` (a fourcc), or why there is none.
pub fn find_encoder(preferred: Option<&str>, codec: &[u8; 4]) -> Result<M2mNode, String> {
    let name = String::from_utf8_lossy(codec);
    let nodes = match preferred {
        Some(p) => vec![query(p)?],
        None => scan(),
    };
    if let Some(n) = nodes
        .iter()
        .find(|n| n.m2m && n.capture_formats.iter().any(|f| *f == name))
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
        format!("no {name} encoder: {}", m2m.join("; "))
    })
}
