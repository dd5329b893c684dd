//! A V4L2 capture stream whose buffers are also exported as DMABUFs
//! (VIDIOC_EXPBUF), so a picture can go to a hardware encoder without a copy:
//! the encoder imports the camera's buffer, and the buffer goes back to the
//! camera only once the encoder has released it. Raw ioctls (the `v4l`
//! crate's stream neither exports buffers nor says which one it returned).
//! Single-planar capture, MMAP buffers, uncompressed formats.
//!
//! Used by `livepush encoder-check --camera` (and its HIL test: vivid into
//! vicodec). The streaming pipeline still captures through `hw::v4l2` and
//! copies; moving it to this stream is the next step.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use super::layout::RawLayout;
use super::v4l2_uapi::{self as uapi, *};

/// One captured picture, still owned by the driver's queue until `release`.
#[derive(Clone, Copy, Debug)]
pub struct Captured {
    /// Buffer index (pass back to `release`).
    pub index: u32,
    /// Bytes of picture.
    pub bytesused: u32,
    /// Capture time, µs (the driver's timestamp).
    pub pts_us: u64,
}

struct Buf {
    ptr: *mut u8,
    len: usize,
    dmabuf: OwnedFd,
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: mapped in open(), unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A streaming camera with exported buffers.
pub struct ExportingCamera {
    fd: OwnedFd,
    path: String,
    bufs: Vec<Buf>,
    layout: RawLayout,
}

// SAFETY: the mappings belong to this stream alone.
unsafe impl Send for ExportingCamera {}

impl ExportingCamera {
    /// Opens `path` at `width`x`height` in `fourcc` (YU12 or NV12) and starts streaming.
    pub fn open(path: &str, width: u32, height: u32, fourcc: u32) -> Result<Self, String> {
        let err = |what: &str, e: io::Error| format!("{path}: {what}: {e}");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: just opened; owned from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(f.into_raw_fd()) };
        let raw = fd.as_raw_fd();
        let mut f = Format {
            kind: BUF_VIDEO_CAPTURE,
            fmt: FormatUnion { raw: [0; 200] },
        };
        let mut p: PixFormat = zeroed();
        p.width = width;
        p.height = height;
        p.pixelformat = fourcc;
        f.fmt.pix = p;
        // SAFETY: VIDIOC_S_FMT with a struct v4l2_format.
        unsafe { uapi::ioctl(raw, VIDIOC_S_FMT, &mut f) }.map_err(|e| err("VIDIOC_S_FMT", e))?;
        // SAFETY: the single-planar member, as set.
        let got = unsafe { f.fmt.pix };
        if (got.width, got.height, got.pixelformat) != (width, height, fourcc) {
            return Err(format!(
                "{path}: asked for {} {width}x{height}, got {} {}x{}",
                fourcc_text(fourcc),
                fourcc_text(got.pixelformat),
                got.width,
                got.height
            ));
        }
        let stride = if got.bytesperline == 0 {
            width
        } else {
            got.bytesperline
        };
        let layout = RawLayout {
            fourcc,
            width,
            height,
            stride,
            size: got.sizeimage,
        };
        let mut rb: RequestBuffers = zeroed();
        rb.count = 4;
        rb.kind = BUF_VIDEO_CAPTURE;
        rb.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_REQBUFS with a struct v4l2_requestbuffers.
        unsafe { uapi::ioctl(raw, VIDIOC_REQBUFS, &mut rb) }
            .map_err(|e| err("VIDIOC_REQBUFS", e))?;
        let mut cam = ExportingCamera {
            fd,
            path: path.to_string(),
            bufs: Vec::new(),
            layout,
        };
        for i in 0..rb.count {
            let mut b: Buffer = zeroed();
            b.kind = BUF_VIDEO_CAPTURE;
            b.memory = MEMORY_MMAP;
            b.index = i;
            // SAFETY: VIDIOC_QUERYBUF with a struct v4l2_buffer.
            unsafe { uapi::ioctl(raw, VIDIOC_QUERYBUF, &mut b) }
                .map_err(|e| err("VIDIOC_QUERYBUF", e))?;
            // SAFETY: mapping the buffer the driver described.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    b.length as usize,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    raw,
                    b.m as libc::off_t,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(err("mmap", io::Error::last_os_error()));
            }
            let mut x: ExportBuffer = zeroed();
            x.kind = BUF_VIDEO_CAPTURE;
            x.index = i;
            x.flags = libc::O_CLOEXEC as u32 | libc::O_RDWR as u32;
            // SAFETY: VIDIOC_EXPBUF with a struct v4l2_exportbuffer; on
            // failure the mapping is released right here.
            if let Err(e) = unsafe { uapi::ioctl(raw, VIDIOC_EXPBUF, &mut x) } {
                // SAFETY: the mapping made just above.
                unsafe { libc::munmap(ptr, b.length as usize) };
                return Err(err(
                    "VIDIOC_EXPBUF (the driver cannot export its buffers)",
                    e,
                ));
            }
            cam.bufs.push(Buf {
                ptr: ptr.cast(),
                len: b.length as usize,
                // SAFETY: a new descriptor the kernel just gave us.
                dmabuf: unsafe { OwnedFd::from_raw_fd(x.fd) },
            });
            cam.release(i)?;
        }
        let mut k = BUF_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMON takes the buffer type as an int.
        unsafe { uapi::ioctl(raw, VIDIOC_STREAMON, &mut k) }
            .map_err(|e| err("VIDIOC_STREAMON", e))?;
        Ok(cam)
    }

    /// The picture layout of every buffer.
    pub fn layout(&self) -> RawLayout {
        self.layout
    }

    /// Waits up to `timeout` for the next picture.
    pub fn next(&mut self, timeout: Duration) -> Result<Captured, String> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
        if n == 0 {
            return Err(format!("{}: no picture within {timeout:?}", self.path));
        }
        let mut b: Buffer = zeroed();
        b.kind = BUF_VIDEO_CAPTURE;
        b.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_DQBUF with a struct v4l2_buffer.
        unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_DQBUF, &mut b) }
            .map_err(|e| format!("{}: VIDIOC_DQBUF: {e}", self.path))?;
        Ok(Captured {
            index: b.index,
            bytesused: b.bytesused,
            pts_us: b.timestamp.sec as u64 * 1_000_000 + b.timestamp.usec as u64,
        })
    }

    /// The pixels of buffer `index` (valid until it is released).
    pub fn data(&self, index: u32) -> &[u8] {
        let b = &self.bufs[index as usize];
        // SAFETY: a live read-only mapping of `len` bytes.
        unsafe { std::slice::from_raw_parts(b.ptr, b.len) }
    }

    /// The DMABUF of buffer `index` and its length.
    pub fn dmabuf(&self, index: u32) -> (RawFd, usize) {
        let b = &self.bufs[index as usize];
        (b.dmabuf.as_raw_fd(), b.len)
    }

    /// Gives buffer `index` back to the driver.
    pub fn release(&mut self, index: u32) -> Result<(), String> {
        let mut b: Buffer = zeroed();
        b.kind = BUF_VIDEO_CAPTURE;
        b.memory = MEMORY_MMAP;
        b.index = index;
        // SAFETY: VIDIOC_QBUF with a struct v4l2_buffer.
        unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_QBUF, &mut b) }
            .map_err(|e| format!("{}: VIDIOC_QBUF: {e}", self.path))
    }
}

impl Drop for ExportingCamera {
    fn drop(&mut self) {
        let mut k = BUF_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMOFF takes the buffer type as an int.
        let _ = unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_STREAMOFF, &mut k) };
        self.bufs.clear();
    }
}

/// Whether a camera buffer in `camera` layout can be handed to an encoder
/// expecting `encoder` as it is: same format, stride and rows (the chroma
/// planes sit where the encoder looks), and large enough.
pub fn zero_copy_fits(camera: &RawLayout, encoder: &RawLayout) -> Result<(), String> {
    let text = |l: &RawLayout| {
        format!(
            "{} {} rows of {} bytes",
            fourcc_text(l.fourcc),
            l.height,
            l.stride
        )
    };
    if camera.fourcc != encoder.fourcc
        || camera.stride != encoder.stride
        || camera.height != encoder.height
        || camera.size < encoder.size
    {
        return Err(format!(
            "the camera gives {} ({} bytes), the encoder wants {} ({} bytes)",
            text(camera),
            camera.size,
            text(encoder),
            encoder.size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::layout::{NV12, YU12};

    #[test]
    fn zero_copy_needs_the_same_layout() {
        let l = |fourcc, stride, height| RawLayout {
            fourcc,
            width: 640,
            height,
            stride,
            size: stride * height * 3 / 2,
        };
        assert!(zero_copy_fits(&l(YU12, 640, 480), &l(YU12, 640, 480)).is_ok());
        // vicodec pads 360 rows to 368: the chroma planes would be misplaced
        let e = zero_copy_fits(&l(YU12, 640, 360), &l(YU12, 640, 368)).unwrap_err();
        assert!(e.contains("360 rows") && e.contains("368 rows"), "{e}");
        assert!(zero_copy_fits(&l(NV12, 640, 480), &l(YU12, 640, 480)).is_err());
        assert!(zero_copy_fits(&l(YU12, 704, 480), &l(YU12, 640, 480)).is_err());
    }
}
