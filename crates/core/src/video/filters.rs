//! The contract's `whiteness` and `beauty` as cheap filters on the luma
//! plane of an I420 picture (chroma is left as it is: skin keeps its
//! colour). Level 0 returns at once and touches nothing, so a box that
//! leaves both at 0 keeps its zero-copy capture path.
//!
//! - [`Whiteness`] (0..9): a tone curve that lifts the mid-tones of the
//!   encoder's limited-range luma (16..235): with `t = (y − 16)/219`,
//!   `t + k·t·(1 − t)` and `k = 0.06·level` (black 16 and white 235 stay,
//!   nothing goes outside them; monotonic for every level), applied through
//!   a 256-entry table.
//! - [`Beauty`] (0..9): skin smoothing, an edge-preserving blur (the Lee
//!   filter: local mean and variance). Each pixel becomes
//!   `mean + g·(y − mean)` over its `(2r+1)²` neighbourhood, with
//!   `g = var/(var + σ²)`: flat, noisy skin is averaged, an edge (a large
//!   variance) is kept, without halos. Mean and variance come from the
//!   half-size plane (2x2 block means: a quarter of the work), the blend
//!   is per pixel. The neighbourhood (6x6 or 10x10 pixels) and the noise
//!   level σ (3.5..15.5 luma levels) grow with the level. Box sums of luma
//!   and luma² are separable running sums in scratch buffers kept between
//!   pictures (no allocation per picture once warm).
//! - [`Filters`]: both on an I420 picture, beauty first.

/// The `whiteness` filter at one level.
#[derive(Debug, Clone, Copy)]
pub struct Whiteness {
    level: u8,
    /// The lift's factor in 1/65536: `0.06·level / 219`.
    c: u16,
}

impl Whiteness {
    /// The filter for `level` (values above 9 are taken as 9).
    pub fn new(level: u8) -> Whiteness {
        let level = level.min(9);
        let c = (0.06 * f64::from(level) / 219.0 * 65536.0).round() as u16;
        Whiteness { level, c }
    }

    /// The level.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// Whether the filter changes nothing (level 0).
    pub fn is_identity(&self) -> bool {
        self.level == 0
    }

    /// The curve's value for luma `y`: `y + k·d·(219 − d)/219` with
    /// `d = y − 16`, inside 16..235; outside it `y`.
    pub fn curve(&self, y: u8) -> u8 {
        let d = u16::from(y).wrapping_sub(16);
        if d > 219 {
            return y;
        }
        let lift = ((u32::from(d * (219 - d)) * u32::from(self.c)) >> 16) as u8;
        y + lift
    }

    /// Applies the curve to a luma plane (`width` pixels a row, rows
    /// `stride` bytes apart). Branch-free 16-bit arithmetic the compiler
    /// turns into vector code.
    pub fn apply(&self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        if self.is_identity() {
            return;
        }
        let c = u32::from(self.c);
        for row in luma.chunks_mut(stride.max(1)).take(height) {
            for p in row.iter_mut().take(width) {
                let y = u16::from(*p);
                // outside 16..235 the product is 0: d clamped to 0..219
                let d = y.saturating_sub(16).min(219);
                let inside = u16::from((16..=235).contains(&y));
                let lift = ((u32::from(d * (219 - d)) * c) >> 16) as u16 * inside;
                *p = (y + lift) as u8;
            }
        }
    }
}

/// The `beauty` filter at one level, with its scratch buffers.
#[derive(Debug, Clone, Default)]
pub struct Beauty {
    level: u8,
    /// The half-size plane: each 2x2 block's mean.
    low: Vec<u8>,
    /// Two full rows added (making `low`).
    pairs: Vec<u16>,
    /// The half-size plane's local mean and gain (of 128), per pixel.
    mean: Vec<u8>,
    gain: Vec<u8>,
    /// One full-size row of `mean` and `gain` (each value twice).
    mrow: Vec<u8>,
    grow: Vec<u8>,
    /// One half-size row with its edges replicated, and its squares.
    pad: Vec<u16>,
    pad2: Vec<u32>,
    /// Horizontal box sums of every half-size row: of luma, of luma².
    rows: Vec<u16>,
    rows2: Vec<u32>,
    /// The running vertical sums of `rows` and `rows2`, one per column.
    cols: Vec<u32>,
    cols2: Vec<u32>,
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

    /// (radius on the half-size plane, noise sigma there in luma levels)
    /// for the level: radius 1 (a 6x6 neighbourhood at full size) up to
    /// level 6, then 2 (10x10); sigma 1.75..7.75 (3.5..15.5 at full size:
    /// averaging four pixels halves the noise).
    fn params(&self) -> (usize, f32) {
        let radius = if self.level <= 6 { 1 } else { 2 };
        let sigma = (2.0 + 1.5 * f32::from(self.level)) / 2.0;
        (radius, sigma)
    }

    /// Smooths a luma plane in place (`width` pixels a row, rows `stride`
    /// bytes apart): each pixel becomes `mean + g·(y − mean)` with the
    /// local mean and `g = var / (var + sigma²)` of its neighbourhood (the
    /// Lee filter): where the neighbourhood is flat skin with noise, `g`
    /// is small and the noise goes; across an edge the variance is large,
    /// `g` is near 1 and the edge stays, without the halo a plain blend
    /// toward the mean leaves beside it. Mean and variance are taken on
    /// the half-size plane (a quarter of the work) and shared by each 2x2
    /// block; the blend is per pixel. The loops are plain slice arithmetic
    /// the compiler vectorises; the statistics are in f32 (IEEE, no fused
    /// operations: the same result on every machine).
    pub fn apply(&mut self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        if self.is_identity() || width == 0 || height == 0 {
            return;
        }
        assert!(
            stride >= width && luma.len() >= stride * (height - 1) + width,
            "the plane is smaller than {width}x{height} with stride {stride}"
        );
        let (w2, h2) = (width.div_ceil(2), height.div_ceil(2));
        // the half-size plane (the last row and column replicated when odd)
        self.pairs.resize(width, 0);
        self.low.resize(w2 * h2, 0);
        for y2 in 0..h2 {
            let a = &luma[2 * y2 * stride..2 * y2 * stride + width];
            let yb = (2 * y2 + 1).min(height - 1);
            let b = &luma[yb * stride..yb * stride + width];
            for ((t, &x), &y) in self.pairs.iter_mut().zip(a).zip(b) {
                *t = u16::from(x) + u16::from(y);
            }
            let dst = &mut self.low[y2 * w2..(y2 + 1) * w2];
            for (d, p) in dst.iter_mut().zip(self.pairs.chunks_exact(2)) {
                *d = ((p[0] + p[1] + 2) >> 2) as u8;
            }
            if width % 2 == 1 {
                dst[w2 - 1] = ((self.pairs[width - 1] + 1) >> 1) as u8;
            }
        }
        self.statistics(w2, h2);
        // each pixel with its block's mean and gain
        self.mrow.resize(w2 * 2, 0);
        self.grow.resize(w2 * 2, 0);
        for y in 0..height {
            if y % 2 == 0 {
                let y2 = y / 2;
                let (m, g) = (
                    &self.mean[y2 * w2..(y2 + 1) * w2],
                    &self.gain[y2 * w2..(y2 + 1) * w2],
                );
                for (pair, &v) in self.mrow.chunks_exact_mut(2).zip(m) {
                    pair[0] = v;
                    pair[1] = v;
                }
                for (pair, &v) in self.grow.chunks_exact_mut(2).zip(g) {
                    pair[0] = v;
                    pair[1] = v;
                }
            }
            let line = &mut luma[y * stride..y * stride + width];
            for ((p, &m), &g) in line.iter_mut().zip(&self.mrow).zip(&self.grow) {
                let (v, m, g) = (i16::from(*p), i16::from(m), i16::from(g));
                // |g·(v − m)| <= 128·255: fits i16
                *p = (m + ((g * (v - m) + 64) >> 7)).clamp(0, 255) as u8;
            }
        }
    }

    /// The local mean and gain of every pixel of the half-size plane
    /// (`w` x `h`, edges replicated) into `mean` and `gain`.
    fn statistics(&mut self, w: usize, h: usize) {
        let (r, sigma) = self.params();
        let s2 = sigma * sigma;
        let inv_n = 1.0 / ((2 * r + 1) * (2 * r + 1)) as f32;
        self.pad.resize(w + 2 * r, 0);
        self.pad2.resize(w + 2 * r, 0);
        self.rows.resize(w * h, 0);
        self.rows2.resize(w * h, 0);
        self.cols.resize(w, 0);
        self.cols2.resize(w, 0);
        self.mean.resize(w * h, 0);
        self.gain.resize(w * h, 0);
        // horizontal sums of each row: the row widened once, its squares
        // once, then 2r+1 shifted slices added (separate plain loops: each
        // one vector code)
        for y in 0..h {
            let src = &self.low[y * w..(y + 1) * w];
            for (p, &v) in self.pad[r..r + w].iter_mut().zip(src) {
                *p = u16::from(v);
            }
            self.pad[..r].fill(u16::from(src[0]));
            self.pad[r + w..].fill(u16::from(src[w - 1]));
            for (q, &p) in self.pad2.iter_mut().zip(&self.pad) {
                *q = u32::from(p) * u32::from(p);
            }
            let dst = &mut self.rows[y * w..(y + 1) * w];
            dst.copy_from_slice(&self.pad[..w]);
            for k in 1..=2 * r {
                for (d, &v) in dst.iter_mut().zip(&self.pad[k..k + w]) {
                    *d += v;
                }
            }
            let dst2 = &mut self.rows2[y * w..(y + 1) * w];
            dst2.copy_from_slice(&self.pad2[..w]);
            for k in 1..=2 * r {
                for (d, &v) in dst2.iter_mut().zip(&self.pad2[k..k + w]) {
                    *d += v;
                }
            }
        }
        // the vertical sums for row 0 (rows above replicated), then row by
        // row: its statistics, and the window slid down
        let row = |y: isize| (y.clamp(0, h as isize - 1) as usize) * w;
        self.cols.fill(0);
        self.cols2.fill(0);
        for y in -(r as isize)..=r as isize {
            let (a, a2) = (
                &self.rows[row(y)..row(y) + w],
                &self.rows2[row(y)..row(y) + w],
            );
            for (((c, c2), &v), &v2) in self
                .cols
                .iter_mut()
                .zip(self.cols2.iter_mut())
                .zip(a)
                .zip(a2)
            {
                *c += u32::from(v);
                *c2 += v2;
            }
        }
        for y in 0..h {
            let (mean, gain) = (
                &mut self.mean[y * w..(y + 1) * w],
                &mut self.gain[y * w..(y + 1) * w],
            );
            for (((mo, go), &c), &c2) in mean
                .iter_mut()
                .zip(gain.iter_mut())
                .zip(&self.cols)
                .zip(&self.cols2)
            {
                // (sums fit i32: signed conversions are single instructions)
                let m = c as i32 as f32 * inv_n;
                let var = (c2 as i32 as f32 * inv_n - m * m).max(0.0);
                let g = var / (var + s2);
                // rounded to the nearest integer by adding 2^23 (one unit
                // per ulp there), read from the bits: no saturating cast,
                // which the compiler cannot vectorise
                *mo = ((m.clamp(0.0, 255.0) + 8_388_608.0).to_bits() & 0xff) as u8;
                *go = ((g * 128.0 + 8_388_608.0).to_bits() & 0xff) as u8;
            }
            let (add, sub) = (
                row(y as isize + r as isize + 1),
                row(y as isize - r as isize),
            );
            let (ra, rs) = (&self.rows[add..add + w], &self.rows[sub..sub + w]);
            for ((c, &a), &s) in self.cols.iter_mut().zip(ra).zip(rs) {
                *c = *c + u32::from(a) - u32::from(s);
            }
            let (ra, rs) = (&self.rows2[add..add + w], &self.rows2[sub..sub + w]);
            for ((c, &a), &s) in self.cols2.iter_mut().zip(ra).zip(rs) {
                *c = *c + a - s;
            }
        }
    }
}

/// `beauty` and `whiteness` together on an I420 picture's luma plane
/// (beauty first, then the tone curve). Both at 0: nothing is touched.
#[derive(Debug, Clone)]
pub struct Filters {
    beauty: Beauty,
    whiteness: Whiteness,
}

impl Filters {
    /// The filters at these levels (0..9 each; more is taken as 9).
    pub fn new(beauty: u8, whiteness: u8) -> Filters {
        Filters {
            beauty: Beauty::new(beauty),
            whiteness: Whiteness::new(whiteness),
        }
    }

    /// (beauty, whiteness) levels.
    pub fn levels(&self) -> (u8, u8) {
        (self.beauty.level(), self.whiteness.level())
    }

    /// Whether both are at 0 (the picture is not touched: zero copy stays).
    pub fn is_identity(&self) -> bool {
        self.beauty.is_identity() && self.whiteness.is_identity()
    }

    /// Filters the luma plane of a tightly packed I420 picture of `width` x
    /// `height` (the first `width * height` bytes); chroma is not touched.
    pub fn apply_i420(&mut self, i420: &mut [u8], width: usize, height: usize) {
        if self.is_identity() || i420.len() < width * height {
            return;
        }
        let luma = &mut i420[..width * height];
        self.beauty.apply(luma, width, height, width);
        self.whiteness.apply(luma, width, height, width);
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
            b.rows.capacity() + b.cols.capacity() + b.pad.capacity() + b.low.capacity(),
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
            // limited range: black and white stay, nothing leaves 16..235
            assert_eq!((w.curve(16), w.curve(235)), (16, 235), "level {level}");
            assert_eq!((w.curve(0), w.curve(255)), (0, 255), "level {level}");
            assert!((16..=235u8).all(|y| (16..=235).contains(&w.curve(y))));
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
            Whiteness::new(9).curve(128) >= 155,
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
            // the edge: the bright side barely moves, the step stays
            for y in 0..h {
                let bright = p[y * w + w / 2];
                assert!(
                    bright.abs_diff(230) <= 4,
                    "level {level}, row {y}: {bright}"
                );
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

    /// The golden pictures' input: 192x144 luma with what the filters must
    /// tell apart: a smooth gradient, a noisy "skin" disc (a face), a
    /// hard-edged bright box, thin dark lines (hair, text), deterministic.
    fn golden_input() -> (usize, usize, Vec<u8>) {
        let (w, h) = (192usize, 144usize);
        let mut seed = 2026;
        let mut p = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut v = 40 + (x * 120 / w) as i32; // gradient 40..160
                let (dx, dy) = (x as i32 - 70, y as i32 - 72);
                if dx * dx + dy * dy < 48 * 48 {
                    v = 150 + noise(&mut seed); // skin with noise
                }
                if (130..180).contains(&x) && (20..70).contains(&y) {
                    v = 225; // a bright box with hard edges
                }
                if (x % 24 == 0 && y > 100) || (y == 110 && x > 120) {
                    v = 24; // thin dark lines
                }
                p[y * w + x] = v.clamp(16, 235) as u8;
            }
        }
        (w, h, p)
    }

    fn repo() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// Compares (or, with LIVEPUSH_BLESS_FILTERS=1, writes) one golden
    /// grey PNG in tests/data/filters/.
    fn golden(name: &str, w: usize, h: usize, luma: &[u8]) -> Option<String> {
        let path = repo()
            .join("tests/data/filters")
            .join(format!("{name}.png"));
        let write = |path: &std::path::Path| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let f = std::fs::File::create(path).unwrap();
            let mut e = png::Encoder::new(std::io::BufWriter::new(f), w as u32, h as u32);
            e.set_color(png::ColorType::Grayscale);
            e.set_depth(png::BitDepth::Eight);
            e.write_header().unwrap().write_image_data(luma).unwrap();
        };
        if std::env::var_os("LIVEPUSH_BLESS_FILTERS").is_some() {
            write(&path);
            return None;
        }
        let read = std::fs::File::open(&path).ok().and_then(|f| {
            let mut r = png::Decoder::new(std::io::BufReader::new(f))
                .read_info()
                .ok()?;
            let mut buf = vec![0; r.output_buffer_size()];
            let info = r.next_frame(&mut buf).ok()?;
            buf.truncate(info.buffer_size());
            Some((info.width as usize, info.height as usize, buf))
        });
        match read {
            Some((gw, gh, g)) if (gw, gh) == (w, h) && g == luma => None,
            found => {
                let actual = repo()
                    .join("target/filters-actual")
                    .join(format!("{name}.png"));
                write(&actual);
                Some(format!(
                    "{name}: {} (filtered: {})",
                    if found.is_some() {
                        "differs from the golden image"
                    } else {
                        "no golden image"
                    },
                    actual.display()
                ))
            }
        }
    }

    /// Golden pictures at levels 0, 5 and 9 of each filter and of both
    /// (tests/data/filters/; regenerate on purpose with
    /// `LIVEPUSH_BLESS_FILTERS=1 cargo test -p livepush-core filters`).
    /// Level 0 is the input itself, bit for bit.
    #[test]
    fn golden_pictures_at_levels_0_5_9() {
        let (w, h, input) = golden_input();
        let mut bad: Vec<String> = golden("input", w, h, &input).into_iter().collect();
        for (name, beauty, white) in [
            ("beauty-0-whiteness-0", 0u8, 0u8),
            ("beauty-5", 5, 0),
            ("beauty-9", 9, 0),
            ("whiteness-5", 0, 5),
            ("whiteness-9", 0, 9),
            ("beauty-5-whiteness-5", 5, 5),
            ("beauty-9-whiteness-9", 9, 9),
        ] {
            // a whole I420 picture: chroma must come through untouched
            let mut pic = input.clone();
            let chroma: Vec<u8> = (0..w * h / 2).map(|i| (i % 251) as u8).collect();
            pic.extend_from_slice(&chroma);
            let mut f = Filters::new(beauty, white);
            assert_eq!(f.levels(), (beauty, white));
            f.apply_i420(&mut pic, w, h);
            assert_eq!(&pic[w * h..], &chroma[..], "{name}: chroma touched");
            if (beauty, white) == (0, 0) {
                assert!(f.is_identity());
                assert_eq!(&pic[..w * h], &input[..], "level 0 is bit-identical");
            } else {
                assert_ne!(&pic[..w * h], &input[..], "{name} changed nothing");
            }
            bad.extend(golden(name, w, h, &pic[..w * h]));
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
