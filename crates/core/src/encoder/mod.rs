//! Video encoder backends as the core sees them: their names, the chain that
//! orders them and decides restarts and fall-backs ([`chain`]), and the check
//! that a backend really produces the key-frame interval it was asked for
//! ([`gop_check`]), and the matcher that takes an encoder's overshoot off
//! what it is asked for ([`rate_match`]). The backends themselves live in the shell (`src/hw/`).

pub mod chain;
pub mod error;
pub mod gop_check;
pub mod interface;
pub mod ipp;
pub mod rate_match;
pub mod runner;
pub mod settings;

use core::fmt;

/// An H.264 encoder backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// V4L2 memory-to-memory stateful encoder (Raspberry Pi 4 and other SoCs).
    V4l2M2m,
    /// VAAPI (Intel/AMD).
    Vaapi,
    /// Rockchip MPP, loaded at run time.
    Mpp,
    /// The software encoder (OpenH264, or x264 where built and chosen).
    Software,
}

impl Backend {
    /// Every backend, in the default order.
    pub const ALL: [Backend; 4] = [
        Backend::V4l2M2m,
        Backend::Vaapi,
        Backend::Mpp,
        Backend::Software,
    ];

    /// The name used in config and board files.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::V4l2M2m => "v4l2-m2m",
            Backend::Vaapi => "vaapi",
            Backend::Mpp => "mpp",
            Backend::Software => "software",
        }
    }

    /// Parses a config/board name.
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s)
    }

    /// Whether this is a hardware backend.
    pub const fn is_hardware(self) -> bool {
        !matches!(self, Backend::Software)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
