//! The waiting image: a JPEG or PNG file pushed instead of camera video while
//! the camera is lost, checked against `waiting-image-md5` and converted once
//! to I420 at the output size (centred crop, never stretched).
//!
//! The file is hostile until checked: a regular file under
//! [`files::IMAGE_LIMIT`], its MD5 checked before anything decodes it, and
//! the picture size read from its header and refused over
//! [`livepush_images::MAX_SIDE`]/[`livepush_images::MAX_PIXELS`] before any pixel memory is
//! allocated (a 422-byte JPEG claiming 16384x16384, a PNG bomb).

use md5::{Digest, Md5};

use crate::files;

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

/// Decodes a JPEG or PNG (`path`: how errors name it) to I420 at `w` x `h`
/// (`livepush_images::still`, within its limits).
pub fn decode(bytes: &[u8], path: &str, w: u32, h: u32) -> Result<Vec<u8>, String> {
    livepush_images::still::decode(bytes, path, w, h)
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
