//! A Linux LED class device (`/sys/class/leds/NAME`). Blinking is the
//! kernel's: the `timer` trigger (`delay_on`/`delay_off`) for slow and fast,
//! the `pattern` trigger for the double blink, so livepush does not wake to
//! blink; where a trigger is missing the indicator thread steps the pattern
//! through `brightness`. A multicolour LED takes its colour through
//! `multi_intensity` (channels in `multi_index` order).

use std::fs;
use std::path::PathBuf;

use livepush_core::indicate::led::{Look, Pattern, Rgb};

use super::Blinks;

/// Where LED class devices are.
pub const LEDS_DIR: &str = "/sys/class/leds";

/// One LED class device.
pub struct ClassLed {
    dir: PathBuf,
    max: u32,
    /// The triggers the kernel offers (from `trigger`).
    triggers: Vec<String>,
    /// Colour channel names, for a multicolour LED.
    channels: Option<Vec<String>>,
}

fn read(dir: &std::path::Path, file: &str) -> Result<String, String> {
    let p = dir.join(file);
    fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
}

fn write(dir: &std::path::Path, file: &str, value: &str) -> Result<(), String> {
    let p = dir.join(file);
    fs::write(&p, value).map_err(|e| format!("{}: {e}", p.display()))
}

impl ClassLed {
    /// Opens `/sys/class/leds/NAME` (`LIVEPUSH_LEDS_DIR` moves the root:
    /// the benchmark's LEDs are plain files).
    pub fn open(name: &str) -> Result<Self, String> {
        match std::env::var("LIVEPUSH_LEDS_DIR") {
            Ok(root) => Self::open_in(&root, name),
            Err(_) => Self::open_in(LEDS_DIR, name),
        }
    }

    /// Opens NAME under `root`.
    pub fn open_in(root: &str, name: &str) -> Result<Self, String> {
        let dir = PathBuf::from(root).join(name);
        let max = read(&dir, "max_brightness")?
            .trim()
            .parse::<u32>()
            .map_err(|e| format!("{}/max_brightness: {e}", dir.display()))?;
        let triggers = read(&dir, "trigger")?
            .split_whitespace()
            .map(|t| t.trim_matches(|c| c == '[' || c == ']').to_string())
            .collect();
        let channels = read(&dir, "multi_index")
            .ok()
            .map(|s| s.split_whitespace().map(str::to_string).collect());
        Ok(ClassLed {
            dir,
            max: max.max(1),
            triggers,
            channels,
        })
    }

    fn has(&self, trigger: &str) -> bool {
        self.triggers.iter().any(|t| t == trigger)
    }

    fn color(&self, c: Rgb) -> Result<(), String> {
        let Some(ch) = &self.channels else {
            return Ok(());
        };
        let v: Vec<String> = ch
            .iter()
            .map(|n| match n.as_str() {
                "red" => c.0,
                "green" => c.1,
                "blue" => c.2,
                // white, amber...: lit when the colour is bright
                _ => c.0.max(c.1).max(c.2),
            })
            .map(|v| (u32::from(v) * self.max / 255).to_string())
            .collect();
        write(&self.dir, "multi_intensity", &v.join(" "))
    }

    /// Shows `look`: the kernel blinks it, or says the caller must.
    pub fn show(&mut self, look: Look) -> Result<Blinks, String> {
        let max = self.max.to_string();
        // "none" first: writing brightness under a trigger would stop it
        // half-way, and the timer keeps the brightness it starts with
        write(&self.dir, "trigger", "none")?;
        self.color(look.color)?;
        match look.pattern {
            Pattern::Off => write(&self.dir, "brightness", "0")?,
            Pattern::On => write(&self.dir, "brightness", &max)?,
            p @ (Pattern::Slow | Pattern::Fast) if self.has("timer") => {
                let (on, off) = p.timer().expect("slow and fast have one");
                write(&self.dir, "brightness", &max)?;
                write(&self.dir, "trigger", "timer")?;
                // the trigger's own files appear now, owned by root: a
                // service user who may not write them blinks in software
                let set = write(&self.dir, "delay_on", &on.to_string())
                    .and_then(|()| write(&self.dir, "delay_off", &off.to_string()));
                if set.is_err() {
                    return self.software(&max);
                }
            }
            p @ Pattern::Double if self.has("pattern") => {
                write(&self.dir, "brightness", &max)?;
                write(&self.dir, "trigger", "pattern")?;
                // each step held, then a jump (duration 0) to the next
                let steps: Vec<String> = p
                    .steps()
                    .iter()
                    .map(|(lit, ms)| {
                        let b = if *lit { &max[..] } else { "0" };
                        format!("{b} {ms} {b} 0")
                    })
                    .collect();
                if write(&self.dir, "pattern", &steps.join(" ")).is_err() {
                    return self.software(&max);
                }
            }
            _ => return self.software(&max),
        }
        Ok(Blinks::Kernel)
    }

    /// No trigger (or none it may set up): lit, and blinked by the caller.
    fn software(&mut self, max: &str) -> Result<Blinks, String> {
        write(&self.dir, "trigger", "none")?;
        write(&self.dir, "brightness", max)?;
        Ok(Blinks::Software)
    }

    /// Lights or darkens it (software blinking).
    pub fn set(&mut self, lit: bool) -> Result<(), String> {
        let v = if lit { self.max } else { 0 };
        write(&self.dir, "brightness", &v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs directory: the files a kernel LED has.
    fn fake(triggers: &str, multi: bool) -> (tempfile::TempDir, ClassLed) {
        let d = tempfile::tempdir().unwrap();
        let led = d.path().join("act");
        fs::create_dir(&led).unwrap();
        fs::write(led.join("max_brightness"), "255\n").unwrap();
        fs::write(led.join("trigger"), triggers).unwrap();
        fs::write(led.join("brightness"), "0").unwrap();
        if multi {
            fs::write(led.join("multi_index"), "red green blue\n").unwrap();
        }
        let l = ClassLed::open_in(d.path().to_str().unwrap(), "act").unwrap();
        (d, l)
    }

    fn get(d: &tempfile::TempDir, f: &str) -> String {
        fs::read_to_string(d.path().join("act").join(f)).unwrap()
    }

    #[test]
    fn blinks_go_to_the_kernels_triggers_when_it_has_them() {
        let (d, mut l) = fake("[none] timer heartbeat pattern\n", false);
        let slow = Look {
            pattern: Pattern::Slow,
            color: Rgb::WHITE,
        };
        assert_eq!(l.show(slow).unwrap(), Blinks::Kernel);
        assert_eq!(get(&d, "trigger"), "timer");
        assert_eq!(
            (get(&d, "delay_on"), get(&d, "delay_off")),
            ("500".into(), "500".into())
        );
        let double = Look {
            pattern: Pattern::Double,
            color: Rgb::WHITE,
        };
        assert_eq!(l.show(double).unwrap(), Blinks::Kernel);
        assert_eq!(get(&d, "trigger"), "pattern");
        assert_eq!(
            get(&d, "pattern"),
            "255 150 255 0 0 150 0 0 255 150 255 0 0 1050 0 0"
        );
        let off = Look {
            pattern: Pattern::Off,
            color: Rgb::WHITE,
        };
        assert_eq!(l.show(off).unwrap(), Blinks::Kernel);
        assert_eq!(
            (get(&d, "trigger"), get(&d, "brightness")),
            ("none".into(), "0".into())
        );
    }

    #[test]
    fn without_the_triggers_the_thread_blinks_and_colours_go_to_multi_intensity() {
        let (d, mut l) = fake("[none] default-on\n", true);
        let look = Look {
            pattern: Pattern::Double,
            color: Rgb::YELLOW,
        };
        assert_eq!(l.show(look).unwrap(), Blinks::Software);
        assert_eq!(get(&d, "multi_intensity"), "255 160 0");
        l.set(false).unwrap();
        assert_eq!(get(&d, "brightness"), "0");
        l.set(true).unwrap();
        assert_eq!(get(&d, "brightness"), "255");
    }

    #[test]
    fn trigger_files_the_service_may_not_write_mean_software_blinking() {
        let (d, mut l) = fake("[none] timer\n", false);
        // the timer's delay files exist, read-only (as root's are to a
        // service user); a directory in their place fails any write
        std::fs::create_dir(d.path().join("act/delay_on")).unwrap();
        let fast = Look {
            pattern: Pattern::Fast,
            color: Rgb::WHITE,
        };
        assert_eq!(l.show(fast).unwrap(), Blinks::Software);
        assert_eq!(
            (get(&d, "trigger"), get(&d, "brightness")),
            ("none".into(), "255".into())
        );
    }

    #[test]
    fn a_missing_led_is_an_error_naming_it() {
        let e = ClassLed::open_in("/nonexistent-leds", "ACT").err().unwrap();
        assert!(e.contains("/nonexistent-leds/ACT/max_brightness"), "{e}");
    }
}
