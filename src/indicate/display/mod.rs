//! The status display as the indicator thread drives it: the layout for
//! its size from the core ([`livepush_core::indicate::draw`]), drawn into
//! the driver's buffer only when the content changed, sent at most every
//! [`REDRAW_MIN`]; on a small screen the one line pages every
//! [`PAGE_EVERY`]; everything moves by a pixel every [`SHIFT_EVERY`] and the
//! screen dims after `dim_after` without a change (OLED burn-in). A display
//! that fails or vanishes is logged once, dropped and opened again with
//! back-off; streaming never waits for it.

pub mod address;
pub mod fb;
pub mod oled;
pub mod tft;

use std::time::{Duration, Instant};

use embedded_graphics::prelude::Point;
use livepush_core::config::board::{self, DisplayBus, DisplayKind};
use livepush_core::indicate::draw::Frame;
use livepush_core::indicate::screen::{Context, Lines};
use livepush_core::indicate::{Phase, View};

/// Redraws at most this often.
pub const REDRAW_MIN: Duration = Duration::from_millis(250);
/// The one line of a 128x32 screen changes this often.
pub const PAGE_EVERY: Duration = Duration::from_secs(4);
/// The figures, uptime and level bar are looked at this often (they
/// change without ringing the thread).
pub const REFRESH: Duration = Duration::from_secs(1);
/// The burn-in shift moves this often.
pub const SHIFT_EVERY: Duration = Duration::from_secs(60);

/// A display driver: draws a frame into its buffer, then sends it.
pub trait Screen: Send {
    /// The device, for messages.
    fn describe(&self) -> String;
    /// Draws `f` into the driver's buffer (no I/O).
    fn render(&mut self, f: &Frame<'_>);
    /// Sends the buffer to the screen.
    fn flush(&mut self) -> Result<(), String>;
    /// Dims (or restores) the screen.
    fn set_dim(&mut self, dim: bool) -> Result<(), String>;
    /// Leaves the screen as the service stops (a framebuffer console gets
    /// its text mode back).
    fn finish(&mut self) {}
}

/// Opens the display a board profile names.
pub fn open(spec: &board::Display) -> Result<Box<dyn Screen>, String> {
    match (&spec.bus, spec.kind) {
        (DisplayBus::I2c { dev, address }, DisplayKind::Ssd1306 | DisplayKind::Sh1106) => {
            let what = format!("{} on {dev} at {address:#04x}", spec.kind.name());
            if std::env::var_os("LIVEPUSH_NULL_I2C").is_some() {
                // the benchmark: the real driver and drawing on a bus that
                // takes every write (this machine has no I2C adapter)
                let what = format!("{what} (null bus)");
                return Ok(Box::new(oled::Oled::new(
                    oled::NullBus,
                    spec.kind,
                    *address,
                    spec.height,
                    what,
                )?));
            }
            let bus = linux_embedded_hal::I2cdev::new(dev).map_err(|e| format!("{what}: {e}"))?;
            Ok(Box::new(oled::Oled::new(
                bus,
                spec.kind,
                *address,
                spec.height,
                what,
            )?))
        }
        (DisplayBus::Fb { dev }, _) => Ok(Box::new(fb::Framebuffer::open(dev)?)),
        (DisplayBus::Spi { dev, dc, reset }, k @ (DisplayKind::St7789 | DisplayKind::Ili9341)) => {
            use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
            let what = format!("{} on {dev}", k.name());
            let mut spi =
                linux_embedded_hal::SpidevDevice::open(dev).map_err(|e| format!("{what}: {e}"))?;
            spi.0
                .configure(
                    &SpidevOptions::new()
                        .bits_per_word(8)
                        .max_speed_hz(32_000_000)
                        .mode(SpiModeFlags::SPI_MODE_0)
                        .build(),
                )
                .map_err(|e| format!("{what}: {e}"))?;
            let dc = crate::indicate::leds::gpio::Pin::open(dc)
                .map_err(|e| format!("{what}: data/command: {e}"))?;
            let reset = match reset {
                Some(r) => Some(
                    crate::indicate::leds::gpio::Pin::open(r)
                        .map_err(|e| format!("{what}: reset: {e}"))?,
                ),
                None => None,
            };
            Ok(Box::new(tft::Tft::new(spi, dc, reset, k, what)?))
        }
        (_, k) => Err(format!("{}: no such bus for this controller", k.name())),
    }
}

/// What was last drawn, to skip identical redraws (compared in place and
/// copied into the same buffers: nothing is allocated once they have grown).
#[derive(Clone, Debug, Default, PartialEq)]
struct Drawn {
    phase: Option<Phase>,
    lines: Lines,
    level: Option<i8>,
    page: u32,
    shift: Point,
}

impl Drawn {
    fn set_lines(&mut self, l: &Lines) {
        self.lines.code.clone_from(&l.code);
        self.lines.figures.clone_from(&l.figures);
        self.lines.server.clone_from(&l.server);
        self.lines.status.clone_from(&l.status);
        self.lines.also.clone_from(&l.also);
    }
}

/// The display and its schedule.
pub struct Display {
    spec: board::Display,
    dim_after: Option<Duration>,
    screen: Option<Box<dyn Screen>>,
    retry_at: Instant,
    failures: u32,
    started: Instant,
    drawn: Drawn,
    /// Rendered but not sent yet.
    dirty: bool,
    last_flush: Option<Instant>,
    /// The phase shown and since when (the dim timer counts from it).
    phase: Option<(Phase, Instant)>,
    dimmed: bool,
}

const SHIFTS: [Point; 4] = [
    Point::new(0, 0),
    Point::new(1, 0),
    Point::new(1, 1),
    Point::new(0, 1),
];

impl Display {
    /// The board's display (opened at the first draw).
    /// A reload changed when the screen dims.
    pub fn set_dim_after(&mut self, d: Option<Duration>) {
        self.dim_after = d;
    }

    pub fn new(spec: board::Display, dim_after: Option<Duration>, now: Instant) -> Self {
        Display {
            spec,
            dim_after,
            screen: None,
            retry_at: now,
            failures: 0,
            started: now,
            drawn: Drawn::default(),
            dirty: false,
            last_flush: None,
            phase: None,
            dimmed: false,
        }
    }

    /// The device, for messages.
    pub fn describe(&self) -> String {
        match &self.spec.bus {
            DisplayBus::I2c { dev, address } => {
                format!("{} {dev} {address:#04x}", self.spec.kind.name())
            }
            DisplayBus::Spi { dev, .. } => format!("{} {dev}", self.spec.kind.name()),
            DisplayBus::Fb { dev } => format!("framebuffer {dev}"),
        }
    }

    fn fail(&mut self, now: Instant, e: String) {
        if self.failures == 0 {
            // the error names the display and its device
            log::warn!("display: {e}; streaming goes on without it (retrying)");
        }
        self.failures += 1;
        self.screen = None;
        self.drawn.phase = None;
        self.dirty = false;
        self.retry_at = now + super::retry_wait(self.failures);
    }

    /// Fills the lines for `v` and draws them into the driver's buffer if
    /// anything on the screen changed (no I/O but opening a missing display).
    pub fn prepare(&mut self, now: Instant, v: &View<'_>, cx: &Context<'_>, lines: &mut Lines) {
        if self.screen.is_none() {
            if now < self.retry_at {
                return;
            }
            match open(&self.spec) {
                Ok(s) => {
                    if self.failures > 0 {
                        log::info!("display {} is back", s.describe());
                    } else {
                        log::info!("display: {}", s.describe());
                    }
                    self.failures = 0;
                    self.screen = Some(s);
                    self.dimmed = false;
                }
                Err(e) => return self.fail(now, e),
            }
        }
        if self.phase.is_none_or(|(p, _)| p != v.phase) {
            self.phase = Some((v.phase, now));
        }
        lines.fill(v, cx);
        let age = now.duration_since(self.started);
        let page = (age.as_secs() / PAGE_EVERY.as_secs()) as u32;
        let shift = SHIFTS[(age.as_secs() / SHIFT_EVERY.as_secs()) as usize % SHIFTS.len()];
        // the bar moves in 3 dB steps: no redraw for every sample
        let level = v.level_db.map(|db| db / 3 * 3);
        let page = if self.spec.height < 64 { page } else { 0 };
        let d = &mut self.drawn;
        if d.phase == Some(v.phase)
            && d.lines == *lines
            && (d.level, d.page, d.shift) == (level, page, shift)
        {
            return;
        }
        let screen = self.screen.as_mut().expect("opened");
        screen.render(&Frame {
            view: v,
            lines,
            page,
            shift,
        });
        d.phase = Some(v.phase);
        d.set_lines(lines);
        (d.level, d.page, d.shift) = (level, page, shift);
        self.dirty = true;
    }

    /// Sends what `prepare` drew (at most every [`REDRAW_MIN`]) and dims
    /// or wakes the screen.
    pub fn flush(&mut self, now: Instant) {
        let Some(screen) = self.screen.as_mut() else {
            return;
        };
        let dim = match (self.dim_after, self.phase) {
            (Some(after), Some((_, since))) => now.duration_since(since) >= after,
            _ => false,
        };
        if dim != self.dimmed {
            if let Err(e) = screen.set_dim(dim) {
                return self.fail(now, e);
            }
            self.dimmed = dim;
        }
        if !self.dirty || self.last_flush.is_some_and(|t| now < t + REDRAW_MIN) {
            return;
        }
        match screen.flush() {
            Ok(()) => {
                self.dirty = false;
                self.last_flush = Some(now);
            }
            Err(e) => self.fail(now, e),
        }
    }

    /// When the display needs the thread without a change in the view: a
    /// held-back redraw, the next page or shift, the dim time, a retry.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        if self.screen.is_none() {
            return Some(self.retry_at.max(now));
        }
        let age = now.duration_since(self.started);
        let step = if self.spec.height < 64 {
            PAGE_EVERY
        } else {
            SHIFT_EVERY
        };
        let next_step = self.started + step * (age.as_secs() / step.as_secs() + 1) as u32;
        let redraw = self
            .dirty
            .then(|| self.last_flush.map_or(now, |t| t + REDRAW_MIN));
        let dim = match (self.dim_after, self.phase) {
            (Some(after), Some((_, since))) if !self.dimmed => Some(since + after),
            _ => None,
        };
        // the figures and the level bar: looked at once a second
        let refresh = Some(now + REFRESH);
        [Some(next_step), redraw, dim, refresh]
            .into_iter()
            .flatten()
            .min()
    }

    /// The service stops.
    pub fn finish(&mut self) {
        if let Some(s) = self.screen.as_mut() {
            s.finish();
        }
    }
}
