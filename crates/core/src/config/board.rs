//! Board profiles (`boards/*.toml`): hardware facts only — the capture
//! devices, the ordered encoder chain (always ending in software), the status
//! LEDs and the display — and their parser, with the same positioned errors
//! as the config.
//!
//! ```toml
//! [leds]
//! power = "PWR"                                     # /sys/class/leds/PWR
//! net = { gpio = "gpiochip0", line = 17, active-low = true }
//! status = "multicolor:status"                      # an RGB LED-class LED
//! # or: status = { red = { gpio = "gpiochip0", line = 5 }, green = ..., blue = ... }
//!
//! [display]
//! kind = "ssd1306"          # ssd1306, sh1106 (I2C); st7789, ili9341 (SPI); fbdev
//! i2c = "/dev/i2c-1"
//! address = 0x3c
//! width = 128               # 128x64 (default) or 128x32
//! height = 64
//! ```

use std::borrow::Cow;

use toml::de::DeValue;

use super::parse::{begin, encoder_chain};
use super::walker::{ConfigError, Cx, Section};
use crate::encoder::Backend;
use crate::indicate::led::Role;

/// One board profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board {
    /// Human name ("Raspberry Pi 4 Model B").
    pub name: String,
    /// Rust target architecture the box runs ("aarch64", "x86_64").
    pub arch: String,
    /// The encoder chain, in order, software last.
    pub encoders: Vec<Backend>,
    /// Default camera (`[video] device` overrides it).
    pub camera: Option<String>,
    /// Default microphone (`[audio] device` overrides it).
    pub microphone: Option<String>,
    /// The V4L2 M2M encoder node, when the SoC has one at a fixed place.
    pub m2m_encoder: Option<String>,
    /// Status LEDs, at most one per role.
    pub leds: Vec<Led>,
    /// The small status display, if any.
    pub display: Option<Display>,
    /// `[leds] torch`: a light the `toggle-torch` command switches when
    /// the camera has no flash control of its own.
    pub torch: Option<LedOut>,
}

/// One GPIO line: a chip (a path like "/dev/gpiochip0", a chip name like
/// "gpiochip0", or the chip's label) and a line on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpioLine {
    /// The chip.
    pub chip: String,
    /// The line.
    pub line: LineId,
    /// Lit (or asserted) when the line is low.
    pub active_low: bool,
}

/// A line by offset or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineId {
    /// Offset on the chip.
    Offset(u32),
    /// Line name ("GPIO17").
    Name(String),
}

/// Where an LED is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedOut {
    /// A Linux LED class device: `/sys/class/leds/NAME` (multicolour ones
    /// through `multi_intensity`).
    Class(String),
    /// One GPIO line.
    Gpio(GpioLine),
    /// Red, green and blue GPIO lines (the status role only).
    Rgb([GpioLine; 3]),
}

/// One status LED.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Led {
    /// What it shows.
    pub role: Role,
    /// Where it is.
    pub out: LedOut,
}

/// A display controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayKind {
    /// SSD1306 OLED over I2C (monochrome).
    Ssd1306,
    /// SH1106 OLED over I2C (monochrome).
    Sh1106,
    /// ST7789 TFT over SPI (colour).
    St7789,
    /// ILI9341 TFT over SPI (colour).
    Ili9341,
    /// A Linux framebuffer (`/dev/fbN`): HDMI console, fbtft, DRM panels
    /// with fbdev emulation, a kernel-driven SSD1306.
    Fbdev,
}

impl DisplayKind {
    /// The profile's name.
    pub const fn name(self) -> &'static str {
        match self {
            DisplayKind::Ssd1306 => "ssd1306",
            DisplayKind::Sh1106 => "sh1106",
            DisplayKind::St7789 => "st7789",
            DisplayKind::Ili9341 => "ili9341",
            DisplayKind::Fbdev => "fbdev",
        }
    }
}

/// How the display is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisplayBus {
    /// I2C bus device and 7-bit address.
    I2c {
        /// "/dev/i2c-1".
        dev: String,
        /// 0x3c.
        address: u8,
    },
    /// SPI device and its data/command and reset lines.
    Spi {
        /// "/dev/spidev0.0".
        dev: String,
        /// Data/command select.
        dc: GpioLine,
        /// Reset, if wired.
        reset: Option<GpioLine>,
    },
    /// A framebuffer device.
    Fb {
        /// "/dev/fb0".
        dev: String,
    },
}

/// A status display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Display {
    /// The controller.
    pub kind: DisplayKind,
    /// How it is reached.
    pub bus: DisplayBus,
    /// Pixels (for a framebuffer: its own size is used).
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// The `[leds]` keys' prefixes for nested tables.
fn led_prefix(role: Role) -> &'static str {
    match role {
        Role::Power => "leds.power.",
        Role::Live => "leds.live.",
        Role::Net => "leds.net.",
        Role::Error => "leds.error.",
        Role::Status => "leds.status.",
    }
}

/// A GPIO line table (`{ gpio = "gpiochip0", line = 17, active-low = true }`).
fn gpio_line(cx: &mut Cx<'_>, mut sec: Section<'_, '_>, at: usize) -> Option<GpioLine> {
    let chip = sec.string(cx, "gpio");
    let line = match sec.take("line") {
        None => None,
        Some(v) => match v.get_ref() {
            DeValue::Integer(i) => match u32::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if n < 1024 => Some(LineId::Offset(n)),
                _ => {
                    cx.error(
                        &sec.key("line"),
                        v.span().start,
                        format!("must be a line offset 0..1023, got {}", i.as_str()),
                    );
                    None
                }
            },
            DeValue::String(s) if !s.is_empty() => Some(LineId::Name(s.to_string())),
            _ => {
                sec.wrong_type(cx, "line", v, "a line offset or a line name");
                None
            }
        },
    };
    let active_low = sec.boolean(cx, "active-low").is_some_and(|(b, _)| b);
    let key = sec.prefix.trim_end_matches('.').to_string();
    sec.finish(cx);
    match (chip, line) {
        (Some((chip, _)), Some(line)) => Some(GpioLine {
            chip,
            line,
            active_low,
        }),
        _ => {
            cx.error(&key, at, "needs gpio (the chip) and line".into());
            None
        }
    }
}

/// A nested table `key` of `sec` as a GPIO line.
fn gpio_at(cx: &mut Cx<'_>, sec: &mut Section<'_, '_>, key: &str) -> Option<GpioLine> {
    let (t, at) = sec.table(cx, key)?;
    let prefix = format!("{}{key}.", sec.prefix);
    gpio_line(cx, Section::named(Cow::Owned(prefix), t), at)
}

fn leds(cx: &mut Cx<'_>, mut sec: Section<'_, '_>) -> (Vec<Led>, Option<LedOut>) {
    let torch = if sec.has_table("torch") {
        let (t, at) = sec.table(cx, "torch").expect("checked");
        gpio_line(cx, Section::named(Cow::Borrowed("leds.torch."), t), at).map(LedOut::Gpio)
    } else {
        sec.string(cx, "torch").and_then(|(name, at)| {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                cx.error(
                    "leds.torch",
                    at,
                    format!("must be an LED name under /sys/class/leds, got {name:?}"),
                );
                None
            } else {
                Some(LedOut::Class(name))
            }
        })
    };
    let mut out = Vec::new();
    for role in Role::ALL {
        let key = role.name();
        let led = if sec.has_table(key) {
            let (t, at) = sec.table(cx, key).expect("checked");
            let mut inner = Section::named(Cow::Borrowed(led_prefix(role)), t);
            if role == Role::Status && inner.has_table("red") {
                let rgb = ["red", "green", "blue"].map(|c| gpio_at(cx, &mut inner, c));
                inner.finish(cx);
                if let [Some(r), Some(g), Some(b)] = rgb {
                    Some(LedOut::Rgb([r, g, b]))
                } else {
                    cx.error("leds.status", at, "needs red, green and blue".into());
                    None
                }
            } else {
                gpio_line(cx, inner, at).map(LedOut::Gpio)
            }
        } else {
            sec.string(cx, key).and_then(|(name, at)| {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    cx.error(
                        &sec.key(key),
                        at,
                        format!("must be an LED name under /sys/class/leds, got {name:?}"),
                    );
                    None
                } else {
                    Some(LedOut::Class(name))
                }
            })
        };
        if let Some(out_) = led {
            out.push(Led { role, out: out_ });
        }
    }
    sec.finish(cx);
    (out, torch)
}

fn display(cx: &mut Cx<'_>, mut sec: Section<'_, '_>, at: usize) -> Option<Display> {
    use DisplayKind as K;
    let kind = sec.choice(
        cx,
        "kind",
        &[
            ("ssd1306", K::Ssd1306),
            ("sh1106", K::Sh1106),
            ("st7789", K::St7789),
            ("ili9341", K::Ili9341),
            ("fbdev", K::Fbdev),
        ],
    );
    let (dw, dh) = match kind {
        Some(K::St7789) => (240, 240),
        Some(K::Ili9341) => (320, 240),
        _ => (128, 64),
    };
    let width = sec.int(cx, "width", 64, 4096).map_or(dw, |(w, _)| w as u32);
    let height = sec
        .int(cx, "height", 32, 4096)
        .map_or(dh, |(h, _)| h as u32);
    let bus = match kind? {
        K::Ssd1306 | K::Sh1106 => {
            let i2c = sec.string(cx, "i2c");
            let address = sec.int(cx, "address", 0x03, 0x77);
            match (i2c, address) {
                (Some((dev, _)), Some((a, _))) => Some(DisplayBus::I2c {
                    dev,
                    address: a as u8,
                }),
                _ => {
                    cx.error("display", at, "an I2C display needs i2c and address".into());
                    None
                }
            }
        }
        K::St7789 | K::Ili9341 => {
            let spi = sec.string(cx, "spi");
            let dc = gpio_at(cx, &mut sec, "dc");
            let reset = gpio_at(cx, &mut sec, "reset");
            match (spi, dc) {
                (Some((dev, _)), Some(dc)) => Some(DisplayBus::Spi { dev, dc, reset }),
                _ => {
                    cx.error("display", at, "an SPI display needs spi and dc".into());
                    None
                }
            }
        }
        K::Fbdev => match sec.string(cx, "device") {
            Some((dev, _)) => Some(DisplayBus::Fb { dev }),
            None => {
                cx.error("display", at, "a framebuffer display needs device".into());
                None
            }
        },
    };
    if matches!(kind, Some(K::Ssd1306 | K::Sh1106))
        && !((width, height) == (128, 64) || (width, height) == (128, 32))
    {
        cx.error(
            "display",
            at,
            format!("an OLED is 128x64 or 128x32, got {width}x{height}"),
        );
    }
    sec.finish(cx);
    Some(Display {
        kind: kind?,
        bus: bus?,
        width,
        height,
    })
}

/// Parses a board profile (`boards/NAME.toml`): every error, positioned.
pub fn parse_board(text: &str) -> Result<Board, Vec<ConfigError>> {
    let (mut cx, root) = begin(text)?;
    let root_span = root.span();
    let root = root.into_inner();
    let mut top = Section::new("", &root, root_span.start);
    let name = top.string(&mut cx, "name");
    if name.is_none() {
        cx.error("name", 0, "missing: the board's name".into());
    }
    let arch = top.string(&mut cx, "arch");
    match &arch {
        Some((a, _)) if a == "aarch64" || a == "x86_64" => {}
        Some((a, at)) => cx.error(
            "arch",
            *at,
            format!("must be \"aarch64\" or \"x86_64\", got {a:?}"),
        ),
        None => cx.error("arch", 0, "missing: \"aarch64\" or \"x86_64\"".into()),
    }
    let encoders = match top.strings(&mut cx, "encoders") {
        Some(list) => encoder_chain(&mut cx, "encoders", &list),
        None => {
            cx.error(
                "encoders",
                0,
                "missing: the encoder chain, software last".into(),
            );
            None
        }
    };
    let (mut camera, mut microphone, mut m2m_encoder) = (None, None, None);
    if let Some((t, at)) = top.table(&mut cx, "devices") {
        let mut sec = Section::new("devices.", t, at);
        camera = sec.string(&mut cx, "camera").map(|(v, _)| v);
        microphone = sec.string(&mut cx, "microphone").map(|(v, _)| v);
        m2m_encoder = sec.string(&mut cx, "m2m-encoder").map(|(v, _)| v);
        sec.finish(&mut cx);
    }
    let (leds, torch) = match top.table(&mut cx, "leds") {
        Some((t, at)) => leds(&mut cx, Section::new("leds.", t, at)),
        None => (Vec::new(), None),
    };
    let display = match top.table(&mut cx, "display") {
        Some((t, at)) => display(&mut cx, Section::new("display.", t, at), at),
        None => None,
    };
    top.finish(&mut cx);
    if !cx.errors.is_empty() {
        return Err(cx.into_errors());
    }
    Ok(Board {
        name: name.map(|(v, _)| v).unwrap_or_default(),
        arch: arch.map(|(v, _)| v).unwrap_or_default(),
        encoders: encoders.unwrap_or_default(),
        camera,
        microphone,
        m2m_encoder,
        leds,
        display,
        torch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse_board(text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    const HEAD: &str = "name = \"X\"\narch = \"aarch64\"\nencoders = [\"software\"]\n";

    #[test]
    fn leds_by_class_name_gpio_line_and_rgb_lines() {
        let b = parse_board(&format!(
            "{HEAD}[leds]\npower = \"PWR\"\nnet = {{ gpio = \"gpiochip0\", line = 17, active-low = true }}\nerror = {{ gpio = \"/dev/gpiochip1\", line = \"LED_ERR\" }}\nstatus = {{ red = {{ gpio = \"c\", line = 1 }}, green = {{ gpio = \"c\", line = 2 }}, blue = {{ gpio = \"c\", line = 3 }} }}\n"
        ))
        .unwrap();
        let line = |chip: &str, line: LineId, active_low| GpioLine {
            chip: chip.into(),
            line,
            active_low,
        };
        assert_eq!(
            b.leds,
            vec![
                Led {
                    role: Role::Power,
                    out: LedOut::Class("PWR".into())
                },
                Led {
                    role: Role::Net,
                    out: LedOut::Gpio(line("gpiochip0", LineId::Offset(17), true))
                },
                Led {
                    role: Role::Error,
                    out: LedOut::Gpio(line(
                        "/dev/gpiochip1",
                        LineId::Name("LED_ERR".into()),
                        false
                    ))
                },
                Led {
                    role: Role::Status,
                    out: LedOut::Rgb([
                        line("c", LineId::Offset(1), false),
                        line("c", LineId::Offset(2), false),
                        line("c", LineId::Offset(3), false),
                    ])
                },
            ]
        );
    }

    #[test]
    fn led_and_display_errors_are_positioned() {
        assert_eq!(
            errors(&format!(
                "{HEAD}[leds]\nfault = \"x\"\nlive = \"../x\"\nnet = {{ gpio = \"c\", line = 5000, colour = 1 }}\nstatus = {{ red = {{ gpio = \"c\", line = 1 }} }}\n"
            )),
            vec![
                "line 5, column 1: key `leds.fault`: unknown key",
                "line 6, column 8: key `leds.live`: must be an LED name under /sys/class/leds, got \"../x\"",
                "line 7, column 7: key `leds.net`: needs gpio (the chip) and line",
                "line 7, column 28: key `leds.net.line`: must be a line offset 0..1023, got 5000",
                "line 7, column 34: key `leds.net.colour`: unknown key",
                "line 8, column 10: key `leds.status`: needs red, green and blue",
            ]
        );
        assert_eq!(
            errors(&format!(
                "{HEAD}[display]\nkind = \"ssd1306\"\ni2c = \"/dev/i2c-1\"\naddress = 0x3c\nheight = 48\n"
            )),
            vec!["line 4, column 1: key `display`: an OLED is 128x64 or 128x32, got 128x48"]
        );
        assert_eq!(
            errors(&format!(
                "{HEAD}[display]\nkind = \"st7789\"\nspi = \"/dev/spidev0.0\"\n"
            )),
            vec!["line 4, column 1: key `display`: an SPI display needs spi and dc"]
        );
    }

    #[test]
    fn displays_on_i2c_spi_and_framebuffer() {
        let b = parse_board(&format!(
            "{HEAD}[display]\nkind = \"sh1106\"\ni2c = \"/dev/i2c-1\"\naddress = 0x3c\nheight = 32\n"
        ))
        .unwrap();
        let d = b.display.unwrap();
        assert_eq!((d.kind, d.width, d.height), (DisplayKind::Sh1106, 128, 32));
        assert_eq!(
            d.bus,
            DisplayBus::I2c {
                dev: "/dev/i2c-1".into(),
                address: 0x3c
            }
        );
        let b = parse_board(&format!(
            "{HEAD}[display]\nkind = \"ili9341\"\nspi = \"/dev/spidev0.0\"\ndc = {{ gpio = \"gpiochip0\", line = 25 }}\n"
        ))
        .unwrap();
        let d = b.display.unwrap();
        assert_eq!((d.width, d.height), (320, 240));
        assert!(matches!(d.bus, DisplayBus::Spi { reset: None, .. }));
        let b = parse_board(&format!(
            "{HEAD}[display]\nkind = \"fbdev\"\ndevice = \"/dev/fb0\"\n"
        ))
        .unwrap();
        assert_eq!(
            b.display.unwrap().bus,
            DisplayBus::Fb {
                dev: "/dev/fb0".into()
            }
        );
    }

    #[test]
    fn board_errors_are_positioned() {
        assert_eq!(
            errors("name = \"X\"\narch = \"mips\"\nencoders = [\"vaapi\"]\n[leds]\nblink = \"x\"\n"),
            vec![
                "line 2, column 8: key `arch`: must be \"aarch64\" or \"x86_64\", got \"mips\"",
                "line 3, column 13: key `encoders`: must end with \"software\" (the encoder that is always there)",
                "line 5, column 1: key `leds.blink`: unknown key",
            ]
        );
    }
}
