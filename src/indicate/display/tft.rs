//! Colour TFT panels on SPI through the `mipidsi` crate: the ST7789
//! (240x240 modules, colours inverted as those IPS panels want) and the
//! ILI9341 (320x240, turned to landscape). The screen is drawn into a
//! `Canvas` and sent as one window (CASET, RASET, RAMWR and the RGB565
//! pixels), through an interface written here over any embedded-hal
//! `SpiDevice` and data/command pin, so that it owns its transfer buffer
//! and the tests can record every byte. On a box: spidev for the bus, a
//! GPIO line (gpiocdev) for data/command and, if wired, reset. Not tested
//! on a real panel; the byte stream is (tests decode it back into the
//! golden image).

use embedded_graphics::pixelcolor::Rgb565;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use livepush_core::config::board::DisplayKind;
use livepush_core::indicate::draw::{draw_color, Canvas, Frame};
use mipidsi::interface::{Interface, InterfaceKind};
use mipidsi::models::{ILI9341Rgb565, ST7789};
use mipidsi::options::{ColorInversion, Orientation, Rotation};
use mipidsi::Builder;

/// A 4-line SPI interface: the data/command pin low for a command byte,
/// high for its arguments and for pixels.
pub struct SpiDc<S, D> {
    spi: S,
    dc: D,
    buf: Vec<u8>,
}

impl<S: SpiDevice, D: OutputPin> SpiDc<S, D> {
    /// The interface; `chunk` bytes per SPI write (spidev takes 4096 by default).
    pub fn new(spi: S, dc: D, chunk: usize) -> Self {
        SpiDc {
            spi,
            dc,
            buf: vec![0; chunk.max(2)],
        }
    }
}

impl<S: SpiDevice, D: OutputPin> Interface for SpiDc<S, D> {
    type Word = u8;
    type Error = String;

    const KIND: InterfaceKind = InterfaceKind::Serial4Line;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), String> {
        self.dc
            .set_low()
            .map_err(|e| format!("data/command pin: {e:?}"))?;
        self.spi
            .write(&[command])
            .map_err(|e| format!("SPI: {e:?}"))?;
        self.dc
            .set_high()
            .map_err(|e| format!("data/command pin: {e:?}"))?;
        if !args.is_empty() {
            self.spi.write(args).map_err(|e| format!("SPI: {e:?}"))?;
        }
        Ok(())
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), String> {
        let mut n = 0;
        for p in pixels {
            if n + N > self.buf.len() {
                self.spi
                    .write(&self.buf[..n])
                    .map_err(|e| format!("SPI: {e:?}"))?;
                n = 0;
            }
            self.buf[n..n + N].copy_from_slice(&p);
            n += N;
        }
        if n > 0 {
            self.spi
                .write(&self.buf[..n])
                .map_err(|e| format!("SPI: {e:?}"))?;
        }
        Ok(())
    }

    fn send_repeated_pixel<const N: usize>(
        &mut self,
        pixel: [u8; N],
        count: u32,
    ) -> Result<(), String> {
        self.send_pixels(std::iter::repeat_n(pixel, count as usize))
    }
}

/// An optional output pin (a reset line that may not be wired).
pub struct MaybePin<P>(pub Option<P>);

impl<P: OutputPin> embedded_hal::digital::ErrorType for MaybePin<P> {
    type Error = P::Error;
}

impl<P: OutputPin> OutputPin for MaybePin<P> {
    fn set_low(&mut self) -> Result<(), P::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_low())
    }
    fn set_high(&mut self) -> Result<(), P::Error> {
        self.0.as_mut().map_or(Ok(()), |p| p.set_high())
    }
}

enum Panel<S: SpiDevice, D: OutputPin, R: OutputPin> {
    St7789(mipidsi::Display<SpiDc<S, D>, ST7789, MaybePin<R>>),
    Ili9341(mipidsi::Display<SpiDc<S, D>, ILI9341Rgb565, MaybePin<R>>),
}

/// A colour TFT on SPI.
pub struct Tft<S: SpiDevice, D: OutputPin, R: OutputPin> {
    panel: Panel<S, D, R>,
    canvas: Canvas<Rgb565>,
    what: String,
}

impl<S, D, R> Tft<S, D, R>
where
    S: SpiDevice + Send,
    D: OutputPin + Send,
    R: OutputPin + Send,
{
    /// Resets (through `reset` if wired, else by command) and initialises the panel.
    pub fn new(
        spi: S,
        dc: D,
        reset: Option<R>,
        kind: DisplayKind,
        what: String,
    ) -> Result<Self, String> {
        let di = SpiDc::new(spi, dc, 4096);
        let mut delay = linux_embedded_hal::Delay;
        let err = |e| format!("{what}: {e:?}");
        let (panel, w, h) = match kind {
            DisplayKind::Ili9341 => {
                let d = Builder::new(ILI9341Rgb565, di)
                    .reset_pin(MaybePin(reset))
                    .orientation(Orientation::new().rotate(Rotation::Deg90))
                    .init(&mut delay)
                    .map_err(err)?;
                (Panel::Ili9341(d), 320, 240)
            }
            _ => {
                let d = Builder::new(ST7789, di)
                    .reset_pin(MaybePin(reset))
                    .display_size(240, 240)
                    .invert_colors(ColorInversion::Inverted)
                    .init(&mut delay)
                    .map_err(err)?;
                (Panel::St7789(d), 240, 240)
            }
        };
        Ok(Tft {
            panel,
            canvas: Canvas::new(w, h),
            what,
        })
    }

    /// The panel's interface back (tests read what was sent).
    #[cfg(test)]
    pub fn release(self) -> SpiDc<S, D> {
        match self.panel {
            Panel::St7789(d) => d.release().0,
            Panel::Ili9341(d) => d.release().0,
        }
    }
}

impl<S, D, R> super::Screen for Tft<S, D, R>
where
    S: SpiDevice + Send,
    D: OutputPin + Send,
    R: OutputPin + Send,
{
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn render(&mut self, f: &Frame<'_>) {
        let _ = draw_color(&mut self.canvas, f);
    }

    fn flush(&mut self) -> Result<(), String> {
        let size = self.canvas.size();
        let (ex, ey) = (size.width as u16 - 1, size.height as u16 - 1);
        let px = self.canvas.pixels().iter().copied();
        match &mut self.panel {
            Panel::St7789(d) => d.set_pixels(0, 0, ex, ey, px),
            Panel::Ili9341(d) => d.set_pixels(0, 0, ex, ey, px),
        }
        .map_err(|e| format!("{}: {e}", self.what))
    }

    fn set_dim(&mut self, _dim: bool) -> Result<(), String> {
        // the backlight is a pin of its own, not driven here
        Ok(())
    }
}

#[cfg(test)]
mod tests;
