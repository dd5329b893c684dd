//! AAC: the MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) that the FLV
//! AAC sequence header carries.

/// Sampling frequency index of a rate, if it has one.
pub fn sampling_frequency_index(rate: u32) -> Option<u8> {
    const RATES: [u32; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    RATES.iter().position(|&r| r == rate).map(|i| i as u8)
}

/// AAC-LC AudioSpecificConfig: 5 bits object type (2), 4 bits frequency
/// index, 4 bits channel configuration, 3 bits zero.
pub fn audio_specific_config_lc(rate: u32, channels: u8) -> Option<[u8; 2]> {
    let idx = sampling_frequency_index(rate)?;
    if !(1..=7).contains(&channels) {
        return None;
    }
    let v: u16 = (2 << 11) | (u16::from(idx) << 7) | (u16::from(channels) << 3);
    Some(v.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asc_golden() {
        // the bytes ffmpeg and fdk-aac write for these formats
        assert_eq!(audio_specific_config_lc(48000, 2), Some([0x11, 0x90]));
        assert_eq!(audio_specific_config_lc(44100, 2), Some([0x12, 0x10]));
        assert_eq!(audio_specific_config_lc(48000, 1), Some([0x11, 0x88]));
        assert_eq!(audio_specific_config_lc(44100, 1), Some([0x12, 0x08]));
        assert_eq!(audio_specific_config_lc(22000, 1), None);
        assert_eq!(audio_specific_config_lc(48000, 0), None);
    }
}
