//! The screens, drawn with embedded-graphics on any `DrawTarget`: the
//! SSD1306/SH1106 drivers' buffers, a Linux framebuffer's copy, or the
//! in-memory [`Canvas`] the golden-image tests compare. One layout per size
//! class, chosen by the target's size:
//!
//! - 128x64 monochrome: the headline in 10x20 type, then four 6x10 lines
//!   (code, figures or what to check, the other conditions or the server,
//!   uptime and address) and a two-pixel audio level bar at the bottom;
//! - 128x32 monochrome: the headline and one line that pages through the
//!   four every few seconds (the caller picks the page), a one-pixel bar;
//! - colour (240x240, 320x240 and larger): a band in the phase's colour
//!   with the headline, the same lines in 10x20 type, a level bar.
//!
//! `shift` moves everything by a pixel or two (OLED burn-in: the caller
//! changes it now and then). Text is ASCII (other characters draw as '?').

use core::convert::Infallible;

use embedded_graphics::mono_font::ascii::{FONT_10X20, FONT_5X8, FONT_6X10};
use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};
use embedded_graphics::text::{Baseline, Text};

use super::led;
use super::phase::View;
use super::screen::{headline, Lines};

/// One screen's content and placement.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// What to show.
    pub view: &'a View<'a>,
    /// Its lines (filled by [`Lines::fill`]).
    pub lines: &'a Lines,
    /// For screens with one line: which of the four to show.
    pub page: u32,
    /// Burn-in offset, pixels.
    pub shift: Point,
}

/// The level bar's length for a peak level: -60 dBFS and below empty,
/// 0 dBFS full.
pub fn level_len(db: i8, full: u32) -> u32 {
    let db = i32::from(db).clamp(-60, 0);
    ((db + 60) as u32 * full) / 60
}

/// The four lines in the order the small screen pages through them (empty
/// ones skipped), the third being the other conditions when any hold.
fn line_list<'a>(l: &'a Lines) -> [&'a str; 4] {
    let third = if l.also.is_empty() {
        &l.server
    } else {
        &l.also
    };
    [&l.code, &l.figures, third, &l.status]
}

fn text<D, C>(
    d: &mut D,
    s: &str,
    at: Point,
    font: &'static MonoFont<'static>,
    color: C,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = C>,
    C: PixelColor,
{
    Text::with_baseline(s, at, MonoTextStyle::new(font, color), Baseline::Top)
        .draw(d)
        .map(|_| ())
}

/// The audio level bar at `at`, `full` pixels long at 0 dBFS, `height`
/// high (nothing without a recent level).
fn bar<D, C>(
    d: &mut D,
    f: &Frame<'_>,
    at: Point,
    full: u32,
    height: u32,
    color: C,
) -> Result<(), D::Error>
where
    D: DrawTarget<Color = C>,
    C: PixelColor,
{
    match f.view.level_db {
        Some(db) => Rectangle::new(at, Size::new(level_len(db, full), height))
            .into_styled(PrimitiveStyle::with_fill(color))
            .draw(d),
        None => Ok(()),
    }
}

/// Draws `f` on a monochrome screen (128x64 or 128x32; other sizes get
/// the 128x64 layout if at least 64 high, else the 128x32 one).
pub fn draw_mono<D>(d: &mut D, f: &Frame<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    let size = d.bounding_box().size;
    d.clear(BinaryColor::Off)?;
    let o = f.shift;
    text(d, headline(f.view.phase), o, &FONT_10X20, BinaryColor::On)?;
    let lines = line_list(f.lines);
    if size.height >= 64 {
        for (n, l) in lines.iter().enumerate() {
            // the last line (uptime and address) in 5x8: 25 columns
            let font = if n == 3 { &FONT_5X8 } else { &FONT_6X10 };
            let at = o + Point::new(0, 21 + 10 * n as i32);
            text(d, l, at, font, BinaryColor::On)?;
        }
        bar(d, f, o + Point::new(0, 62), size.width, 2, BinaryColor::On)?;
    } else {
        let filled = || lines.iter().filter(|l| !l.is_empty());
        let n = filled().count();
        if let Some(l) = filled().nth(f.page as usize % n.max(1)) {
            let font = if std::ptr::eq(*l, lines[3]) {
                &FONT_5X8
            } else {
                &FONT_6X10
            };
            text(d, l, o + Point::new(0, 21), font, BinaryColor::On)?;
        }
        bar(d, f, o + Point::new(0, 31), size.width, 1, BinaryColor::On)?;
    }
    Ok(())
}

/// The phase's colour (the RGB status LED's) as RGB565.
pub fn phase_color(v: &View<'_>) -> Rgb565 {
    let c = led::status(v.phase).color;
    Rgb565::new(c.0 >> 3, c.1 >> 2, c.2 >> 3)
}

/// Draws `f` on a colour screen (240x240, 320x240 or larger).
pub fn draw_color<D>(d: &mut D, f: &Frame<'_>) -> Result<(), D::Error>
where
    D: DrawTarget<Color = Rgb565>,
{
    let size = d.bounding_box().size;
    d.clear(Rgb565::BLACK)?;
    let o = f.shift;
    let band = phase_color(f.view);
    Rectangle::new(o, Size::new(size.width, 40))
        .into_styled(PrimitiveStyle::with_fill(band))
        .draw(d)?;
    // dark type on a light band (green, yellow, cyan, white), light on a dark one
    let light = led::status(f.view.phase).color;
    let luma = 2 * u32::from(light.0) + 5 * u32::from(light.1) + u32::from(light.2);
    let ink = if luma > 800 {
        Rgb565::BLACK
    } else {
        Rgb565::WHITE
    };
    text(
        d,
        headline(f.view.phase),
        o + Point::new(8, 10),
        &FONT_10X20,
        ink,
    )?;
    let l = f.lines;
    let rows: [(&str, Rgb565); 5] = [
        (&l.code, Rgb565::WHITE),
        (&l.figures, Rgb565::new(20, 52, 31)),
        (&l.also, Rgb565::new(31, 40, 0)),
        (&l.server, Rgb565::new(24, 48, 24)),
        (&l.status, Rgb565::new(24, 48, 24)),
    ];
    let mut y = 50;
    for (s, c) in rows.into_iter().filter(|(s, _)| !s.is_empty()) {
        text(d, s, o + Point::new(8, y), &FONT_10X20, c)?;
        y += 26;
    }
    let hot = f.view.level_db.is_some_and(|db| db > -6);
    let c = if hot { Rgb565::RED } else { Rgb565::GREEN };
    let at = o + Point::new(8, size.height as i32 - 20);
    bar(d, f, at, size.width.saturating_sub(16), 10, c)?;
    Ok(())
}

/// An in-memory screen of any size: what the golden-image tests compare,
/// and what a framebuffer's copy is drawn into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canvas<C> {
    size: Size,
    pixels: Vec<C>,
}

impl<C: PixelColor + Default> Canvas<C> {
    /// A blank canvas.
    pub fn new(width: u32, height: u32) -> Self {
        Canvas {
            size: Size::new(width, height),
            pixels: vec![C::default(); (width * height) as usize],
        }
    }
}

impl<C: PixelColor> Canvas<C> {
    /// The pixels, row by row.
    pub fn pixels(&self) -> &[C] {
        &self.pixels
    }

    /// Width and height.
    pub fn size(&self) -> Size {
        self.size
    }
}

impl<C: PixelColor> OriginDimensions for Canvas<C> {
    fn size(&self) -> Size {
        self.size
    }
}

impl<C: PixelColor> DrawTarget for Canvas<C> {
    type Color = C;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<C>>,
    {
        let (w, h) = (self.size.width as i32, self.size.height as i32);
        for Pixel(p, c) in pixels {
            if (0..w).contains(&p.x) && (0..h).contains(&p.y) {
                self.pixels[(p.y * w + p.x) as usize] = c;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
