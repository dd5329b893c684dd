//! Raw picture layouts hardware encoders take: I420 (YU12) or NV12, with a
//! row stride and a row count that may exceed the picture (V4L2 drivers round
//! the coded size up, MPP wants 16-aligned strides). [`RawLayout::fill`]
//! copies an I420 picture in, repeating its last row and column into the
//! padding, which costs the encoder nothing to code.

use crate::encoder::interface::I420;

/// The fourcc of planar I420 (V4L2's YU12).
pub const YU12: u32 = u32::from_le_bytes(*b"YU12");
/// The fourcc of semi-planar NV12.
pub const NV12: u32 = u32::from_le_bytes(*b"NV12");

/// A raw picture layout an encoder asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawLayout {
    /// YU12 or NV12.
    pub fourcc: u32,
    /// Coded width and height (at least the picture's).
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Bytes per luma row.
    pub stride: u32,
    /// Bytes per buffer.
    pub size: u32,
}

impl RawLayout {
    /// Writes `pic` into `dst` in this layout; rows and columns beyond the
    /// picture repeat its last row/column (cheap for the encoder to code).
    pub fn fill(&self, pic: &I420<'_>, dst: &mut [u8]) -> Result<(), String> {
        let (w, h) = (pic.width as usize, pic.height as usize);
        let (cw, chh) = (w / 2, h / 2);
        let stride = self.stride as usize;
        let rows = self.height as usize;
        let cstride = stride / 2;
        let crows = rows / 2;
        if w > stride || h > rows {
            return Err(format!(
                "picture {w}x{h} larger than the encoder's {}x{}",
                self.stride, self.height
            ));
        }
        let need = stride * rows * 3 / 2;
        if dst.len() < need || pic.data.len() < w * h * 3 / 2 {
            return Err(format!(
                "buffer of {} bytes, layout needs {need}",
                dst.len()
            ));
        }
        let (y, uv) = pic.data.split_at(w * h);
        let (u, v) = uv.split_at(cw * chh);
        let (dy, dc) = dst[..need].split_at_mut(stride * rows);
        plane(y, w, h, dy, stride, rows);
        if self.fourcc == NV12 {
            for r in 0..crows {
                let sr = r.min(chh - 1);
                let row = &mut dc[r * stride..(r + 1) * stride];
                for c in 0..stride / 2 {
                    let sc = c.min(cw - 1);
                    row[2 * c] = u[sr * cw + sc];
                    row[2 * c + 1] = v[sr * cw + sc];
                }
            }
        } else {
            let (du, dv) = dc.split_at_mut(cstride * crows);
            plane(u, cw, chh, du, cstride, crows);
            plane(v, cw, chh, dv, cstride, crows);
        }
        Ok(())
    }
}

/// Copies a `w`x`h` plane into `rows` rows of `stride` bytes, repeating the
/// last column and row into the padding.
fn plane(src: &[u8], w: usize, h: usize, dst: &mut [u8], stride: usize, rows: usize) {
    for r in 0..rows {
        let s = &src[r.min(h - 1) * w..][..w];
        let d = &mut dst[r * stride..(r + 1) * stride];
        d[..w].copy_from_slice(s);
        let last = s[w - 1];
        d[w..].fill(last);
    }
}

/// Whether a camera buffer in `camera` layout can be handed to an encoder
/// expecting `encoder` as it is: same format, stride and rows (the chroma
/// planes sit where the encoder looks), and large enough.
pub fn zero_copy_fits(camera: &RawLayout, encoder: &RawLayout) -> Result<(), String> {
    let text = |l: &RawLayout| {
        format!(
            "{} {} rows of {} bytes",
            String::from_utf8_lossy(&l.fourcc.to_le_bytes()),
            l.height,
            l.stride
        )
    };
    if camera.fourcc != encoder.fourcc
        || camera.stride != encoder.stride
        || camera.height != encoder.height
        || camera.size < encoder.size
    {
        return Err(format!(
            "the camera gives {} ({} bytes), the encoder wants {} ({} bytes)",
            text(camera),
            camera.size,
            text(encoder),
            encoder.size
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_fill_padded_i420_and_nv12_layouts() {
        // 4x2 picture: Y 0..8, U 100,101, V 200,201
        let mut data: Vec<u8> = (0..8).collect();
        data.extend([100, 101, 200, 201]);
        let pic = I420 {
            width: 4,
            height: 2,
            data: &data,
        };
        // YU12 with stride 6 and 4 rows: padding repeats the last column/row
        let l = RawLayout {
            fourcc: YU12,
            width: 6,
            height: 4,
            stride: 6,
            size: 36,
        };
        let mut dst = vec![9u8; 36];
        l.fill(&pic, &mut dst).unwrap();
        assert_eq!(&dst[..6], &[0, 1, 2, 3, 3, 3]);
        assert_eq!(&dst[6..12], &[4, 5, 6, 7, 7, 7]);
        assert_eq!(&dst[18..24], &[4, 5, 6, 7, 7, 7]); // row 3 repeats row 1
        assert_eq!(&dst[24..30], &[100, 101, 101, 100, 101, 101]); // U: 3 wide, 2 rows
        assert_eq!(&dst[30..36], &[200, 201, 201, 200, 201, 201]);
        let l = RawLayout { fourcc: NV12, ..l };
        let mut dst = vec![9u8; 36];
        l.fill(&pic, &mut dst).unwrap();
        assert_eq!(&dst[24..30], &[100, 200, 101, 201, 101, 201]);
        assert_eq!(&dst[30..36], &[100, 200, 101, 201, 101, 201]);
        // a picture larger than the layout is refused, not cut
        let small = RawLayout {
            width: 2,
            stride: 2,
            ..l
        };
        assert!(small.fill(&pic, &mut dst).is_err());
    }
    #[test]
    fn zero_copy_needs_the_same_layout() {
        let l = |fourcc, stride, height| RawLayout {
            fourcc,
            width: 640,
            height,
            stride,
            size: stride * height * 3 / 2,
        };
        assert!(zero_copy_fits(&l(YU12, 640, 480), &l(YU12, 640, 480)).is_ok());
        // vicodec pads 360 rows to 368: the chroma planes would be misplaced
        let e = zero_copy_fits(&l(YU12, 640, 360), &l(YU12, 640, 368)).unwrap_err();
        assert!(e.contains("360 rows") && e.contains("368 rows"), "{e}");
        assert!(zero_copy_fits(&l(NV12, 640, 480), &l(YU12, 640, 480)).is_err());
        assert!(zero_copy_fits(&l(YU12, 704, 480), &l(YU12, 640, 480)).is_err());
    }
}
