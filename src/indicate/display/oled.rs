//! Monochrome OLEDs on I2C: the SSD1306 (128x64 or 128x32) through the
//! `ssd1306` crate's buffered graphics mode, and the SH1106 (132-column RAM,
//! 128 shown from column 2) through the few commands it needs, written
//! here: the `sh1106` crate is still on embedded-hal 0.2, and the page
//! protocol is the SSD1306's (docs/design/0009). Both draw into a buffer
//! and send it whole; any `embedded_hal::i2c::I2c` bus works, which is how
//! the tests record what a driver writes.

use embedded_graphics::pixelcolor::BinaryColor;
use embedded_hal::i2c::I2c;
use livepush_core::config::board::DisplayKind;
use livepush_core::indicate::draw::{draw_mono, Canvas, Frame};
use ssd1306::mode::{BufferedGraphicsMode, DisplayConfig};
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};

type Buffered<I, S> = Ssd1306<I2CInterface<I>, S, BufferedGraphicsMode<S>>;

enum Chip<I: I2c> {
    Ssd64(Buffered<I, DisplaySize128x64>),
    Ssd32(Buffered<I, DisplaySize128x32>),
    Sh1106(Sh1106<I>),
}

/// An OLED on an I2C bus.
pub struct Oled<I: I2c> {
    chip: Chip<I>,
    what: String,
}

impl<I: I2c + Send> Oled<I> {
    /// Initialises the controller (`height` 64 or 32) at `address`.
    pub fn new(
        bus: I,
        kind: DisplayKind,
        address: u8,
        height: u32,
        what: String,
    ) -> Result<Self, String> {
        let chip = match kind {
            DisplayKind::Sh1106 => {
                Chip::Sh1106(Sh1106::new(bus, address).map_err(|e| format!("{what}: {e}"))?)
            }
            _ if height < 64 => {
                let i = I2CDisplayInterface::new_custom_address(bus, address);
                let mut d = Ssd1306::new(i, DisplaySize128x32, DisplayRotation::Rotate0)
                    .into_buffered_graphics_mode();
                d.init().map_err(|e| format!("{what}: {e:?}"))?;
                Chip::Ssd32(d)
            }
            _ => {
                let i = I2CDisplayInterface::new_custom_address(bus, address);
                let mut d = Ssd1306::new(i, DisplaySize128x64, DisplayRotation::Rotate0)
                    .into_buffered_graphics_mode();
                d.init().map_err(|e| format!("{what}: {e:?}"))?;
                Chip::Ssd64(d)
            }
        };
        Ok(Oled { chip, what })
    }

    /// Gives the bus back (tests read what was written).
    #[cfg(test)]
    pub fn release(self) -> I {
        match self.chip {
            Chip::Ssd64(d) => d.release().release(),
            Chip::Ssd32(d) => d.release().release(),
            Chip::Sh1106(s) => s.bus,
        }
    }
}

impl<I: I2c + Send> super::Screen for Oled<I> {
    fn describe(&self) -> String {
        self.what.clone()
    }

    fn render(&mut self, f: &Frame<'_>) {
        // drawing into a buffer cannot fail
        let _ = match &mut self.chip {
            Chip::Ssd64(d) => draw_mono(d, f),
            Chip::Ssd32(d) => draw_mono(d, f),
            Chip::Sh1106(s) => draw_mono(&mut s.canvas, f).map_err(|e| match e {}),
        };
    }

    fn flush(&mut self) -> Result<(), String> {
        match &mut self.chip {
            Chip::Ssd64(d) => d.flush().map_err(|e| format!("{}: {e:?}", self.what)),
            Chip::Ssd32(d) => d.flush().map_err(|e| format!("{}: {e:?}", self.what)),
            Chip::Sh1106(s) => s.flush().map_err(|e| format!("{}: {e}", self.what)),
        }
    }

    fn set_dim(&mut self, dim: bool) -> Result<(), String> {
        let b = if dim {
            Brightness::DIMMEST
        } else {
            Brightness::BRIGHTEST
        };
        match &mut self.chip {
            Chip::Ssd64(d) => d
                .set_brightness(b)
                .map_err(|e| format!("{}: {e:?}", self.what)),
            Chip::Ssd32(d) => d
                .set_brightness(b)
                .map_err(|e| format!("{}: {e:?}", self.what)),
            Chip::Sh1106(s) => s
                .command(&[0x81, if dim { 0x01 } else { 0xcf }])
                .map_err(|e| format!("{}: {e}", self.what)),
        }
    }
}

/// An I2C bus that takes every write and drops it (`LIVEPUSH_NULL_I2C`:
/// the benchmark measures the driver and the drawing without an adapter).
pub struct NullBus;

impl embedded_hal::i2c::ErrorType for NullBus {
    type Error = embedded_hal::i2c::ErrorKind;
}

impl I2c for NullBus {
    fn transaction(
        &mut self,
        _address: u8,
        ops: &mut [embedded_hal::i2c::Operation<'_>],
    ) -> Result<(), Self::Error> {
        for op in ops {
            if let embedded_hal::i2c::Operation::Write(b) = op {
                std::hint::black_box(&b);
            }
        }
        Ok(())
    }
}

/// An SH1106 128x64: its RAM is 132 columns wide, the panel shows columns
/// 2..130; pages are sent one by one (page address, column address, data).
pub struct Sh1106<I> {
    bus: I,
    address: u8,
    canvas: Canvas<BinaryColor>,
    page: Vec<u8>,
}

impl<I: I2c> Sh1106<I> {
    /// Initialises the controller: display off, clock, multiplex 64,
    /// offset 0, start line 0, charge pump, segment remap, COM scan
    /// reversed, COM pins, contrast, pre-charge, VCOM, normal, on.
    pub fn new(bus: I, address: u8) -> Result<Self, String> {
        let mut s = Sh1106 {
            bus,
            address,
            canvas: Canvas::new(128, 64),
            page: Vec::with_capacity(129),
        };
        s.command(&[
            0xae, 0xd5, 0x80, 0xa8, 0x3f, 0xd3, 0x00, 0x40, 0xad, 0x8b, 0xa1, 0xc8, 0xda, 0x12,
            0x81, 0xcf, 0xd9, 0x1f, 0xdb, 0x40, 0xa4, 0xa6, 0xaf,
        ])?;
        Ok(s)
    }

    /// Sends commands (at most 31: the init sequence is the longest), the
    /// control byte first, from the stack (this runs at every redraw).
    fn command(&mut self, cmds: &[u8]) -> Result<(), String> {
        let mut b = [0u8; 32];
        let n = cmds.len().min(b.len() - 1);
        b[1..=n].copy_from_slice(&cmds[..n]);
        self.bus
            .write(self.address, &b[..=n])
            .map_err(|e| format!("{e:?}"))
    }

    /// Sends the canvas, page by page (8 rows a page, LSB at the top).
    pub fn flush(&mut self) -> Result<(), String> {
        for p in 0..8u8 {
            self.command(&[0xb0 | p, 0x02, 0x10])?;
            self.page.clear();
            self.page.push(0x40);
            let px = self.canvas.pixels();
            for x in 0..128usize {
                let mut byte = 0u8;
                for bit in 0..8usize {
                    if px[(usize::from(p) * 8 + bit) * 128 + x].is_on() {
                        byte |= 1 << bit;
                    }
                }
                self.page.push(byte);
            }
            self.bus
                .write(self.address, &self.page)
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
