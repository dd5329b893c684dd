//! AAC-LC with the Fraunhofer FDK encoder (bundled source), raw frames.

use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

use super::AudioEncoder;

/// The FDK AAC backend.
pub struct FdkAac {
    enc: Encoder,
    asc: Vec<u8>,
    frame: usize,
    delay: usize,
    scratch: Vec<u8>,
}

impl FdkAac {
    /// AAC-LC at `rate` Hz, `channels`, `kbps`.
    pub fn new(rate: u32, channels: u8, kbps: u32) -> Result<Self, String> {
        let enc = Encoder::new(EncoderParams {
            bit_rate: BitRate::Cbr(kbps * 1000),
            sample_rate: rate,
            transport: Transport::Raw,
            channels: if channels == 1 {
                ChannelMode::Mono
            } else {
                ChannelMode::Stereo
            },
            audio_object_type: AudioObjectType::Mpeg4LowComplexity,
        })
        .map_err(|e| format!("fdk-aac: {e:?}"))?;
        let info = enc.info().map_err(|e| format!("fdk-aac: {e:?}"))?;
        let asc = info.confBuf[..info.confSize as usize].to_vec();
        Ok(FdkAac {
            enc,
            asc,
            frame: info.frameLength as usize,
            delay: info.nDelay as usize,
            scratch: vec![0u8; 8192],
        })
    }
}

impl AudioEncoder for FdkAac {
    fn specific_config(&self) -> Vec<u8> {
        self.asc.clone()
    }
    fn frame_samples(&self) -> usize {
        self.frame
    }
    fn delay_samples(&self) -> usize {
        self.delay
    }
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), String> {
        let info = self
            .enc
            .encode(pcm, &mut self.scratch)
            .map_err(|e| format!("fdk-aac: {e:?}"))?;
        if info.input_consumed != pcm.len() {
            return Err(format!(
                "fdk-aac consumed {} of {} samples",
                info.input_consumed,
                pcm.len()
            ));
        }
        out.extend_from_slice(&self.scratch[..info.output_size]);
        Ok(())
    }
}
