//! `livepush indicators --test`: walks every phase (or the one asked for)
//! on the board's real LEDs and display, a few seconds each, so a person
//! assembling a box sees each pattern and screen and can check them against
//! README's table. The screens show the sample moment of each phase (the
//! golden images' content); the LEDs blink as they will in service.

use std::time::{Duration, Instant};

use livepush_core::config::board::Board;
use livepush_core::indicate::led::{self, Pattern, Role};
use livepush_core::indicate::sample::{sample, CONTEXT};
use livepush_core::indicate::screen::{headline, Lines};
use livepush_core::indicate::Phase;

use crate::indicate::display::Display;
use crate::indicate::leds::{describe, Leds};

/// What a pattern looks like, in words.
fn words(p: Pattern) -> &'static str {
    match p {
        Pattern::Off => "off",
        Pattern::On => "on",
        Pattern::Slow => "slow blink",
        Pattern::Fast => "fast blink",
        Pattern::Double => "double blink",
    }
}

/// Shows `phases` for `each` apiece on `board`'s devices.
pub fn run(board: &Board, phases: &[Phase], each: Duration) -> Result<(), String> {
    if board.leds.is_empty() && board.display.is_none() {
        return Err(format!(
            "board {:?} has no [leds] and no [display]",
            board.name
        ));
    }
    for l in &board.leds {
        println!("LED {:<6} {}", l.role.name(), describe(&l.out));
    }
    let start = Instant::now();
    let mut leds = Leds::new(&board.leds, start);
    let mut display = board.display.clone().map(|d| {
        let d = Display::new(d, None, start);
        println!("display {}", d.describe());
        d
    });
    let mut lines = Lines::default();
    for &phase in phases {
        let v = sample(phase);
        let looks: Vec<String> = board
            .leds
            .iter()
            .map(|l| {
                let look = led::look(l.role, &v);
                match l.role {
                    Role::Status => {
                        let c = look.color;
                        format!(
                            "status rgb({},{},{}) {}",
                            c.0,
                            c.1,
                            c.2,
                            words(look.pattern)
                        )
                    }
                    r => format!("{} {}", r.name(), words(look.pattern)),
                }
            })
            .collect();
        println!(
            "phase {:<12} screen {:<14} LEDs: {}",
            phase.name(),
            format!("{:?}", headline(phase)),
            if looks.is_empty() {
                "-".into()
            } else {
                looks.join(", ")
            }
        );
        let until = Instant::now() + each;
        loop {
            let now = Instant::now();
            leds.show(now, &v);
            if let Some(d) = display.as_mut() {
                d.prepare(now, &v, &CONTEXT, &mut lines);
                d.flush(now);
            }
            if now >= until {
                break;
            }
            let wake = [
                leds.next_wake(now),
                display.as_ref().and_then(|d| d.next_wake(now)),
                Some(until),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(until)
            .min(until);
            std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        }
    }
    if let Some(d) = display.as_mut() {
        d.finish();
    }
    Ok(())
}
