//! V4L2 capture streaming with raw ioctls, with the buffers also exported as
//! DMABUFs (VIDIOC_EXPBUF) where the driver can, so a picture can go to a
//! hardware encoder without a copy: the encoder imports the camera's buffer,
//! and the buffer goes back to the camera only once the encoder has released
//! it. (The `v4l` crate's stream neither exports buffers nor says which one
//! it returned.) Single-planar capture, MMAP buffers.
//!
//! [`CaptureQueue`] streams on a device someone else opened and configured
//! (`hw::v4l2::Camera`); [`ExportingCamera`] opens one itself for
//! `livepush encoder-check --camera`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use livepush_core::video::layout::RawLayout;

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
    dmabuf: Option<OwnedFd>,
    /// Dequeued: ours until released (the driver does not write it).
    held: bool,
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: mapped in start(), unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Streaming MMAP buffers on a capture device (the descriptor is borrowed:
/// it must outlive the queue).
pub struct CaptureQueue {
    fd: RawFd,
    path: String,
    bufs: Vec<Buf>,
}

// SAFETY: the mappings belong to this queue alone.
unsafe impl Send for CaptureQueue {}

impl CaptureQueue {
    /// Requests `count` buffers on `fd` (format already set), maps them,
    /// exports them when `export` (a driver that cannot is not an error:
    /// those buffers have no DMABUF), queues them all and starts streaming.
    pub fn start(fd: RawFd, path: &str, count: u32, export: bool) -> Result<Self, String> {
        let err = |what: &str, e: io::Error| format!("{path}: {what}: {e}");
        let mut rb: RequestBuffers = zeroed();
        rb.count = count;
        rb.kind = BUF_VIDEO_CAPTURE;
        rb.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_REQBUFS with a struct v4l2_requestbuffers.
        unsafe { uapi::ioctl(fd, VIDIOC_REQBUFS, &mut rb) }
            .map_err(|e| err("VIDIOC_REQBUFS", e))?;
        if rb.count == 0 {
            return Err(format!("{path}: no capture buffers granted"));
        }
        let mut q = CaptureQueue {
            fd,
            path: path.to_string(),
            bufs: Vec::new(),
        };
        let mut export_error = None;
        for i in 0..rb.count {
            let mut b: Buffer = zeroed();
            b.kind = BUF_VIDEO_CAPTURE;
            b.memory = MEMORY_MMAP;
            b.index = i;
            // SAFETY: VIDIOC_QUERYBUF with a struct v4l2_buffer.
            unsafe { uapi::ioctl(fd, VIDIOC_QUERYBUF, &mut b) }
                .map_err(|e| err("VIDIOC_QUERYBUF", e))?;
            // SAFETY: mapping the buffer the driver described.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    b.length as usize,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd,
                    b.m as libc::off_t,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(err("mmap", io::Error::last_os_error()));
            }
            let mut buf = Buf {
                ptr: ptr.cast(),
                len: b.length as usize,
                dmabuf: None,
                held: true,
            };
            if export && export_error.is_none() {
                let mut x: ExportBuffer = zeroed();
                x.kind = BUF_VIDEO_CAPTURE;
                x.index = i;
                x.flags = libc::O_CLOEXEC as u32 | libc::O_RDWR as u32;
                // SAFETY: VIDIOC_EXPBUF with a struct v4l2_exportbuffer.
                match unsafe { uapi::ioctl(fd, VIDIOC_EXPBUF, &mut x) } {
                    // SAFETY: a new descriptor the kernel just gave us.
                    Ok(()) => buf.dmabuf = Some(unsafe { OwnedFd::from_raw_fd(x.fd) }),
                    Err(e) => export_error = Some(e),
                }
            }
            q.bufs.push(buf);
            q.release(i)?;
        }
        if let Some(e) = export_error {
            log::info!("{path}: buffers not exported as DMABUFs ({e}): pictures will be copied");
            for b in &mut q.bufs {
                b.dmabuf = None;
            }
        }
        let mut k = BUF_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMON takes the buffer type as an int.
        unsafe { uapi::ioctl(fd, VIDIOC_STREAMON, &mut k) }
            .map_err(|e| err("VIDIOC_STREAMON", e))?;
        Ok(q)
    }

    /// Waits up to `timeout` for the next picture.
    pub fn next(&mut self, timeout: Duration) -> Result<Captured, String> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
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
        unsafe { uapi::ioctl(self.fd, VIDIOC_DQBUF, &mut b) }
            .map_err(|e| format!("{}: VIDIOC_DQBUF: {e}", self.path))?;
        self.bufs[b.index as usize].held = true;
        Ok(Captured {
            index: b.index,
            bytesused: b.bytesused.min(self.bufs[b.index as usize].len as u32),
            pts_us: b.timestamp.sec as u64 * 1_000_000 + b.timestamp.usec as u64,
        })
    }

    /// The bytes of buffer `index`, which must be one we hold (dequeued and
    /// not released: the driver does not write it meanwhile).
    pub fn data(&self, index: u32) -> &[u8] {
        let b = &self.bufs[index as usize];
        assert!(b.held, "buffer {index} is queued to the driver");
        // SAFETY: a live read-only mapping of `len` bytes.
        unsafe { std::slice::from_raw_parts(b.ptr, b.len) }
    }

    /// The DMABUF of buffer `index` and its length, if exported.
    pub fn dmabuf(&self, index: u32) -> Option<(RawFd, usize)> {
        let b = &self.bufs[index as usize];
        b.dmabuf.as_ref().map(|d| (d.as_raw_fd(), b.len))
    }

    /// Whether the buffers are exported.
    pub fn exported(&self) -> bool {
        self.bufs.first().is_some_and(|b| b.dmabuf.is_some())
    }

    /// Gives buffer `index` back to the driver.
    pub fn release(&mut self, index: u32) -> Result<(), String> {
        let mut b: Buffer = zeroed();
        b.kind = BUF_VIDEO_CAPTURE;
        b.memory = MEMORY_MMAP;
        b.index = index;
        // SAFETY: VIDIOC_QBUF with a struct v4l2_buffer.
        unsafe { uapi::ioctl(self.fd, VIDIOC_QBUF, &mut b) }
            .map_err(|e| format!("{}: VIDIOC_QBUF: {e}", self.path))?;
        self.bufs[index as usize].held = false;
        Ok(())
    }
}

impl Drop for CaptureQueue {
    fn drop(&mut self) {
        let mut k = BUF_VIDEO_CAPTURE as i32;
        // SAFETY: VIDIOC_STREAMOFF takes the buffer type as an int.
        let _ = unsafe { uapi::ioctl(self.fd, VIDIOC_STREAMOFF, &mut k) };
        self.bufs.clear();
        let mut rb: RequestBuffers = zeroed();
        rb.kind = BUF_VIDEO_CAPTURE;
        rb.memory = MEMORY_MMAP;
        // SAFETY: VIDIOC_REQBUFS with count 0 frees the (now unmapped) buffers.
        let _ = unsafe { uapi::ioctl(self.fd, VIDIOC_REQBUFS, &mut rb) };
    }
}

/// A camera opened by path at one raw format, streaming with exported buffers.
pub struct ExportingCamera {
    // the queue goes before the descriptor it borrows
    queue: CaptureQueue,
    _fd: OwnedFd,
    layout: RawLayout,
}

impl ExportingCamera {
    /// Opens `path` at `width`x`height` in `fourcc` (YU12 or NV12) and starts streaming.
    pub fn open(path: &str, width: u32, height: u32, fourcc: u32) -> Result<Self, String> {
        let fd = uapi::open_device(path)?;
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
        unsafe { uapi::ioctl(raw, VIDIOC_S_FMT, &mut f) }
            .map_err(|e| format!("{path}: VIDIOC_S_FMT: {e}"))?;
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
        let layout = RawLayout {
            fourcc,
            width,
            height,
            stride: if got.bytesperline == 0 {
                width
            } else {
                got.bytesperline
            },
            size: got.sizeimage,
        };
        let queue = CaptureQueue::start(raw, path, 4, true)?;
        if !queue.exported() {
            return Err(format!("{path}: the driver cannot export its buffers"));
        }
        Ok(ExportingCamera {
            queue,
            _fd: fd,
            layout,
        })
    }

    /// The picture layout of every buffer.
    pub fn layout(&self) -> RawLayout {
        self.layout
    }

    /// Waits up to `timeout` for the next picture.
    pub fn next(&mut self, timeout: Duration) -> Result<Captured, String> {
        self.queue.next(timeout)
    }

    /// The pixels of buffer `index` (valid until it is released).
    pub fn data(&self, index: u32) -> &[u8] {
        self.queue.data(index)
    }

    /// The DMABUF of buffer `index` and its length.
    pub fn dmabuf(&self, index: u32) -> (RawFd, usize) {
        self.queue.dmabuf(index).expect("exported at open")
    }

    /// Gives buffer `index` back to the driver.
    pub fn release(&mut self, index: u32) -> Result<(), String> {
        self.queue.release(index)
    }
}
