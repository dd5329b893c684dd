//! What every encoder backend is asked for, beyond size and rate: the H.264
//! profile (Constrained Baseline in RTC mode, where B-frames and CABAC's
//! latency are unwanted; High otherwise), the lowest level that holds the
//! picture size, frame rate and peak bitrate (Table A-1 of the H.264 spec),
//! and the peak bitrate itself. Backends map these to their own knobs
//! (V4L2 controls, VAAPI parameter buffers, MPP config keys). No backend is
//! ever asked for B-frames: a live stream gains nothing from them but delay.

use crate::config::VideoParams;

/// H.264 profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Constrained Baseline (profile_idc 66 with constraint_set1): no B-frames, no CABAC.
    ConstrainedBaseline,
    /// Main (77).
    Main,
    /// High (100).
    High,
}

impl Profile {
    /// profile_idc in the SPS.
    pub const fn idc(self) -> u8 {
        match self {
            Profile::ConstrainedBaseline => 66,
            Profile::Main => 77,
            Profile::High => 100,
        }
    }
}

/// One row of Table A-1: level_idc, max macroblocks per second, max frame
/// size in macroblocks, max video bitrate (kbit/s, Baseline/Main; High allows 1.25x).
const LEVELS: [(u8, u32, u32, u32); 16] = [
    (10, 1_485, 99, 64),
    (11, 3_000, 396, 192),
    (12, 6_000, 396, 384),
    (13, 11_880, 396, 768),
    (20, 11_880, 396, 2_000),
    (21, 19_800, 792, 4_000),
    (22, 20_250, 1_620, 4_000),
    (30, 40_500, 1_620, 10_000),
    (31, 108_000, 3_600, 14_000),
    (32, 216_000, 5_120, 20_000),
    (40, 245_760, 8_192, 20_000),
    (41, 245_760, 8_192, 50_000),
    (42, 522_240, 8_704, 50_000),
    (50, 589_824, 22_080, 135_000),
    (51, 983_040, 36_864, 240_000),
    (52, 2_073_600, 36_864, 240_000),
];

/// The lowest level_idc that allows `width`x`height` at `fps` and a peak of
/// `max_kbps` for `profile`; None beyond level 5.2.
pub fn level_idc(width: u32, height: u32, fps: u32, max_kbps: u32, profile: Profile) -> Option<u8> {
    let mbs_w = width.div_ceil(16);
    let mbs_h = height.div_ceil(16);
    let fs = mbs_w * mbs_h;
    let mbps = fs * fps;
    let br_factor = if profile == Profile::High { 5 } else { 4 }; // x1.25 for High
    LEVELS
        .iter()
        .find(|(_, max_mbps, max_fs, max_br)| {
            // neither side may exceed sqrt(8 * MaxFS) macroblocks (A.3.1)
            let side = ((8 * max_fs) as f64).sqrt() as u32;
            fs <= *max_fs
                && mbs_w <= side
                && mbs_h <= side
                && mbps <= *max_mbps
                && max_kbps * 4 <= max_br * br_factor
        })
        .map(|l| l.0)
}

/// Everything a backend is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderSettings {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Key frame every this many frames.
    pub gop_frames: u32,
    /// CBR target, kbit/s.
    pub kbps: u32,
    /// Peak, kbit/s (max-bitrate; never below the target).
    pub max_kbps: u32,
    /// Profile.
    pub profile: Profile,
    /// level_idc (e.g. 31 for 3.1).
    pub level: u8,
    /// Pictures will come as DMABUFs in this layout: a backend that can
    /// import them in place opens for that (zero copy).
    pub import: Option<crate::video::layout::RawLayout>,
}

impl EncoderSettings {
    /// The settings for `p` (RTC mode: Constrained Baseline).
    pub fn new(p: &VideoParams, rtc: bool) -> Self {
        let profile = if rtc {
            Profile::ConstrainedBaseline
        } else {
            Profile::High
        };
        let max_kbps = p.max_kbps.max(p.bitrate_kbps);
        EncoderSettings {
            width: p.width,
            height: p.height,
            fps: p.fps,
            gop_frames: p.gop_frames,
            kbps: p.bitrate_kbps,
            max_kbps,
            profile,
            level: level_idc(p.width, p.height, p.fps, max_kbps, profile).unwrap_or(52),
            import: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_table_a1() {
        use Profile::*;
        // 1080p30 at 4 Mbit/s: 8160 MBs x 30 = 244800 MB/s -> 4.0
        assert_eq!(level_idc(1920, 1080, 30, 4000, High), Some(40));
        // ... at 25 Mbit/s Baseline needs 4.1; High's 1.25x lets 4.0 hold it
        assert_eq!(
            level_idc(1920, 1080, 30, 25_000, ConstrainedBaseline),
            Some(41)
        );
        assert_eq!(level_idc(1920, 1080, 30, 25_000, High), Some(40));
        assert_eq!(level_idc(1920, 1080, 30, 26_000, High), Some(41));
        // 720p30: 3600 MBs, 108000 MB/s -> 3.1; 720p60 -> 3.2
        assert_eq!(level_idc(1280, 720, 30, 1800, Main), Some(31));
        assert_eq!(level_idc(1280, 720, 60, 1800, Main), Some(32));
        // 640x360@20 (RTC preset): 920 MBs -> 2.2 by frame size
        assert_eq!(level_idc(640, 360, 20, 1000, ConstrainedBaseline), Some(22));
        // the bitrate alone can raise the level
        assert_eq!(level_idc(320, 180, 15, 3000, ConstrainedBaseline), Some(21));
        // a 4096-wide strip (256 MBs) breaks the sqrt(8 x MaxFS) side rule
        // below 4.0, though its frame size would fit 3.1
        assert_eq!(level_idc(4096, 64, 10, 1000, High), Some(40));
        // 8K is beyond 5.2
        assert_eq!(level_idc(7680, 4320, 30, 1000, High), None);
    }

    #[test]
    fn rtc_is_constrained_baseline_and_peak_never_below_target() {
        let p = VideoParams {
            width: 640,
            height: 360,
            fps: 20,
            gop_frames: 20,
            bitrate_kbps: 900,
            max_kbps: 500,
        };
        let s = EncoderSettings::new(&p, true);
        assert_eq!(s.profile, Profile::ConstrainedBaseline);
        assert_eq!(s.profile.idc(), 66);
        assert_eq!(s.max_kbps, 900);
        assert_eq!(s.level, 22);
        assert_eq!(EncoderSettings::new(&p, false).profile, Profile::High);
    }
}
