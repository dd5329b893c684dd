//! Motion-JPEG pictures from USB cameras, decoded with zune-jpeg (pure Rust)
//! into full-range YCbCr, then into the encoder's limited-range I420 with the
//! same crop/scale as raw formats. The decoder allocates internally for every
//! picture: MJPEG cameras are the one capture path that does.
//!
//! A camera's frame can be truncated (a USB transfer cut short) or corrupt:
//! a JPEG without its end-of-image marker is refused here rather than shown
//! half grey, so the caller keeps the last good picture.

use livepush_core::video::convert;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// The widest or tallest picture decoded (a camera frame or the waiting
/// image): a JPEG or PNG header claiming more is refused before decoding.
pub const MAX_SIDE: usize = 4096;
/// The most pixels decoded (4096 x 2304, a little over 4K UHD): about 28 MB
/// of YCbCr at most, whatever a header claims.
pub const MAX_PIXELS: usize = 4096 * 2304;

/// Decoder options with the picture-size limits set.
pub fn limited(opts: DecoderOptions) -> DecoderOptions {
    opts.set_max_width(MAX_SIDE).set_max_height(MAX_SIDE)
}

/// Refuses a picture over [`MAX_PIXELS`] (the decoder checks each side).
pub fn check_size(kind: &str, w: usize, h: usize) -> Result<(), String> {
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS {
        return Err(format!(
            "{kind}: {w}x{h} pictures are not decoded (at most {MAX_SIDE} on a side and {MAX_PIXELS} pixels)"
        ));
    }
    Ok(())
}

/// Whether `jpeg` ends with the end-of-image marker (FF D9), allowing the
/// zero padding some UVC cameras put after it. A frame cut short lacks it.
pub fn is_complete(jpeg: &[u8]) -> bool {
    let end = jpeg.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    jpeg[..end].ends_with(&[0xff, 0xd9])
}

/// A reusable MJPEG decoder.
#[derive(Default)]
pub struct Mjpeg {
    ycbcr: Vec<u8>,
}

impl Mjpeg {
    /// Decodes one JPEG into I420 `out` (`out_w` x `out_h`). On an error
    /// `out` is left as it was (the previous picture).
    pub fn decode(
        &mut self,
        jpeg: &[u8],
        out: &mut [u8],
        out_w: u32,
        out_h: u32,
    ) -> Result<(u32, u32), String> {
        if !jpeg.starts_with(&[0xff, 0xd8]) {
            return Err("JPEG: no start-of-image marker".into());
        }
        if !is_complete(jpeg) {
            return Err(format!(
                "JPEG: truncated ({} bytes, no end-of-image marker)",
                jpeg.len()
            ));
        }
        let opts = limited(DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr));
        let mut d = JpegDecoder::new_with_options(ZCursor::new(jpeg), opts);
        d.decode_headers().map_err(|e| format!("JPEG: {e:?}"))?;
        let (w, h) = d.dimensions().ok_or("JPEG: no dimensions")?;
        check_size("JPEG", w, h)?;
        let need = d.output_buffer_size().ok_or("JPEG: no output size")?;
        self.ycbcr.resize(need, 0);
        d.decode_into(&mut self.ycbcr)
            .map_err(|e| format!("JPEG: {e:?}"))?;
        convert::ycbcr444_full_to_i420(&self.ycbcr, w as u32, h as u32, out, out_w, out_h)
            .map_err(|e| format!("JPEG: {e:?}"))?;
        Ok((w as u32, h as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_size_limits() {
        assert!(check_size("JPEG", 3840, 2160).is_ok());
        assert!(check_size("JPEG", 4096, 2304).is_ok());
        let e = check_size("JPEG", 4096, 4096).unwrap_err();
        assert!(e.contains("4096x4096 pictures are not decoded"), "{e}");
        assert!(check_size("PNG", 5000, 10).is_err());
        assert!(check_size("PNG", 0, 10).is_err());
    }
    use std::process::Command;

    /// A JPEG made by ffmpeg (Debian's), like a UVC camera's MJPEG frame.
    pub(crate) fn jpeg(colour: &str, w: u32, h: u32) -> Vec<u8> {
        let out = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                &format!("color={colour}:s={w}x{h}"),
                "-frames:v",
                "1",
                "-f",
                "mjpeg",
                "-",
            ])
            .output()
            .expect("ffmpeg (apt-get install ffmpeg)");
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn ffmpeg_jpegs_decode_to_the_right_colour_and_size() {
        let mut m = Mjpeg::default();
        for (colour, want) in [
            ("red", (81u8, 90u8, 240u8)),
            ("white", (235, 128, 128)),
            ("black", (16, 128, 128)),
        ] {
            let j = jpeg(colour, 64, 48);
            let mut out = vec![0u8; 32 * 18 * 3 / 2];
            assert_eq!(m.decode(&j, &mut out, 32, 18).unwrap(), (64, 48));
            let (y, u, v) = (
                out[32 * 9 + 16],
                out[32 * 18 + 8],
                out[32 * 18 + 32 * 18 / 4 + 8],
            );
            for (got, want, what) in [(y, want.0, "Y"), (u, want.1, "U"), (v, want.2, "V")] {
                assert!(
                    got.abs_diff(want) <= 4,
                    "{colour}: {what} {got}, want {want}"
                );
            }
        }
        assert!(m.decode(b"not a jpeg", &mut [0u8; 6], 2, 2).is_err());
    }

    #[test]
    fn a_truncated_or_corrupt_frame_is_refused_and_leaves_the_picture_alone() {
        let mut m = Mjpeg::default();
        let good = jpeg("red", 64, 48);
        let mut out = vec![0u8; 32 * 18 * 3 / 2];
        m.decode(&good, &mut out, 32, 18).unwrap();
        let before = out.clone();
        // cut short: no end-of-image marker
        let e = m
            .decode(&good[..good.len() / 2], &mut out, 32, 18)
            .unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        // the marker with a UVC camera's zero padding after it is complete
        let mut padded = good.clone();
        padded.extend([0u8; 64]);
        assert!(is_complete(&padded));
        m.decode(&padded, &mut out, 32, 18).unwrap();
        // garbage between the markers: refused or decoded, never a panic,
        // and a refusal keeps the previous picture
        let mut bad = good.clone();
        for b in &mut bad[20..good.len() - 2] {
            *b = 0xff;
        }
        if m.decode(&bad, &mut out, 32, 18).is_err() {
            assert_eq!(out, before);
        }
        out.copy_from_slice(&before);
        assert!(m
            .decode(&[0xff, 0xd8, 0xff, 0xd9], &mut out, 32, 18)
            .is_err());
        assert_eq!(out, before);
    }
}
