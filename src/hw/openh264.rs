//! Software H.264 with OpenH264 (bundled source, BSD): Constrained Baseline,
//! no B-frames, fixed key-frame interval, bitrate rate control, no frame
//! skipping (a skipped frame would be a hole in the stream's timeline).
//! Complexity "low", and scene-change detection, adaptive quantisation and
//! background detection off: together about 10% less CPU at 720p30 than with
//! them on (measured with `livepush bench`), which a small board needs more
//! than the small quality gain.
//!
//! The library's own messages go through livepush's log (target
//! `livepush::openh264`), not raw to stderr: a trace callback is installed
//! before the encoder initialises. Its warning that bitrate control wants
//! frame skipping is expected (skipping is off on purpose, see above) and is
//! logged at debug level.

use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use livepush_core::encoder::settings::EncoderSettings;

use livepush_core::encoder::interface::{EncoderError, SyncEncoder, I420};

/// The OpenH264 backend.
pub struct OpenH264 {
    enc: Encoder,
    /// The target bitrate now.
    kbps: u32,
}

struct Pic<'a>(&'a I420<'a>);

impl YUVSource for Pic<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width as usize, self.0.height as usize)
    }
    fn strides(&self) -> (usize, usize, usize) {
        let w = self.0.width as usize;
        (w, w / 2, w / 2)
    }
    fn y(&self) -> &[u8] {
        &self.0.data[..self.luma()]
    }
    fn u(&self) -> &[u8] {
        let l = self.luma();
        &self.0.data[l..l + l / 4]
    }
    fn v(&self) -> &[u8] {
        let l = self.luma();
        &self.0.data[l + l / 4..l + l / 2]
    }
}

impl Pic<'_> {
    fn luma(&self) -> usize {
        (self.0.width * self.0.height) as usize
    }
}

impl OpenH264 {
    /// An encoder for `s`: its frame rate, key-frame interval and target.
    /// OpenH264 always writes Constrained Baseline (whatever `s.profile`
    /// says: it has no B-frames or CABAC) and derives the level itself.
    pub fn new(s: &EncoderSettings) -> Result<Self, EncoderError> {
        let (fps, gop, kbps) = (s.fps, s.gop_frames, s.kbps);
        let cfg = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(kbps * 1000))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(gop))
            .skip_frames(false)
            .complexity(Complexity::Low)
            .scene_change_detect(false)
            .adaptive_quantization(false)
            .background_detection(false)
            .num_threads(1);
        let mut enc = Encoder::with_api_config(OpenH264API::from_source(), cfg)
            .map_err(|e| EncoderError::unsupported(format_args!("openh264: {e}")))?;
        // the crate initialises the encoder on the first picture: install the
        // callback now, so that initialisation's messages reach it too
        let mut callback: TraceCallback = Some(trace);
        // SAFETY: SetOption(ENCODER_OPTION_TRACE_CALLBACK) reads a pointer to
        // a `WelsTraceCallback` (copied, not kept); `trace` is an
        // `extern "C"` function with its signature that never unwinds.
        let rc = unsafe {
            enc.raw_api().set_option(
                ENCODER_OPTION_TRACE_CALLBACK,
                std::ptr::addr_of_mut!(callback).cast(),
            )
        };
        if rc != 0 {
            log::debug!("openh264: trace callback refused ({rc}); its messages go to stderr");
        }
        Ok(OpenH264 { enc, kbps })
    }
}

/// OpenH264's `ENCODER_OPTION_TRACE_CALLBACK` (codec_app_def.h).
const ENCODER_OPTION_TRACE_CALLBACK: i32 = 26;
/// `WELS_LOG_ERROR`, `WELS_LOG_WARNING`, `WELS_LOG_INFO` (codec_app_def.h).
const WELS_LOG_ERROR: i32 = 1;
const WELS_LOG_WARNING: i32 = 2;
const WELS_LOG_INFO: i32 = 4;

/// `WelsTraceCallback`.
type TraceCallback =
    Option<unsafe extern "C" fn(*mut std::ffi::c_void, i32, *const std::ffi::c_char)>;

/// OpenH264's messages into livepush's log.
unsafe extern "C" fn trace(_ctx: *mut std::ffi::c_void, level: i32, msg: *const std::ffi::c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: OpenH264 passes a NUL-terminated string it owns for the call.
    let text = unsafe { std::ffi::CStr::from_ptr(msg) }.to_string_lossy();
    // never unwind into C
    let _ = std::panic::catch_unwind(|| log_message(level, &text));
}

/// One OpenH264 message at the level it came with (without the library's
/// `[OpenH264] this = 0x…, Warning:` prefix).
fn log_message(level: i32, text: &str) {
    let text = livepush_core::text::printable(message_body(text));
    let level = match level {
        // expected with frame skipping off (module doc)
        WELS_LOG_WARNING if text.contains("bEnableFrameSkip = 0") => log::Level::Debug,
        WELS_LOG_ERROR => log::Level::Error,
        WELS_LOG_WARNING => log::Level::Warn,
        WELS_LOG_INFO => log::Level::Info,
        _ => log::Level::Debug,
    };
    log::log!(target: "livepush::openh264", level, "openh264: {text}");
}

fn message_body(text: &str) -> &str {
    let mut t = text.trim();
    if let Some(rest) = t.strip_prefix("[OpenH264] this = ") {
        t = rest.split_once(", ").map_or(rest, |(_, m)| m);
    }
    for tag in ["Error:", "Warning:", "Info:", "Debug:", "Detail:"] {
        if let Some(rest) = t.strip_prefix(tag) {
            return rest.trim();
        }
    }
    t
}

impl SyncEncoder for OpenH264 {
    fn name(&self) -> &'static str {
        "openh264"
    }

    fn encode(
        &mut self,
        pic: &I420<'_>,
        force_key: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, EncoderError> {
        if force_key {
            self.enc.force_intra_frame();
        }
        let bs = self
            .enc
            .encode(&Pic(pic))
            .map_err(|e| EncoderError::failed(format_args!("openh264: {e}")))?;
        bs.write_vec(out);
        Ok(livepush_core::codec::h264::is_keyframe(out))
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError> {
        // OpenH264's SBitrateInfo, for ENCODER_OPTION_BITRATE (5) on all
        // spatial layers (4: the total, split over our one layer) and
        // ENCODER_OPTION_MAX_BITRATE (6) on layer 0 (the per-layer maximum
        // the target is verified against; "all" would only set a total)
        #[repr(C)]
        struct BitrateInfo {
            layer: std::os::raw::c_int,
            bitrate: std::os::raw::c_int,
        }
        // the target may never exceed the maximum: raise the maximum first
        // when going up, lower the target first when going down
        let target = (5, 4, kbps * 1000);
        let max = (6, 0, kbps * 1000 * 5 / 4);
        let order = if kbps > self.kbps {
            [max, target]
        } else {
            [target, max]
        };
        for (option, layer, bps) in order {
            let mut info = BitrateInfo {
                layer,
                bitrate: bps as std::os::raw::c_int,
            };
            // SAFETY: the documented SetOption call with the struct it takes;
            // the encoder is initialised (created in new()).
            let rc = unsafe {
                self.enc
                    .raw_api()
                    .set_option(option, (&raw mut info).cast())
            };
            if rc != 0 {
                return Err(EncoderError::unsupported(format_args!(
                    "openh264: bitrate {kbps} kbps refused ({rc})"
                )));
            }
        }
        self.kbps = kbps;
        Ok(())
    }

    fn set_fps(&mut self, fps: u32) -> Result<(), EncoderError> {
        // ENCODER_OPTION_FRAME_RATE (4) takes a float
        let mut rate = fps as f32;
        // SAFETY: the documented SetOption call with the float it takes.
        let rc = unsafe { self.enc.raw_api().set_option(4, (&raw mut rate).cast()) };
        if rc != 0 {
            return Err(EncoderError::unsupported(format_args!(
                "openh264: frame rate {fps} refused ({rc})"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_prefix_and_level_tag_are_taken_off() {
        assert_eq!(
            message_body("[OpenH264] this = 0x0x7f16e8000c40, Warning:bEnableFrameSkip = 0,bitrate can't be controlled\n"),
            "bEnableFrameSkip = 0,bitrate can't be controlled"
        );
        assert_eq!(message_body("Error: x"), "x");
        assert_eq!(message_body("plain"), "plain");
    }
}
