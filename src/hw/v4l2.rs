//! V4L2 camera capture (the `v4l` crate): opens a camera by path (including
//! stable `/dev/v4l/by-id/...` links) or by `card:NAME` (matched against the
//! card name or bus info of every /dev/video*), negotiates the mode with
//! `livepush_core::video::negotiate`, streams MMAP buffers and converts each
//! picture to I420 at the output size (MJPEG through `livepush_images::Mjpeg`). Dequeueing waits in poll(2) with a
//! deadline on the video thread, so a camera that stops delivering is noticed.
//! Streaming is `super::capture_dmabuf::CaptureQueue` (raw ioctls), whose
//! buffers are also exported as DMABUFs where the driver can: when the
//! camera's raw format and size are what the encoder takes, the video thread
//! hands the buffer itself to a hardware encoder (zero copy).

use std::io;
use std::time::Duration;

use livepush_core::video::convert::{self, Picture};
use livepush_core::video::negotiate::{self, Mode, Offer, PixelFormat, SizeOffer};
use v4l::control::{Control, Value};
use v4l::framesize::FrameSizeEnum;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, Format, FourCC};

use livepush_core::encoder::interface::DmaPicture;
use livepush_core::video::layout::RawLayout;

use super::capture_dmabuf::{CaptureQueue, Captured};
use livepush_images::Mjpeg;

/// V4L2 control id of continuous auto focus.
const CID_FOCUS_AUTO: u32 = 0x009a_090c;
/// V4L2_CID_FLASH_LED_MODE (the flash class): 0 none, 1 flash, 2 torch.
const CID_FLASH_LED_MODE: u32 = 0x009c_0901;
const FLASH_LED_MODE_NONE: i64 = 0;
const FLASH_LED_MODE_TORCH: i64 = 2;

/// Why the camera could not be used.
#[derive(Debug)]
pub enum CameraError {
    /// Opening failed (-1301); `permission` for EACCES/EPERM (error event 1001).
    Open {
        /// What failed, naming the device.
        msg: String,
        /// The service user may not use the device.
        permission: bool,
    },
    /// No usable mode (-1305), with what the camera offers.
    Mode(String),
    /// Capture stopped: unplugged, driver error, or no frame in time (-1301).
    Lost(String),
}

/// An open, streaming camera.
pub struct Camera {
    // the queue goes before the device whose descriptor it borrows
    queue: CaptureQueue,
    _dev: Device,
    path: String,
    mode: Mode,
    stride: u32,
    /// Continuous auto focus was switched on (false: the camera has no such control).
    pub auto_focus: bool,
    mjpeg: Mjpeg,
    /// The torch (flash LED in torch mode) is on.
    torch: bool,
}

/// Every /dev/video* node, in numeric order (video2 before video10).
pub fn video_nodes() -> Vec<String> {
    crate::files::numbered_entries("/dev", "video")
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .collect()
}

/// Finds the device a config value names.
fn resolve(spec: &str) -> Result<String, CameraError> {
    let Some(name) = spec.strip_prefix("card:") else {
        return Ok(spec.to_string());
    };
    let mut seen = Vec::new();
    for p in video_nodes() {
        if let Ok(caps) = Device::with_path(&p).and_then(|d| d.query_caps()) {
            let has_capture = Device::with_path(&p)
                .and_then(|d| d.enum_formats())
                .is_ok_and(|f| !f.is_empty());
            if has_capture && (caps.card == name || caps.bus.starts_with(name)) {
                return Ok(p);
            }
            seen.push(format!("{p} ({}, {})", caps.card, caps.bus));
        }
    }
    Err(CameraError::Open {
        msg: format!(
            "no capture device with card name or bus {name:?}; found: {}",
            if seen.is_empty() {
                "none".into()
            } else {
                seen.join(", ")
            }
        ),
        permission: false,
    })
}

fn os_error(path: &str, what: &str, e: &io::Error) -> CameraError {
    CameraError::Open {
        msg: format!("{path}: {what}: {e}"),
        permission: matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)),
    }
}

impl Camera {
    /// Opens and starts the camera for an `out_w` x `out_h` output at `fps`.
    pub fn open(
        spec: &str,
        out_w: u32,
        out_h: u32,
        fps: u32,
        auto_focus: bool,
    ) -> Result<Self, CameraError> {
        let path = resolve(spec)?;
        let dev = Device::with_path(&path).map_err(|e| os_error(&path, "open", &e))?;
        let descs = dev
            .enum_formats()
            .map_err(|e| os_error(&path, "not a capture device (VIDIOC_ENUM_FMT)", &e))?;
        let mut offers = Vec::new();
        for d in &descs {
            let mut sizes = Vec::new();
            for s in dev.enum_framesizes(d.fourcc).unwrap_or_default() {
                match s.size {
                    FrameSizeEnum::Discrete(x) => {
                        sizes.push(SizeOffer::Discrete(x.width, x.height))
                    }
                    FrameSizeEnum::Stepwise(x) => sizes.push(SizeOffer::Stepwise {
                        min_w: x.min_width,
                        max_w: x.max_width,
                        step_w: x.step_width,
                        min_h: x.min_height,
                        max_h: x.max_height,
                        step_h: x.step_height,
                    }),
                }
            }
            offers.push(Offer {
                fourcc: d.fourcc.repr,
                sizes,
            });
        }
        let mode = negotiate::choose(&offers, out_w, out_h, true)
            .map_err(|e| CameraError::Mode(format!("{path}: {e}")))?;
        let want = Format::new(mode.width, mode.height, FourCC::new(&mode.format.fourcc()));
        let got = dev
            .set_format(&want)
            .map_err(|e| os_error(&path, "VIDIOC_S_FMT", &e))?;
        if (got.width, got.height, got.fourcc.repr)
            != (mode.width, mode.height, mode.format.fourcc())
        {
            return Err(CameraError::Mode(format!(
                "{path}: asked for {}x{} {}, the driver set {}x{} {}",
                mode.width,
                mode.height,
                String::from_utf8_lossy(&mode.format.fourcc()),
                got.width,
                got.height,
                String::from_utf8_lossy(&got.fourcc.repr)
            )));
        }
        if let Err(e) = dev.set_params(&Parameters::with_fps(fps)) {
            log::warn!("{path}: cannot set {fps} fps: {e}");
        }
        let auto_focus = auto_focus
            && dev
                .set_control(Control {
                    id: CID_FOCUS_AUTO,
                    value: Value::Boolean(true),
                })
                .is_ok();
        // exported buffers only matter for raw formats an encoder can take
        let export = matches!(mode.format, PixelFormat::I420 | PixelFormat::Nv12);
        let queue = CaptureQueue::start(dev.handle().fd(), &path, 4, export).map_err(|msg| {
            CameraError::Open {
                msg,
                permission: false,
            }
        })?;
        Ok(Camera {
            queue,
            _dev: dev,
            path,
            mode,
            stride: got.stride,
            auto_focus,
            mjpeg: Mjpeg::default(),
            torch: false,
        })
    }

    /// The negotiated capture mode.
    /// Toggles the camera's flash LED between torch and off
    /// (V4L2_CID_FLASH_LED_MODE). Ok(on); Err(None): the camera has no
    /// such control; Err(Some(why)): it has one and refused.
    pub fn toggle_torch(&mut self) -> Result<bool, Option<String>> {
        let on = !self.torch;
        let value = if on {
            FLASH_LED_MODE_TORCH
        } else {
            FLASH_LED_MODE_NONE
        };
        match self._dev.set_control(Control {
            id: CID_FLASH_LED_MODE,
            value: Value::Integer(value),
        }) {
            Ok(()) => {
                self.torch = on;
                Ok(on)
            }
            // EINVAL: no such control on this device
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Err(None),
            Err(e) => Err(Some(format!("{}: flash LED mode: {e}", self.path))),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The device path in use.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Waits for the next picture and keeps it in its buffer: [`Camera::dma`]
    /// or [`Camera::convert`] it, then [`Camera::release`] it.
    pub fn capture(&mut self) -> Result<Captured, CameraError> {
        self.queue
            .next(Duration::from_secs(2))
            .map_err(CameraError::Lost)
    }

    /// Converts a captured picture into `out` (I420, `out_w` x `out_h`).
    /// Ok(false): a corrupt MJPEG frame, `out` still holds the last picture.
    pub fn convert(
        &mut self,
        cap: &Captured,
        out: &mut [u8],
        out_w: u32,
        out_h: u32,
    ) -> Result<bool, CameraError> {
        let buf = self.queue.data(cap.index);
        let used = cap.bytesused as usize;
        if self.mode.format == PixelFormat::Mjpeg {
            // a corrupt JPEG is one bad frame, not a lost camera: counted,
            // and the previous picture (still in `out`) is sent again
            if let Err(e) = self.mjpeg.decode(&buf[..used], out, out_w, out_h) {
                crate::media::counters::corrupt_picture(&self.path, &e);
                return Ok(false);
            }
            return Ok(true);
        }
        let pic = Picture {
            format: self.mode.format,
            width: self.mode.width,
            height: self.mode.height,
            stride: self.stride,
            data: &buf[..used],
        };
        convert::to_i420(&pic, out, out_w, out_h)
            .map(|()| true)
            .map_err(|e| CameraError::Lost(format!("{}: bad frame: {e:?}", self.path)))
    }

    /// A captured picture as a DMABUF an encoder can read in place, with its
    /// layout, when it needs no conversion for an `out_w` x `out_h` output.
    pub fn dma(&self, cap: &Captured, out_w: u32, out_h: u32) -> Option<(DmaPicture, RawLayout)> {
        let fourcc = match self.mode.format {
            PixelFormat::I420 => u32::from_le_bytes(*b"YU12"),
            PixelFormat::Nv12 => u32::from_le_bytes(*b"NV12"),
            _ => return None,
        };
        if (self.mode.width, self.mode.height) != (out_w, out_h) {
            return None;
        }
        let (fd, len) = self.queue.dmabuf(cap.index)?;
        let layout = RawLayout {
            fourcc,
            width: out_w,
            height: out_h,
            stride: self.stride,
            size: cap.bytesused,
        };
        Some((DmaPicture { fd, len }, layout))
    }

    /// Gives a captured picture's buffer back to the camera.
    pub fn release(&mut self, index: u32) -> Result<(), CameraError> {
        self.queue.release(index).map_err(CameraError::Lost)
    }
}
