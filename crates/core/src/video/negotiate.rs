//! Choosing a capture mode: the pixel format and size a camera offers that
//! best serve the output. Formats in order of preference: NV12, YU12 (I420),
//! YUYV (all convert cheaply), then MJPEG (decoded in software). Sizes: the
//! exact output size, else the smallest offered size that covers it (scaled
//! down / cropped), else the largest offered (scaled up). Anything but an
//! exact match is reported as 1005 (resolution adjusted).

use core::fmt;

/// Pixel formats livepush can take from a camera.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PixelFormat {
    /// Y plane + interleaved UV, 4:2:0.
    Nv12,
    /// Y, U, V planes, 4:2:0 (V4L2 `YU12`).
    I420,
    /// Packed Y0 U Y1 V, 4:2:2.
    Yuyv,
    /// Motion JPEG.
    Mjpeg,
}

impl PixelFormat {
    /// From a V4L2 fourcc (`b"NV12"` ...).
    pub fn from_fourcc(f: [u8; 4]) -> Option<Self> {
        match &f {
            b"NV12" => Some(Self::Nv12),
            b"YU12" => Some(Self::I420),
            b"YUYV" => Some(Self::Yuyv),
            b"MJPG" => Some(Self::Mjpeg),
            _ => None,
        }
    }
    /// The V4L2 fourcc.
    pub const fn fourcc(self) -> [u8; 4] {
        match self {
            Self::Nv12 => *b"NV12",
            Self::I420 => *b"YU12",
            Self::Yuyv => *b"YUYV",
            Self::Mjpeg => *b"MJPG",
        }
    }
}

/// A size offer: one size, or a range with steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeOffer {
    /// Exactly this size.
    Discrete(u32, u32),
    /// Any size in the range on the step grid.
    Stepwise {
        /// Smallest width.
        min_w: u32,
        /// Largest width.
        max_w: u32,
        /// Width step.
        step_w: u32,
        /// Smallest height.
        min_h: u32,
        /// Largest height.
        max_h: u32,
        /// Height step.
        step_h: u32,
    },
}

/// What a camera offers for one fourcc (as enumerated; unknown fourccs included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The V4L2 fourcc.
    pub fourcc: [u8; 4],
    /// Its sizes.
    pub sizes: Vec<SizeOffer>,
}

/// The chosen capture mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Pixel format.
    pub format: PixelFormat,
    /// Capture width.
    pub width: u32,
    /// Capture height.
    pub height: u32,
}

impl Mode {
    /// Whether pictures must be scaled or cropped to the output.
    pub fn adjusted(&self, out_w: u32, out_h: u32) -> bool {
        (self.width, self.height) != (out_w, out_h)
    }
}

/// No usable mode; lists what the camera does offer (for -1305).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoUsableMode {
    /// Every offer, as "FOURCC WxH[,WxH...]".
    pub offered: Vec<String>,
}

impl fmt::Display for NoUsableMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offered.is_empty() {
            f.write_str("the camera offers no capture formats")
        } else {
            write!(f, "no usable capture format (livepush takes NV12, YU12, YUYV, MJPG); the camera offers: {}", self.offered.join("; "))
        }
    }
}

fn fits(o: &SizeOffer, w: u32, h: u32) -> bool {
    match *o {
        SizeOffer::Discrete(ow, oh) => ow == w && oh == h,
        SizeOffer::Stepwise {
            min_w,
            max_w,
            step_w,
            min_h,
            max_h,
            step_h,
        } => {
            (min_w..=max_w).contains(&w)
                && (min_h..=max_h).contains(&h)
                && (w - min_w) % step_w.max(1) == 0
                && (h - min_h) % step_h.max(1) == 0
        }
    }
}

fn sizes(o: &SizeOffer) -> Vec<(u32, u32)> {
    match *o {
        SizeOffer::Discrete(w, h) => vec![(w, h)],
        SizeOffer::Stepwise {
            min_w,
            max_w,
            min_h,
            max_h,
            ..
        } => vec![(min_w, min_h), (max_w, max_h)],
    }
}

/// Picks the best mode for an `out_w` x `out_h` output.
pub fn choose(
    offers: &[Offer],
    out_w: u32,
    out_h: u32,
    mjpeg_ok: bool,
) -> Result<Mode, NoUsableMode> {
    let mut usable: Vec<(PixelFormat, &Offer)> = offers
        .iter()
        .filter_map(|o| PixelFormat::from_fourcc(o.fourcc).map(|f| (f, o)))
        .filter(|(f, _)| *f != PixelFormat::Mjpeg || mjpeg_ok)
        .collect();
    usable.sort_by_key(|(f, _)| *f);
    // 1. an exact size, best format first
    for (f, o) in &usable {
        if o.sizes.iter().any(|s| fits(s, out_w, out_h)) {
            return Ok(Mode {
                format: *f,
                width: out_w,
                height: out_h,
            });
        }
    }
    // 2. the smallest size covering the output, else the largest; format breaks ties
    let mut candidates: Vec<(bool, u64, PixelFormat, u32, u32)> = Vec::new();
    for (f, o) in &usable {
        for s in &o.sizes {
            for (w, h) in sizes(s) {
                let covers = w >= out_w && h >= out_h;
                let area = u64::from(w) * u64::from(h);
                // covering sizes sort by small area; others by large area
                candidates.push((
                    !covers,
                    if covers { area } else { u64::MAX - area },
                    *f,
                    w,
                    h,
                ));
            }
        }
    }
    candidates.sort();
    match candidates.first() {
        Some(&(_, _, format, width, height)) => Ok(Mode {
            format,
            width,
            height,
        }),
        None => Err(NoUsableMode {
            offered: offers.iter().map(describe).collect(),
        }),
    }
}

fn describe(o: &Offer) -> String {
    let name = String::from_utf8_lossy(&o.fourcc).into_owned();
    let sizes: Vec<String> = o
        .sizes
        .iter()
        .map(|s| match *s {
            SizeOffer::Discrete(w, h) => format!("{w}x{h}"),
            SizeOffer::Stepwise {
                min_w,
                max_w,
                min_h,
                max_h,
                ..
            } => format!("{min_w}x{min_h}..{max_w}x{max_h}"),
        })
        .collect();
    format!("{name} {}", sizes.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webcam() -> Vec<Offer> {
        let d = |w, h| SizeOffer::Discrete(w, h);
        vec![
            Offer {
                fourcc: *b"MJPG",
                sizes: vec![d(1280, 720), d(1920, 1080)],
            },
            Offer {
                fourcc: *b"YUYV",
                sizes: vec![d(320, 180), d(640, 360), d(640, 480), d(1280, 720)],
            },
        ]
    }

    #[test]
    fn exact_size_prefers_the_cheapest_format() {
        let m = choose(&webcam(), 640, 360, true).unwrap();
        assert_eq!(
            m,
            Mode {
                format: PixelFormat::Yuyv,
                width: 640,
                height: 360
            }
        );
        assert!(!m.adjusted(640, 360));
        let m = choose(&webcam(), 1920, 1080, true).unwrap();
        assert_eq!(m.format, PixelFormat::Mjpeg, "only MJPEG has 1080p");
    }

    #[test]
    fn otherwise_the_smallest_covering_size_then_the_largest() {
        let m = choose(&webcam(), 480, 270, false).unwrap();
        assert_eq!((m.width, m.height), (640, 360));
        assert!(m.adjusted(480, 270));
        let m = choose(&webcam(), 3840, 2160, false).unwrap();
        assert_eq!(
            (m.format, m.width, m.height),
            (PixelFormat::Yuyv, 1280, 720)
        );
    }

    #[test]
    fn stepwise_ranges() {
        let offers = vec![Offer {
            fourcc: *b"NV12",
            sizes: vec![SizeOffer::Stepwise {
                min_w: 16,
                max_w: 1920,
                step_w: 16,
                min_h: 16,
                max_h: 1080,
                step_h: 2,
            }],
        }];
        assert_eq!(
            choose(&offers, 640, 360, false).unwrap(),
            Mode {
                format: PixelFormat::Nv12,
                width: 640,
                height: 360
            }
        );
        assert_eq!(
            choose(&offers, 642, 360, false).unwrap(),
            Mode {
                format: PixelFormat::Nv12,
                width: 1920,
                height: 1080
            }
        );
    }

    #[test]
    fn nothing_usable_lists_the_offers() {
        let offers = vec![Offer {
            fourcc: *b"RGB3",
            sizes: vec![SizeOffer::Discrete(640, 480)],
        }];
        let e = choose(&offers, 640, 360, true).unwrap_err();
        assert_eq!(e.to_string(), "no usable capture format (livepush takes NV12, YU12, YUYV, MJPG); the camera offers: RGB3 640x480");
        let e = choose(&webcam()[..1], 640, 360, false).unwrap_err();
        assert!(e.to_string().contains("MJPG 1280x720,1920x1080"), "{e}");
    }
}
