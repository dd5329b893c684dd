//! Golden images: every phase's screen at 128x64, 128x32 and 240x240,
//! rendered into a [`Canvas`] and compared pixel for pixel with the PNGs in
//! `tests/data/screens/` (docs/screens.md shows them). Regenerate them only
//! on purpose: `LIVEPUSH_BLESS_SCREENS=1 cargo test -p livepush-core screens`.
//! A mismatch writes what was drawn beside the target directory's
//! `screens-actual/` for a look.

use super::*;
use crate::indicate::phase::Phase;
use crate::indicate::sample::{render_color, render_mono, sample, CONTEXT as CX};

/// RGB8 pixels of a canvas (monochrome: white on black).
fn rgb_mono(c: &Canvas<BinaryColor>) -> Vec<u8> {
    c.pixels()
        .iter()
        .flat_map(|p| if p.is_on() { [255u8; 3] } else { [0u8; 3] })
        .collect()
}

fn rgb_color(c: &Canvas<Rgb565>) -> Vec<u8> {
    c.pixels()
        .iter()
        .flat_map(|p| {
            [
                (p.r() << 3) | (p.r() >> 2),
                (p.g() << 2) | (p.g() >> 4),
                (p.b() << 3) | (p.b() >> 2),
            ]
        })
        .collect()
}

/// Compares (or, when blessing, writes) one golden image; returns a
/// complaint on a mismatch.
fn golden(name: &str, w: u32, h: u32, rgb: &[u8]) -> Option<String> {
    crate::golden::Golden {
        folder: "screens",
        bless: "LIVEPUSH_BLESS_SCREENS",
        color: png::ColorType::Rgb,
    }
    .check(name, w, h, rgb)
}

#[test]
fn screens_match_the_golden_images() {
    let mut bad = Vec::new();
    for p in Phase::ALL {
        let m = render_mono(p, 128, 64);
        bad.extend(golden(
            &format!("128x64-{}", p.name()),
            128,
            64,
            &rgb_mono(&m),
        ));
        let s = render_mono(p, 128, 32);
        bad.extend(golden(
            &format!("128x32-{}", p.name()),
            128,
            32,
            &rgb_mono(&s),
        ));
        let c = render_color(p, 240, 240);
        bad.extend(golden(
            &format!("240x240-{}", p.name()),
            240,
            240,
            &rgb_color(&c),
        ));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_phase_draws_a_different_screen_with_ink_on_it() {
    let screens: Vec<_> = Phase::ALL
        .iter()
        .map(|p| render_mono(*p, 128, 64))
        .collect();
    for (a, p) in screens.iter().zip(Phase::ALL) {
        let lit = a.pixels().iter().filter(|c| c.is_on()).count();
        assert!(lit > 200, "{p:?}: {lit} pixels lit");
        for (b, q) in screens.iter().zip(Phase::ALL) {
            assert!(p == q || a != b, "{p:?} and {q:?} look the same");
        }
    }
}

#[test]
fn the_small_screen_pages_through_its_lines_and_the_shift_moves_everything() {
    let v = sample(Phase::Reconnecting);
    let mut lines = Lines::default();
    lines.fill(&v, &CX);
    let draw = |page, shift| {
        let mut c = Canvas::<BinaryColor>::new(128, 32);
        draw_mono(
            &mut c,
            &Frame {
                view: &v,
                lines: &lines,
                page,
                shift,
            },
        )
        .unwrap();
        c
    };
    let pages: Vec<_> = (0..4).map(|n| draw(n, Point::zero())).collect();
    for a in 0..4 {
        for b in a + 1..4 {
            assert_ne!(pages[a], pages[b], "pages {a} and {b}");
        }
    }
    assert_eq!(pages[0], draw(4, Point::zero()), "the pages wrap");
    let moved = draw(0, Point::new(1, 1));
    let px = |c: &Canvas<BinaryColor>, x: usize, y: usize| c.pixels()[y * 128 + x];
    for y in 0..30 {
        for x in 0..126 {
            assert_eq!(px(&pages[0], x, y), px(&moved, x + 1, y + 1));
        }
    }
}

#[test]
fn the_level_bar_grows_with_the_level() {
    assert_eq!(level_len(-100, 128), 0);
    assert_eq!(level_len(-60, 128), 0);
    assert_eq!(level_len(-30, 128), 64);
    assert_eq!(level_len(0, 128), 128);
    assert_eq!(level_len(10, 128), 128);
}
