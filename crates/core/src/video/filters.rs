//! The contract's `whiteness` and `beauty` as cheap filters on the luma
//! plane of an I420 picture (chroma is left as it is: skin keeps its
//! colour). Level 0 returns at once and touches nothing, so a box that
//! leaves both at 0 keeps its zero-copy capture path.
//!
//! - [`Whiteness`] (0..9): a tone curve that lifts the mid-tones,
//!   `y + k·y·(255 − y)/255` with `k = 0.06·level` (black and white stay;
//!   monotonic for every level), applied through a 256-entry table.
//! - [`Beauty`] (0..9): skin smoothing, an edge-preserving blur. Each
//!   pixel moves toward the mean of its `(2r+1)²` neighbourhood by
//!   `s·max(0, 1 − |mean − y| / t)`: flat, noisy skin is averaged, an edge
//!   (a difference above `t`) is left alone. Strength `s` (a quarter to
//!   all of the way), radius `r` (1..3) and threshold `t` (19..43 luma
//!   levels) grow with the level. Box sums are separable running sums in scratch
//!   buffers kept between pictures (no allocation per picture once warm).

/// The `whiteness` filter at one level.
#[derive(Debug, Clone)]
pub struct Whiteness {
    level: u8,
    table: [u8; 256],
}

impl Whiteness {
    /// The filter for `level` (values above 9 are taken as 9).
    pub fn new(level: u8) -> Whiteness {
        let level = level.min(9);
        let k = 0.06 * f32::from(level);
        let mut table = [0u8; 256];
        for (i, t) in table.iter_mut().enumerate() {
            let y = i as f32;
            let v = y + k * y * (255.0 - y) / 255.0;
            *t = v.round().clamp(0.0, 255.0) as u8;
        }
        Whiteness { level, table }
    }

    /// The level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Whether the filter changes nothing (level 0).
    pub fn is_identity(&self) -> bool {
        self.level == 0
    }

    /// The curve's value for luma `y`.
    pub fn curve(&self, y: u8) -> u8 {
        self.table[usize::from(y)]
    }

    /// Applies the curve to a luma plane (`width` pixels a row, rows
    /// `stride` bytes apart).
    pub fn apply(&self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        if self.is_identity() {
            return;
        }
        for row in luma.chunks_mut(stride.max(1)).take(height) {
            for p in row.iter_mut().take(width) {
                *p = self.table[usize::from(*p)];
            }
        }
    }
}

/// The `beauty` filter at one level, with its scratch buffers.
#[derive(Debug, Clone, Default)]
pub struct Beauty {
    level: u8,
    /// Horizontal box sums of every row.
    rows: Vec<u16>,
    /// The running vertical sums of `rows`, one per column.
    cols: Vec<u32>,
}

impl Beauty {
    /// The filter for `level` (values above 9 are taken as 9).
    pub fn new(level: u8) -> Beauty {
        Beauty {
            level: level.min(9),
            ..Beauty::default()
        }
    }

    /// The level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Whether the filter changes nothing (level 0).
    pub fn is_identity(&self) -> bool {
        self.level == 0
    }

    /// (radius, strength in 1/256, threshold) for the level.
    fn params(&self) -> (usize, u32, i32) {
        let l = u32::from(self.level.max(1));
        let radius = 1 + self.level as usize / 4; // 1..3
        let strength = 64 + 192 * (l - 1) / 8; // a quarter of the way .. fully to the mean
        let threshold = 16 + 3 * l as i32; // 19..43 luma levels
        (radius, strength, threshold)
    }

    /// Smooths a luma plane in place (`width` pixels a row, rows `stride`
    /// bytes apart).
    pub fn apply(&mut self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        if self.is_identity() || width == 0 || height == 0 {
            return;
        }
        assert!(
            stride >= width && luma.len() >= stride * (height - 1) + width,
            "the plane is smaller than {width}x{height} with stride {stride}"
        );
        let (r, strength, threshold) = self.params();
        let n = ((2 * r + 1) * (2 * r + 1)) as u32;
        self.rows.resize(width * height, 0);
        self.cols.resize(width, 0);
        // horizontal sums, edges replicated
        for y in 0..height {
            let src = &luma[y * stride..y * stride + width];
            let dst = &mut self.rows[y * width..(y + 1) * width];
            let at = |x: isize| u16::from(src[x.clamp(0, width as isize - 1) as usize]);
            let mut sum: u16 = (-(r as isize)..=r as isize).map(at).sum();
            for (x, d) in dst.iter_mut().enumerate() {
                *d = sum;
                let x = x as isize;
                sum = sum + at(x + r as isize + 1) - at(x - r as isize);
            }
        }
        // vertical running sums of the row sums, then the blend, row by row
        // (every row sum was taken before any pixel changed)
        let row = |y: isize| (y.clamp(0, height as isize - 1) as usize) * width;
        for (x, c) in self.cols.iter_mut().enumerate() {
            *c = (-(r as isize)..=r as isize)
                .map(|y| u32::from(self.rows[row(y) + x]))
                .sum();
        }
        for y in 0..height {
            let line = &mut luma[y * stride..y * stride + width];
            for (x, p) in line.iter_mut().enumerate() {
                let mean = ((self.cols[x] + n / 2) / n) as i32;
                let v = i32::from(*p);
                let d = mean - v;
                if d.abs() < threshold {
                    // weight falls from `strength` at d = 0 to 0 at the threshold
                    let w = strength as i32 * (threshold - d.abs()) / threshold;
                    *p = (v + (d * w + 128 * d.signum()) / 256).clamp(0, 255) as u8;
                }
            }
            let (add, sub) = (
                row(y as isize + r as isize + 1),
                row(y as isize - r as isize),
            );
            for (x, c) in self.cols.iter_mut().enumerate() {
                *c = *c + u32::from(self.rows[add + x]) - u32::from(self.rows[sub + x]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic noise source (xorshift).
    fn noise(seed: &mut u32) -> i32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 17;
        *seed ^= *seed << 5;
        (*seed % 21) as i32 - 10
    }

    fn variance(p: &[u8]) -> f64 {
        let m = p.iter().map(|v| f64::from(*v)).sum::<f64>() / p.len() as f64;
        p.iter().map(|v| (f64::from(*v) - m).powi(2)).sum::<f64>() / p.len() as f64
    }

    #[test]
    fn level_zero_leaves_the_picture_bit_identical_and_allocates_nothing() {
        let mut seed = 7;
        let orig: Vec<u8> = (0..64 * 48)
            .map(|_| (120 + noise(&mut seed)) as u8)
            .collect();
        let mut p = orig.clone();
        let mut b = Beauty::new(0);
        b.apply(&mut p, 64, 48, 64);
        Whiteness::new(0).apply(&mut p, 64, 48, 64);
        assert_eq!(p, orig);
        assert_eq!(
            b.rows.capacity() + b.cols.capacity(),
            0,
            "no scratch at level 0"
        );
        assert!(Whiteness::new(0).is_identity() && b.is_identity());
    }

    #[test]
    fn whiteness_lifts_mid_tones_keeps_black_and_white_and_is_monotonic() {
        let mut last_mid = 128;
        for level in 0..=9 {
            let w = Whiteness::new(level);
            assert_eq!((w.curve(0), w.curve(255)), (0, 255), "level {level}");
            for y in 1..=255u8 {
                assert!(
                    w.curve(y) >= w.curve(y - 1),
                    "monotonic at {y}, level {level}"
                );
            }
            let mid = w.curve(128);
            assert!(mid >= last_mid, "stronger with the level");
            last_mid = mid;
        }
        assert_eq!(Whiteness::new(0).curve(128), 128);
        assert!(
            Whiteness::new(5).curve(128) >= 143,
            "{}",
            Whiteness::new(5).curve(128)
        );
        assert!(
            Whiteness::new(9).curve(128) >= 160,
            "{}",
            Whiteness::new(9).curve(128)
        );
        assert_eq!(Whiteness::new(42).level(), 9);
        // applied through the stride: the padding bytes stay
        let mut p = vec![128u8; 8 * 2];
        Whiteness::new(9).apply(&mut p, 6, 2, 8);
        assert_eq!(&p[6..8], &[128, 128]);
        assert!(p[..6].iter().all(|v| *v == Whiteness::new(9).curve(128)));
    }

    #[test]
    fn beauty_smooths_flat_noise_and_keeps_edges() {
        let (w, h) = (96usize, 64usize);
        let mut seed = 11;
        // left half: skin-like flat noise around 120; right half: a flat
        // 230 (a step of 110 luma levels between them)
        let orig: Vec<u8> = (0..w * h)
            .map(|i| {
                if i % w < w / 2 {
                    (120 + noise(&mut seed)) as u8
                } else {
                    230
                }
            })
            .collect();
        let left = |p: &[u8]| -> Vec<u8> {
            (8..h - 8)
                .flat_map(|y| p[y * w + 8..y * w + w / 2 - 8].to_vec())
                .collect()
        };
        let v0 = variance(&left(&orig));
        let mut last = v0;
        for level in [1u8, 5, 9] {
            let mut p = orig.clone();
            let mut b = Beauty::new(level);
            b.apply(&mut p, w, h, w);
            let v = variance(&left(&p));
            assert!(v < last, "level {level}: variance {v} not below {last}");
            last = v;
            // the edge: the bright side is untouched, the step stays
            for y in 0..h {
                assert_eq!(p[y * w + w / 2], 230, "level {level}, row {y}");
                let step = 230 - i32::from(p[y * w + w / 2 - 1]);
                let was = 230 - i32::from(orig[y * w + w / 2 - 1]);
                assert!(
                    step >= was - 10,
                    "level {level}, row {y}: step {was} -> {step}"
                );
            }
            // the mean brightness of the skin stays (within one luma level)
            let mean = |q: &[u8]| q.iter().map(|v| f64::from(*v)).sum::<f64>() / q.len() as f64;
            let (m0, m) = (mean(&left(&orig)), mean(&left(&p)));
            assert!((m - m0).abs() < 1.0, "level {level}: mean {m0} -> {m}");
        }
        assert!(
            last < v0 * 0.35,
            "level 9 removes most of the noise: {last} of {v0}"
        );
    }

    #[test]
    fn beauty_reuses_its_scratch_and_respects_the_stride() {
        let (w, h, stride) = (40usize, 30usize, 48usize);
        let mut seed = 3;
        let mut p: Vec<u8> = (0..stride * h)
            .map(|_| (100 + noise(&mut seed)) as u8)
            .collect();
        let pad: Vec<u8> = (0..h)
            .flat_map(|y| p[y * stride + w..(y + 1) * stride].to_vec())
            .collect();
        let mut b = Beauty::new(9);
        b.apply(&mut p, w, h, stride);
        let caps = (b.rows.capacity(), b.cols.capacity());
        b.apply(&mut p, w, h, stride);
        assert_eq!(
            (b.rows.capacity(), b.cols.capacity()),
            caps,
            "no new scratch"
        );
        let after: Vec<u8> = (0..h)
            .flat_map(|y| p[y * stride + w..(y + 1) * stride].to_vec())
            .collect();
        assert_eq!(pad, after, "the padding is not touched");
        // tiny pictures work too
        let mut one = vec![9u8];
        b.apply(&mut one, 1, 1, 1);
        assert_eq!(one, vec![9]);
    }
}
