//! The V4L2 stateful M2M encoder (the kernel's "Memory-to-Memory Stateful
//! Video Encoder Interface"): raw pictures go into OUTPUT buffers, compressed
//! frames come out of CAPTURE buffers, the driver copies each picture's
//! timestamp to its frame. Single- and multi-planar queues (vicodec uses the
//! first by default and the second with `multiplanar=1`; the Raspberry Pi's
//! bcm2835-codec the second), MMAP buffers, I420 (YU12) or NV12 input.
//!
//! Setup follows the interface's order (`setup.rs`: queues, CAPTURE format
//! (the codec), OUTPUT format (the driver may round the coded size up:
//! vicodec makes 640x360 640x368, whose extra rows are filled by repeating
//! the last one), frame rate, controls; then here: buffers, STREAMON). Controls a driver lacks are reported
//! once and skipped (the key-frame check after encoding catches an ignored
//! GOP). `drain` is ENCODER_CMD STOP; the last frame carries
//! V4L2_BUF_FLAG_LAST and the EOS event follows. Every ioctl error names the
//! device and is an encoder failure for the chain (a device that stops
//! streaming under us, one that was unplugged, a buffer marked ERROR).
//!
//! The codec is a parameter (H.264 for pushing; the HIL test runs vicodec's
//! FWHT through the same code). DMABUF import of camera buffers is not done:
//! pictures are copied into the encoder's MMAP buffers.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use livepush_core::codec::h264;
use livepush_core::encoder::settings::EncoderSettings;

use super::setup::{self, set_ctrl, set_fps, Queues};
use crate::hw::v4l2_uapi::{self as uapi, *};
use livepush_core::encoder::interface::{
    Coded, DmaPicture, EncoderError, Polled, Submitted, Tuning, VideoEncoder, I420,
};
use livepush_core::video::layout::RawLayout;

/// Buffers on each queue.
const BUFFERS: u32 = 4;

/// One mmap()ed buffer plane.
struct Mapped {
    ptr: *mut u8,
    len: usize,
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: mapped in `map`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Whether a coded frame is a key frame: H.264 by its NAL units (an IDR),
/// vicodec's FWHT by its header's I-frame flag (vicodec's encoder does not
/// set the buffer flag), anything else by V4L2_BUF_FLAG_KEYFRAME.
pub fn is_key(codec: u32, data: &[u8], buf_flags: u32) -> bool {
    if codec == fourcc(b"H264") {
        h264::is_keyframe(data)
    } else if codec == fourcc(b"FWHT") && data.len() >= 24 && data[..4] == [0x4f; 4] {
        // struct fwht_cframe_hdr: magic1, magic2, version, width, height, flags (big-endian)
        const FWHT_FL_I_FRAME: u32 = 1 << 10;
        u32::from_be_bytes([data[20], data[21], data[22], data[23]]) & FWHT_FL_I_FRAME != 0
    } else {
        buf_flags & BUF_FLAG_KEYFRAME != 0
    }
}

/// A running M2M encoder.
pub struct M2mEncoder {
    fd: OwnedFd,
    path: String,
    codec: u32,
    out_kind: u32,
    cap_kind: u32,
    mplane: bool,
    raw: RawLayout,
    outputs: Vec<Mapped>,
    /// OUTPUT buffers import DMABUFs (camera buffers) instead of being mapped.
    dmabuf_input: bool,
    /// OUTPUT buffers granted, and the DMABUF each one last imported.
    out_count: u32,
    last_fd: Vec<RawFd>,
    /// SPS/PPS that came in a buffer of their own, for the next frame.
    headers: Vec<u8>,
    /// The last SPS/PPS seen, for an IDR that comes without them.
    sets: Vec<u8>,
    free: Vec<u32>,
    captures: Vec<Mapped>,
    /// Controls the device refused (reported once at open).
    pub missing_controls: Vec<&'static str>,
    key_next: bool,
    draining: bool,
    drained: bool,
    settings: EncoderSettings,
}

// SAFETY: the mappings belong to this encoder alone; it is used from one thread at a time.
unsafe impl Send for M2mEncoder {}

impl M2mEncoder {
    /// Opens `path` and starts encoding `s`'s pictures into `codec` (a fourcc:
    /// `H264`, or `FWHT` for vicodec).
    pub fn open(path: &str, codec: [u8; 4], s: &EncoderSettings) -> Result<Self, EncoderError> {
        Self::open_with(path, codec, s, false)
    }

    /// Same; with `dmabuf_input` the OUTPUT queue imports DMABUFs
    /// ([`M2mEncoder::submit_dmabuf`]) instead of taking copies. A device
    /// that cannot be opened or is no M2M encoder is `Unavailable`, one that
    /// refuses the formats `Unsupported`, one whose buffers or streaming
    /// fail `Failed`.
    pub fn open_with(
        path: &str,
        codec: [u8; 4],
        s: &EncoderSettings,
        dmabuf_input: bool,
    ) -> Result<Self, EncoderError> {
        let fd = uapi::open_device(path).map_err(EncoderError::Unavailable)?;
        let raw_fd = fd.as_raw_fd();
        let Queues {
            mplane,
            out_kind,
            cap_kind,
        } = setup::queues(raw_fd, path).map_err(EncoderError::Unavailable)?;
        // 1.-2. the formats: CAPTURE the codec, OUTPUT raw pictures
        let (coded, raw) = setup::formats(raw_fd, path, mplane, (out_kind, cap_kind), codec, s)
            .map_err(EncoderError::Unsupported)?;
        // 3. frame rate (for rate control; a driver without it is fine)
        if let Err(e) = set_fps(raw_fd, out_kind, s.fps) {
            log::info!("{path}: frame rate not set ({e})");
        }
        // 4. controls
        let missing = setup::apply_controls(raw_fd, path, s, codec == *b"H264");
        let mut enc = M2mEncoder {
            fd,
            path: path.to_string(),
            codec: coded,
            out_kind,
            cap_kind,
            mplane,
            raw,
            outputs: Vec::new(),
            dmabuf_input,
            out_count: 0,
            last_fd: Vec::new(),
            headers: Vec::new(),
            sets: Vec::new(),
            free: Vec::new(),
            captures: Vec::new(),
            missing_controls: missing,
            key_next: false,
            draining: false,
            drained: false,
            settings: *s,
        };
        // 5. buffers, CAPTURE ones queued, EOS event, streaming
        enc.start()?;
        Ok(enc)
    }

    /// Buffers on both queues (CAPTURE ones queued), the EOS event, STREAMON.
    fn start(&mut self) -> Result<(), EncoderError> {
        let (count, maps) = self.request(self.out_kind)?;
        self.outputs = maps;
        self.out_count = count;
        self.last_fd = vec![-1; count as usize];
        self.free = (0..count).rev().collect();
        self.captures = self.request(self.cap_kind)?.1;
        for i in 0..self.captures.len() as u32 {
            self.queue_capture(i)?;
        }
        let mut sub: EventSubscription = zeroed();
        sub.kind = EVENT_EOS;
        // SAFETY: VIDIOC_SUBSCRIBE_EVENT with a struct v4l2_event_subscription.
        if let Err(e) =
            unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_SUBSCRIBE_EVENT, &mut sub) }
        {
            log::info!(
                "{}: no EOS event ({e}); the LAST flag ends a drain",
                self.path
            );
        }
        for kind in [self.out_kind, self.cap_kind] {
            let mut k = kind as i32;
            // SAFETY: VIDIOC_STREAMON takes the buffer type as an int.
            unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_STREAMON, &mut k) }
                .map_err(|e| self.err("VIDIOC_STREAMON", e))?;
        }
        Ok(())
    }

    /// The raw layout in use.
    pub fn layout(&self) -> RawLayout {
        self.raw
    }

    fn memory(&self, kind: u32) -> u32 {
        if self.dmabuf_input && kind == self.out_kind {
            MEMORY_DMABUF
        } else {
            MEMORY_MMAP
        }
    }

    /// Whether the queues are multi-planar.
    pub fn multiplanar(&self) -> bool {
        self.mplane
    }

    /// Test hook for the failure path: stops the CAPTURE queue under the
    /// encoder, as a driver that gave up would.
    pub fn stream_off_capture(&mut self) -> Result<(), EncoderError> {
        let mut k = self.cap_kind as i32;
        // SAFETY: VIDIOC_STREAMOFF takes the buffer type as an int.
        unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_STREAMOFF, &mut k) }
            .map_err(|e| self.err("VIDIOC_STREAMOFF", e))
    }

    /// A device call that failed: the encoder stopped working.
    fn err(&self, what: &str, e: io::Error) -> EncoderError {
        EncoderError::failed(format_args!("{}: {what}: {e}", self.path))
    }

    /// A setting the driver did not take: refused (EINVAL, ERANGE, ENOTTY:
    /// a value or control it does not have) or failed (anything else).
    fn refused(&self, what: &str, e: io::Error) -> EncoderError {
        match e.raw_os_error() {
            Some(libc::EINVAL | libc::ERANGE | libc::ENOTTY) => {
                EncoderError::unsupported(format_args!("{}: {what}: {e}", self.path))
            }
            _ => self.err(what, e),
        }
    }

    /// The encoder's own state is wrong for the call (a caller's mistake or
    /// a driver that stopped on its own): a failure.
    fn wrong(&self, what: impl std::fmt::Display) -> EncoderError {
        EncoderError::failed(format_args!("{}: {what}", self.path))
    }

    /// REQBUFS + QUERYBUF + mmap for one queue.
    fn request(&self, kind: u32) -> Result<(u32, Vec<Mapped>), EncoderError> {
        let fd = self.fd.as_raw_fd();
        let mut rb: RequestBuffers = zeroed();
        rb.count = BUFFERS;
        rb.kind = kind;
        rb.memory = self.memory(kind);
        // SAFETY: VIDIOC_REQBUFS with a struct v4l2_requestbuffers.
        unsafe { uapi::ioctl(fd, VIDIOC_REQBUFS, &mut rb) }
            .map_err(|e| self.err("VIDIOC_REQBUFS", e))?;
        if rb.count == 0 {
            return Err(self.wrong("no buffers granted"));
        }
        let mut maps = Vec::new();
        if self.memory(kind) == MEMORY_DMABUF {
            return Ok((rb.count, maps));
        }
        for i in 0..rb.count {
            let mut planes = [zeroed::<Plane>(); 1];
            let mut b = self.buffer(kind, i, &mut planes);
            // SAFETY: VIDIOC_QUERYBUF with a struct v4l2_buffer (planes array for mplane).
            unsafe { uapi::ioctl(fd, VIDIOC_QUERYBUF, &mut b) }
                .map_err(|e| self.err("VIDIOC_QUERYBUF", e))?;
            let (offset, len) = if self.mplane {
                (planes[0].m, planes[0].length)
            } else {
                (b.m, b.length)
            };
            // SAFETY: mapping the buffer the driver just described, shared, read/write.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len as usize,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    offset as libc::off_t,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(self.err("mmap", io::Error::last_os_error()));
            }
            maps.push(Mapped {
                ptr: ptr.cast(),
                len: len as usize,
            });
        }
        Ok((rb.count, maps))
    }

    /// A struct v4l2_buffer for buffer `index` of queue `kind` (pointing at
    /// `planes` on a multi-planar queue).
    fn buffer(&self, kind: u32, index: u32, planes: &mut [Plane; 1]) -> Buffer {
        let mut b: Buffer = zeroed();
        b.kind = kind;
        b.index = index;
        b.memory = self.memory(kind);
        if self.mplane {
            b.m = planes.as_mut_ptr() as u64;
            b.length = 1;
        }
        b
    }

    fn queue_capture(&mut self, index: u32) -> Result<(), EncoderError> {
        let mut planes = [zeroed::<Plane>(); 1];
        planes[0].length = self.captures[index as usize].len as u32;
        let mut b = self.buffer(self.cap_kind, index, &mut planes);
        // SAFETY: VIDIOC_QBUF with a struct v4l2_buffer.
        unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_QBUF, &mut b) }
            .map_err(|e| self.err("VIDIOC_QBUF (CAPTURE)", e))
    }

    /// Dequeues a buffer from `kind` without waiting: Ok(None) when none is ready.
    fn dequeue(&self, kind: u32, planes: &mut [Plane; 1]) -> Result<Option<Buffer>, DqError> {
        let mut b = self.buffer(kind, 0, planes);
        // SAFETY: VIDIOC_DQBUF with a struct v4l2_buffer.
        match unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_DQBUF, &mut b) } {
            Ok(()) => Ok(Some(b)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => Err(DqError::Drained),
            Err(e) => Err(DqError::Io(e)),
        }
    }

    /// Takes back OUTPUT buffers the driver is done with.
    fn reclaim(&mut self) -> Result<(), EncoderError> {
        loop {
            let mut planes = [zeroed::<Plane>(); 1];
            match self.dequeue(self.out_kind, &mut planes) {
                Ok(Some(b)) => self.free.push(b.index),
                Ok(None) | Err(DqError::Drained) => return Ok(()),
                Err(DqError::Io(e)) => return Err(self.err("VIDIOC_DQBUF (OUTPUT)", e)),
            }
        }
    }

    /// Reads pending events (EOS ends a drain).
    fn events(&mut self) {
        loop {
            let mut ev: Event = zeroed();
            // SAFETY: VIDIOC_DQEVENT fills a struct v4l2_event.
            if unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_DQEVENT, &mut ev) }.is_err() {
                return;
            }
            if ev.kind == EVENT_EOS && self.draining {
                log::debug!("{}: EOS", self.path);
            }
        }
    }
}

enum DqError {
    /// EPIPE: the queue is past its LAST buffer.
    Drained,
    Io(io::Error),
}

impl VideoEncoder for M2mEncoder {
    fn name(&self) -> &'static str {
        "v4l2-m2m"
    }

    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError> {
        if self.draining {
            return Err(self.wrong("picture submitted while draining"));
        }
        if self.dmabuf_input {
            return Err(self.wrong("opened for DMABUF import, not copies"));
        }
        self.reclaim()?;
        let Some(index) = self.free.pop() else {
            return Ok(Submitted::Busy);
        };
        let map = &self.outputs[index as usize];
        // SAFETY: the buffer is dequeued (ours until QBUF) and `len` bytes are mapped.
        let dst = unsafe { std::slice::from_raw_parts_mut(map.ptr, map.len) };
        if let Err(e) = self.raw.fill(pic, dst) {
            self.free.push(index);
            return Err(self.wrong(e));
        }
        if std::mem::take(&mut self.key_next) {
            // best effort: the key-frame check catches a driver that ignores it
            let _ = set_ctrl(self.fd.as_raw_fd(), CID_FORCE_KEY_FRAME, 1);
        }
        let mut planes = [zeroed::<Plane>(); 1];
        planes[0].bytesused = self.raw.size;
        planes[0].length = map.len as u32;
        let mut b = self.buffer(self.out_kind, index, &mut planes);
        b.timestamp = Timeval {
            sec: (pts_us / 1_000_000) as i64,
            usec: (pts_us % 1_000_000) as i64,
        };
        if !self.mplane {
            b.bytesused = self.raw.size;
        }
        // SAFETY: VIDIOC_QBUF with a struct v4l2_buffer.
        if let Err(e) = unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_QBUF, &mut b) } {
            self.free.push(index);
            return Err(self.err("VIDIOC_QBUF (OUTPUT)", e));
        }
        Ok(Submitted::Taken)
    }

    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError> {
        if self.drained {
            return Ok(Polled::Drained);
        }
        self.events();
        let mut planes = [zeroed::<Plane>(); 1];
        let b = match self.dequeue(self.cap_kind, &mut planes) {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(Polled::Pending),
            Err(DqError::Drained) if self.draining => {
                self.drained = true;
                return Ok(Polled::Drained);
            }
            Err(DqError::Drained) => {
                return Err(self.wrong("CAPTURE queue stopped"));
            }
            Err(DqError::Io(e)) => return Err(self.err("VIDIOC_DQBUF (CAPTURE)", e)),
        };
        if b.flags & BUF_FLAG_ERROR != 0 {
            return Err(self.wrong(format_args!(
                "frame {} came back marked as an error",
                b.sequence
            )));
        }
        let (used, offset) = if self.mplane {
            (planes[0].bytesused, planes[0].data_offset)
        } else {
            (b.bytesused, 0)
        };
        let map = &self.captures[b.index as usize];
        let used = (used as usize).min(map.len);
        let offset = (offset as usize).min(used);
        // SAFETY: dequeued buffer, `map.len` bytes mapped, `used` clamped to it.
        let data = unsafe { std::slice::from_raw_parts(map.ptr, used) };
        let start = out.len();
        out.extend_from_slice(&data[offset..]);
        let last = b.flags & BUF_FLAG_LAST != 0;
        if last && !self.draining {
            return Err(self.wrong("the encoder stopped (LAST buffer) without being asked"));
        }
        if last {
            self.drained = true;
        } else {
            self.queue_capture(b.index)?;
        }
        if out.len() == start {
            // an empty LAST buffer only ends the drain
            return Ok(if last {
                Polled::Drained
            } else {
                Polled::Pending
            });
        }
        if self.codec == fourcc(b"H264") {
            let vcl = h264::nal_units(&out[start..])
                .any(|n| matches!(n.first().map(|b| b & 0x1f), Some(1..=5)));
            if !vcl {
                // SPS/PPS in a buffer of their own (a driver without the
                // "joined with first frame" header mode): they go with the next frame
                self.headers.extend_from_slice(&out[start..]);
                out.truncate(start);
                return if last {
                    Ok(Polled::Drained)
                } else {
                    self.poll(out)
                };
            }
            if !self.headers.is_empty() {
                out.splice(start..start, self.headers.drain(..));
            }
            h264::ensure_parameter_sets(out, start, &mut self.sets);
        }
        let key = is_key(self.codec, &out[start..], b.flags);
        let pts_us = b.timestamp.sec as u64 * 1_000_000 + b.timestamp.usec as u64;
        Ok(Polled::Unit(Coded { pts_us, key }))
    }

    fn drain(&mut self) -> Result<(), EncoderError> {
        if self.draining {
            return Ok(());
        }
        let mut cmd: EncoderCmd = zeroed();
        cmd.cmd = ENC_CMD_STOP;
        // SAFETY: VIDIOC_ENCODER_CMD with a struct v4l2_encoder_cmd.
        unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_ENCODER_CMD, &mut cmd) }
            .map_err(|e| self.err("VIDIOC_ENCODER_CMD (STOP)", e))?;
        self.draining = true;
        Ok(())
    }

    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError> {
        let fd = self.fd.as_raw_fd();
        if let Some(k) = t.kbps {
            // the peak first when it must rise
            let peak = self.settings.max_kbps.max(k);
            if peak != self.settings.max_kbps {
                let _ = set_ctrl(fd, CID_BITRATE_PEAK, (peak * 1000) as i32);
                self.settings.max_kbps = peak;
            }
            set_ctrl(fd, CID_BITRATE, (k * 1000) as i32)
                .map_err(|e| self.refused("bitrate control", e))?;
            self.settings.kbps = k;
        }
        if let Some(f) = t.fps {
            set_fps(fd, self.out_kind, f).map_err(|e| self.refused("VIDIOC_S_PARM", e))?;
            self.settings.fps = f;
        }
        Ok(())
    }

    fn force_key(&mut self) {
        self.key_next = true;
    }

    fn imports(&self) -> bool {
        self.dmabuf_input
    }

    // a camera buffer in this encoder's layout, read in place: it must not
    // be reused until imports_done
    fn submit_dmabuf(&mut self, pic: &DmaPicture, pts_us: u64) -> Result<Submitted, EncoderError> {
        let (fd, len) = (pic.fd as RawFd, pic.len);
        if !self.dmabuf_input {
            return Err(EncoderError::unsupported(format_args!(
                "{}: opened for copies, not DMABUF import",
                self.path
            )));
        }
        if self.draining {
            return Err(self.wrong("picture submitted while draining"));
        }
        self.reclaim()?;
        // the index that imported this buffer before keeps its mapping
        let pos = self
            .free
            .iter()
            .position(|i| self.last_fd[*i as usize] == fd)
            .or_else(|| self.free.len().checked_sub(1));
        let Some(pos) = pos else {
            return Ok(Submitted::Busy);
        };
        let index = self.free.remove(pos);
        if std::mem::take(&mut self.key_next) {
            let _ = set_ctrl(self.fd.as_raw_fd(), CID_FORCE_KEY_FRAME, 1);
        }
        let mut planes = [zeroed::<Plane>(); 1];
        planes[0].bytesused = self.raw.size;
        planes[0].length = len as u32;
        planes[0].m = fd as u32 as u64;
        let mut b = self.buffer(self.out_kind, index, &mut planes);
        b.timestamp = Timeval {
            sec: (pts_us / 1_000_000) as i64,
            usec: (pts_us % 1_000_000) as i64,
        };
        if !self.mplane {
            b.m = fd as u32 as u64;
            b.length = len as u32;
            b.bytesused = self.raw.size;
        }
        // SAFETY: VIDIOC_QBUF with a struct v4l2_buffer (DMABUF memory).
        if let Err(e) = unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_QBUF, &mut b) } {
            self.free.push(index);
            return Err(self.err("VIDIOC_QBUF (OUTPUT, DMABUF import)", e));
        }
        self.last_fd[index as usize] = fd;
        Ok(Submitted::Taken)
    }

    /// Whether the encoder has released every imported buffer.
    fn imports_done(&mut self) -> Result<bool, EncoderError> {
        self.reclaim()?;
        Ok(self.free.len() as u32 == self.out_count)
    }

    fn release_fd(&self) -> Option<i32> {
        // POLLOUT: an OUTPUT buffer is done and can be dequeued
        Some(self.fd.as_raw_fd())
    }
}

impl Drop for M2mEncoder {
    fn drop(&mut self) {
        for kind in [self.out_kind, self.cap_kind] {
            let mut k = kind as i32;
            // SAFETY: VIDIOC_STREAMOFF takes the buffer type as an int.
            let _ = unsafe { uapi::ioctl(self.fd.as_raw_fd(), VIDIOC_STREAMOFF, &mut k) };
        }
        // the mappings go before the descriptor (field order would too; be explicit)
        self.outputs.clear();
        self.captures.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::super::setup::{controls, v4l2_level};
    use super::*;
    use livepush_core::config::VideoParams;

    fn settings(rtc: bool) -> EncoderSettings {
        EncoderSettings::new(
            &VideoParams {
                width: 1280,
                height: 720,
                fps: 30,
                gop_frames: 60,
                bitrate_kbps: 1800,
                max_kbps: 2500,
            },
            rtc,
        )
    }

    #[test]
    fn controls_carry_gop_cbr_peak_profile_level_and_no_b_frames() {
        let c = controls(&settings(true), true);
        let get = |id| c.iter().find(|x| x.1 == id).map(|x| x.2);
        assert_eq!(get(CID_GOP_SIZE), Some(60));
        assert_eq!(get(CID_H264_I_PERIOD), Some(60));
        assert_eq!(get(CID_B_FRAMES), Some(0));
        assert_eq!(get(CID_BITRATE_MODE), Some(BITRATE_MODE_CBR));
        assert_eq!(get(CID_BITRATE), Some(1_800_000));
        assert_eq!(get(CID_BITRATE_PEAK), Some(2_500_000));
        assert_eq!(get(CID_H264_PROFILE), Some(1)); // constrained baseline
        assert_eq!(get(CID_H264_LEVEL), Some(9)); // 3.1
        assert_eq!(get(CID_REPEAT_SEQ_HEADER), Some(1));
        let c = controls(&settings(false), true);
        assert_eq!(
            c.iter().find(|x| x.1 == CID_H264_PROFILE).map(|x| x.2),
            Some(4)
        );
        // another codec gets only the generic ones
        assert!(controls(&settings(true), false)
            .iter()
            .all(|x| x.1 != CID_H264_PROFILE && x.1 != CID_H264_LEVEL));
    }

    #[test]
    fn key_frames_are_found_per_codec() {
        let mut fwht = vec![0x4f, 0x4f, 0x4f, 0x4f, 0xff, 0xff, 0xff, 0xff];
        fwht.extend([0, 0, 0, 3, 0, 0, 2, 0x80, 0, 0, 1, 0x68]); // version, 640, 360
        fwht.extend((1u32 << 10 | 0x40).to_be_bytes());
        assert!(is_key(fourcc(b"FWHT"), &fwht, 0));
        fwht[22] = 0;
        assert!(!is_key(fourcc(b"FWHT"), &fwht, BUF_FLAG_KEYFRAME));
        let idr = [0, 0, 0, 1, 0x65, 0x88];
        let p = [0, 0, 0, 1, 0x41, 0x9a];
        assert!(is_key(fourcc(b"H264"), &idr, 0));
        assert!(!is_key(fourcc(b"H264"), &p, BUF_FLAG_KEYFRAME));
        assert!(is_key(fourcc(b"VP80"), &p, BUF_FLAG_KEYFRAME));
    }

    #[test]
    fn levels_map_to_the_v4l2_enum() {
        assert_eq!(v4l2_level(10), 0);
        assert_eq!(v4l2_level(11), 2); // after 1b
        assert_eq!(v4l2_level(31), 9);
        assert_eq!(v4l2_level(40), 11);
        assert_eq!(v4l2_level(52), 16);
    }
}
