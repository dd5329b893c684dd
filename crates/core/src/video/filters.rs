//! The contract's `whiteness` and `beauty` as cheap filters on the luma
//! plane of an I420 picture (chroma is left as it is: skin keeps its
//! colour). Level 0 returns at once and touches nothing, so a box that
//! leaves both at 0 keeps its zero-copy capture path.
//!
//! - [`Whiteness`] (0..9): a tone curve that lifts the mid-tones of the
//!   encoder's limited-range luma (16..235): with `t = (y − 16)/219`,
//!   `t + k·t·(1 − t)` and `k = 0.06·level` (black 16 and white 235 stay,
//!   nothing goes outside them; monotonic for every level), in 16-bit
//!   integer arithmetic (vector code; a table would need gathers).
//! - [`Beauty`] (0..9): skin smoothing, an edge-preserving blur (the Lee
//!   filter: local mean and variance). Each pixel becomes
//!   `mean + g·(y − mean)` over its `(2r+1)²` neighbourhood, with
//!   `g = var/(var + σ²)`: flat, noisy skin is averaged, an edge (a large
//!   variance) is kept, without halos. Mean and variance come from the
//!   half-size plane (2x2 block means: a quarter of the work), the blend
//!   is per pixel. The neighbourhood (6x6 or 10x10 pixels) and the noise
//!   level σ (3.5..15.5 luma levels) grow with the level. Box sums of luma
//!   and luma² are separable running sums; the picture is filtered in one
//!   pass down its rows with a few rows of scratch kept between pictures
//!   (no allocation per picture once warm).
//! - [`Filters`]: both on an I420 picture, beauty first, in the same pass.
//!
//! Speed: plain slice arithmetic the compiler turns into vector code. On
//! x86-64 the same code is also compiled for AVX2 and chosen at run time
//! when the CPU has it (twice the lanes of the SSE2 baseline; the same
//! bytes, tested): that call, after the check in [`Beauty::apply_then`]
//! (the one entry both filters go through), is the crate's only `unsafe`
//! outside tests (two more in the tests compare the builds).
//! Costs are in `livepush bench --filters` and the README.

/// The `whiteness` filter at one level.
#[derive(Debug, Clone, Copy)]
pub struct Whiteness {
    level: u8,
    /// The lift's factor in 1/65536: `0.06·level / 219` (at most 162).
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
        lift::<false>(u16::from(y), self.c) as u8
    }

    /// Applies the curve to a luma plane (`width` pixels a row, rows
    /// `stride` bytes apart). Branch-free 16-bit arithmetic the compiler
    /// turns into vector code.
    /// (Through [`Beauty::apply_then`] at level 0: one place picks the
    /// instruction set; a level-0 `Beauty` holds no memory.)
    pub fn apply(&self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        if self.is_identity() {
            return;
        }
        Beauty::new(0).apply_then(luma, width, height, stride, self);
    }

    /// The curve on the plane (inlined into each instruction-set version;
    /// `WIDE`: the form of [`lift`] for 256-bit vectors).
    #[inline(always)]
    fn run<const WIDE: bool>(&self, luma: &mut [u8], width: usize, height: usize, stride: usize) {
        for row in luma.chunks_mut(stride.max(1)).take(height) {
            for p in row.iter_mut().take(width) {
                *p = lift::<WIDE>(u16::from(*p), self.c) as u8;
            }
        }
    }
}

/// The whiteness curve on one luma value in 16-bit lanes: `y + d·(219 −
/// d)·c / 65536` with `d = y − 16` clamped to 0..219, so outside 16..235
/// the product is 0 and `y` stays ([`Whiteness::curve`] without its
/// branch). Two forms of the same value, one per vector width: the high
/// half of a 16x16-bit product is one SSE2/NEON instruction, but LLVM
/// widens it to 32-bit lanes in AVX2 code (twice as slow as the baseline
/// there); with `WIDE` the product is split into bytes so every step stays
/// in 16 bits (a test checks the two agree for every value and level).
#[inline(always)]
fn lift<const WIDE: bool>(y: u16, c: u16) -> u16 {
    let d = y.saturating_sub(16).min(219);
    let p = d * (219 - d); // < 2^14
    if WIDE {
        // (p·c) >> 16 with p = 256·h + l (c <= 162 < 2^8):
        // floor((256·h·c + l·c) / 2^16) = (h·c + (l·c >> 8)) >> 8, exactly
        let (h, l) = (p >> 8, p & 0xff);
        y + ((h * c + ((l * c) >> 8)) >> 8)
    } else {
        y + ((u32::from(p) * u32::from(c)) >> 16) as u16
    }
}

/// Whether the filters run their AVX2 build on this CPU (x86-64 with
/// AVX2); otherwise the baseline build (SSE2 on x86-64, NEON on aarch64).
pub fn uses_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst[x] = src[x] + src[x + 1] + src[x + 2]` (one pass, vector code).
#[inline(always)]
fn box3<T: Copy + std::ops::Add<Output = T>>(src: &[T], dst: &mut [T]) {
    let n = dst.len();
    for (((d, &a), &b), &c) in dst.iter_mut().zip(&src[..n]).zip(&src[1..]).zip(&src[2..]) {
        *d = a + b + c;
    }
}

/// `dst[x] = src[x] + ... + src[x + 4]` (one pass, vector code).
#[inline(always)]
fn box5<T: Copy + std::ops::Add<Output = T>>(src: &[T], dst: &mut [T]) {
    let n = dst.len();
    for (((((d, &a), &b), &c), &e), &f) in dst
        .iter_mut()
        .zip(&src[..n])
        .zip(&src[1..])
        .zip(&src[2..])
        .zip(&src[3..])
        .zip(&src[4..])
    {
        *d = a + b + c + e + f;
    }
}

/// One row of the beauty blend: `(g·v + b) >> 7` per pixel, then `then`
/// (the whiteness curve or nothing). Plain u16 lanes: vector code.
#[inline(always)]
fn blend_row(line: &mut [u8], g: &[u16], b: &[u16], then: impl Fn(u16) -> u16) {
    for ((p, &g), &b) in line.iter_mut().zip(g).zip(b) {
        *p = then((g * u16::from(*p) + b) >> 7) as u8;
    }
}

/// The `beauty` filter at one level, with its scratch buffers.
#[derive(Debug, Clone, Default)]
pub struct Beauty {
    level: u8,
    /// Two full rows added (making a half-size row).
    pairs: Vec<u16>,
    /// One half-size row (each 2x2 block's mean) with `r` replicated
    /// values on each side, and its squares.
    pad: Vec<u16>,
    pad2: Vec<u32>,
    /// The horizontal box sums (of luma, of luma²) of the last 8 half-size
    /// rows (a ring, row `y` at `y % 8`): the vertical window and its slide
    /// need `2r + 2` at most.
    rows: Vec<u16>,
    rows2: Vec<u32>,
    /// The running vertical sums of `rows` and `rows2`, one per column.
    cols: Vec<u32>,
    cols2: Vec<u32>,
    /// One half-size row's local mean and gain (of 128).
    mean: Vec<u16>,
    gain: Vec<u16>,
    /// One full-size row of the blend's terms (each block's value twice):
    /// the gain `g` (of 128) and `m·(128 − g) + 64`.
    grow: Vec<u16>,
    brow: Vec<u16>,
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
        self.apply_then(luma, width, height, stride, &Whiteness::new(0));
    }

    /// [`Beauty::apply`], then `whiteness`'s curve on each pixel in the
    /// same pass over the plane (the result of the two one after the
    /// other, bit for bit). With beauty at 0, only the curve.
    pub fn apply_then(
        &mut self,
        luma: &mut [u8],
        width: usize,
        height: usize,
        stride: usize,
        whiteness: &Whiteness,
    ) {
        #[cfg(target_arch = "x86_64")]
        if uses_avx2() {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX2 (asked just above), the one
            // requirement of a `target_feature(enable = "avx2")` function
            unsafe {
                self.run_avx2(luma, width, height, stride, whiteness)
            };
            return;
        }
        self.run::<false>(luma, width, height, stride, whiteness);
    }

    /// [`Beauty::run`] compiled for AVX2 (twice the lanes of the x86-64
    /// baseline's SSE2; the same arithmetic, so the same bytes).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(
        &mut self,
        luma: &mut [u8],
        width: usize,
        height: usize,
        stride: usize,
        whiteness: &Whiteness,
    ) {
        self.run::<true>(luma, width, height, stride, whiteness);
    }

    /// The filter itself (inlined into each instruction-set version;
    /// `WIDE`: the form of [`lift`] for 256-bit vectors). One pass down
    /// the picture: half-size row `y2` is made from full rows `2·y2` and
    /// `2·y2 + 1` and its horizontal sums go into the ring; as soon as the
    /// ring holds the rows below half-size row `s` that its window and the
    /// window's slide need (`s + r + 1`, or the last row), row `s`'s
    /// statistics are taken and full rows `2s`, `2s + 1` are blended (they
    /// were read for half-size row `s`, long before, and are read by
    /// nothing after). Every row is touched while it is still in the
    /// cache, and the scratch is a few rows, whatever the picture's height.
    #[inline(always)]
    fn run<const WIDE: bool>(
        &mut self,
        luma: &mut [u8],
        width: usize,
        height: usize,
        stride: usize,
        whiteness: &Whiteness,
    ) {
        if self.is_identity() {
            if !whiteness.is_identity() {
                whiteness.run::<WIDE>(luma, width, height, stride);
            }
            return;
        }
        if width == 0 || height == 0 {
            return;
        }
        assert!(
            stride >= width && luma.len() >= stride * (height - 1) + width,
            "the plane is smaller than {width}x{height} with stride {stride}"
        );
        let (w, h) = (width.div_ceil(2), height.div_ceil(2));
        let (r, sigma) = self.params();
        let s2 = sigma * sigma;
        let inv_n = 1.0 / ((2 * r + 1) * (2 * r + 1)) as f32;
        // (a power of two, at least 2r + 2: an index is a mask, not a
        // division the compiler would redo inside the row loops)
        const RING: usize = 8;
        debug_assert!(RING >= 2 * r + 2);
        self.pairs.resize(width, 0);
        self.pad.resize(w + 2 * r, 0);
        self.pad2.resize(w + 2 * r, 0);
        self.rows.resize(RING * w, 0);
        self.rows2.resize(RING * w, 0);
        self.cols.resize(w, 0);
        self.cols2.resize(w, 0);
        self.mean.resize(w, 0);
        self.gain.resize(w, 0);
        self.grow.resize(2 * w, 0);
        self.brow.resize(2 * w, 0);
        // half-size row `y` (clamped to the picture: edges replicated) in the ring
        let at = |y: isize| (y.clamp(0, h as isize - 1) as usize % RING) * w;
        let mut next = 0; // the next half-size row to finish
        for y2 in 0..h {
            self.half_row(luma, width, height, stride, y2, r);
            let dst = y2 % RING * w;
            let (dst, dst2) = (&mut self.rows[dst..dst + w], &mut self.rows2[dst..dst + w]);
            if r == 1 {
                box3(&self.pad, dst);
                box3(&self.pad2, dst2);
            } else {
                box5(&self.pad, dst);
                box5(&self.pad2, dst2);
            }
            if y2 == r.min(h - 1) {
                // the window of row 0: rows -r..=r (those above replicated)
                self.cols.fill(0);
                self.cols2.fill(0);
                for y in -(r as isize)..=r as isize {
                    let a = at(y);
                    for (((c, c2), &v), &v2) in self
                        .cols
                        .iter_mut()
                        .zip(self.cols2.iter_mut())
                        .zip(&self.rows[a..a + w])
                        .zip(&self.rows2[a..a + w])
                    {
                        *c += u32::from(v);
                        *c2 += v2;
                    }
                }
            }
            while next < h && (next + r + 1).min(h - 1) <= y2 && y2 >= r.min(h - 1) {
                let (add, sub) = (
                    at(next as isize + r as isize + 1),
                    at(next as isize - r as isize),
                );
                self.finish_row(add, sub, w, inv_n, s2);
                for y in [2 * next, 2 * next + 1] {
                    if y >= height {
                        break;
                    }
                    let line = &mut luma[y * stride..y * stride + width];
                    if whiteness.is_identity() {
                        blend_row(line, &self.grow, &self.brow, |v| v);
                    } else {
                        let c = whiteness.c;
                        blend_row(line, &self.grow, &self.brow, |v| lift::<WIDE>(v, c));
                    }
                }
                next += 1;
            }
        }
    }

    /// Half-size row `y2` (each 2x2 block's mean; the last row and column
    /// replicated when odd) into `pad` between `r` copies of its first and
    /// last value, and its squares into `pad2`.
    #[inline(always)]
    fn half_row(
        &mut self,
        luma: &[u8],
        width: usize,
        height: usize,
        stride: usize,
        y2: usize,
        r: usize,
    ) {
        let w = width.div_ceil(2);
        let a = &luma[2 * y2 * stride..2 * y2 * stride + width];
        let yb = (2 * y2 + 1).min(height - 1);
        let b = &luma[yb * stride..yb * stride + width];
        for ((t, &x), &y) in self.pairs.iter_mut().zip(a).zip(b) {
            *t = u16::from(x) + u16::from(y);
        }
        let dst = &mut self.pad[r..r + w];
        for (d, p) in dst.iter_mut().zip(self.pairs.chunks_exact(2)) {
            *d = (p[0] + p[1] + 2) >> 2;
        }
        if width % 2 == 1 {
            dst[w - 1] = (self.pairs[width - 1] + 1) >> 1;
        }
        let (first, last) = (self.pad[r], self.pad[r + w - 1]);
        self.pad[..r].fill(first);
        self.pad[r + w..].fill(last);
        for (q, &p) in self.pad2.iter_mut().zip(&self.pad) {
            *q = u32::from(p) * u32::from(p);
        }
    }

    /// The next half-size row's local mean `m` and gain `g = var / (var +
    /// σ²)` (of 128) from the window's sums, the window slid down a row in
    /// the same pass (the ring's row `add` added, row `sub` dropped); then
    /// the blend's terms for its two full rows (`grow`, `brow`).
    #[inline(always)]
    fn finish_row(&mut self, add: usize, sub: usize, w: usize, inv_n: f32, s2: f32) {
        for (((((((mo, go), c), c2), &a), &s), &a2), &s2q) in self
            .mean
            .iter_mut()
            .zip(self.gain.iter_mut())
            .zip(self.cols.iter_mut())
            .zip(self.cols2.iter_mut())
            .zip(&self.rows[add..add + w])
            .zip(&self.rows[sub..sub + w])
            .zip(&self.rows2[add..add + w])
            .zip(&self.rows2[sub..sub + w])
        {
            // (sums fit i32: signed conversions are single instructions)
            let m = *c as i32 as f32 * inv_n;
            let var = (*c2 as i32 as f32 * inv_n - m * m).max(0.0);
            let g = var / (var + s2);
            // rounded to the nearest integer by adding 2^23 (one unit per
            // ulp there), read from the bits: no saturating cast, which
            // the compiler cannot vectorise
            *mo = ((m.clamp(0.0, 255.0) + 8_388_608.0).to_bits() & 0xff) as u16;
            *go = ((g * 128.0 + 8_388_608.0).to_bits() & 0xff) as u16;
            *c = *c + u32::from(a) - u32::from(s);
            *c2 = *c2 + a2 - s2q;
        }
        // the blend `m + g·(v − m)/128` is `(g·v + m·(128 − g) + 64) / 128`
        // (the same value: 128·m leaves the rounding alone), all in u16 (at
        // most 255·128 + 64), no clamp; each block's terms twice (a
        // separate loop: pairs of stores keep the one above vector code)
        for (((gp, bp), &m), &g) in self
            .grow
            .chunks_exact_mut(2)
            .zip(self.brow.chunks_exact_mut(2))
            .zip(&self.mean)
            .zip(&self.gain)
        {
            let b = m * (128 - g) + 64;
            gp[0] = g;
            gp[1] = g;
            bp[0] = b;
            bp[1] = b;
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
        self.beauty
            .apply_then(luma, width, height, width, &self.whiteness);
    }

    /// [`Filters::apply_i420`] always in the target's baseline build (on
    /// x86-64: SSE2, what a CPU without AVX2 runs), for `livepush bench`.
    /// The same bytes as `apply_i420`.
    pub fn apply_i420_baseline(&mut self, i420: &mut [u8], width: usize, height: usize) {
        if self.is_identity() || i420.len() < width * height {
            return;
        }
        let luma = &mut i420[..width * height];
        self.beauty
            .run::<false>(luma, width, height, width, &self.whiteness);
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
            b.rows.capacity() + b.cols.capacity() + b.pad.capacity() + b.pairs.capacity(),
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
    fn one_pass_is_beauty_then_whiteness_bit_for_bit() {
        let (w, h, stride) = (37usize, 23usize, 40usize);
        let mut seed = 5;
        let orig: Vec<u8> = (0..stride * h)
            .map(|i| (((i * 7) % 256) as i32 + 3 * noise(&mut seed)).clamp(0, 255) as u8)
            .collect();
        for (b, wl) in [(0u8, 0u8), (0, 9), (1, 0), (3, 4), (5, 5), (7, 1), (9, 9)] {
            let mut two = orig.clone();
            Beauty::new(b).apply(&mut two, w, h, stride);
            let white = Whiteness::new(wl);
            // the curve pixel by pixel, through its own definition
            for y in 0..h {
                for p in &mut two[y * stride..y * stride + w] {
                    *p = white.curve(*p);
                }
            }
            let mut one = orig.clone();
            Beauty::new(b).apply_then(&mut one, w, h, stride, &white);
            assert_eq!(one, two, "beauty {b}, whiteness {wl}");
        }
        // the curve through 16-bit lanes is the curve everywhere, in both
        // of its forms
        for level in 0..=9 {
            let white = Whiteness::new(level);
            for y in 0..=255u16 {
                assert_eq!(lift::<true>(y, white.c), lift::<false>(y, white.c), "{y}");
            }
            let mut all: Vec<u8> = (0..=255).collect();
            white.apply(&mut all, 256, 1, 256);
            for y in 0..=255u8 {
                let d = i32::from(y) - 16;
                let want = if (0..=219).contains(&d) {
                    (i32::from(y) + ((d * (219 - d)) as u32 * u32::from(white.c) >> 16) as i32)
                        as u8
                } else {
                    y
                };
                assert_eq!(all[usize::from(y)], want, "level {level}, y {y}");
            }
        }
    }

    /// The AVX2 build of the filters gives the baseline's bytes (skipped,
    /// and said so, on a CPU without AVX2).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_and_baseline_builds_give_the_same_bytes() {
        if !uses_avx2() {
            eprintln!("no AVX2 on this CPU: only the baseline build runs");
            return;
        }
        let mut seed = 99;
        for (w, h, stride) in [
            (64usize, 48usize, 64usize),
            (101, 37, 128),
            (1280, 16, 1280),
        ] {
            let orig: Vec<u8> = (0..stride * h)
                .map(|i| ((i * 13 % 251) as i32 + 5 * noise(&mut seed)).clamp(0, 255) as u8)
                .collect();
            for (b, wl) in [(1u8, 0u8), (5, 5), (6, 9), (7, 0), (9, 9)] {
                let white = Whiteness::new(wl);
                let (mut base, mut wide) = (orig.clone(), orig.clone());
                Beauty::new(b).run::<false>(&mut base, w, h, stride, &white);
                #[allow(unsafe_code)]
                // SAFETY: AVX2 checked above
                unsafe {
                    Beauty::new(b).run_avx2(&mut wide, w, h, stride, &white)
                };
                assert_eq!(base, wide, "{w}x{h}: beauty {b}, whiteness {wl}");
                assert_ne!(base, orig, "{w}x{h}: beauty {b} changed nothing");
                let (mut base, mut wide) = (orig.clone(), orig.clone());
                white.run::<false>(&mut base, w, h, stride);
                #[allow(unsafe_code)]
                // SAFETY: AVX2 checked above
                unsafe {
                    Beauty::new(0).run_avx2(&mut wide, w, h, stride, &white)
                };
                assert_eq!(base, wide, "{w}x{h}: whiteness {wl}");
            }
        }
    }

    /// The filter written the slow, obvious way: whole half-size plane,
    /// every window summed from scratch with clamped coordinates, the same
    /// f32 operations in the same order.
    fn beauty_by_definition(p: &mut [u8], w: usize, h: usize, stride: usize, level: u8) {
        let (r, sigma) = Beauty::new(level).params();
        let (w2, h2) = (w.div_ceil(2), h.div_ceil(2));
        let px = |x: usize, y: usize| u32::from(p[y.min(h - 1) * stride + x.min(w - 1)]);
        let mut low = vec![0u32; w2 * h2];
        for y in 0..h2 {
            for x in 0..w2 {
                low[y * w2 + x] = if 2 * x + 1 < w {
                    (px(2 * x, 2 * y)
                        + px(2 * x + 1, 2 * y)
                        + px(2 * x, 2 * y + 1)
                        + px(2 * x + 1, 2 * y + 1)
                        + 2)
                        >> 2
                } else {
                    (px(2 * x, 2 * y) + px(2 * x, 2 * y + 1) + 1) >> 1
                };
            }
        }
        let inv_n = 1.0 / ((2 * r + 1) * (2 * r + 1)) as f32;
        let (mut mean, mut gain) = (vec![0u32; w2 * h2], vec![0u32; w2 * h2]);
        for y in 0..h2 as isize {
            for x in 0..w2 as isize {
                let (mut c, mut c2) = (0u32, 0u32);
                for dy in -(r as isize)..=r as isize {
                    for dx in -(r as isize)..=r as isize {
                        let v = low[(y + dy).clamp(0, h2 as isize - 1) as usize * w2
                            + (x + dx).clamp(0, w2 as isize - 1) as usize];
                        c += v;
                        c2 += v * v;
                    }
                }
                let m = c as i32 as f32 * inv_n;
                let var = (c2 as i32 as f32 * inv_n - m * m).max(0.0);
                let g = var / (var + sigma * sigma);
                let i = y as usize * w2 + x as usize;
                mean[i] = (m.clamp(0.0, 255.0)).round_ties_even() as u32;
                gain[i] = (g * 128.0).round_ties_even() as u32;
            }
        }
        for y in 0..h {
            for x in 0..w {
                let i = (y / 2) * w2 + x / 2;
                let (m, g, v) = (mean[i] as i32, gain[i] as i32, i32::from(p[y * stride + x]));
                p[y * stride + x] = (m + ((g * (v - m) + 64) >> 7)) as u8;
            }
        }
    }

    #[test]
    fn beauty_is_its_definition_at_every_size() {
        let mut seed = 17;
        for (w, h) in [
            (1usize, 1usize),
            (2, 1),
            (1, 2),
            (3, 3),
            (5, 7),
            (17, 3),
            (33, 9),
            (8, 12),
            (64, 5),
            (7, 21),
        ] {
            let stride = w + 3;
            let orig: Vec<u8> = (0..stride * h)
                .map(|i| ((i * 29 % 200) as i32 + 20 + 6 * noise(&mut seed)).clamp(0, 255) as u8)
                .collect();
            for level in [1u8, 5, 6, 7, 9] {
                let mut want = orig.clone();
                beauty_by_definition(&mut want, w, h, stride, level);
                let mut got = orig.clone();
                Beauty::new(level).apply(&mut got, w, h, stride);
                assert_eq!(got, want, "{w}x{h}, level {level}");
            }
        }
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

    /// Compares (or, with LIVEPUSH_BLESS_FILTERS=1, writes) one golden
    /// grey PNG in tests/data/filters/.
    fn golden(name: &str, w: usize, h: usize, luma: &[u8]) -> Option<String> {
        crate::golden::Golden {
            folder: "filters",
            bless: "LIVEPUSH_BLESS_FILTERS",
            color: png::ColorType::Grayscale,
        }
        .check(name, w as u32, h as u32, luma)
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
