//! LEDs on GPIO lines through the GPIO character device (uAPI v2, the
//! `gpiocdev` crate; never the deprecated sysfs GPIO interface). One line,
//! or three for an RGB LED (each lit when its colour channel is half on or
//! more). Active-low is the kernel's: the line is requested with the flag,
//! so "lit" is always the active value. Every blink is stepped by the
//! indicator thread (a GPIO line has no trigger).

use std::path::PathBuf;

use gpiocdev::line::Value;
use gpiocdev::Request;
use livepush_core::config::board::{GpioLine, LineId};
use livepush_core::indicate::led::{Look, Pattern};

use super::Blinks;

/// One requested LED: its lines (one, or red, green, blue).
pub struct GpioLed {
    lines: Vec<(Request, u32)>,
    /// Which of the lines the colour lights.
    colour: [bool; 3],
    what: String,
}

/// The line for people: "gpiochip0 line 17 (active-low)".
pub fn describe(l: &GpioLine) -> String {
    let line = match &l.line {
        LineId::Offset(o) => format!("line {o}"),
        LineId::Name(n) => format!("line {n:?}"),
    };
    let low = if l.active_low { " (active-low)" } else { "" };
    format!("{} {line}{low}", l.chip)
}

/// The chip's device: a path as it is, "gpiochipN" under /dev, else the
/// chip whose label matches.
fn chip_path(chip: &str) -> Result<PathBuf, String> {
    if chip.starts_with('/') {
        return Ok(PathBuf::from(chip));
    }
    let dev = PathBuf::from("/dev").join(chip);
    if chip.starts_with("gpiochip") && dev.exists() {
        return Ok(dev);
    }
    let chips = gpiocdev::chip::chips().map_err(|e| format!("listing GPIO chips: {e}"))?;
    for p in chips {
        let label = gpiocdev::chip::Chip::from_path(&p)
            .and_then(|c| c.info())
            .map(|i| i.label);
        if label.as_deref() == Ok(chip) {
            return Ok(p);
        }
    }
    Err(format!("no GPIO chip named or labelled {chip:?}"))
}

/// One GPIO line as an embedded-hal output pin (a display's data/command
/// or reset line).
pub struct Pin {
    req: Request,
    offset: u32,
}

impl Pin {
    /// Requests the line as an output, inactive.
    pub fn open(l: &GpioLine) -> Result<Pin, String> {
        let (req, offset) = request(l)?;
        Ok(Pin { req, offset })
    }
}

impl embedded_hal::digital::ErrorType for Pin {
    type Error = embedded_hal::digital::ErrorKind;
}

impl embedded_hal::digital::OutputPin for Pin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.req
            .set_value(self.offset, Value::Inactive)
            .map_err(|_| embedded_hal::digital::ErrorKind::Other)
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.req
            .set_value(self.offset, Value::Active)
            .map_err(|_| embedded_hal::digital::ErrorKind::Other)
    }
}

fn request(l: &GpioLine) -> Result<(Request, u32), String> {
    let what = describe(l);
    let (path, offset) = match &l.line {
        LineId::Offset(o) => (chip_path(&l.chip)?, *o),
        LineId::Name(n) => {
            let chip = chip_path(&l.chip)?;
            let found = gpiocdev::find_named_line(n)
                .filter(|f| f.chip == chip)
                .ok_or_else(|| format!("{what}: no such line on {}", chip.display()))?;
            (chip, found.info.offset)
        }
    };
    let mut b = Request::builder();
    b.on_chip(&path)
        .with_consumer("livepush")
        .with_line(offset)
        .as_output(Value::Inactive);
    if l.active_low {
        b.as_active_low();
    }
    let req = b.request().map_err(|e| format!("{what}: {e}"))?;
    Ok((req, offset))
}

impl GpioLed {
    /// Requests the lines as outputs, dark.
    pub fn open(lines: &[GpioLine]) -> Result<Self, String> {
        let mut out = Vec::new();
        for l in lines {
            out.push(request(l)?);
        }
        Ok(GpioLed {
            lines: out,
            colour: [true; 3],
            what: lines.iter().map(describe).collect::<Vec<_>>().join(" + "),
        })
    }

    /// Shows `look`: steady ones at once, blinks by the caller.
    pub fn show(&mut self, look: Look) -> Result<Blinks, String> {
        let c = look.color;
        self.colour = [c.0 >= 128, c.1 >= 128, c.2 >= 128];
        match look.pattern {
            Pattern::Off => self.set(false)?,
            _ => self.set(true)?,
        }
        Ok(match look.pattern {
            Pattern::Off | Pattern::On => Blinks::Kernel,
            _ => Blinks::Software,
        })
    }

    /// Lights (in its colour) or darkens it.
    pub fn set(&mut self, lit: bool) -> Result<(), String> {
        let rgb = self.lines.len() == 3;
        for (i, (req, offset)) in self.lines.iter().enumerate() {
            let on = lit && (!rgb || self.colour[i]);
            let v = if on { Value::Active } else { Value::Inactive };
            req.set_value(*offset, v)
                .map_err(|e| format!("{}: {e}", self.what))?;
        }
        Ok(())
    }
}
