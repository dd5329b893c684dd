//! The picture structure a stateless H.264 encoder API (VAAPI) needs from its
//! caller: an IDR every GOP (or when asked), P-frames referring to the
//! previous picture only (one reference, no B-frames), frame_num counting
//! from the IDR modulo MaxFrameNum, picture order count 2 x frame_num (POC
//! type 0), idr_pic_id changing between consecutive IDRs, and the sequence
//! numbers a driver's parameter buffers want (macroblocks, cropping, timing).
//! Pure: the VAAPI backend turns these into parameter buffers.

use super::settings::EncoderSettings;

/// log2(MaxFrameNum) - 4 written in the SPS: MaxFrameNum 256.
pub const LOG2_MAX_FRAME_NUM_MINUS4: u32 = 4;
/// log2(MaxPicOrderCntLsb) - 4: 512 (POC runs to 2 x frame_num).
pub const LOG2_MAX_POC_LSB_MINUS4: u32 = 5;

/// One picture's place in the structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramePlan {
    /// An IDR (I slice); else a P slice referring to the previous picture.
    pub idr: bool,
    /// frame_num.
    pub frame_num: u16,
    /// pic_order_cnt_lsb (and the POC of the picture).
    pub poc: u16,
    /// idr_pic_id (meaningful on IDRs).
    pub idr_pic_id: u16,
}

/// The sequence-level numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequencePlan {
    /// Coded width in macroblocks.
    pub width_mbs: u16,
    /// Coded height in macroblocks.
    pub height_mbs: u16,
    /// frame_crop_right_offset (2-pixel units in 4:2:0).
    pub crop_right: u32,
    /// frame_crop_bottom_offset (2-pixel units in 4:2:0).
    pub crop_bottom: u32,
    /// VUI time_scale (2 x fps with num_units_in_tick 1: a frame is two ticks).
    pub time_scale: u32,
    /// Key-frame interval.
    pub intra_period: u32,
    /// level_idc.
    pub level: u8,
    /// CABAC (Main and High).
    pub cabac: bool,
    /// 8x8 transform (High).
    pub transform_8x8: bool,
    /// profile_idc.
    pub profile_idc: u8,
}

/// The sequence numbers for `s`.
pub fn sequence(s: &EncoderSettings) -> SequencePlan {
    let width_mbs = s.width.div_ceil(16);
    let height_mbs = s.height.div_ceil(16);
    use super::settings::Profile::*;
    SequencePlan {
        width_mbs: width_mbs as u16,
        height_mbs: height_mbs as u16,
        crop_right: (width_mbs * 16 - s.width) / 2,
        crop_bottom: (height_mbs * 16 - s.height) / 2,
        time_scale: s.fps * 2,
        intra_period: s.gop_frames,
        level: s.level,
        cabac: s.profile != ConstrainedBaseline,
        transform_8x8: s.profile == High,
        profile_idc: s.profile.idc(),
    }
}

/// Counts pictures into IDRs and P-frames.
#[derive(Clone, Debug)]
pub struct Ipp {
    gop: u32,
    in_gop: u32,
    idr_count: u16,
    started: bool,
}

impl Ipp {
    /// A structure with a key frame every `gop` pictures.
    pub fn new(gop: u32) -> Self {
        Ipp {
            gop: gop.max(1),
            in_gop: 0,
            idr_count: 0,
            started: false,
        }
    }

    /// The next picture (`force_key`: an IDR now, and the GOP restarts).
    pub fn next(&mut self, force_key: bool) -> FramePlan {
        let idr = !self.started || force_key || self.in_gop >= self.gop;
        self.started = true;
        if idr {
            self.in_gop = 0;
            self.idr_count = self.idr_count.wrapping_add(1);
        }
        let max_frame_num = 1u32 << (LOG2_MAX_FRAME_NUM_MINUS4 + 4);
        let frame_num = self.in_gop % max_frame_num;
        let plan = FramePlan {
            idr,
            frame_num: frame_num as u16,
            poc: ((2 * frame_num) % (1 << (LOG2_MAX_POC_LSB_MINUS4 + 4))) as u16,
            idr_pic_id: self.idr_count.wrapping_sub(1),
        };
        self.in_gop += 1;
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VideoParams;

    #[test]
    fn idr_every_gop_and_on_request_with_frame_num_and_poc_from_it() {
        let mut g = Ipp::new(3);
        let plans: Vec<FramePlan> = (0..7).map(|i| g.next(i == 4)).collect();
        let idr: Vec<bool> = plans.iter().map(|p| p.idr).collect();
        assert_eq!(idr, [true, false, false, true, true, false, false]);
        let nums: Vec<u16> = plans.iter().map(|p| p.frame_num).collect();
        assert_eq!(nums, [0, 1, 2, 0, 0, 1, 2]);
        let pocs: Vec<u16> = plans.iter().map(|p| p.poc).collect();
        assert_eq!(pocs, [0, 2, 4, 0, 0, 2, 4]);
        // consecutive IDRs differ in idr_pic_id
        assert_eq!(plans[3].idr_pic_id + 1, plans[4].idr_pic_id);
        assert_ne!(plans[0].idr_pic_id, plans[3].idr_pic_id);
    }

    #[test]
    fn frame_num_and_poc_wrap_within_their_fields() {
        let mut g = Ipp::new(1000);
        let plans: Vec<FramePlan> = (0..600).map(|_| g.next(false)).collect();
        assert!(plans.iter().all(|p| u32::from(p.frame_num) < 256));
        assert!(plans.iter().all(|p| u32::from(p.poc) < 512));
        assert_eq!(plans[256].frame_num, 0);
        assert!(!plans[256].idr);
    }

    #[test]
    fn sequence_numbers_for_720p_and_a_cropped_1080p() {
        let p = VideoParams {
            width: 1920,
            height: 1080,
            fps: 30,
            gop_frames: 60,
            bitrate_kbps: 4000,
            max_kbps: 4000,
        };
        let s = sequence(&EncoderSettings::new(&p, false));
        assert_eq!((s.width_mbs, s.height_mbs), (120, 68));
        // 1088 coded rows, 8 cropped: 4 in 4:2:0 units
        assert_eq!((s.crop_right, s.crop_bottom), (0, 4));
        assert_eq!(s.time_scale, 60);
        assert_eq!((s.profile_idc, s.cabac, s.transform_8x8), (100, true, true));
        let s = sequence(&EncoderSettings::new(
            &VideoParams {
                width: 1280,
                height: 720,
                ..p
            },
            true,
        ));
        assert_eq!((s.width_mbs, s.height_mbs, s.crop_bottom), (80, 45, 0));
        assert_eq!(
            (s.profile_idc, s.cabac, s.transform_8x8),
            (66, false, false)
        );
        assert_eq!(s.level, 31);
    }
}
