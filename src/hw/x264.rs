//! Software H.264 with libx264 (Debian's libx264, GPL: behind the `x264` cargo
//! feature, so a default build stays BSD/MIT-licensed). ultrafast +
//! zerolatency, the asked profile (Constrained Baseline in RTC mode, High
//! otherwise) and level, never B-frames, ABR with a VBV cap at the target
//! (CBR-like; the peak is never needed), SPS/PPS repeated on every key
//! frame, Annex-B output.

use std::ffi::CString;
use std::ptr;

use x264_sys as x;

use livepush_core::encoder::settings::{EncoderSettings, Profile};

use livepush_core::encoder::interface::{EncoderError, SyncEncoder, I420};

/// The libx264 backend.
pub struct X264 {
    enc: *mut x::x264_t,
    pic: x::x264_picture_t,
    pts: i64,
}

// SAFETY: the encoder handle is used from one thread at a time (the video thread owns it).
unsafe impl Send for X264 {}

impl X264 {
    /// An encoder for `s`.
    pub fn new(s: &EncoderSettings) -> Result<Self, EncoderError> {
        let (width, height, fps, gop, kbps) = (s.width, s.height, s.fps, s.gop_frames, s.kbps);
        let preset = CString::new("ultrafast").expect("static");
        let tune = CString::new("zerolatency").expect("static");
        let profile = CString::new(match s.profile {
            Profile::ConstrainedBaseline => "baseline",
            Profile::Main => "main",
            Profile::High => "high",
        })
        .expect("static");
        // SAFETY: x264's documented setup sequence on a zeroed param struct.
        unsafe {
            let mut p: x::x264_param_t = std::mem::zeroed();
            if x::x264_param_default_preset(&mut p, preset.as_ptr(), tune.as_ptr()) < 0 {
                return Err(EncoderError::failed("x264: bad preset"));
            }
            p.i_width = width as i32;
            p.i_height = height as i32;
            p.i_csp = x::X264_CSP_I420 as i32;
            p.i_fps_num = fps;
            p.i_fps_den = 1;
            p.i_timebase_num = 1;
            p.i_timebase_den = fps;
            p.i_keyint_max = gop as i32;
            p.i_keyint_min = gop as i32;
            p.i_bframe = 0;
            p.i_level_idc = i32::from(s.level);
            p.i_threads = 1;
            p.b_repeat_headers = 1;
            p.b_annexb = 1;
            p.i_log_level = x::X264_LOG_ERROR as i32;
            p.rc.i_rc_method = x::X264_RC_ABR as i32;
            p.rc.i_bitrate = kbps as i32;
            p.rc.i_vbv_max_bitrate = kbps as i32;
            p.rc.i_vbv_buffer_size = kbps as i32;
            if x::x264_param_apply_profile(&mut p, profile.as_ptr()) < 0 {
                return Err(EncoderError::unsupported(format_args!(
                    "x264: profile {:?} rejected",
                    s.profile
                )));
            }
            let enc = x::x264_encoder_open(&mut p);
            if enc.is_null() {
                return Err(EncoderError::unsupported(format_args!(
                    "x264: cannot open a {width}x{height} encoder"
                )));
            }
            let mut pic: x::x264_picture_t = std::mem::zeroed();
            x::x264_picture_init(&mut pic);
            pic.img.i_csp = x::X264_CSP_I420 as i32;
            pic.img.i_plane = 3;
            Ok(X264 { enc, pic, pts: 0 })
        }
    }
}

impl Drop for X264 {
    fn drop(&mut self) {
        // SAFETY: opened in new(), closed once.
        unsafe { x::x264_encoder_close(self.enc) }
    }
}

impl SyncEncoder for X264 {
    fn name(&self) -> &'static str {
        "x264"
    }

    fn encode(
        &mut self,
        pic: &I420<'_>,
        force_key: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, EncoderError> {
        let (w, h) = (pic.width as usize, pic.height as usize);
        let base = pic.data.as_ptr() as *mut u8;
        self.pic.img.i_stride = [w as i32, (w / 2) as i32, (w / 2) as i32, 0];
        // SAFETY: the planes point into `pic.data`, which outlives the call; x264 only reads them.
        unsafe {
            self.pic.img.plane = [
                base,
                base.add(w * h),
                base.add(w * h + w * h / 4),
                ptr::null_mut(),
            ];
        }
        self.pic.i_type = if force_key {
            x::X264_TYPE_IDR as i32
        } else {
            x::X264_TYPE_AUTO as i32
        };
        self.pic.i_pts = self.pts;
        self.pts += 1;
        let mut nals: *mut x::x264_nal_t = ptr::null_mut();
        let mut n_nals = 0i32;
        // SAFETY: zeroed out-picture; nals/n_nals are written by x264.
        let (size, key) = unsafe {
            let mut pic_out: x::x264_picture_t = std::mem::zeroed();
            let size = x::x264_encoder_encode(
                self.enc,
                &mut nals,
                &mut n_nals,
                &mut self.pic,
                &mut pic_out,
            );
            (size, pic_out.b_keyframe != 0)
        };
        if size < 0 {
            return Err(EncoderError::failed("x264: encode failed"));
        }
        if size > 0 && !nals.is_null() {
            // the payloads of one frame's NALs are contiguous
            // SAFETY: x264 guarantees `size` bytes from the first NAL's payload.
            let bytes = unsafe { std::slice::from_raw_parts((*nals).p_payload, size as usize) };
            out.extend_from_slice(bytes);
        }
        Ok(key)
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError> {
        // SAFETY: x264's documented run-time reconfiguration: read the current
        // parameters, change the rate-control fields, hand them back.
        unsafe {
            let mut p: x::x264_param_t = std::mem::zeroed();
            x::x264_encoder_parameters(self.enc, &mut p);
            p.rc.i_bitrate = kbps as i32;
            p.rc.i_vbv_max_bitrate = kbps as i32;
            p.rc.i_vbv_buffer_size = kbps as i32;
            if x::x264_encoder_reconfig(self.enc, &mut p) < 0 {
                return Err(EncoderError::unsupported(format_args!(
                    "x264: bitrate {kbps} kbps refused"
                )));
            }
        }
        Ok(())
    }

    fn set_fps(&mut self, fps: u32) -> Result<(), EncoderError> {
        // SAFETY: as in set_bitrate.
        unsafe {
            let mut p: x::x264_param_t = std::mem::zeroed();
            x::x264_encoder_parameters(self.enc, &mut p);
            p.i_fps_num = fps;
            p.i_fps_den = 1;
            if x::x264_encoder_reconfig(self.enc, &mut p) < 0 {
                return Err(EncoderError::unsupported(format_args!(
                    "x264: frame rate {fps} refused"
                )));
            }
        }
        Ok(())
    }
}
