//! H.264 through Rockchip MPP: one context (mpp_create + mpp_init for AVC
//! encoding), its configuration set with named keys (`prep:*` for the
//! picture, `rc:*` for CBR at the target with the peak as bps_max, GOP,
//! frame rate, `h264:*` for profile, level and CABAC), SPS/PPS with every IDR
//! (MPP_ENC_SET_HEADER_MODE), NV12 input in one DRM buffer with 16-aligned
//! strides, `encode_put_frame` / `encode_get_packet` with one picture in
//! flight (the output side does not block: no packet yet is "pending").
//! Run-time bitrate and frame-rate changes re-apply the configuration;
//! MPP_ENC_SET_IDR_FRAME forces a key frame. An IDR without SPS/PPS (an MPP
//! release that ignores the header mode) gets the last ones seen prepended.
//! Not tested on hardware.

use std::ffi::CString;
use std::ptr;

use livepush_core::codec::h264;
use livepush_core::encoder::interface::{
    Coded, EncoderError, Polled, Submitted, Tuning, VideoEncoder, I420,
};
use livepush_core::encoder::settings::{EncoderSettings, Profile};

use super::ffi::{self, Lib, MppApi, MppBuffer, MppBufferGroup, MppCtx, MppEncCfg, TAG};
use livepush_core::video::layout::{RawLayout, NV12};

/// The configuration keys and values for `s`.
pub fn config_keys(s: &EncoderSettings) -> Vec<(&'static str, i32)> {
    let l = layout(s.width, s.height);
    let bps = (s.kbps * 1000) as i32;
    let max = (s.max_kbps.max(s.kbps) * 1000) as i32;
    let (profile, cabac, t8x8) = match s.profile {
        Profile::ConstrainedBaseline => (66, 0, 0),
        Profile::Main => (77, 1, 0),
        Profile::High => (100, 1, 1),
    };
    vec![
        ("prep:width", s.width as i32),
        ("prep:height", s.height as i32),
        ("prep:hor_stride", l.stride as i32),
        ("prep:ver_stride", l.height as i32),
        ("prep:format", ffi::MPP_FMT_YUV420SP),
        ("rc:mode", ffi::MPP_ENC_RC_MODE_CBR),
        ("rc:bps_target", bps),
        ("rc:bps_max", max),
        ("rc:bps_min", bps / 2),
        ("rc:fps_in_flex", 0),
        ("rc:fps_in_num", s.fps as i32),
        ("rc:fps_in_denorm", 1),
        ("rc:fps_out_flex", 0),
        ("rc:fps_out_num", s.fps as i32),
        ("rc:fps_out_denorm", 1),
        ("rc:gop", s.gop_frames as i32),
        // never drop a frame to meet the rate: a hole in the timeline
        ("rc:drop_mode", 0),
        ("h264:profile", profile),
        ("h264:level", i32::from(s.level)),
        ("h264:cabac_en", cabac),
        ("h264:cabac_idc", 0),
        ("h264:trans8x8", t8x8),
    ]
}

/// MPP's input layout: NV12 with width and height aligned to 16.
pub fn layout(width: u32, height: u32) -> RawLayout {
    let stride = width.next_multiple_of(16);
    let rows = height.next_multiple_of(16);
    RawLayout {
        fourcc: NV12,
        width: stride,
        height: rows,
        stride,
        size: stride * rows * 3 / 2,
    }
}

/// A running MPP encoder.
pub struct MppEncoder {
    lib: Lib,
    ctx: MppCtx,
    api: *const MppApi,
    cfg: MppEncCfg,
    group: MppBufferGroup,
    buffer: MppBuffer,
    layout: RawLayout,
    settings: EncoderSettings,
    in_flight: bool,
    draining: bool,
    sets: Vec<u8>,
}

// SAFETY: the context and buffers belong to this encoder, used from one thread at a time.
unsafe impl Send for MppEncoder {}

/// The keys a run-time change sets: the rate ones for a bitrate, the frame
/// rate ones for a frame rate; never the GOP or the mode (setting those again
/// may restart MPP's rate control or the GOP).
fn tune_keys(s: &EncoderSettings, t: Tuning) -> Vec<(&'static str, i32)> {
    config_keys(s)
        .into_iter()
        .filter(|(k, _)| {
            (t.kbps.is_some() && k.starts_with("rc:bps_"))
                || (t.fps.is_some() && k.starts_with("rc:fps_"))
        })
        .collect()
}

/// An MPP call's return code: anything but 0 is the encoder failing.
fn check(what: &str, rc: i32) -> Result<(), EncoderError> {
    if rc == 0 {
        Ok(())
    } else {
        Err(EncoderError::failed(format_args!(
            "mpp: {what} failed ({rc})"
        )))
    }
}

/// A configuration call's return code: anything but 0 is the encoder
/// refusing the value (MPP does not tell a bad value from a broken device
/// here; a broken one fails its next frame anyway).
fn refused(what: &str, rc: i32) -> Result<(), EncoderError> {
    check(what, rc).map_err(|e| EncoderError::Unsupported(e.to_string()))
}

impl MppEncoder {
    /// Loads the library and starts an H.264 encoder for `s` (no library:
    /// `Unavailable`).
    pub fn open(s: &EncoderSettings) -> Result<Self, EncoderError> {
        let lib = Lib::open().map_err(EncoderError::Unavailable)?;
        let layout = layout(s.width, s.height);
        let mut e = MppEncoder {
            lib,
            ctx: ptr::null_mut(),
            api: ptr::null(),
            cfg: ptr::null_mut(),
            group: ptr::null_mut(),
            buffer: ptr::null_mut(),
            layout,
            settings: *s,
            in_flight: false,
            draining: false,
            sets: Vec::new(),
        };
        // SAFETY: MPP's documented set-up sequence; every out-pointer is a
        // field of `e`, which Drop releases (null ones are skipped).
        unsafe {
            check("mpp_create", (e.lib.mpp_create)(&mut e.ctx, &mut e.api))?;
            if e.api.is_null() {
                return Err(EncoderError::failed("mpp: mpp_create gave no API table"));
            }
            let mut timeout: i64 = 0; // output: never block
            check(
                "output timeout",
                ((*e.api).control)(
                    e.ctx,
                    ffi::MPP_SET_OUTPUT_TIMEOUT,
                    (&raw mut timeout).cast(),
                ),
            )?;
            check(
                "mpp_init",
                (e.lib.mpp_init)(e.ctx, ffi::MPP_CTX_ENC, ffi::MPP_VIDEO_CODING_AVC),
            )?;
            check("mpp_enc_cfg_init", (e.lib.mpp_enc_cfg_init)(&mut e.cfg))?;
            check(
                "get config",
                ((*e.api).control)(e.ctx, ffi::MPP_ENC_GET_CFG, e.cfg),
            )?;
            e.apply(&config_keys(s))?;
            let mut mode = ffi::MPP_ENC_HEADER_MODE_EACH_IDR;
            check(
                "header mode",
                ((*e.api).control)(e.ctx, ffi::MPP_ENC_SET_HEADER_MODE, (&raw mut mode).cast()),
            )?;
            check(
                "buffer group",
                (e.lib.mpp_buffer_group_get)(
                    &mut e.group,
                    ffi::MPP_BUFFER_TYPE_DRM,
                    ffi::MPP_BUFFER_INTERNAL,
                    TAG.as_ptr(),
                    TAG.as_ptr(),
                ),
            )?;
            check(
                "input buffer",
                (e.lib.mpp_buffer_get_with_tag)(
                    e.group,
                    &mut e.buffer,
                    layout.size as usize,
                    TAG.as_ptr(),
                    TAG.as_ptr(),
                ),
            )?;
        }
        Ok(e)
    }

    /// Sets `keys` on the configuration and hands it to the encoder.
    fn apply(&mut self, keys: &[(&'static str, i32)]) -> Result<(), EncoderError> {
        for (k, v) in keys {
            let c = CString::new(*k).expect("static key");
            // SAFETY: a live configuration object and a valid C string.
            let rc = unsafe { (self.lib.mpp_enc_cfg_set_s32)(self.cfg, c.as_ptr(), *v) };
            refused(&format!("setting {k} = {v}"), rc)?;
        }
        // SAFETY: the context's control entry with the configuration object.
        refused("set config", unsafe {
            ((*self.api).control)(self.ctx, ffi::MPP_ENC_SET_CFG, self.cfg)
        })
    }
}

impl VideoEncoder for MppEncoder {
    fn name(&self) -> &'static str {
        "mpp"
    }

    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError> {
        if self.draining {
            return Err(EncoderError::failed(
                "mpp: picture submitted while draining",
            ));
        }
        if self.in_flight {
            return Ok(Submitted::Busy);
        }
        // SAFETY: the buffer holds layout.size bytes (allocated in open) and
        // is not in use (no picture in flight).
        let dst = unsafe {
            let p = (self.lib.mpp_buffer_get_ptr_with_caller)(self.buffer, TAG.as_ptr());
            if p.is_null() {
                return Err(EncoderError::failed("mpp: input buffer has no mapping"));
            }
            std::slice::from_raw_parts_mut(p.cast::<u8>(), self.layout.size as usize)
        };
        self.layout
            .fill(pic, dst)
            .map_err(|e| EncoderError::failed(format_args!("mpp: {e}")))?;
        let l = self.lib_frame(pts_us)?;
        // SAFETY: a frame made by lib_frame; MPP takes its own reference.
        let rc = unsafe { ((*self.api).encode_put_frame)(self.ctx, l) };
        let mut f = l;
        // SAFETY: releasing our reference to the frame.
        unsafe { (self.lib.mpp_frame_deinit)(&mut f) };
        check("encode_put_frame", rc)?;
        self.in_flight = true;
        Ok(Submitted::Taken)
    }

    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError> {
        if !self.in_flight {
            return Ok(if self.draining {
                Polled::Drained
            } else {
                Polled::Pending
            });
        }
        let mut packet: ffi::MppPacket = ptr::null_mut();
        // SAFETY: the context's output entry; it writes a packet or null.
        let rc = unsafe { ((*self.api).encode_get_packet)(self.ctx, &mut packet) };
        if rc == ffi::MPP_ERR_TIMEOUT || (rc == 0 && packet.is_null()) {
            return Ok(Polled::Pending);
        }
        check("encode_get_packet", rc)?;
        // SAFETY: a live packet; its bytes are copied before it is released.
        let pts = unsafe {
            let pos = (self.lib.mpp_packet_get_pos)(packet).cast::<u8>();
            let len = (self.lib.mpp_packet_get_length)(packet);
            let start = out.len();
            if !pos.is_null() {
                out.extend_from_slice(std::slice::from_raw_parts(pos, len));
            }
            let pts = (self.lib.mpp_packet_get_pts)(packet);
            (self.lib.mpp_packet_deinit)(&mut packet);
            h264::ensure_parameter_sets(out, start, &mut self.sets);
            pts
        };
        self.in_flight = false;
        Ok(Polled::Unit(Coded {
            pts_us: pts.max(0) as u64,
            key: h264::is_keyframe(out),
        }))
    }

    fn drain(&mut self) -> Result<(), EncoderError> {
        // one picture at most is inside: it comes out of poll, then Drained
        self.draining = true;
        Ok(())
    }

    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError> {
        if let Some(k) = t.kbps {
            self.settings.kbps = k;
            self.settings.max_kbps = self.settings.max_kbps.max(k);
        }
        if let Some(f) = t.fps {
            self.settings.fps = f;
        }
        self.apply(&tune_keys(&self.settings, t))
    }

    fn force_key(&mut self) {
        // SAFETY: the context's control entry; this command takes no parameter.
        let rc =
            unsafe { ((*self.api).control)(self.ctx, ffi::MPP_ENC_SET_IDR_FRAME, ptr::null_mut()) };
        if rc != 0 {
            log::warn!("mpp: forcing a key frame failed ({rc})");
        }
    }
}

impl MppEncoder {
    /// A frame describing the input buffer.
    fn lib_frame(&self, pts_us: u64) -> Result<ffi::MppFrame, EncoderError> {
        let mut f: ffi::MppFrame = ptr::null_mut();
        let l = &self.lib;
        // SAFETY: a new frame object, filled with plain values and our buffer.
        unsafe {
            check("mpp_frame_init", (l.mpp_frame_init)(&mut f))?;
            (l.mpp_frame_set_width)(f, self.settings.width);
            (l.mpp_frame_set_height)(f, self.settings.height);
            (l.mpp_frame_set_hor_stride)(f, self.layout.stride);
            (l.mpp_frame_set_ver_stride)(f, self.layout.height);
            (l.mpp_frame_set_fmt)(f, ffi::MPP_FMT_YUV420SP);
            (l.mpp_frame_set_buffer)(f, self.buffer);
            (l.mpp_frame_set_pts)(f, pts_us as i64);
        }
        Ok(f)
    }
}

impl Drop for MppEncoder {
    fn drop(&mut self) {
        // SAFETY: each object was created in open() and is released once;
        // null ones (a failed open) are skipped.
        unsafe {
            if !self.ctx.is_null() && !self.api.is_null() {
                ((*self.api).reset)(self.ctx);
            }
            if !self.buffer.is_null() {
                (self.lib.mpp_buffer_put_with_caller)(self.buffer, TAG.as_ptr());
            }
            if !self.group.is_null() {
                (self.lib.mpp_buffer_group_put)(self.group);
            }
            if !self.cfg.is_null() {
                (self.lib.mpp_enc_cfg_deinit)(self.cfg);
            }
            if !self.ctx.is_null() {
                (self.lib.mpp_destroy)(self.ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livepush_core::config::VideoParams;

    fn settings(rtc: bool) -> EncoderSettings {
        EncoderSettings::new(
            &VideoParams {
                width: 1920,
                height: 1080,
                fps: 30,
                gop_frames: 60,
                bitrate_kbps: 4000,
                max_kbps: 5000,
            },
            rtc,
        )
    }

    #[test]
    fn a_bitrate_change_sets_the_rate_keys_only() {
        let keys = |t| {
            tune_keys(&settings(false), t)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        let kbps = Tuning {
            kbps: Some(3000),
            fps: None,
        };
        assert_eq!(keys(kbps), ["rc:bps_target", "rc:bps_max", "rc:bps_min"]);
        let fps = Tuning {
            kbps: None,
            fps: Some(25),
        };
        assert!(keys(fps).iter().all(|k| k.starts_with("rc:fps_")));
        assert_eq!(keys(fps).len(), 6);
    }

    #[test]
    fn configuration_carries_size_strides_cbr_gop_profile_and_level() {
        let k = config_keys(&settings(false));
        let get = |n: &str| k.iter().find(|x| x.0 == n).map(|x| x.1);
        assert_eq!(get("prep:width"), Some(1920));
        assert_eq!(get("prep:height"), Some(1080));
        // 1080 is not a multiple of 16: MPP reads 1088 rows
        assert_eq!(get("prep:hor_stride"), Some(1920));
        assert_eq!(get("prep:ver_stride"), Some(1088));
        assert_eq!(get("rc:mode"), Some(ffi::MPP_ENC_RC_MODE_CBR));
        assert_eq!(get("rc:bps_target"), Some(4_000_000));
        assert_eq!(get("rc:bps_max"), Some(5_000_000));
        assert_eq!(get("rc:gop"), Some(60));
        assert_eq!(get("rc:fps_out_num"), Some(30));
        assert_eq!(get("rc:drop_mode"), Some(0));
        assert_eq!(get("h264:profile"), Some(100));
        assert_eq!(get("h264:level"), Some(40));
        assert_eq!(get("h264:cabac_en"), Some(1));
        // RTC: Constrained Baseline, no CABAC, no 8x8 transform
        let k = config_keys(&settings(true));
        let get = |n: &str| k.iter().find(|x| x.0 == n).map(|x| x.1);
        assert_eq!(get("h264:profile"), Some(66));
        assert_eq!(get("h264:cabac_en"), Some(0));
        assert_eq!(get("h264:trans8x8"), Some(0));
        // every key is one MPP's own encoder test sets (mpi_enc_test.c,
        // mpp_enc_cfg.c; "denorm" is MPP's spelling)
        const KNOWN: [&str; 22] = [
            "prep:width",
            "prep:height",
            "prep:hor_stride",
            "prep:ver_stride",
            "prep:format",
            "rc:mode",
            "rc:bps_target",
            "rc:bps_max",
            "rc:bps_min",
            "rc:fps_in_flex",
            "rc:fps_in_num",
            "rc:fps_in_denorm",
            "rc:fps_out_flex",
            "rc:fps_out_num",
            "rc:fps_out_denorm",
            "rc:gop",
            "rc:drop_mode",
            "h264:profile",
            "h264:level",
            "h264:cabac_en",
            "h264:cabac_idc",
            "h264:trans8x8",
        ];
        for (n, _) in &k {
            assert!(KNOWN.contains(n), "{n} is not an MPP configuration key");
        }
        assert_eq!(k.len(), KNOWN.len(), "each key once");
    }

    #[test]
    fn the_input_layout_is_nv12_aligned_to_16() {
        let l = layout(640, 360);
        assert_eq!((l.stride, l.height, l.size), (640, 368, 640 * 368 * 3 / 2));
        assert_eq!(l.fourcc, NV12);
        let l = layout(1000, 562);
        assert_eq!((l.stride, l.height), (1008, 576));
    }
}
