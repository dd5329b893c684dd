//! H.264 through VAAPI (Intel/AMD) with cros-libva: the stateless encode
//! entry point (EncSlice, or the low-power EncSliceLP), CBR, NV12 surfaces.
//! The caller decides the picture structure (`livepush_core::encoder::ipp`:
//! IDR every GOP or on request, P-frames referring to the previous picture,
//! no B-frames) and the sequence numbers (`ipp::sequence`: macroblocks,
//! cropping, timing, profile, level, CABAC); this file only turns them into
//! parameter buffers: sequence, picture (with the reconstructed surface and
//! its one reference), one slice, and the rate-control, frame-rate and HRD
//! misc buffers, re-sent with every picture so bitrate and frame-rate changes
//! take effect at the next one. cros-libva has no packed-header buffers, so
//! SPS/PPS come from the driver (Intel's and Mesa's drivers write them in the
//! coded buffer); an IDR without them gets the last ones seen, and a first
//! IDR without any is an encoder failure (the chain falls back).
//!
//! Encoding is synchronous (vaSyncSurface per picture): the backend is a
//! `SyncEncoder` behind `Immediate`. Not tested on hardware (no GPU here).

use std::rc::Rc;

use cros_libva as va;
use cros_libva::{
    BufferType, Context, Display, EncCodedBuffer, EncMiscParameter, EncMiscParameterFrameRate,
    EncMiscParameterHRD, EncMiscParameterRateControl, EncPictureParameter,
    EncPictureParameterBufferH264, EncSequenceParameter, EncSequenceParameterBufferH264,
    EncSliceParameter, EncSliceParameterBufferH264, H264EncFrameCropOffsets, H264EncPicFields,
    H264EncSeqFields, H264VuiFields, Image, MappedCodedBuffer, Picture, PictureH264, RcFlags,
    Surface, UsageHint, VAEntrypoint, VAProfile,
};
use livepush_core::codec::h264;
use livepush_core::encoder::interface::{EncoderError, SyncEncoder, I420};
use livepush_core::encoder::ipp::{
    self, Ipp, SequencePlan, LOG2_MAX_FRAME_NUM_MINUS4, LOG2_MAX_POC_LSB_MINUS4,
};
use livepush_core::encoder::settings::{EncoderSettings, Profile};

use livepush_core::video::layout::{RawLayout, NV12};

/// A running VAAPI encoder.
pub struct VaapiEncoder {
    node: String,
    // field order: buffers and surfaces go before the context and display
    coded: EncCodedBuffer,
    input: Surface<()>,
    recon: Vec<Surface<()>>,
    context: Rc<Context>,
    _config: va::Config,
    _display: Rc<Display>,
    seq: SequencePlan,
    settings: EncoderSettings,
    ipp: Ipp,
    /// Index in `recon` of the picture the next one refers to, with its frame_num and POC.
    reference: Option<(usize, u16, u16)>,
    rate_changed: bool,
    sets: Vec<u8>,
}

// SAFETY: every Rc (display, context) lives inside this struct and is never
// handed out; the encoder moves between threads only as a whole, and is
// used by one thread at a time.
unsafe impl Send for VaapiEncoder {}

/// The VA profile for a profile, and the ones to try after it.
fn profiles(p: Profile) -> &'static [VAProfile::Type] {
    match p {
        Profile::ConstrainedBaseline => &[
            VAProfile::VAProfileH264ConstrainedBaseline,
            VAProfile::VAProfileH264Main,
            VAProfile::VAProfileH264High,
        ],
        Profile::Main => &[VAProfile::VAProfileH264Main, VAProfile::VAProfileH264High],
        Profile::High => &[VAProfile::VAProfileH264High, VAProfile::VAProfileH264Main],
    }
}

fn invalid_picture() -> PictureH264 {
    PictureH264::new(va::VA_INVALID_SURFACE, 0, va::VA_PICTURE_H264_INVALID, 0, 0)
}

impl VaapiEncoder {
    /// Opens the first render node that encodes H.264 and sets it up for `s`.
    /// No node, or none with an H.264 encoder: `Unavailable`; a node that
    /// has one but refuses the settings: `Unsupported` (the kind of the node
    /// that got furthest).
    pub fn open(s: &EncoderSettings) -> Result<Self, EncoderError> {
        let mut why = Vec::new();
        let mut furthest = EncoderError::Unavailable(String::new());
        for node in super::render_nodes() {
            match Self::open_node(&node, s) {
                Ok(e) => return Ok(e),
                Err(e) => {
                    why.push(format!("{node}: {e}"));
                    if !matches!(e, EncoderError::Unavailable(_)) {
                        furthest = e;
                    }
                }
            }
        }
        if why.is_empty() {
            return Err(EncoderError::unavailable(
                "no device: no /dev/dri/renderD* render node",
            ));
        }
        let why = why.join("; ");
        Err(match furthest {
            EncoderError::Unavailable(_) => EncoderError::Unavailable(why),
            EncoderError::Failed(_) => EncoderError::Failed(why),
            _ => EncoderError::Unsupported(why),
        })
    }

    fn open_node(node: &str, s: &EncoderSettings) -> Result<Self, EncoderError> {
        let display = Display::open_drm_display(node).map_err(EncoderError::unavailable)?;
        let (profile, entrypoint) = profiles(s.profile)
            .iter()
            .find_map(|p| {
                let eps = display.query_config_entrypoints(*p).unwrap_or_default();
                [
                    VAEntrypoint::VAEntrypointEncSlice,
                    VAEntrypoint::VAEntrypointEncSliceLP,
                ]
                .into_iter()
                .find(|e| eps.contains(e))
                .map(|e| (*p, e))
            })
            .ok_or(EncoderError::unavailable("no H.264 encode entry point"))?;
        let attrs = vec![
            va::VAConfigAttrib {
                type_: va::VAConfigAttribType::VAConfigAttribRTFormat,
                value: va::VA_RT_FORMAT_YUV420,
            },
            va::VAConfigAttrib {
                type_: va::VAConfigAttribType::VAConfigAttribRateControl,
                value: va::VA_RC_CBR,
            },
        ];
        let config = display
            .create_config(attrs, profile, entrypoint)
            .map_err(|e| EncoderError::unsupported(format_args!("vaCreateConfig (CBR): {e}")))?;
        let seq = ipp::sequence(s);
        let (w, h) = (
            u32::from(seq.width_mbs) * 16,
            u32::from(seq.height_mbs) * 16,
        );
        let mut surfaces = display
            .create_surfaces(
                va::VA_RT_FORMAT_YUV420,
                Some(va::VA_FOURCC_NV12),
                w,
                h,
                Some(UsageHint::USAGE_HINT_ENCODER),
                vec![(); 3],
            )
            .map_err(|e| {
                EncoderError::unsupported(format_args!("vaCreateSurfaces {w}x{h}: {e}"))
            })?;
        let context = display
            .create_context(&config, w, h, Some(&surfaces), true)
            .map_err(|e| EncoderError::unsupported(format_args!("vaCreateContext: {e}")))?;
        let coded = context
            .create_enc_coded((w * h * 3 / 2).max(1 << 20) as usize)
            .map_err(|e| EncoderError::failed(format_args!("coded buffer: {e}")))?;
        let input = surfaces.remove(0);
        Ok(VaapiEncoder {
            node: node.to_string(),
            coded,
            input,
            recon: surfaces,
            context,
            _config: config,
            _display: display,
            seq,
            settings: *s,
            ipp: Ipp::new(s.gop_frames),
            reference: None,
            rate_changed: false,
            sets: Vec::new(),
        })
    }

    /// A VA call that failed while encoding: the encoder failed.
    fn err(&self, what: &str, e: impl std::fmt::Display) -> EncoderError {
        EncoderError::failed(format_args!("{}: {what}: {e}", self.node))
    }

    /// Copies `pic` into the input surface (NV12, through vaDeriveImage).
    fn upload(&self, pic: &I420<'_>) -> Result<(), EncoderError> {
        let mut image = Image::derive_from(&self.input, (pic.width, pic.height))
            .map_err(|e| self.err("vaDeriveImage", e))?;
        let vi = *image.image();
        if vi.pitches[0] != vi.pitches[1] || vi.pitches[0] == 0 {
            return Err(self.err(
                "surface layout",
                format!("pitches {} and {} differ", vi.pitches[0], vi.pitches[1]),
            ));
        }
        let layout = RawLayout {
            fourcc: NV12,
            width: vi.pitches[0],
            height: (vi.offsets[1] - vi.offsets[0]) / vi.pitches[0],
            stride: vi.pitches[0],
            size: vi.data_size,
        };
        let data = image.as_mut();
        let start = vi.offsets[0] as usize;
        layout
            .fill(pic, &mut data[start..])
            .map_err(|e| self.err("upload", e))
    }

    /// The misc buffers: rate control (CBR at the target, reset after a
    /// change), frame rate, HRD (one second of buffer, half full).
    fn misc(&mut self) -> [EncMiscParameter; 3] {
        let bps = self.settings.kbps * 1000;
        let reset = u32::from(std::mem::take(&mut self.rate_changed));
        let flags = RcFlags::new(reset, 1, 0, 0, 0, 0, 0, 0, 0);
        [
            EncMiscParameter::RateControl(EncMiscParameterRateControl::new(
                bps, 100, 1000, 0, 0, 0, flags, 0, 0, 0, 0,
            )),
            EncMiscParameter::FrameRate(EncMiscParameterFrameRate::new(self.settings.fps, 0)),
            EncMiscParameter::HRD(EncMiscParameterHRD::new(bps / 2, bps)),
        ]
    }
}

impl SyncEncoder for VaapiEncoder {
    fn name(&self) -> &'static str {
        "vaapi"
    }

    fn encode(
        &mut self,
        pic: &I420<'_>,
        force_key: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, EncoderError> {
        self.upload(pic)?;
        let plan = self.ipp.next(force_key);
        let reference = if plan.idr { None } else { self.reference };
        let cur = reference.map_or(0, |(i, _, _)| 1 - i);
        let recon_id = self.recon[cur].id();
        let seq = self.seq;
        let crop = (seq.crop_right > 0 || seq.crop_bottom > 0)
            .then(|| H264EncFrameCropOffsets::new(0, seq.crop_right, 0, seq.crop_bottom));
        let seq_fields = H264EncSeqFields::new(
            1, // 4:2:0
            1, // frames only
            0,
            0,
            1, // direct_8x8_inference
            LOG2_MAX_FRAME_NUM_MINUS4,
            0, // POC type 0
            LOG2_MAX_POC_LSB_MINUS4,
            0,
        );
        // timing info, fixed frame rate, motion vectors may cross picture edges
        let vui = H264VuiFields::new(0, 1, 0, 15, 15, 1, 0, 1);
        let seq_buf = EncSequenceParameterBufferH264::new(
            0,
            seq.level,
            seq.intra_period,
            seq.intra_period,
            1,
            self.settings.kbps * 1000,
            1,
            seq.width_mbs,
            seq.height_mbs,
            &seq_fields,
            0,
            0,
            0,
            0,
            0,
            [0; 256],
            crop,
            Some(vui),
            0,
            0,
            0,
            1,
            seq.time_scale,
        );
        let ref_pic = |r: &(usize, u16, u16)| {
            PictureH264::new(
                self.recon[r.0].id(),
                u32::from(r.1),
                va::VA_PICTURE_H264_SHORT_TERM_REFERENCE,
                i32::from(r.2),
                i32::from(r.2),
            )
        };
        let refs: [PictureH264; 16] = std::array::from_fn(|i| match (&reference, i) {
            (Some(r), 0) => ref_pic(r),
            _ => invalid_picture(),
        });
        let poc = i32::from(plan.poc);
        let pic_fields = H264EncPicFields::new(
            u32::from(plan.idr),
            1, // every picture is a reference for the next
            u32::from(seq.cabac),
            0,
            0,
            0,
            u32::from(seq.transform_8x8),
            1,
            0,
            0,
            0,
        );
        let pic_buf = EncPictureParameterBufferH264::new(
            PictureH264::new(recon_id, u32::from(plan.frame_num), 0, poc, poc),
            refs,
            self.coded.id(),
            0,
            0,
            0,
            plan.frame_num,
            26,
            0,
            0,
            0,
            0,
            &pic_fields,
        );
        let list0: [PictureH264; 32] = std::array::from_fn(|i| match (&reference, i) {
            (Some(r), 0) => ref_pic(r),
            _ => invalid_picture(),
        });
        let list1: [PictureH264; 32] = std::array::from_fn(|_| invalid_picture());
        let slice_buf = EncSliceParameterBufferH264::new(
            0,
            u32::from(seq.width_mbs) * u32::from(seq.height_mbs),
            va::VA_INVALID_ID,
            if plan.idr { 2 } else { 0 }, // I or P
            0,
            plan.idr_pic_id,
            plan.poc,
            0,
            [0, 0],
            0,
            0,
            0,
            0,
            list0,
            list1,
            0,
            0,
            0,
            [0; 32],
            [0; 32],
            0,
            [[0; 2]; 32],
            [[0; 2]; 32],
            0,
            [0; 32],
            [0; 32],
            0,
            [[0; 2]; 32],
            [[0; 2]; 32],
            0,
            0,
            0,
            0,
            0,
        );
        let mut buffers = vec![
            BufferType::EncSequenceParameter(EncSequenceParameter::H264(seq_buf)),
            BufferType::EncPictureParameter(EncPictureParameter::H264(pic_buf)),
            BufferType::EncSliceParameter(EncSliceParameter::H264(slice_buf)),
        ];
        buffers.extend(self.misc().map(BufferType::EncMiscParameter));
        let mut picture = Picture::new(0, Rc::clone(&self.context), &self.input);
        for b in buffers {
            let buf = self
                .context
                .create_buffer(b)
                .map_err(|e| self.err("vaCreateBuffer", e))?;
            picture.add_buffer(buf);
        }
        let picture = picture
            .begin()
            .and_then(|p| p.render())
            .and_then(|p| p.end())
            .map_err(|e| self.err("vaBeginPicture/vaRenderPicture/vaEndPicture", e))?;
        picture
            .sync()
            .map_err(|(e, _)| self.err("vaSyncSurface", e))?;
        let start = out.len();
        {
            let mapped =
                MappedCodedBuffer::new(&self.coded).map_err(|e| self.err("vaMapBuffer", e))?;
            for seg in mapped.iter() {
                out.extend_from_slice(seg.buf);
            }
        }
        h264::ensure_parameter_sets(out, start, &mut self.sets);
        if plan.idr && self.sets.is_empty() {
            out.truncate(start);
            return Err(self.err(
                "bitstream",
                "the driver wrote no SPS/PPS (packed headers are not supported here)",
            ));
        }
        self.reference = Some((cur, plan.frame_num, plan.poc));
        Ok(plan.idr)
    }

    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError> {
        self.settings.kbps = kbps;
        self.settings.max_kbps = self.settings.max_kbps.max(kbps);
        self.rate_changed = true;
        Ok(())
    }

    fn set_fps(&mut self, fps: u32) -> Result<(), EncoderError> {
        self.settings.fps = fps;
        self.seq.time_scale = fps * 2;
        self.rate_changed = true;
        Ok(())
    }
}
