//! H.264 bitstream helpers: Annex-B NAL splitting, SPS/PPS extraction, the
//! AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.2.4.1) and Annex-B to
//! length-prefixed (AVCC) conversion for FLV.

/// NAL unit types we care about.
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// Iterates over the NAL units of an Annex-B byte stream (start codes removed).
pub fn nal_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = find_start(stream, 0).map(|(_, end)| end);
    core::iter::from_fn(move || {
        let start = pos?;
        match find_start(stream, start) {
            Some((sc, end)) => {
                pos = Some(end);
                // trailing zero bytes before a 4-byte start code belong to the start code
                let mut e = sc;
                while e > start && stream[e - 1] == 0 {
                    e -= 1;
                }
                Some(&stream[start..e])
            }
            None => {
                pos = None;
                Some(&stream[start..])
            }
        }
    })
    .filter(|n| !n.is_empty())
}

/// Finds the next `00 00 01` at or after `from`: (index of the first 0, index after the 1).
fn find_start(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 2 < s.len() {
        if s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1 {
            return Some((i, i + 3));
        }
        i += 1;
    }
    None
}

/// The NAL unit type of a NAL (first byte's low 5 bits).
pub fn nal_unit_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Whether an Annex-B access unit holds an IDR slice.
pub fn is_keyframe(annexb: &[u8]) -> bool {
    nal_units(annexb).any(|n| nal_unit_type(n) == nal_type::IDR)
}

/// The first SPS and PPS of an Annex-B access unit, if both are present
/// and fit a decoder record (an SPS of 4 bytes or more: header, profile,
/// constraints, level; each under 64 KiB). An encoder's bytes are not
/// trusted: a malformed set is passed over, not carried into the stream.
pub fn parameter_sets(annexb: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut sps = None;
    let mut pps = None;
    let fits = |n: &[u8], min: usize| (min..=usize::from(u16::MAX)).contains(&n.len());
    for n in nal_units(annexb) {
        match nal_unit_type(n) {
            nal_type::SPS if sps.is_none() && fits(n, 4) => sps = Some(n),
            nal_type::PPS if pps.is_none() && fits(n, 2) => pps = Some(n),
            _ => {}
        }
    }
    Some((sps?, pps?))
}

/// Builds an AVCDecoderConfigurationRecord from one SPS and one PPS:
/// `01 profile compat level FF E1 len(2) SPS 01 len(2) PPS`.
/// Sets that [`parameter_sets`] would not give (an SPS under 4 bytes, a
/// set of 64 KiB or more) write nothing: never a panic, never a record
/// whose lengths disagree with its bytes.
pub fn avc_decoder_config(sps: &[u8], pps: &[u8], out: &mut Vec<u8>) {
    let (Some(head), Ok(sps_len), Ok(pps_len)) = (
        sps.get(1..4),
        u16::try_from(sps.len()),
        u16::try_from(pps.len()),
    ) else {
        return;
    };
    out.push(1);
    out.extend_from_slice(head); // profile_idc, constraint flags, level_idc
    out.push(0xff); // 6 bits reserved + lengthSizeMinusOne = 3
    out.push(0xe1); // 3 bits reserved + numOfSequenceParameterSets = 1
    out.extend_from_slice(&sps_len.to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&pps_len.to_be_bytes());
    out.extend_from_slice(pps);
}

/// Appends the NAL units of an Annex-B access unit as 4-byte length-prefixed
/// NALs, leaving out SPS, PPS and AUD (they travel in the sequence header).
pub fn annexb_to_avcc(annexb: &[u8], out: &mut Vec<u8>) {
    for n in nal_units(annexb) {
        match nal_unit_type(n) {
            nal_type::SPS | nal_type::PPS | nal_type::AUD => {}
            _ => {
                out.extend_from_slice(&(n.len() as u32).to_be_bytes());
                out.extend_from_slice(n);
            }
        }
    }
}

/// Minimal SPS reader: profile, level and the coded picture size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpsInfo {
    /// profile_idc.
    pub profile_idc: u8,
    /// level_idc.
    pub level_idc: u8,
    /// Width in pixels after cropping.
    pub width: u32,
    /// Height in pixels after cropping.
    pub height: u32,
}

/// The most macroblocks on a side [`parse_sps`] accepts (16,384 pixels:
/// twice what level 6.2 allows on a side).
const MAX_MBS_SIDE: u32 = 1024;

/// Parses the fields of an SPS NAL (with header byte) that FLV metadata
/// needs; None for a malformed or implausible one (any bytes: no panic).
pub fn parse_sps(sps: &[u8]) -> Option<SpsInfo> {
    if sps.len() < 4 || nal_unit_type(sps) != nal_type::SPS {
        return None;
    }
    // remove emulation prevention bytes
    let mut rbsp = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &b in &sps[1..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = BitReader {
        data: &rbsp,
        pos: 0,
    };
    let profile_idc = r.bits(8)? as u8;
    r.bits(8)?;
    let level_idc = r.bits(8)? as u8;
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            r.bits(1)?;
        }
        r.ue()?;
        r.ue()?;
        r.bits(1)?;
        if r.bits(1)? == 1 {
            let n = if chroma_format_idc != 3 { 8 } else { 12 };
            for i in 0..n {
                if r.bits(1)? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i64, 8i64);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    let poc_type = r.ue()?;
    if poc_type == 0 {
        r.ue()?;
    } else if poc_type == 1 {
        r.bits(1)?;
        r.se()?;
        r.se()?;
        // num_ref_frames_in_pic_order_cnt_cycle: 0..=255 (7.4.2.1.1)
        let cycle = r.ue()?;
        if cycle > 255 {
            return None;
        }
        for _ in 0..cycle {
            r.se()?;
        }
    }
    r.ue()?; // max_num_ref_frames
    r.bits(1)?;
    let w_mbs = r.ue()? + 1;
    let h_map = r.ue()? + 1;
    let frame_mbs_only = r.bits(1)?;
    if frame_mbs_only == 0 {
        r.bits(1)?;
    }
    r.bits(1)?; // direct_8x8_inference
    let (mut cl, mut cr, mut ct, mut cb) = (0, 0, 0, 0);
    if r.bits(1)? == 1 {
        cl = r.ue()?;
        cr = r.ue()?;
        ct = r.ue()?;
        cb = r.ue()?;
    }
    let (sub_w, sub_h) = match chroma_format_idc {
        0 | 3 => (1, 1),
        2 => (2, 1),
        _ => (2, 2),
    };
    let crop_x = sub_w;
    let crop_y = sub_h * (2 - frame_mbs_only);
    // a hostile SPS can claim anything: sizes beyond what any level allows
    // (and crops past the picture) are refused, not wrapped
    if w_mbs > MAX_MBS_SIDE || h_map > MAX_MBS_SIDE || [cl, cr, ct, cb].iter().any(|&c| c > 8192) {
        return None;
    }
    let width = (w_mbs * 16).checked_sub(crop_x * (cl + cr))?;
    let height = ((2 - frame_mbs_only) * h_map * 16).checked_sub(crop_y * (ct + cb))?;
    if width == 0 || height == 0 {
        return None;
    }
    Some(SpsInfo {
        profile_idc,
        level_idc,
        width,
        height,
    })
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            let bit = (byte >> (7 - (self.pos % 8))) & 1;
            v = (v << 1) | u32::from(bit);
            self.pos += 1;
        }
        Some(v)
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bits(1)? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
    fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// Makes the IDR access unit in `buf[start..]` carry SPS and PPS: remembers
/// them when it has them, inserts the remembered ones before it when it has
/// not. In place: nothing is allocated once `buf` and `sets` have grown.
pub fn ensure_parameter_sets(buf: &mut Vec<u8>, start: usize, sets: &mut Vec<u8>) {
    let has = |buf: &[u8], t: u8| nal_units(buf).any(|n| n.first().is_some_and(|b| b & 0x1f == t));
    let unit = &buf[start..];
    if has(unit, 7) && has(unit, 8) {
        sets.clear();
        for n in nal_units(unit).filter(|n| matches!(n.first().map(|b| b & 0x1f), Some(7 | 8))) {
            sets.extend_from_slice(&[0, 0, 0, 1]);
            sets.extend_from_slice(n);
        }
    } else if has(unit, 5) && !sets.is_empty() {
        buf.splice(start..start, sets.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Found by the `h264` and `flv` fuzz targets: SPSs whose crop or size
    /// fields overflowed the width/height arithmetic (a panic with overflow
    /// checks, a wrapped size without). Now refused or sane.
    #[test]
    fn fuzz_found_spss_do_not_overflow() {
        for sps in [
            "679d090aacd9447b011000000300100000030140f1225960",
            "6764000aacd9447b011000000300100000030140f1225960",
            "6764000aacd9442f011000000300100000030140f1225960",
        ] {
            if let Some(i) = parse_sps(&hex(sps)) {
                assert!(
                    (1..=16384).contains(&i.width) && (1..=16384).contains(&i.height),
                    "{sps}: {i:?}"
                );
            }
        }
        // a width of 2^32/16 macroblocks: refused
        let mut huge = vec![0x67, 66, 0, 30];
        // sps id 0 (1), log2_max_frame_num 0 (1), poc type 2 (011), max refs 0 (1),
        // gaps 0, then pic_width_in_mbs_minus1 = 2^20 (exp-Golomb: 20 zeros, 1, 20 bits)
        let mut bits = String::from("1" /* id */);
        bits += "1"; // log2_max_frame_num_minus4
        bits += "011"; // poc type 2
        bits += "1"; // max_num_ref_frames
        bits += "0"; // gaps
        bits += &"0".repeat(20);
        bits += "1";
        bits += &"0".repeat(20); // width in mbs - 1 = 2^20 - 1
        bits += "1"; // height map 1
        bits += "1"; // frame_mbs_only
        bits += "1"; // direct 8x8
        bits += "0"; // no crop
        bits += "0"; // no vui
        bits += "1";
        while bits.len() % 8 != 0 {
            bits += "0";
        }
        for c in bits.as_bytes().chunks(8) {
            huge.push(u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap());
        }
        assert_eq!(parse_sps(&huge), None);
    }

    /// Found by the `h264` fuzz target: a key frame whose SPS NAL is two
    /// bytes (`67 9d`) reached the decoder record's assert (a panic in the
    /// event loop). Such a set is passed over; the record writer is total.
    #[test]
    fn a_short_sps_from_an_encoder_is_passed_over() {
        let au = [
            0, 0, 1, 0x67, 0x9d, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88,
        ];
        assert_eq!(parameter_sets(&au), None);
        let mut out = Vec::new();
        avc_decoder_config(&[0x67, 0x9d], &[0x68], &mut out);
        assert!(out.is_empty());
        // a later well-formed SPS in the same unit is taken
        let au2 = [
            0, 0, 1, 0x67, 0x9d, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0, 0, 1, 0x68, 0xce,
        ];
        assert_eq!(
            parameter_sets(&au2),
            Some((&[0x67, 0x42, 0xc0, 0x1e][..], &[0x68, 0xce][..]))
        );
    }

    // SPS/PPS of a 640x360 Constrained Baseline stream made by openh264 2.7
    // (see tests/data/README.md); 360 is not a multiple of 16: cropping is exercised.
    const SPS: [u8; 11] = [
        0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x8d, 0x40, 0x50, 0x17, 0xfc, 0xb0,
    ];
    const PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 2, 4, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9,
        ];
        let nals: Vec<&[u8]> = nal_units(&s).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2, 4][..], &[0x68, 3][..], &[0x65, 9, 9][..]]
        );
        assert!(is_keyframe(&s));
        assert_eq!(
            parameter_sets(&s),
            Some((&[0x67, 1, 2, 4][..], &[0x68, 3][..]))
        );
        assert!(!is_keyframe(&[0, 0, 1, 0x41, 7]));
        assert_eq!(parameter_sets(&[0, 0, 1, 0x41, 7]), None);
    }

    #[test]
    fn avcc_conversion_drops_parameter_sets() {
        let s = [
            0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 9, 9,
        ];
        let mut out = Vec::new();
        annexb_to_avcc(&s, &mut out);
        assert_eq!(out, [0, 0, 0, 3, 0x65, 9, 9]);
    }

    #[test]
    fn decoder_config_record_golden() {
        let mut out = Vec::new();
        avc_decoder_config(&SPS, &PPS, &mut out);
        let want = [
            0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x00,
            0x0b, // version, profile, compat, level, 4-byte lengths, 1 SPS, len 11
            0x67, 0x42, 0xc0, 0x1e, 0x8c, 0x8d, 0x40, 0x50, 0x17, 0xfc, 0xb0, // SPS
            0x01, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80, // 1 PPS, len 4, PPS
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn sps_size_with_cropping() {
        let info = parse_sps(&SPS).unwrap();
        assert_eq!(
            info,
            SpsInfo {
                profile_idc: 66,
                level_idc: 30,
                width: 640,
                height: 360
            }
        );
        assert_eq!(parse_sps(&PPS), None);
    }
    #[test]
    fn an_idr_without_parameter_sets_gets_the_last_ones() {
        let sps = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e];
        let pps = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
        let idr = [0, 0, 0, 1, 0x65, 0x88, 0x84];
        let p = [0, 0, 0, 1, 0x41, 0x9a];
        let mut sets = Vec::new();
        // an IDR before any parameter set: left as it is
        let mut u = idr.to_vec();
        ensure_parameter_sets(&mut u, 0, &mut sets);
        assert_eq!(u, idr);
        // a full one: remembered
        let mut u = [&sps[..], &pps, &idr].concat();
        ensure_parameter_sets(&mut u, 0, &mut sets);
        assert_eq!(sets, [&sps[..], &pps].concat());
        // a P frame: untouched; a bare IDR: completed
        let mut u = p.to_vec();
        ensure_parameter_sets(&mut u, 0, &mut sets);
        assert_eq!(u, p);
        let mut u = idr.to_vec();
        ensure_parameter_sets(&mut u, 0, &mut sets);
        assert_eq!(u, [&sps[..], &pps, &idr].concat());
        assert!(is_keyframe(&u));
        // behind other bytes, in a buffer with room: completed in place
        let mut u = Vec::with_capacity(64);
        u.extend_from_slice(&[7, 7]);
        u.extend_from_slice(&idr);
        let at = u.as_ptr();
        ensure_parameter_sets(&mut u, 2, &mut sets);
        assert_eq!(u, [&[7, 7][..], &sps, &pps, &idr].concat());
        assert_eq!(u.as_ptr(), at, "not reallocated");
    }
}
