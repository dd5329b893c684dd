//! The board's status LEDs as the indicator thread drives them: each role's
//! look from the core ([`livepush_core::indicate::led::look`]) goes to its
//! LED only when it changes; a blink the kernel cannot do is stepped here.
//! An LED that is missing or fails is logged once, dropped, and opened
//! again with back-off (1 s doubling to a minute); the others go on.

pub mod class;
pub mod gpio;

use std::time::{Duration, Instant};

use livepush_core::config::board::{Led, LedOut};
use livepush_core::indicate::led::{self, Look};
use livepush_core::indicate::View;

use class::ClassLed;
use gpio::GpioLed;

/// Who blinks an LED.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blinks {
    /// The kernel (a trigger), or it does not blink.
    Kernel,
    /// The indicator thread, through `set`.
    Software,
}

enum Driver {
    Class(ClassLed),
    Gpio(GpioLed),
}

impl Driver {
    fn open(out: &LedOut) -> Result<Driver, String> {
        Ok(match out {
            LedOut::Class(name) => Driver::Class(ClassLed::open(name)?),
            LedOut::Gpio(l) => Driver::Gpio(GpioLed::open(std::slice::from_ref(l))?),
            LedOut::Rgb(ls) => Driver::Gpio(GpioLed::open(ls)?),
        })
    }

    fn show(&mut self, look: Look) -> Result<Blinks, String> {
        match self {
            Driver::Class(l) => l.show(look),
            Driver::Gpio(l) => l.show(look),
        }
    }

    fn set(&mut self, lit: bool) -> Result<(), String> {
        match self {
            Driver::Class(l) => l.set(lit),
            Driver::Gpio(l) => l.set(lit),
        }
    }
}

/// Where an LED is, for messages.
pub fn describe(out: &LedOut) -> String {
    match out {
        LedOut::Class(name) => format!("{}/{name}", class::LEDS_DIR),
        LedOut::Gpio(l) => gpio::describe(l),
        LedOut::Rgb(ls) => ls
            .iter()
            .map(gpio::describe)
            .collect::<Vec<_>>()
            .join(" + "),
    }
}

struct Slot {
    spec: Led,
    driver: Option<Driver>,
    /// What it shows (None: to be applied).
    shown: Option<Look>,
    /// When the look was applied (a software pattern counts from it).
    since: Instant,
    software: bool,
    lit: bool,
    retry_at: Instant,
    failures: u32,
}

/// The board's LEDs.
pub struct Leds {
    slots: Vec<Slot>,
}

impl Leds {
    /// The LEDs of a board profile (opened at the first `show`).
    pub fn new(specs: &[Led], now: Instant) -> Self {
        Leds {
            slots: specs
                .iter()
                .map(|spec| Slot {
                    spec: spec.clone(),
                    driver: None,
                    shown: None,
                    since: now,
                    software: false,
                    lit: false,
                    retry_at: now,
                    failures: 0,
                })
                .collect(),
        }
    }

    /// How many LEDs the board has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Shows `v` (what changed), steps software blinks, retries failed
    /// LEDs whose time has come.
    pub fn show(&mut self, now: Instant, v: &View<'_>) {
        for s in &mut self.slots {
            let want = led::look(s.spec.role, v);
            if s.driver.is_none() {
                if now < s.retry_at {
                    continue;
                }
                match Driver::open(&s.spec.out) {
                    Ok(d) => {
                        if s.failures > 0 {
                            log::info!(
                                "LED {} ({}) is back",
                                s.spec.role.name(),
                                describe(&s.spec.out)
                            );
                        }
                        s.failures = 0;
                        s.driver = Some(d);
                        s.shown = None;
                    }
                    Err(e) => {
                        fail(s, now, e);
                        continue;
                    }
                }
            }
            let d = s.driver.as_mut().expect("opened");
            if s.shown != Some(want) {
                match d.show(want) {
                    Ok(b) => {
                        s.shown = Some(want);
                        s.since = now;
                        s.software = b == Blinks::Software;
                        s.lit = true;
                    }
                    Err(e) => {
                        fail(s, now, e);
                        continue;
                    }
                }
            }
            if s.software {
                let ms = now.duration_since(s.since).as_millis() as u64;
                let lit = want.pattern.lit_at(ms);
                if lit != s.lit {
                    match d.set(lit) {
                        Ok(()) => s.lit = lit,
                        Err(e) => fail(s, now, e),
                    }
                }
            }
        }
    }

    /// When `show` must run again without a change in the view: the next
    /// software blink step, or the next retry of a failed LED.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| {
                if s.driver.is_none() {
                    return Some(s.retry_at.max(now));
                }
                let look = s.shown?;
                if !s.software {
                    return None;
                }
                let ms = now.duration_since(s.since).as_millis() as u64;
                look.pattern
                    .next_change(ms)
                    .map(|at| s.since + Duration::from_millis(at))
            })
            .min()
    }
}

/// An LED failed: logged the first time, dropped, retried with back-off.
fn fail(s: &mut Slot, now: Instant, e: String) {
    if s.failures == 0 {
        log::warn!(
            "LED {}: {e}; streaming goes on without it (retrying)",
            s.spec.role.name()
        );
    }
    s.failures += 1;
    s.driver = None;
    s.shown = None;
    s.retry_at = now + super::retry_wait(s.failures);
}
