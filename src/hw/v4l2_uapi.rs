//! The slice of the V4L2 kernel interface (linux/videodev2.h,
//! linux/v4l2-controls.h) the M2M encoder and the DMABUF-exporting capture
//! stream use: struct layouts for 64-bit
//! Linux (x86_64 and aarch64 share them), ioctl numbers, control ids and
//! flags. Sizes and numbers were checked against the kernel headers with a C
//! program; the tests below recompute every ioctl number from the struct sizes.

#![allow(dead_code)]

use std::io;
use std::os::fd::RawFd;

/// struct v4l2_capability.
#[repr(C)]
pub struct Capability {
    pub driver: [u8; 16],
    pub card: [u8; 32],
    pub bus_info: [u8; 32],
    pub version: u32,
    pub capabilities: u32,
    pub device_caps: u32,
    pub reserved: [u32; 3],
}

/// struct v4l2_fmtdesc.
#[repr(C)]
pub struct FmtDesc {
    pub index: u32,
    pub kind: u32,
    pub flags: u32,
    pub description: [u8; 32],
    pub pixelformat: u32,
    pub mbus_code: u32,
    pub reserved: [u32; 3],
}

/// struct v4l2_pix_format (single-planar).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PixFormat {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub bytesperline: u32,
    pub sizeimage: u32,
    pub colorspace: u32,
    pub priv_: u32,
    pub flags: u32,
    pub ycbcr_enc: u32,
    pub quantization: u32,
    pub xfer_func: u32,
}

/// struct v4l2_plane_pix_format.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct PlanePixFormat {
    pub sizeimage: u32,
    pub bytesperline: u32,
    pub reserved: [u16; 6],
}

/// struct v4l2_pix_format_mplane.
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub struct PixFormatMplane {
    pub width: u32,
    pub height: u32,
    pub pixelformat: u32,
    pub field: u32,
    pub colorspace: u32,
    pub plane_fmt: [PlanePixFormat; 8],
    pub num_planes: u8,
    pub flags: u8,
    pub ycbcr_enc: u8,
    pub quantization: u8,
    pub xfer_func: u8,
    pub reserved: [u8; 7],
}

/// The union in struct v4l2_format.
#[repr(C)]
#[derive(Clone, Copy)]
pub union FormatUnion {
    pub pix: PixFormat,
    pub pix_mp: PixFormatMplane,
    pub raw: [u8; 200],
    // struct v4l2_window holds pointers: the union is 8-aligned
    pub _align: [u64; 25],
}

/// struct v4l2_format.
#[repr(C)]
pub struct Format {
    pub kind: u32,
    pub fmt: FormatUnion,
}

/// struct v4l2_requestbuffers.
#[repr(C)]
pub struct RequestBuffers {
    pub count: u32,
    pub kind: u32,
    pub memory: u32,
    pub capabilities: u32,
    pub flags: u8,
    pub reserved: [u8; 3],
}

/// struct timeval (64-bit).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Timeval {
    pub sec: i64,
    pub usec: i64,
}

/// struct v4l2_timecode.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Timecode {
    pub kind: u32,
    pub flags: u32,
    pub frames: u8,
    pub seconds: u8,
    pub minutes: u8,
    pub hours: u8,
    pub userbits: [u8; 4],
}

/// struct v4l2_plane.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Plane {
    pub bytesused: u32,
    pub length: u32,
    /// mem_offset (MMAP), userptr or fd (DMABUF).
    pub m: u64,
    pub data_offset: u32,
    pub reserved: [u32; 11],
}

/// struct v4l2_buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Buffer {
    pub index: u32,
    pub kind: u32,
    pub bytesused: u32,
    pub flags: u32,
    pub field: u32,
    pub timestamp: Timeval,
    pub timecode: Timecode,
    pub sequence: u32,
    pub memory: u32,
    /// offset (MMAP), userptr, planes pointer (multi-planar) or fd (DMABUF).
    pub m: u64,
    pub length: u32,
    pub reserved2: u32,
    pub request_fd: i32,
}

/// struct v4l2_exportbuffer.
#[repr(C)]
pub struct ExportBuffer {
    pub kind: u32,
    pub index: u32,
    pub plane: u32,
    pub flags: u32,
    pub fd: i32,
    pub reserved: [u32; 11],
}

/// struct v4l2_encoder_cmd.
#[repr(C)]
pub struct EncoderCmd {
    pub cmd: u32,
    pub flags: u32,
    pub data: [u32; 8],
}

/// struct v4l2_event_subscription.
#[repr(C)]
pub struct EventSubscription {
    pub kind: u32,
    pub id: u32,
    pub flags: u32,
    pub reserved: [u32; 5],
}

/// struct v4l2_event.
#[repr(C)]
pub struct Event {
    pub kind: u32,
    pub u: [u64; 8],
    pub pending: u32,
    pub sequence: u32,
    pub timestamp: [i64; 2],
    pub id: u32,
    pub reserved: [u32; 8],
}

/// struct v4l2_control.
#[repr(C)]
pub struct Control {
    pub id: u32,
    pub value: i32,
}

/// struct v4l2_streamparm with the output parameters (struct v4l2_outputparm).
#[repr(C)]
pub struct StreamParm {
    pub kind: u32,
    pub capability: u32,
    pub outputmode: u32,
    pub numerator: u32,
    pub denominator: u32,
    pub extendedmode: u32,
    pub writebuffers: u32,
    pub reserved: [u32; 4],
    pub _rest: [u8; 160],
}

const fn iowr(nr: u32, size: usize) -> u64 {
    (3 << 30) | ((size as u64) << 16) | ((b'V' as u64) << 8) | nr as u64
}
const fn iow(nr: u32, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | ((b'V' as u64) << 8) | nr as u64
}
const fn ior(nr: u32, size: usize) -> u64 {
    (2 << 30) | ((size as u64) << 16) | ((b'V' as u64) << 8) | nr as u64
}

pub const VIDIOC_QUERYCAP: u64 = ior(0, size_of::<Capability>());
pub const VIDIOC_ENUM_FMT: u64 = iowr(2, size_of::<FmtDesc>());
pub const VIDIOC_G_FMT: u64 = iowr(4, size_of::<Format>());
pub const VIDIOC_S_FMT: u64 = iowr(5, size_of::<Format>());
pub const VIDIOC_REQBUFS: u64 = iowr(8, size_of::<RequestBuffers>());
pub const VIDIOC_QUERYBUF: u64 = iowr(9, size_of::<Buffer>());
pub const VIDIOC_QBUF: u64 = iowr(15, size_of::<Buffer>());
pub const VIDIOC_EXPBUF: u64 = iowr(16, size_of::<ExportBuffer>());
pub const VIDIOC_DQBUF: u64 = iowr(17, size_of::<Buffer>());
pub const VIDIOC_STREAMON: u64 = iow(18, size_of::<i32>());
pub const VIDIOC_STREAMOFF: u64 = iow(19, size_of::<i32>());
pub const VIDIOC_S_PARM: u64 = iowr(22, size_of::<StreamParm>());
pub const VIDIOC_S_CTRL: u64 = iowr(28, size_of::<Control>());
pub const VIDIOC_ENCODER_CMD: u64 = iowr(77, size_of::<EncoderCmd>());
pub const VIDIOC_DQEVENT: u64 = ior(89, size_of::<Event>());
pub const VIDIOC_SUBSCRIBE_EVENT: u64 = iow(90, size_of::<EventSubscription>());

pub const CAP_VIDEO_M2M_MPLANE: u32 = 0x0000_4000;
pub const CAP_VIDEO_M2M: u32 = 0x0000_8000;
pub const CAP_DEVICE_CAPS: u32 = 0x8000_0000;

pub const BUF_VIDEO_CAPTURE: u32 = 1;
pub const BUF_VIDEO_OUTPUT: u32 = 2;
pub const BUF_VIDEO_CAPTURE_MPLANE: u32 = 9;
pub const BUF_VIDEO_OUTPUT_MPLANE: u32 = 10;
pub const MEMORY_MMAP: u32 = 1;
pub const MEMORY_DMABUF: u32 = 4;

pub const BUF_FLAG_KEYFRAME: u32 = 0x0000_0008;
pub const BUF_FLAG_ERROR: u32 = 0x0000_0040;
pub const BUF_FLAG_LAST: u32 = 0x0010_0000;

pub const ENC_CMD_STOP: u32 = 1;
pub const EVENT_EOS: u32 = 2;

// controls (V4L2_CID_CODEC_BASE = 0x00990900)
pub const CID_B_FRAMES: u32 = 0x0099_09ca;
pub const CID_GOP_SIZE: u32 = 0x0099_09cb;
pub const CID_BITRATE_MODE: u32 = 0x0099_09ce;
pub const CID_BITRATE: u32 = 0x0099_09cf;
pub const CID_BITRATE_PEAK: u32 = 0x0099_09d0;
pub const CID_HEADER_MODE: u32 = 0x0099_09d8;
pub const CID_REPEAT_SEQ_HEADER: u32 = 0x0099_09e2;
pub const CID_FORCE_KEY_FRAME: u32 = 0x0099_09e5;
pub const CID_H264_I_PERIOD: u32 = 0x0099_0a66;
pub const CID_H264_LEVEL: u32 = 0x0099_0a67;
pub const CID_H264_PROFILE: u32 = 0x0099_0a6b;

pub const BITRATE_MODE_CBR: i32 = 1;
pub const HEADER_MODE_JOINED_WITH_1ST_FRAME: i32 = 1;

/// A fourcc as the kernel's u32.
pub const fn fourcc(s: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*s)
}

/// A fourcc as text.
pub fn fourcc_text(v: u32) -> String {
    String::from_utf8_lossy(&v.to_le_bytes()).into_owned()
}

/// ioctl(2) with EINTR retried; the error is the OS error.
///
/// # Safety
/// `arg` must point to the struct `req` expects.
pub unsafe fn ioctl<T>(fd: RawFd, req: u64, arg: *mut T) -> io::Result<()> {
    loop {
        // SAFETY: the caller passes the struct the request expects.
        if unsafe { libc::ioctl(fd, req as _, arg) } >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Waits until `fd` polls ready for `events` (or in error), at most until
/// `until`; without a descriptor, a millisecond (the caller polls).
pub fn wait_ready(fd: Option<RawFd>, events: i16, until: std::time::Instant) {
    let Some(fd) = fd else {
        std::thread::sleep(std::time::Duration::from_millis(1));
        return;
    };
    let left = until.saturating_duration_since(std::time::Instant::now());
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd; an interrupted or failed wait only returns early.
    unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
}

/// Opens a device node read/write, non-blocking and close-on-exec; the
/// error names the path.
pub fn open_device(path: &str) -> Result<std::os::fd::OwnedFd, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map(std::os::fd::OwnedFd::from)
        .map_err(|e| format!("{path}: {e}"))
}

/// A zeroed kernel struct.
pub fn zeroed<T>() -> T {
    // SAFETY: only used for the plain-data structs above, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_ioctl_numbers_match_the_kernel_headers() {
        // sizes from sizeof() in C against linux/videodev2.h (64-bit)
        assert_eq!(size_of::<Buffer>(), 88);
        assert_eq!(size_of::<Plane>(), 64);
        assert_eq!(size_of::<Format>(), 208);
        assert_eq!(size_of::<PixFormat>(), 48);
        assert_eq!(size_of::<PixFormatMplane>(), 192);
        assert_eq!(size_of::<RequestBuffers>(), 20);
        assert_eq!(size_of::<EncoderCmd>(), 40);
        assert_eq!(size_of::<EventSubscription>(), 32);
        assert_eq!(size_of::<Event>(), 136);
        assert_eq!(size_of::<StreamParm>(), 204);
        assert_eq!(std::mem::offset_of!(Buffer, m), 64);
        assert_eq!(std::mem::offset_of!(Buffer, timestamp), 24);
        assert_eq!(std::mem::offset_of!(Buffer, sequence), 56);
        assert_eq!(std::mem::offset_of!(Format, fmt), 8);
        assert_eq!(std::mem::offset_of!(Plane, data_offset), 16);
        // the numbers the C preprocessor gives
        assert_eq!(VIDIOC_QBUF, 0xc058_560f);
        assert_eq!(VIDIOC_DQBUF, 0xc058_5611);
        assert_eq!(VIDIOC_QUERYBUF, 0xc058_5609);
        assert_eq!(VIDIOC_S_FMT, 0xc0d0_5605);
        assert_eq!(VIDIOC_REQBUFS, 0xc014_5608);
        assert_eq!(VIDIOC_STREAMON, 0x4004_5612);
        assert_eq!(VIDIOC_STREAMOFF, 0x4004_5613);
        assert_eq!(VIDIOC_ENCODER_CMD, 0xc028_564d);
        assert_eq!(VIDIOC_SUBSCRIBE_EVENT, 0x4020_565a);
        assert_eq!(VIDIOC_DQEVENT, 0x8088_5659);
        assert_eq!(VIDIOC_S_CTRL, 0xc008_561c);
        assert_eq!(VIDIOC_S_PARM, 0xc0cc_5616);
        assert_eq!(VIDIOC_QUERYCAP, 0x8068_5600);
        assert_eq!(VIDIOC_EXPBUF, 0xc040_5610);
        assert_eq!(size_of::<ExportBuffer>(), 64);
        assert_eq!(VIDIOC_ENUM_FMT, 0xc040_5602);
        assert_eq!(fourcc(b"H264"), 0x3436_3248);
    }
}
