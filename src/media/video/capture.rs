//! One camera picture: skipped when too soon after the last, encoded in
//! place when the encoder imports the camera's buffers (zero copy: the
//! buffer goes back to the camera once the encoder released it), otherwise
//! converted into the thread's picture buffer.

use std::time::{Duration, Instant};

use livepush_core::config::VideoParams;
use livepush_core::encoder::error::EncoderError;
use livepush_core::encoder::runner::{Frame, Runner, Step};

use super::super::MediaMsg;
use super::backends::Backends;
use super::to_loop::ToLoop;
use crate::hw::v4l2::{Camera, CameraError};

/// What became of a camera picture.
pub(super) enum Captured {
    /// Converted into the picture buffer, with its timestamp; false: the
    /// frame was corrupt and the buffer holds the last picture.
    Pixels(u64, bool),
    /// Its buffer went to the encoder as it is (zero copy) and is back.
    Encoded,
    /// The loop is gone or no encoder is left.
    Stop,
    /// Too soon after the last picture: dropped (buffer back to the camera).
    Skipped,
}

/// What `capture` needs besides the camera.
pub(super) struct CaptureCtx<'a> {
    pub(super) runner: &'a mut Runner,
    pub(super) opener: &'a mut Backends,
    pub(super) mb: &'a crate::mailbox::Lane<MediaMsg>,
    pub(super) recycle: &'a smol::channel::Receiver<Vec<u8>>,
    pub(super) origin: Instant,
    pub(super) origin_mono_us: u64,
    pub(super) first: bool,
    /// The last picture's timestamp (updated when this one is encoded here).
    pub(super) last_pts: &'a mut Option<u64>,
    pub(super) min_gap_us: u64,
    /// The picture is wanted in the picture buffer (a snapshot): no zero copy.
    pub(super) want_pixels: bool,
}

/// Takes the next camera picture. When it needs no conversion and the
/// encoder imports camera buffers, the buffer itself is encoded (zero copy)
/// and goes back to the camera once the encoder has released it; otherwise
/// it is converted into `picture` for the ordinary path.
pub(super) fn capture(
    c: &mut Camera,
    picture: &mut [u8],
    p: &VideoParams,
    cx: CaptureCtx<'_>,
) -> Result<Captured, CameraError> {
    let cap = c.capture()?;
    let pts = cap.pts_us.saturating_sub(cx.origin_mono_us);
    if cx.last_pts.is_some_and(|t| pts < t + cx.min_gap_us) {
        c.release(cap.index)?;
        return Ok(Captured::Skipped);
    }
    let dma = (cx.runner.size() == (p.width, p.height) && !cx.want_pixels)
        .then(|| c.dma(&cap, p.width, p.height))
        .flatten();
    if let Some((dma, layout)) = dma {
        if cx.first && !cx.mb.send_blocking(MediaMsg::FirstFrame) {
            return Ok(Captured::Stop);
        }
        let mut sink = ToLoop {
            mb: cx.mb,
            recycle: cx.recycle,
        };
        let now = livepush_core::time::Instant::from_micros(
            Instant::now().duration_since(cx.origin).as_micros() as u64,
        );
        match cx
            .runner
            .encode_frame(now, Frame::Dma(&dma, layout), pts, cx.opener, &mut sink)
        {
            Step::Stop => return Ok(Captured::Stop),
            Step::Go => {
                *cx.last_pts = Some(pts);
                // the buffer goes back to the camera only once released
                let until = Instant::now() + Duration::from_secs(1);
                loop {
                    let why = match cx.runner.imports_done() {
                        Ok(true) => break,
                        Ok(false) if Instant::now() < until => {
                            let fd = cx.runner.release_fd();
                            crate::hw::v4l2_uapi::wait_ready(fd, libc::POLLOUT, until);
                            continue;
                        }
                        Ok(false) => EncoderError::failed(
                            "an imported camera buffer was not released within 1 s",
                        ),
                        Err(e) => e,
                    };
                    // the failed encoder is closed, which releases its imports
                    if cx.runner.fail_now(why, &mut sink) == Step::Stop {
                        return Ok(Captured::Stop);
                    }
                    break;
                }
                c.release(cap.index)?;
                return Ok(Captured::Encoded);
            }
            Step::NeedPixels => {}
        }
    }
    let r = c.convert(&cap, picture, p.width, p.height);
    c.release(cap.index)?;
    r.map(|fresh| Captured::Pixels(pts, fresh))
}
