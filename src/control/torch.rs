//! `toggle-torch`: the camera's own flash LED in torch mode
//! (V4L2_CID_FLASH_LED_MODE, switched by the video thread, which holds the
//! camera) where it has one; else the board profile's `[leds] torch` (an
//! LED class device or a GPIO line), switched here on a blocking thread;
//! else a clear error: the box has neither.

use std::sync::Mutex;

use livepush_core::config::board::LedOut;

use crate::indicate::leds::class::ClassLed;
use crate::indicate::leds::gpio::GpioLed;

/// The board's torch, opened at its first use.
pub struct BoardTorch {
    out: Option<LedOut>,
    state: Mutex<(Option<Device>, bool)>,
}

enum Device {
    Class(ClassLed),
    Gpio(GpioLed),
}

impl BoardTorch {
    /// The board profile's torch (None: it names none).
    pub fn new(out: Option<LedOut>) -> BoardTorch {
        BoardTorch {
            out,
            state: Mutex::new((None, false)),
        }
    }

    /// Whether the board names a torch.
    pub fn present(&self) -> bool {
        self.out.is_some()
    }

    /// What it is, for answers and logs.
    pub fn describe(&self) -> String {
        self.out
            .as_ref()
            .map(crate::indicate::leds::describe)
            .unwrap_or_default()
    }

    /// Toggles it (blocking: call off the loop). Returns whether it is on.
    pub fn toggle(&self) -> Result<bool, String> {
        let Some(out) = &self.out else {
            return Err("no torch".into());
        };
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.0.is_none() {
            st.0 = Some(match out {
                LedOut::Class(name) => Device::Class(ClassLed::open(name)?),
                LedOut::Gpio(l) => Device::Gpio(GpioLed::open(std::slice::from_ref(l))?),
                LedOut::Rgb(lines) => Device::Gpio(GpioLed::open(lines)?),
            });
        }
        let on = !st.1;
        match st.0.as_mut() {
            Some(Device::Class(l)) => l.set(on)?,
            Some(Device::Gpio(l)) => l.set(on)?,
            None => unreachable!("opened above"),
        }
        st.1 = on;
        Ok(on)
    }
}
