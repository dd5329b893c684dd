//! Adapters to the outside world, one file per backend: software H.264
//! ([`openh264`], x264), AAC ([`aac`]), synthetic and raw-file sources
//! ([`synthetic`]), stills, V4L2 cameras ([`v4l2`], [`capture_dmabuf`],
//! MJPEG decoded by `livepush_images`) over raw ioctls ([`v4l2_uapi`]), ALSA ([`alsa`]), and the
//! hardware H.264 encoders (V4L2 M2M, VAAPI, Rockchip MPP), with the chain's
//! probe and open entry points below.

pub mod aac;
pub mod alsa;
pub mod capture_dmabuf;
pub mod fault;
#[cfg(feature = "v4l2-m2m")]
pub mod m2m;
#[cfg(feature = "mpp")]
pub mod mpp;
pub mod openh264;
pub mod still;
pub mod synthetic;
pub mod v4l2;
pub mod v4l2_uapi;
#[cfg(feature = "vaapi")]
pub mod vaapi;
#[cfg(feature = "x264")]
pub mod x264;

use livepush_core::config::EncoderChoice;
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::encoder::Backend;

pub use livepush_core::encoder::interface::{
    EncoderError, Immediate, Polled, Submitted, Tuning, VideoEncoder, I420,
};

/// Whether `backend` can run here: Ok(what was found) or the precise reason not
/// (no device, no library, feature not built).
pub fn backend_availability(backend: Backend, m2m_device: Option<&str>) -> Result<String, String> {
    match backend {
        Backend::Software => Ok(if cfg!(feature = "x264") {
            "OpenH264 2.7 (bundled); x264 built in".into()
        } else {
            "OpenH264 2.7 (bundled)".into()
        }),
        #[cfg(feature = "v4l2-m2m")]
        Backend::V4l2M2m => m2m::find_h264_encoder(m2m_device)
            .map(|n| format!("{} {} offers H.264", n.path, n.driver)),
        #[cfg(not(feature = "v4l2-m2m"))]
        Backend::V4l2M2m => {
            let _ = m2m_device;
            Err("feature not built (cargo build --features v4l2-m2m)".into())
        }
        #[cfg(feature = "mpp")]
        Backend::Mpp => mpp::probe().map(|lib| format!("{lib} with every entry point")),
        #[cfg(not(feature = "mpp"))]
        Backend::Mpp => Err("feature not built (cargo build --features mpp)".into()),
        #[cfg(feature = "vaapi")]
        Backend::Vaapi => vaapi::probe(),
        #[cfg(not(feature = "vaapi"))]
        Backend::Vaapi => Err("feature not built (cargo build --features vaapi)".into()),
    }
}

/// Opens `backend` for `s` (the software one as `choice` says). A backend
/// not found here (no device, no library, feature not built) is
/// `Unavailable`; one that is here but refuses the settings, or whose device
/// calls fail, says so in its own kind.
pub fn open_backend(
    backend: Backend,
    choice: EncoderChoice,
    s: &EncoderSettings,
    m2m_device: Option<&str>,
) -> Result<Box<dyn VideoEncoder>, EncoderError> {
    match backend {
        Backend::Software => open_video_encoder(choice, s),
        #[cfg(feature = "v4l2-m2m")]
        Backend::V4l2M2m => {
            let node = m2m::find_h264_encoder(m2m_device)
                .map_err(|e| EncoderError::unavailable(format_args!("v4l2-m2m: {e}")))?;
            let open = |dmabuf| {
                m2m::encoder::M2mEncoder::open_with(&node.path, *b"H264", s, dmabuf)
                    .map_err(|e| e.context("v4l2-m2m"))
            };
            // zero copy when the camera's buffers have the encoder's layout
            let mut e = open(s.import.is_some())?;
            if let Some(cam) = &s.import {
                if let Err(why) = livepush_core::video::layout::zero_copy_fits(cam, &e.layout()) {
                    log::info!("v4l2-m2m: copying pictures: {why}");
                    e = open(false)?;
                }
            }
            log::info!("v4l2-m2m encoder {} ({})", node.path, node.driver);
            Ok(Box::new(e))
        }
        #[cfg(feature = "vaapi")]
        Backend::Vaapi => Ok(Box::new(Immediate::new(
            vaapi::encoder::VaapiEncoder::open(s).map_err(|e| e.context("vaapi"))?,
        ))),
        #[cfg(feature = "mpp")]
        Backend::Mpp => Ok(Box::new(
            mpp::encoder::MppEncoder::open(s).map_err(|e| e.context("mpp"))?,
        )),
        // reachable when a backend's feature is not built
        #[allow(unreachable_patterns)]
        hw => Err(EncoderError::unavailable(
            match backend_availability(hw, m2m_device) {
                Ok(found) => format!("{hw}: {found}"),
                Err(why) => format!("{hw}: {why}"),
            },
        )),
    }
}

/// Opens the configured software H.264 encoder.
pub fn open_video_encoder(
    choice: EncoderChoice,
    s: &EncoderSettings,
) -> Result<Box<dyn VideoEncoder>, EncoderError> {
    match choice {
        EncoderChoice::Auto | EncoderChoice::OpenH264 => {
            Ok(Box::new(Immediate::new(openh264::OpenH264::new(s)?)))
        }
        #[cfg(feature = "x264")]
        EncoderChoice::X264 => Ok(Box::new(Immediate::new(x264::X264::new(s)?))),
        #[cfg(not(feature = "x264"))]
        EncoderChoice::X264 => Err(EncoderError::unavailable(
            "x264 is not built into this binary (cargo build --features x264)",
        )),
    }
}

/// An audio encoder backend.
pub trait AudioEncoder: Send {
    /// The AudioSpecificConfig for the FLV sequence header.
    fn specific_config(&self) -> Vec<u8>;
    /// Samples per channel in one encoded frame.
    fn frame_samples(&self) -> usize;
    /// Encoder delay in samples per channel (priming), to align timestamps.
    fn delay_samples(&self) -> usize;
    /// Encodes exactly `frame_samples() * channels` interleaved samples,
    /// appending zero or one raw AAC frame to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), String>;
}
