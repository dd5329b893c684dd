//! Captured pictures (NV12, I420, YUYV) to the encoder's I420 at the output
//! size: a straight copy when the sizes match, otherwise a centred crop to the
//! output's aspect ratio (crop, never stretch) and nearest-neighbour scaling.
//! No allocation: the caller owns both buffers.

use super::negotiate::PixelFormat;

/// A captured picture.
#[derive(Clone, Copy, Debug)]
pub struct Picture<'a> {
    /// Pixel format (not MJPEG: decode first).
    pub format: PixelFormat,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bytes per line of the first plane (0 = tightly packed).
    pub stride: u32,
    /// The bytes as the driver filled them.
    pub data: &'a [u8],
}

/// Why a picture could not be converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConvertError {
    /// Fewer bytes than the format and size need.
    Short {
        /// Bytes needed.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// MJPEG must be decoded before conversion.
    Compressed,
}

/// Bytes of an I420 picture.
pub const fn i420_len(w: u32, h: u32) -> usize {
    (w * h + 2 * (w / 2) * (h / 2)) as usize
}

/// The source rectangle (x, y, w, h) that has the output's aspect ratio, centred.
pub fn crop_rect(src_w: u32, src_h: u32, out_w: u32, out_h: u32) -> (u32, u32, u32, u32) {
    let (sw, sh, ow, oh) = (
        u64::from(src_w),
        u64::from(src_h),
        u64::from(out_w),
        u64::from(out_h),
    );
    if sw * oh > sh * ow {
        // source is wider: cut left and right
        let w = ((sh * ow / oh) as u32) & !1;
        ((src_w - w) / 2 & !1, 0, w, src_h)
    } else {
        let h = ((sw * oh / ow) as u32) & !1;
        (0, (src_h - h) / 2 & !1, src_w, h)
    }
}

/// Converts `p` into I420 `out` of `out_w` x `out_h` (both even).
pub fn to_i420(
    p: &Picture<'_>,
    out: &mut [u8],
    out_w: u32,
    out_h: u32,
) -> Result<(), ConvertError> {
    let (w, h) = (p.width as usize, p.height as usize);
    let bpp_line = match p.format {
        PixelFormat::Yuyv => w * 2,
        PixelFormat::Nv12 | PixelFormat::I420 => w,
        PixelFormat::Mjpeg => return Err(ConvertError::Compressed),
    };
    let stride = if p.stride == 0 {
        bpp_line
    } else {
        p.stride as usize
    };
    let need = match p.format {
        PixelFormat::Yuyv => stride * h,
        _ => stride * h + 2 * (stride / 2) * (h / 2),
    };
    if p.data.len() < need {
        return Err(ConvertError::Short {
            need,
            got: p.data.len(),
        });
    }
    let (ow, oh) = (out_w as usize, out_h as usize);
    let (y_out, rest) = out.split_at_mut(ow * oh);
    let (u_out, v_out) = rest.split_at_mut((ow / 2) * (oh / 2));
    let (cx, cy, cw, ch) = crop_rect(p.width, p.height, out_w, out_h);
    let (cx, cy, cw, ch) = (cx as usize, cy as usize, cw as usize, ch as usize);
    // source coordinate of output column x / row y
    let sx = |x: usize| cx + x * cw / ow;
    let sy = |y: usize| cy + y * ch / oh;
    let d = p.data;
    match p.format {
        PixelFormat::Yuyv => {
            for y in 0..oh {
                let row = &d[sy(y) * stride..];
                let dst = &mut y_out[y * ow..(y + 1) * ow];
                for (x, px) in dst.iter_mut().enumerate() {
                    *px = row[sx(x) * 2];
                }
            }
            for y in 0..oh / 2 {
                let row = &d[sy(y * 2) * stride..];
                for x in 0..ow / 2 {
                    let pair = (sx(x * 2) & !1) * 2;
                    u_out[y * (ow / 2) + x] = row[pair + 1];
                    v_out[y * (ow / 2) + x] = row[pair + 3];
                }
            }
        }
        PixelFormat::Nv12 | PixelFormat::I420 => {
            for y in 0..oh {
                let row = &d[sy(y) * stride..];
                let dst = &mut y_out[y * ow..(y + 1) * ow];
                if cw == ow && cx == 0 {
                    dst.copy_from_slice(&row[..ow]);
                } else {
                    for (x, px) in dst.iter_mut().enumerate() {
                        *px = row[sx(x)];
                    }
                }
            }
            let luma = stride * h;
            let cstride = stride / 2;
            for y in 0..oh / 2 {
                let srow = sy(y * 2) / 2;
                for x in 0..ow / 2 {
                    let scol = sx(x * 2) / 2;
                    let (u, v) = if p.format == PixelFormat::Nv12 {
                        let i = luma + srow * stride + scol * 2;
                        (d[i], d[i + 1])
                    } else {
                        let i = srow * cstride + scol;
                        (d[luma + i], d[luma + cstride * (h / 2) + i])
                    };
                    u_out[y * (ow / 2) + x] = u;
                    v_out[y * (ow / 2) + x] = v;
                }
            }
        }
        PixelFormat::Mjpeg => unreachable!("checked above"),
    }
    Ok(())
}

/// Converts packed full-range YCbCr 4:4:4 (what a JPEG decoder gives, 3 bytes
/// a pixel) into limited-range I420 `out` of `out_w` x `out_h`, cropped and
/// scaled like [`to_i420`].
pub fn ycbcr444_full_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    out: &mut [u8],
    out_w: u32,
    out_h: u32,
) -> Result<(), ConvertError> {
    let (w, h) = (width as usize, height as usize);
    if src.len() < w * h * 3 {
        return Err(ConvertError::Short {
            need: w * h * 3,
            got: src.len(),
        });
    }
    let (ow, oh) = (out_w as usize, out_h as usize);
    let (y_out, rest) = out.split_at_mut(ow * oh);
    let (u_out, v_out) = rest.split_at_mut((ow / 2) * (oh / 2));
    let (cx, cy, cw, ch) = crop_rect(width, height, out_w, out_h);
    let (cx, cy, cw, ch) = (cx as usize, cy as usize, cw as usize, ch as usize);
    let sx = |x: usize| cx + x * cw / ow;
    let sy = |y: usize| cy + y * ch / oh;
    // JPEG is full range (0..255); H.264 streams are limited range (Y 16..235, C 16..240)
    let luma = |v: u8| (16 + (u32::from(v) * 219 + 127) / 255) as u8;
    let chroma = |v: u8| {
        (128 + ((i32::from(v) - 128) * 224 + if v >= 128 { 127 } else { -127 }) / 255) as u8
    };
    for y in 0..oh {
        let row = &src[sy(y) * w * 3..];
        for x in 0..ow {
            y_out[y * ow + x] = luma(row[sx(x) * 3]);
        }
    }
    for y in 0..oh / 2 {
        let row = &src[sy(y * 2) * w * 3..];
        for x in 0..ow / 2 {
            let px = sx(x * 2) * 3;
            u_out[y * (ow / 2) + x] = chroma(row[px + 1]);
            v_out[y * (ow / 2) + x] = chroma(row[px + 2]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuyv_solid(w: usize, h: usize, (y, u, v): (u8, u8, u8)) -> Vec<u8> {
        let mut d = Vec::with_capacity(w * h * 2);
        for _ in 0..w * h / 2 {
            d.extend_from_slice(&[y, u, y, v]);
        }
        d
    }

    fn planes(out: &[u8], w: usize, h: usize) -> (&[u8], &[u8], &[u8]) {
        let (y, rest) = out.split_at(w * h);
        let (u, v) = rest.split_at(w * h / 4);
        (y, u, v)
    }

    #[test]
    fn yuyv_red_stays_red_at_any_size() {
        // vivid's solid red (test_pattern=7): Y 81 U 90 V 239
        let src = yuyv_solid(640, 360, (81, 90, 239));
        let p = Picture {
            format: PixelFormat::Yuyv,
            width: 640,
            height: 360,
            stride: 0,
            data: &src,
        };
        for (ow, oh) in [(640u32, 360u32), (320, 180), (360, 640), (1280, 720)] {
            let mut out = vec![0u8; i420_len(ow, oh)];
            to_i420(&p, &mut out, ow, oh).unwrap();
            let (y, u, v) = planes(&out, ow as usize, oh as usize);
            assert!(
                y.iter().all(|&b| b == 81)
                    && u.iter().all(|&b| b == 90)
                    && v.iter().all(|&b| b == 239),
                "{ow}x{oh}"
            );
        }
    }

    #[test]
    fn nv12_and_i420_copy_exactly_at_the_same_size() {
        let (w, h) = (8usize, 4usize);
        let y: Vec<u8> = (0..w * h).map(|i| i as u8).collect();
        let u: Vec<u8> = (0..w * h / 4).map(|i| 100 + i as u8).collect();
        let v: Vec<u8> = (0..w * h / 4).map(|i| 200 + i as u8).collect();
        let mut i420 = y.clone();
        i420.extend(&u);
        i420.extend(&v);
        let mut nv12 = y.clone();
        for i in 0..u.len() {
            nv12.push(u[i]);
            nv12.push(v[i]);
        }
        for (fmt, data) in [(PixelFormat::I420, &i420), (PixelFormat::Nv12, &nv12)] {
            let mut out = vec![0u8; i420_len(8, 4)];
            to_i420(
                &Picture {
                    format: fmt,
                    width: 8,
                    height: 4,
                    stride: 0,
                    data,
                },
                &mut out,
                8,
                4,
            )
            .unwrap();
            assert_eq!(out, i420, "{fmt:?}");
        }
    }

    #[test]
    fn crop_keeps_the_middle_never_stretches() {
        // 640x480 with a white band in the top and bottom 60 rows, black in between:
        // a 16:9 output crops both bands away
        let (w, h) = (640usize, 480usize);
        let mut src = Vec::new();
        for row in 0..h {
            let yv = if !(60..420).contains(&row) { 235 } else { 16 };
            for _ in 0..w / 2 {
                src.extend_from_slice(&[yv, 128, yv, 128]);
            }
        }
        assert_eq!(crop_rect(640, 480, 640, 360), (0, 60, 640, 360));
        let mut out = vec![0u8; i420_len(640, 360)];
        to_i420(
            &Picture {
                format: PixelFormat::Yuyv,
                width: 640,
                height: 480,
                stride: 0,
                data: &src,
            },
            &mut out,
            640,
            360,
        )
        .unwrap();
        assert!(out[..640 * 360].iter().all(|&b| b == 16));
        assert_eq!(crop_rect(1920, 1080, 360, 640), (656, 0, 606, 1080));
    }

    #[test]
    fn full_range_ycbcr_becomes_limited_range_i420() {
        // full-range black: Y 16, neutral chroma
        let src: Vec<u8> = (0..16).flat_map(|_| [0u8, 128, 128]).collect();
        let mut out = vec![0u8; i420_len(2, 2)];
        ycbcr444_full_to_i420(&src, 4, 4, &mut out, 2, 2).unwrap();
        assert_eq!(&out[..], &[16, 16, 16, 16, 128, 128]);
        // full-range white with extreme chroma: Y 235, C 16 and 240
        let src: Vec<u8> = (0..16).flat_map(|_| [255u8, 0, 255]).collect();
        let mut out = vec![0u8; i420_len(2, 2)];
        ycbcr444_full_to_i420(&src, 4, 4, &mut out, 2, 2).unwrap();
        assert_eq!(&out[..], &[235, 235, 235, 235, 16, 240]);
        assert_eq!(
            ycbcr444_full_to_i420(&src[..10], 4, 4, &mut out, 2, 2),
            Err(ConvertError::Short { need: 48, got: 10 })
        );
    }

    #[test]
    fn short_buffers_and_mjpeg_are_errors() {
        let p = Picture {
            format: PixelFormat::Yuyv,
            width: 4,
            height: 2,
            stride: 0,
            data: &[0; 15],
        };
        assert_eq!(
            to_i420(&p, &mut [0; 12], 4, 2),
            Err(ConvertError::Short { need: 16, got: 15 })
        );
        let p = Picture {
            format: PixelFormat::Mjpeg,
            width: 4,
            height: 2,
            stride: 0,
            data: &[0; 100],
        };
        assert_eq!(
            to_i420(&p, &mut [0; 12], 4, 2),
            Err(ConvertError::Compressed)
        );
    }
}
