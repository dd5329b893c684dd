//! `snapshot`: the current picture (I420 at the encoder's size, after crop
//! and scale, before encoding: the video thread copies it, nothing more)
//! as a JPEG, encoded here by the `jpeg-encoder` crate on a blocking
//! thread, never on the media path. Options: `quality` 1..100 (default 85)
//! and `width` (even, at most the picture's; the height keeps the aspect).

use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType, SamplingFactor};

use crate::media::Picture;

/// What a snapshot request may ask for (checked in `livepush_api`).
pub use livepush_api::SnapshotOptions as Options;

/// The picture as a JPEG (4:2:0, JFIF full range from the video range of
/// cameras and encoders). Returns (jpeg, width, height).
pub fn encode(pic: &Picture, o: Options) -> Result<(Vec<u8>, u32, u32), String> {
    let scaled;
    let (w, h, data) = match o.width.filter(|w| *w < pic.width) {
        Some(w) => {
            let h =
                ((u64::from(pic.height) * u64::from(w) / u64::from(pic.width)) as u32 & !1).max(2);
            let src = livepush_core::video::convert::Picture {
                format: livepush_core::video::negotiate::PixelFormat::I420,
                width: pic.width,
                height: pic.height,
                stride: 0,
                data: &pic.i420,
            };
            let mut out = vec![0u8; livepush_core::video::convert::i420_len(w, h)];
            livepush_core::video::convert::to_i420(&src, &mut out, w, h)
                .map_err(|e| format!("scaling: {e:?}"))?;
            scaled = out;
            (w, h, &scaled[..])
        }
        None => (pic.width, pic.height, &pic.i420[..]),
    };
    if w > u32::from(u16::MAX) || h > u32::from(u16::MAX) || data.len() < (w * h * 3 / 2) as usize {
        return Err("the picture has an impossible size".into());
    }
    let mut jpeg = Vec::with_capacity((w * h / 4) as usize);
    let mut e = Encoder::new(&mut jpeg, o.quality);
    e.set_sampling_factor(SamplingFactor::R_4_2_0);
    e.encode_image(I420Image {
        data,
        width: w,
        height: h,
    })
    .map_err(|e| format!("JPEG: {e}"))?;
    Ok((jpeg, w, h))
}

/// I420 planes read line by line as JPEG's YCbCr (limited to full range).
struct I420Image<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
}

fn full_y(v: u8) -> u8 {
    ((i32::from(v) - 16) * 255 / 219).clamp(0, 255) as u8
}

fn full_c(v: u8) -> u8 {
    ((i32::from(v) - 128) * 255 / 224 + 128).clamp(0, 255) as u8
}

impl ImageBuffer for I420Image<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width as u16
    }

    fn height(&self) -> u16 {
        self.height as u16
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let y = usize::from(y);
        let cw = w.div_ceil(2);
        let luma = &self.data[y * w..(y + 1) * w];
        let u0 = w * h;
        let v0 = u0 + cw * h.div_ceil(2);
        let row = (y / 2) * cw;
        for x in 0..w {
            buffers[0].push(full_y(luma[x]));
            buffers[1].push(full_c(self.data[u0 + row + x / 2]));
            buffers[2].push(full_c(self.data[v0 + row + x / 2]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_decodes_as_the_picture_it_was_made_of() {
        // the test pattern with its burned-in counter, through JPEG and back
        let (w, h) = (320u32, 180u32);
        let mut i420 = vec![0u8; (w * h * 3 / 2) as usize];
        livepush_core::synth::pattern::TestPattern::new(w, h).render(1234, &mut i420);
        let pic = Picture {
            width: w,
            height: h,
            i420,
        };
        let (jpeg, jw, jh) = encode(&pic, Options::default()).unwrap();
        assert_eq!((jw, jh), (w, h));
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "a JPEG starts with SOI");
        let mut d = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(&jpeg));
        let rgb = d.decode().unwrap();
        let info = d.info().unwrap();
        assert_eq!((u32::from(info.width), u32::from(info.height)), (w, h));
        // back to luma, the counter read as the stream's decoder reads it
        let gray: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| {
                let y = (66 * i32::from(p[0]) + 129 * i32::from(p[1]) + 25 * i32::from(p[2]) + 128)
                    >> 8;
                (y + 16).clamp(0, 255) as u8
            })
            .collect();
        assert_eq!(
            livepush_core::synth::pattern::read_counter(&gray, w, h),
            Some(1234)
        );
        // smaller and worse on request
        let (small, sw, sh) = encode(
            &pic,
            Options {
                quality: 30,
                width: Some(160),
            },
        )
        .unwrap();
        assert_eq!((sw, sh), (160, 90));
        assert!(
            small.len() < jpeg.len() / 2,
            "{} vs {}",
            small.len(),
            jpeg.len()
        );
    }
}
