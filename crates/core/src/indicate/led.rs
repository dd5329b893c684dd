//! Status LEDs: the role a board gives each LED, the patterns they can
//! show, and which pattern (and, for an RGB LED, which colour) each role
//! shows for a [`View`]. README's LED table is this file in words; a test
//! pins every phase's row.
//!
//! | phase | power | live | net | error | RGB status |
//! |---|---|---|---|---|---|
//! | starting | on | off | off | off | white, slow |
//! | standby (not pushing: autopush off, or stopped by a command) | on | off | off | off | white |
//! | connecting | on | off | slow | off | blue, slow |
//! | live | on | on | on | off | green |
//! | degraded (1101, bitrate lowered) | on | on | double | off | yellow |
//! | software (1103) | on | on | on | slow | green, double |
//! | reconnecting (1102) | on | off | fast | off | blue, fast |
//! | restarting (-1307) | on | off | fast | on | red, slow |
//! | no camera (-1301/-1305, card on air) | on | slow | on | on | red |
//! | no mic (-1302/-1306) | on | on | on | on | magenta |
//! | mic silent (-1311) | on | on | on | slow | magenta, slow |
//! | paused (card on air) | on | slow | on | off | cyan, slow |
//! | stopped (-1303/-1304, stop) | on | off | off | fast | red, fast |
//! | bad config | double | off | off | fast | red, double |
//!
//! The error LED shows the worst condition that holds, not only the phase
//! shown (a missing camera while reconnecting: net fast, error on).

use super::phase::{Phase, View};

/// What an LED is for (a board profile's `[leds]` key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// On while the service runs (double blink: bad configuration).
    Power,
    /// The stream is on air.
    Live,
    /// The connection to the server.
    Net,
    /// Something needs a person.
    Error,
    /// One RGB LED showing the phase by colour and pattern.
    Status,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Power,
        Role::Live,
        Role::Net,
        Role::Error,
        Role::Status,
    ];

    /// The board profile's key.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Power => "power",
            Role::Live => "live",
            Role::Net => "net",
            Role::Error => "error",
            Role::Status => "status",
        }
    }

    /// Looks a key up.
    pub fn from_name(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// A blink pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// Dark.
    Off,
    /// Lit.
    On,
    /// 500 ms on, 500 ms off.
    Slow,
    /// 150 ms on, 150 ms off.
    Fast,
    /// Two 150 ms flashes, then dark: 1.5 s in all.
    Double,
}

/// Double blink: on, off, on, off (ms).
const DOUBLE: [(bool, u32); 4] = [(true, 150), (false, 150), (true, 150), (false, 1050)];
const SLOW: [(bool, u32); 2] = [(true, 500), (false, 500)];
const FAST: [(bool, u32); 2] = [(true, 150), (false, 150)];

impl Pattern {
    /// One period as (lit, milliseconds) steps; empty for `Off` and `On`.
    pub const fn steps(self) -> &'static [(bool, u32)] {
        match self {
            Pattern::Off | Pattern::On => &[],
            Pattern::Slow => &SLOW,
            Pattern::Fast => &FAST,
            Pattern::Double => &DOUBLE,
        }
    }

    /// The kernel `timer` trigger's `delay_on`/`delay_off` for a plain
    /// blink (None: steady, or a pattern the timer cannot show).
    pub const fn timer(self) -> Option<(u32, u32)> {
        match self {
            Pattern::Slow => Some((SLOW[0].1, SLOW[1].1)),
            Pattern::Fast => Some((FAST[0].1, FAST[1].1)),
            _ => None,
        }
    }

    /// Whether the LED is lit `ms` into the pattern (from when it was set).
    pub fn lit_at(self, ms: u64) -> bool {
        self.step_at(ms).0
    }

    /// The next instant (ms since the pattern was set) after `ms` at which
    /// the LED changes; None for a steady one.
    pub fn next_change(self, ms: u64) -> Option<u64> {
        let steps = self.steps();
        if steps.is_empty() {
            return None;
        }
        Some(self.step_at(ms).1)
    }

    /// (lit, when the current step ends) at `ms`.
    fn step_at(self, ms: u64) -> (bool, u64) {
        let steps = self.steps();
        match self {
            Pattern::Off => return (false, u64::MAX),
            Pattern::On => return (true, u64::MAX),
            _ => {}
        }
        let period: u64 = steps.iter().map(|s| u64::from(s.1)).sum();
        let base = ms - ms % period;
        let mut end = base;
        for (lit, len) in steps {
            end += u64::from(*len);
            if ms < end {
                return (*lit, end);
            }
        }
        (false, base + period)
    }
}

/// A colour for an RGB LED, 0..=255 a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Dark.
    pub const OFF: Rgb = Rgb(0, 0, 0);
    /// Starting.
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    /// Connecting.
    pub const BLUE: Rgb = Rgb(0, 0, 255);
    /// Live.
    pub const GREEN: Rgb = Rgb(0, 255, 0);
    /// Degraded.
    pub const YELLOW: Rgb = Rgb(255, 160, 0);
    /// Faults.
    pub const RED: Rgb = Rgb(255, 0, 0);
    /// The microphone.
    pub const MAGENTA: Rgb = Rgb(255, 0, 255);
    /// Paused.
    pub const CYAN: Rgb = Rgb(0, 255, 255);
}

/// What one LED shows: a pattern, and a colour when it is the RGB one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Look {
    /// The blink pattern.
    pub pattern: Pattern,
    /// The colour (the single-colour roles: white).
    pub color: Rgb,
}

impl Look {
    const fn plain(pattern: Pattern) -> Look {
        Look {
            pattern,
            color: Rgb::WHITE,
        }
    }
}

/// What the LED of `role` shows for `v`.
pub fn look(role: Role, v: &View<'_>) -> Look {
    let holds = |p: Phase| v.phase == p || v.also.contains(p);
    let phase = v.phase;
    Look::plain(match role {
        Role::Power if phase == Phase::BadConfig => Pattern::Double,
        Role::Power => Pattern::On,
        Role::Live => match phase {
            Phase::NoCamera | Phase::Paused => Pattern::Slow,
            p if p.on_air() => Pattern::On,
            _ => Pattern::Off,
        },
        Role::Net => match phase {
            Phase::Connecting => Pattern::Slow,
            Phase::Reconnecting | Phase::Restarting => Pattern::Fast,
            p if p.on_air() && holds(Phase::Degraded) => Pattern::Double,
            p if p.on_air() => Pattern::On,
            _ => Pattern::Off,
        },
        Role::Error => {
            if holds(Phase::BadConfig) || holds(Phase::Stopped) {
                Pattern::Fast
            } else if holds(Phase::Restarting) || holds(Phase::NoCamera) || holds(Phase::NoMic) {
                Pattern::On
            } else if holds(Phase::MicSilent) || holds(Phase::Software) {
                Pattern::Slow
            } else {
                Pattern::Off
            }
        }
        Role::Status => return status(phase),
    })
}

/// The RGB status LED's look for the phase shown.
pub fn status(phase: Phase) -> Look {
    let (color, pattern) = match phase {
        Phase::Starting => (Rgb::WHITE, Pattern::Slow),
        Phase::Standby => (Rgb::WHITE, Pattern::On),
        Phase::Connecting => (Rgb::BLUE, Pattern::Slow),
        Phase::Live => (Rgb::GREEN, Pattern::On),
        Phase::Degraded => (Rgb::YELLOW, Pattern::On),
        Phase::Software => (Rgb::GREEN, Pattern::Double),
        Phase::Reconnecting => (Rgb::BLUE, Pattern::Fast),
        Phase::Restarting => (Rgb::RED, Pattern::Slow),
        Phase::NoCamera => (Rgb::RED, Pattern::On),
        Phase::NoMic => (Rgb::MAGENTA, Pattern::On),
        Phase::MicSilent => (Rgb::MAGENTA, Pattern::Slow),
        Phase::Paused => (Rgb::CYAN, Pattern::Slow),
        Phase::Stopped => (Rgb::RED, Pattern::Fast),
        Phase::BadConfig => (Rgb::RED, Pattern::Double),
    };
    Look { pattern, color }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_step_through_their_period() {
        assert!(Pattern::On.lit_at(12345) && !Pattern::Off.lit_at(0));
        assert_eq!(Pattern::On.next_change(0), None);
        assert!(Pattern::Slow.lit_at(0) && Pattern::Slow.lit_at(499));
        assert!(!Pattern::Slow.lit_at(500) && Pattern::Slow.lit_at(1000));
        assert_eq!(Pattern::Slow.next_change(0), Some(500));
        assert_eq!(Pattern::Slow.next_change(700), Some(1000));
        // double: on 0-150, off -300, on -450, off -1500
        let lit: Vec<bool> = [0, 149, 150, 299, 300, 449, 450, 1499, 1500]
            .iter()
            .map(|ms| Pattern::Double.lit_at(*ms))
            .collect();
        assert_eq!(
            lit,
            [true, true, false, false, true, true, false, false, true]
        );
        assert_eq!(Pattern::Double.next_change(460), Some(1500));
        assert_eq!(Pattern::Fast.timer(), Some((150, 150)));
        assert_eq!(Pattern::Double.timer(), None);
    }

    #[test]
    fn roles_round_trip_their_names() {
        for r in Role::ALL {
            assert_eq!(Role::from_name(r.name()), Some(r));
        }
        assert_eq!(Role::from_name("fault"), None);
    }
}
