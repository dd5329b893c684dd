//! What the OLED drivers write on the bus, recorded and decoded by a small
//! independent model of the controllers' RAM (commands with their argument
//! counts, horizontal and page addressing), must be the golden image of the
//! phase drawn (the core's `draw_mono` of the sample view).

use embedded_graphics::prelude::*;
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};
use livepush_core::indicate::draw::Frame;
use livepush_core::indicate::sample::{render_mono, view_and_lines};
use livepush_core::indicate::Phase;

use super::*;
use crate::indicate::display::Screen;

/// An I2C bus that records every write (address, bytes); `fail_after`
/// writes succeed, then every one fails.
#[derive(Default)]
struct Recorder {
    writes: Vec<(u8, Vec<u8>)>,
    fail_after: Option<usize>,
}

impl ErrorType for Recorder {
    type Error = ErrorKind;
}

impl I2c for Recorder {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        for op in ops {
            match op {
                Operation::Write(b) => {
                    if self.fail_after.is_some_and(|n| self.writes.len() >= n) {
                        return Err(ErrorKind::NoAcknowledge(
                            embedded_hal::i2c::NoAcknowledgeSource::Address,
                        ));
                    }
                    self.writes.push((address, b.to_vec()));
                }
                Operation::Read(_) => return Err(ErrorKind::Other),
            }
        }
        Ok(())
    }
}

/// Arguments each command takes (SSD1306 and SH1106 data sheets).
fn args(cmd: u8) -> usize {
    match cmd {
        0x20 | 0x81 | 0x8d | 0xa8 | 0xd3 | 0xd5 | 0xd9 | 0xda | 0xdb | 0xad => 1,
        0x21 | 0x22 | 0xa3 => 2,
        0x29 | 0x2a => 5,
        0x26 | 0x27 => 6,
        _ => 0,
    }
}

/// The controller's RAM as written: `cols` columns by 8 pages.
struct Ram {
    cols: usize,
    pages: usize,
    mem: Vec<u8>,
    horizontal: bool,
    col: (usize, usize),
    page: (usize, usize),
    at: (usize, usize),
}

impl Ram {
    fn new(cols: usize, pages: usize) -> Ram {
        Ram {
            cols,
            pages,
            mem: vec![0; cols * pages],
            horizontal: false,
            col: (0, cols - 1),
            page: (0, pages - 1),
            at: (0, 0),
        }
    }

    fn command(&mut self, c: &[u8]) {
        match c[0] {
            0x20 => self.horizontal = c[1] == 0,
            0x21 => {
                self.col = (c[1] as usize, c[2] as usize);
                self.at.0 = self.col.0;
            }
            0x22 => {
                self.page = (c[1] as usize, c[2] as usize);
                self.at.1 = self.page.0;
            }
            0x00..=0x0f => self.at.0 = (self.at.0 & 0xf0) | (c[0] & 0x0f) as usize,
            0x10..=0x1f => self.at.0 = (self.at.0 & 0x0f) | (((c[0] & 0x0f) as usize) << 4),
            0xb0..=0xb7 => self.at.1 = (c[0] & 0x07) as usize,
            _ => {}
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        for b in bytes {
            let (x, p) = self.at;
            assert!(
                x < self.cols && p < self.pages,
                "write outside RAM at {x},{p}"
            );
            self.mem[p * self.cols + x] = *b;
            if self.horizontal {
                if x == self.col.1 {
                    self.at.0 = self.col.0;
                    self.at.1 = if p == self.page.1 { self.page.0 } else { p + 1 };
                } else {
                    self.at.0 += 1;
                }
            } else {
                self.at.0 = (x + 1).min(self.cols - 1);
            }
        }
    }

    /// Replays a recorded byte stream: each write is a control byte (0x00
    /// commands, 0x40 data) and its payload.
    fn replay(&mut self, writes: &[(u8, Vec<u8>)], address: u8) {
        for (a, w) in writes {
            assert_eq!(*a, address);
            match w[0] {
                0x00 => {
                    let mut i = 1;
                    while i < w.len() {
                        let n = 1 + args(w[i]);
                        self.command(&w[i..i + n]);
                        i += n;
                    }
                }
                0x40 => self.data(&w[1..]),
                c => panic!("control byte {c:#04x}"),
            }
        }
    }

    /// Pixels (x, y) of the visible window starting at column `x0`.
    fn image(&self, x0: usize, w: usize, h: usize) -> Vec<bool> {
        let mut v = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                v.push(self.mem[(y / 8) * self.cols + x0 + x] >> (y % 8) & 1 == 1);
            }
        }
        v
    }
}

fn golden(phase: Phase, h: u32) -> Vec<bool> {
    render_mono(phase, 128, h)
        .pixels()
        .iter()
        .map(|p| p.is_on())
        .collect()
}

fn drive(kind: DisplayKind, h: u32, phase: Phase) -> (Recorder, usize) {
    let mut o = Oled::new(Recorder::default(), kind, 0x3c, h, "test".into()).unwrap();
    let (v, lines) = view_and_lines(phase);
    o.render(&Frame {
        view: &v,
        lines: &lines,
        page: 0,
        shift: Point::zero(),
    });
    o.flush().unwrap();
    let r = o.release();
    let n = r.writes.len();
    (r, n)
}

#[test]
fn what_the_ssd1306_driver_writes_decodes_to_the_golden_image() {
    for (h, pages) in [(64u32, 8usize), (32, 4)] {
        for phase in [Phase::Live, Phase::Reconnecting, Phase::BadConfig] {
            let (r, _) = drive(DisplayKind::Ssd1306, h, phase);
            let mut ram = Ram::new(128, pages);
            ram.replay(&r.writes, 0x3c);
            assert!(
                ram.image(0, 128, h as usize) == golden(phase, h),
                "128x{h} {phase:?}: the bus carried another picture"
            );
        }
    }
}

#[test]
fn what_the_sh1106_driver_writes_decodes_to_the_golden_image_from_column_2() {
    let (r, _) = drive(DisplayKind::Sh1106, 64, Phase::NoCamera);
    let mut ram = Ram::new(132, 8);
    ram.replay(&r.writes, 0x3c);
    assert!(ram.image(2, 128, 64) == golden(Phase::NoCamera, 64));
    // the two columns outside the panel stay untouched
    assert!(ram.image(0, 2, 64).iter().all(|p| !p));
}

#[test]
fn a_bus_that_fails_is_an_error_naming_the_display() {
    let bus = Recorder {
        fail_after: Some(3),
        ..Recorder::default()
    };
    let mut o = Oled::new(
        bus,
        DisplayKind::Sh1106,
        0x3c,
        64,
        "sh1106 on /dev/i2c-9 at 0x3c".into(),
    )
    .unwrap();
    let e = o.flush().unwrap_err();
    assert!(e.starts_with("sh1106 on /dev/i2c-9 at 0x3c: "), "{e}");
}
