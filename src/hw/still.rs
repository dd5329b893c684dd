//! The waiting image: a JPEG or PNG file pushed instead of camera video while
//! the camera is lost, checked against `waiting-image-md5` and converted once
//! to I420 at the output size (centred crop, never stretched).
//!
//! The file is hostile until checked: a regular file under
//! [`files::IMAGE_LIMIT`], its MD5 checked before anything decodes it, and
//! the picture size read from its header and refused over
//! [`mjpeg::MAX_SIDE`]/[`mjpeg::MAX_PIXELS`] before any pixel memory is
//! allocated (a 422-byte JPEG claiming 16384x16384, a PNG bomb).

use md5::{Digest, Md5};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_core::result::DecodingResult;
use zune_png::PngDecoder;

use super::mjpeg::{self, Mjpeg};
use crate::files;
use livepush_core::video::convert;

/// Loads `path` as an I420 picture of `w` x `h`. Errors name the file and what is wrong.
pub fn load(path: &str, md5: Option<&str>, w: u32, h: u32) -> Result<Vec<u8>, String> {
    let bytes = files::read_regular(path, "waiting-image", files::IMAGE_LIMIT)?;
    check_md5(&bytes, md5).map_err(|e| format!("waiting-image {path}: {e}"))?;
    decode(&bytes, path, w, h)
}

/// The hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `bytes` against `waiting-image-md5` (when given).
pub fn check_md5(bytes: &[u8], md5: Option<&str>) -> Result<(), String> {
    if let Some(want) = md5 {
        let got = md5_hex(bytes);
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!(
                "its MD5 is {got}, waiting-image-md5 says {want}: refused"
            ));
        }
    }
    Ok(())
}

/// Decodes a JPEG or PNG (`path`: how errors name it) to I420 at `w` x `h`.
pub fn decode(bytes: &[u8], path: &str, w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; convert::i420_len(w, h)];
    if bytes.starts_with(&[0xff, 0xd8]) {
        Mjpeg::default()
            .decode(bytes, &mut out, w, h)
            .map_err(|e| format!("waiting-image {path}: {e}"))?;
    } else if bytes.starts_with(b"\x89PNG") {
        let opts = mjpeg::limited(DecoderOptions::default().png_set_strip_to_8bit(true));
        let mut d = PngDecoder::new_with_options(ZCursor::new(bytes), opts);
        d.decode_headers()
            .map_err(|e| format!("waiting-image {path}: PNG: {e:?}"))?;
        let (pw, ph) = d
            .dimensions()
            .ok_or_else(|| format!("waiting-image {path}: PNG without a size"))?;
        mjpeg::check_size("PNG", pw, ph).map_err(|e| format!("waiting-image {path}: {e}"))?;
        let cs = d
            .colorspace()
            .ok_or_else(|| format!("waiting-image {path}: PNG without a colour type"))?;
        let DecodingResult::U8(px) = d
            .decode()
            .map_err(|e| format!("waiting-image {path}: PNG: {e:?}"))?
        else {
            return Err(format!("waiting-image {path}: PNG deeper than 8 bits"));
        };
        let n = cs.num_components();
        let mut ycbcr = Vec::with_capacity(pw * ph * 3);
        for p in px.chunks_exact(n) {
            let (r, g, b) = match cs {
                ColorSpace::Luma | ColorSpace::LumaA => (p[0], p[0], p[0]),
                _ => (p[0], p[1], p[2]),
            };
            let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
            // JFIF full-range BT.601
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
            let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
            ycbcr.extend([y, cb, cr].map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
        convert::ycbcr444_full_to_i420(&ycbcr, pw as u32, ph as u32, &mut out, w, h)
            .map_err(|e| format!("waiting-image {path}: {e:?}"))?;
    } else {
        return Err(format!("waiting-image {path}: not a JPEG or PNG file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn make(dir: &std::path::Path, name: &str, colour: &str) -> String {
        let p = dir.join(name);
        let ok = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                &format!("color={colour}:s=160x120"),
                "-frames:v",
                "1",
            ])
            .arg(&p)
            .status()
            .expect("ffmpeg")
            .success();
        assert!(ok);
        p.display().to_string()
    }

    #[test]
    fn jpeg_and_png_load_with_their_colour_and_md5_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["blue.jpg", "blue.png"] {
            let p = make(dir.path(), name, "blue");
            let i = load(&p, None, 64, 36).unwrap();
            let (y, u, v) = (
                i[64 * 18 + 32],
                i[64 * 36 + 16],
                i[64 * 36 + 64 * 36 / 4 + 16],
            );
            // BT.601 limited-range blue: Y 41, U 240, V 110
            assert!(
                y.abs_diff(41) <= 4 && u.abs_diff(240) <= 4 && v.abs_diff(110) <= 4,
                "{name}: {y} {u} {v}"
            );
            let sum: String = Md5::digest(std::fs::read(&p).unwrap())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(load(&p, Some(&sum), 64, 36).is_ok());
            let e = load(&p, Some("00000000000000000000000000000000"), 64, 36).unwrap_err();
            assert!(
                e.contains(&format!("its MD5 is {sum}")) && e.contains(name),
                "{e}"
            );
        }
        std::fs::write(dir.path().join("x.gif"), b"GIF89a").unwrap();
        let e = load(
            &dir.path().join("x.gif").display().to_string(),
            None,
            64,
            36,
        )
        .unwrap_err();
        assert!(e.contains("not a JPEG or PNG"), "{e}");
    }
}
