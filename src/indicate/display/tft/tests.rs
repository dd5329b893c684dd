//! What the TFT driver sends, recorded (the data/command pin's level with
//! every SPI write) and decoded by a small model of a MIPI DCS panel's
//! memory (CASET/RASET set the window, RAMWR starts RGB565 big-endian
//! pixels row by row), must be the layout drawn for the phase: the golden
//! image at 240x240 for the ST7789, the colour layout at 320x240 for the
//! ILI9341 in landscape.

use std::sync::{Arc, Mutex};

use embedded_graphics::prelude::*;
use embedded_hal::digital::{ErrorKind as PinError, ErrorType as PinErrorType};
use embedded_hal::spi::{ErrorKind, ErrorType, Operation};
use livepush_core::indicate::sample::{render_color, view_and_lines};
use livepush_core::indicate::Phase;

use super::*;
use crate::indicate::display::Screen;

/// (data/command pin high, bytes) for every SPI write.
type Log = Arc<Mutex<Vec<(bool, Vec<u8>)>>>;

struct Bus {
    log: Log,
    dc: Arc<Mutex<bool>>,
}

impl ErrorType for Bus {
    type Error = ErrorKind;
}

impl SpiDevice for Bus {
    fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), ErrorKind> {
        for op in ops {
            match op {
                Operation::Write(b) => {
                    let dc = *self.dc.lock().unwrap();
                    self.log.lock().unwrap().push((dc, b.to_vec()))
                }
                Operation::DelayNs(_) => {}
                _ => return Err(ErrorKind::Other),
            }
        }
        Ok(())
    }
}

struct Dc(Arc<Mutex<bool>>);

impl PinErrorType for Dc {
    type Error = PinError;
}

impl OutputPin for Dc {
    fn set_low(&mut self) -> Result<(), PinError> {
        *self.0.lock().unwrap() = false;
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), PinError> {
        *self.0.lock().unwrap() = true;
        Ok(())
    }
}

/// Replays the log into a `w` x `h` RGB565 memory (the logical window).
fn decode(log: &[(bool, Vec<u8>)], w: usize, h: usize) -> Vec<u16> {
    let mut mem = vec![0u16; w * h];
    let (mut cols, mut rows) = ((0usize, w - 1), (0usize, h - 1));
    let mut cmd = 0u8;
    let mut args: Vec<u8> = Vec::new();
    let mut at = (0usize, 0usize);
    let mut half: Option<u8> = None;
    for (data, bytes) in log {
        if !data {
            assert_eq!(bytes.len(), 1, "a command is one byte");
            cmd = bytes[0];
            args.clear();
            if cmd == 0x2c {
                at = (cols.0, rows.0);
                half = None;
            }
            continue;
        }
        match cmd {
            0x2a | 0x2b => {
                args.extend_from_slice(bytes);
                if args.len() >= 4 {
                    let s = usize::from(u16::from_be_bytes([args[0], args[1]]));
                    let e = usize::from(u16::from_be_bytes([args[2], args[3]]));
                    if cmd == 0x2a {
                        cols = (s, e);
                    } else {
                        rows = (s, e);
                    }
                }
            }
            0x2c => {
                for b in bytes {
                    let Some(hi) = half.take() else {
                        half = Some(*b);
                        continue;
                    };
                    let (x, y) = at;
                    assert!(x < w && y < h, "pixel outside the panel at {x},{y}");
                    mem[y * w + x] = u16::from_be_bytes([hi, *b]);
                    at = if x == cols.1 {
                        (cols.0, y + 1)
                    } else {
                        (x + 1, y)
                    };
                }
            }
            _ => {}
        }
    }
    mem
}

fn drawn(phase: Phase, w: u32, h: u32) -> Vec<u16> {
    render_color(phase, w, h)
        .pixels()
        .iter()
        .map(|p| embedded_graphics::pixelcolor::raw::RawU16::from(*p).into_inner())
        .collect()
}

fn drive(kind: DisplayKind, phase: Phase) -> Vec<(bool, Vec<u8>)> {
    let log: Log = Arc::default();
    let level = Arc::new(Mutex::new(true));
    let bus = Bus {
        log: log.clone(),
        dc: level.clone(),
    };
    let mut t = Tft::new(bus, Dc(level), None::<Dc>, kind, "test".into()).unwrap();
    let (v, lines) = view_and_lines(phase);
    let start = log.lock().unwrap().len();
    t.render(&Frame {
        view: &v,
        lines: &lines,
        page: 0,
        shift: Point::zero(),
    });
    t.flush().unwrap();
    drop(t.release());
    let all = log.lock().unwrap().clone();
    all[start..].to_vec()
}

#[test]
fn the_st7789_receives_the_golden_screen() {
    for phase in [Phase::Live, Phase::NoCamera] {
        let sent = drive(DisplayKind::St7789, phase);
        assert!(
            decode(&sent, 240, 240) == drawn(phase, 240, 240),
            "{phase:?}"
        );
        // and it is the golden image's layout: the same function drew both
        assert!(sent.iter().any(|(d, b)| !d && b == &[0x2c]), "RAMWR sent");
    }
}

#[test]
fn the_ili9341_receives_the_landscape_screen() {
    let sent = drive(DisplayKind::Ili9341, Phase::Reconnecting);
    assert!(decode(&sent, 320, 240) == drawn(Phase::Reconnecting, 320, 240));
}
