//! The waiting image's pixels: a JPEG or PNG file's bytes converted once to
//! I420 at the output size (centred crop, never stretched). The picture size
//! is read from the header and refused over [`MAX_SIDE`](crate::MAX_SIDE) /
//! [`MAX_PIXELS`](crate::MAX_PIXELS) before any pixel memory is allocated
//! (a 422-byte JPEG claiming 16384x16384, a PNG bomb). Reading the file and
//! checking its MD5 is the shell's (`src/hw/still.rs`).

use livepush_core::video::convert;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_core::result::DecodingResult;
use zune_png::PngDecoder;

use crate::jpeg::{self, Mjpeg};

/// Decodes a JPEG or PNG (`name`: how errors name it) to I420 at `w` x `h`.
pub fn decode(bytes: &[u8], name: &str, w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; convert::i420_len(w, h)];
    if bytes.starts_with(&[0xff, 0xd8]) {
        Mjpeg::default()
            .decode(bytes, &mut out, w, h)
            .map_err(|e| format!("waiting-image {name}: {e}"))?;
    } else if bytes.starts_with(b"\x89PNG") {
        let opts = jpeg::limited(DecoderOptions::default().png_set_strip_to_8bit(true));
        let mut d = PngDecoder::new_with_options(ZCursor::new(bytes), opts);
        d.decode_headers()
            .map_err(|e| format!("waiting-image {name}: PNG: {e:?}"))?;
        let (pw, ph) = d
            .dimensions()
            .ok_or_else(|| format!("waiting-image {name}: PNG without a size"))?;
        jpeg::check_size("PNG", pw, ph).map_err(|e| format!("waiting-image {name}: {e}"))?;
        let cs = d
            .colorspace()
            .ok_or_else(|| format!("waiting-image {name}: PNG without a colour type"))?;
        let DecodingResult::U8(px) = d
            .decode()
            .map_err(|e| format!("waiting-image {name}: PNG: {e:?}"))?
        else {
            return Err(format!("waiting-image {name}: PNG deeper than 8 bits"));
        };
        let n = cs.num_components();
        if n == 0 || px.len() < pw * ph * n {
            return Err(format!("waiting-image {name}: PNG shorter than its size"));
        }
        let mut ycbcr = Vec::with_capacity(pw * ph * 3);
        for p in px.chunks_exact(n).take(pw * ph) {
            let (r, g, b) = match cs {
                ColorSpace::Luma | ColorSpace::LumaA => (p[0], p[0], p[0]),
                _ if n >= 3 => (p[0], p[1], p[2]),
                _ => (p[0], p[0], p[0]),
            };
            let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
            // JFIF full-range BT.601
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
            let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
            ycbcr.extend([y, cb, cr].map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        convert::ycbcr444_full_to_i420(&ycbcr, pw as u32, ph as u32, &mut out, w, h)
            .map_err(|e| format!("waiting-image {name}: {e:?}"))?;
    } else {
        return Err(format!("waiting-image {name}: not a JPEG or PNG file"));
    }
    Ok(out)
}
