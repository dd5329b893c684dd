//! The test pattern: colour bars, a box moving with the frame index, and a
//! burned-in frame counter along the top edge that survives lossy coding, so
//! a test can decode the pushed stream and check that no frame went missing.
//!
//! Counter strip: `CELLS` equal cells across the width; cell 0 is always white
//! and the last cell always black (sync marks); cells 1..=24 hold the frame
//! index, most significant bit first, white = 1.

/// Bits of the burned-in counter.
pub const COUNTER_BITS: u32 = 24;
const CELLS: u32 = COUNTER_BITS + 2;

const WHITE: u8 = 235;
const BLACK: u8 = 16;

/// Renders I420 test-pattern frames of one size.
#[derive(Clone, Debug)]
pub struct TestPattern {
    width: u32,
    height: u32,
    background: Vec<u8>,
}

/// Height of the counter strip for a frame height (even, at least 8 rows).
fn strip_height(height: u32) -> u32 {
    ((height / 10).max(8) + 1) & !1
}

fn cell_width(width: u32) -> u32 {
    (width / CELLS) & !1
}

impl TestPattern {
    /// Prepares the static part of the pattern. `width` and `height` are even.
    pub fn new(width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut bg = vec![0u8; w * h * 3 / 2];
        // 75% colour bars: white, yellow, cyan, green, magenta, red, blue (BT.601 Y, U, V)
        const BARS: [(u8, u8, u8); 7] = [
            (180, 128, 128),
            (162, 44, 142),
            (131, 156, 44),
            (112, 72, 58),
            (84, 184, 198),
            (65, 100, 212),
            (35, 212, 114),
        ];
        let (y, uv) = bg.split_at_mut(w * h);
        let (u, v) = uv.split_at_mut(w * h / 4);
        for row in 0..h {
            for col in 0..w {
                let bar = BARS[col * 7 / w];
                y[row * w + col] = bar.0;
                if row % 2 == 0 && col % 2 == 0 {
                    let i = (row / 2) * (w / 2) + col / 2;
                    u[i] = bar.1;
                    v[i] = bar.2;
                }
            }
        }
        TestPattern {
            width,
            height,
            background: bg,
        }
    }

    /// Bytes of one I420 frame.
    pub fn frame_len(&self) -> usize {
        self.background.len()
    }

    /// Renders frame `index` into `out` (`frame_len()` bytes).
    pub fn render(&self, index: u64, out: &mut [u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        out.copy_from_slice(&self.background);
        let (y, uv) = out.split_at_mut(w * h);
        let (u, v) = uv.split_at_mut(w * h / 4);
        // moving box below the strip
        let strip = strip_height(self.height) as usize;
        let size = ((h / 5).max(8)) & !1;
        let span = w.saturating_sub(size).max(1);
        let travel = (index as usize * 4) % (2 * span);
        let x0 = (if travel < span {
            travel
        } else {
            2 * span - travel
        }) & !1;
        let y0 = (strip + (h - strip) / 2).saturating_sub(size / 2) & !1;
        fill_rect(y, u, v, w, x0, y0, size, size, (WHITE, 128, 128));
        // counter strip
        let cw = cell_width(self.width) as usize;
        fill_rect(y, u, v, w, 0, 0, w, strip, (BLACK, 128, 128));
        let counter = (index & ((1 << COUNTER_BITS) - 1)) as u32;
        for cell in 0..CELLS {
            let on = match cell {
                0 => true,
                c if c == CELLS - 1 => false,
                c => counter >> (COUNTER_BITS - c) & 1 == 1,
            };
            if on {
                fill_rect(
                    y,
                    u,
                    v,
                    w,
                    cell as usize * cw,
                    0,
                    cw,
                    strip,
                    (WHITE, 128, 128),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_rect(
    y: &mut [u8],
    u: &mut [u8],
    v: &mut [u8],
    w: usize,
    x0: usize,
    y0: usize,
    rw: usize,
    rh: usize,
    c: (u8, u8, u8),
) {
    let h = y.len() / w;
    let x1 = (x0 + rw).min(w);
    let y1 = (y0 + rh).min(h);
    for row in y0..y1 {
        y[row * w + x0..row * w + x1].fill(c.0);
    }
    for row in (y0 / 2)..y1.div_ceil(2) {
        let base = row * (w / 2);
        u[base + x0 / 2..base + x1.div_ceil(2)].fill(c.1);
        v[base + x0 / 2..base + x1.div_ceil(2)].fill(c.2);
    }
}

/// Luma of the "no signal" card's background (grey) and band (black).
pub const NO_SIGNAL_Y: (u8, u8) = (128, 16);

/// The card pushed instead of camera video while the camera is lost: grey with
/// a black band across the middle third, no colour (I420, `width` x `height`).
pub fn no_signal(width: u32, height: u32, out: &mut [u8]) {
    let (w, h) = (width as usize, height as usize);
    let (y, uv) = out.split_at_mut(w * h);
    y.fill(NO_SIGNAL_Y.0);
    y[w * (h / 3)..w * (2 * h / 3)].fill(NO_SIGNAL_Y.1);
    uv[..w * h / 2].fill(128);
}

/// Reads the burned-in counter back from a decoded luma plane (`width` x
/// `height`, one byte per pixel). `None` when the sync marks are not there.
pub fn read_counter(luma: &[u8], width: u32, height: u32) -> Option<u32> {
    let (w, strip, cw) = (
        width as usize,
        strip_height(height) as usize,
        cell_width(width) as usize,
    );
    if luma.len() < w * strip || cw < 4 {
        return None;
    }
    let cell = |c: usize| -> bool {
        // mean of the cell's middle half
        let (x0, x1) = (c * cw + cw / 4, c * cw + cw * 3 / 4);
        let (y0, y1) = (strip / 4, strip * 3 / 4);
        let mut sum = 0u32;
        for row in y0..y1 {
            sum += luma[row * w + x0..row * w + x1]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        sum / ((x1 - x0) * (y1 - y0)) as u32 > 128
    };
    if !cell(0) || cell(CELLS as usize - 1) {
        return None;
    }
    Some((1..=COUNTER_BITS as usize).fold(0u32, |acc, c| (acc << 1) | u32::from(cell(c))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_round_trips_and_box_moves() {
        for (w, h) in [(640u32, 360u32), (320, 180), (360, 640), (1280, 720)] {
            let p = TestPattern::new(w, h);
            let mut a = vec![0u8; p.frame_len()];
            let mut b = vec![0u8; p.frame_len()];
            for idx in [0u64, 1, 2, 1000, 0xabcdef] {
                p.render(idx, &mut a);
                assert_eq!(read_counter(&a, w, h), Some(idx as u32), "{w}x{h} #{idx}");
            }
            p.render(10, &mut a);
            p.render(11, &mut b);
            let strip = (strip_height(h) * w) as usize;
            assert_ne!(
                a[strip..(w * h) as usize],
                b[strip..(w * h) as usize],
                "the box moves"
            );
        }
        assert_eq!(
            read_counter(&vec![0u8; 640 * 360], 640, 360),
            None,
            "no sync mark"
        );
    }
}
