//! Board profiles (`boards/*.toml`): hardware facts only — the capture
//! devices, the ordered encoder chain (always ending in software), the status
//! LEDs and the display. Parsed with the same positioned errors as the config
//! ([`super::parse_board`]).

use crate::encoder::Backend;

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
    /// Status LEDs: (role, LED class name under /sys/class/leds).
    pub leds: Vec<(String, String)>,
    /// The small status display, if any.
    pub display: Option<Display>,
}

/// A status display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Display {
    /// Controller ("ssd1306").
    pub kind: String,
    /// I2C bus device ("/dev/i2c-1").
    pub i2c: String,
    /// 7-bit I2C address.
    pub address: u8,
}

/// LED roles a profile may name.
pub const LED_ROLES: [&str; 3] = ["power", "live", "fault"];
