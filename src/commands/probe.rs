//! `livepush probe`: what this box has, for the person setting up a new one.
//! Cameras (driver, formats, sizes, frame rates, controls), microphones
//! (the common rates and channel counts each capture PCM takes), and every
//! encoder backend with "available" or the precise reason it is not. Reads
//! only: nothing is streamed, no setting is changed.

use std::fmt::Write as _;

use alsa::pcm::{HwParams, PCM};
use alsa::Direction;
use livepush_core::encoder::Backend;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;
use v4l::Device;

/// The report, as text.
pub fn report(m2m_device: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "cameras:");
    cameras(&mut s);
    let _ = writeln!(s, "microphones:");
    microphones(&mut s);
    let _ = writeln!(s, "encoders:");
    for b in Backend::ALL {
        let line = match crate::hw::backend_availability(b, m2m_device) {
            Ok(found) => format!("available ({found})"),
            Err(why) => format!("not available: {why}"),
        };
        let _ = writeln!(s, "  {:<9} {line}", b.name());
    }
    indicators(&mut s);
    s
}

fn sys(path: String) -> String {
    std::fs::read_to_string(path)
        .map(|t| livepush_core::text::printable(t.trim()))
        .unwrap_or_else(|_| "?".into())
}

/// What status LEDs and displays could use: LED class devices (with their
/// trigger), GPIO chips (label and line count), I2C buses, framebuffers.
fn indicators(s: &mut String) {
    let _ = writeln!(s, "leds:");
    let leds = crate::files::numbered_entries("/sys/class/leds", "");
    if leds.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for l in &leds {
        let d = format!("/sys/class/leds/{l}");
        let trigger = std::fs::read_to_string(format!("{d}/trigger"))
            .ok()
            .and_then(|t| {
                t.split_whitespace()
                    .find(|w| w.starts_with('['))
                    .map(|w| w.trim_matches(|c| c == '[' || c == ']').to_string())
            })
            .unwrap_or_else(|| "?".into());
        let multi = std::path::Path::new(&format!("{d}/multi_index")).exists();
        let _ = writeln!(
            s,
            "  {l:<24} max {} trigger {trigger}{}",
            sys(format!("{d}/max_brightness")),
            if multi { " (multicolour)" } else { "" }
        );
    }
    let _ = writeln!(s, "gpio chips:");
    let chips = gpiocdev::chip::chips().unwrap_or_default();
    if chips.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for c in chips {
        match gpiocdev::chip::Chip::from_path(&c).and_then(|ch| ch.info()) {
            Ok(i) => {
                let _ = writeln!(s, "  {} {:?} {} lines", c.display(), i.label, i.num_lines);
            }
            Err(e) => {
                let _ = writeln!(s, "  {}: {e}", c.display());
            }
        }
    }
    let _ = writeln!(s, "i2c buses:");
    let buses = crate::files::numbered_entries("/sys/class/i2c-dev", "i2c-");
    if buses.is_empty() {
        let _ = writeln!(s, "  none (an I2C display needs i2c-dev: modprobe i2c-dev)");
    }
    for b in buses {
        let _ = writeln!(
            s,
            "  /dev/{b} {:?}",
            sys(format!("/sys/class/i2c-dev/{b}/name"))
        );
    }
    let _ = writeln!(s, "framebuffers:");
    let fbs = crate::files::numbered_entries("/sys/class/graphics", "fb");
    if fbs.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for f in fbs {
        let g = format!("/sys/class/graphics/{f}");
        let _ = writeln!(
            s,
            "  /dev/{f} {:?} {} at {} bpp",
            sys(format!("{g}/name")),
            sys(format!("{g}/virtual_size")).replace(',', "x"),
            sys(format!("{g}/bits_per_pixel"))
        );
    }
}

fn cameras(s: &mut String) {
    let mut any = false;
    for path in crate::hw::v4l2::video_nodes() {
        let dev = match Device::with_path(&path) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(s, "  {path}: cannot open: {e}");
                continue;
            }
        };
        let Ok(caps) = dev.query_caps() else { continue };
        let formats = dev.enum_formats().unwrap_or_default();
        let capture = caps
            .capabilities
            .contains(v4l::capability::Flags::VIDEO_CAPTURE)
            && !formats.is_empty();
        if !capture {
            continue;
        }
        any = true;
        let _ = writeln!(
            s,
            "  {path}: {} ({}), bus {}",
            caps.card, caps.driver, caps.bus
        );
        for f in &formats {
            let mut sizes = Vec::new();
            for fs in dev.enum_framesizes(f.fourcc).unwrap_or_default() {
                match fs.size {
                    FrameSizeEnum::Discrete(d) => {
                        let rates: Vec<String> = dev
                            .enum_frameintervals(f.fourcc, d.width, d.height)
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|i| match i.interval {
                                FrameIntervalEnum::Discrete(fr) if fr.numerator > 0 => {
                                    Some(format!("{}", fr.denominator / fr.numerator))
                                }
                                _ => None,
                            })
                            .collect();
                        if rates.is_empty() {
                            sizes.push(format!("{}x{}", d.width, d.height));
                        } else {
                            sizes.push(format!("{}x{}@{}", d.width, d.height, rates.join("/")));
                        }
                    }
                    FrameSizeEnum::Stepwise(w) => sizes.push(format!(
                        "{}x{}..{}x{}",
                        w.min_width, w.min_height, w.max_width, w.max_height
                    )),
                }
            }
            let _ = writeln!(
                s,
                "    {} ({}): {}",
                f.fourcc,
                f.description,
                sizes.join(" ")
            );
        }
        let controls: Vec<String> = dev
            .query_controls()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.typ != v4l::control::Type::CtrlClass)
            .map(|c| c.name)
            .collect();
        if !controls.is_empty() {
            let _ = writeln!(s, "    controls: {}", controls.join(", "));
        }
    }
    if !any {
        let _ = writeln!(s, "  none (no /dev/video* capture device)");
    }
}

fn microphones(s: &mut String) {
    let mut any = false;
    for card in alsa::card::Iter::new().flatten() {
        let index = card.get_index();
        let name = card.get_name().unwrap_or_default();
        let pcm_name = format!("hw:{index},0");
        let Ok(pcm) = PCM::new(&pcm_name, Direction::Capture, true) else {
            continue;
        };
        let Ok(hw) = HwParams::any(&pcm) else {
            continue;
        };
        any = true;
        let rates: Vec<String> = crate::hw::alsa::COMMON_RATES
            .iter()
            .filter(|r| hw.test_rate(**r).is_ok())
            .map(|r| r.to_string())
            .collect();
        let channels: Vec<String> = (1..=8u32)
            .filter(|c| hw.test_channels(*c).is_ok())
            .map(|c| c.to_string())
            .collect();
        let _ = writeln!(
            s,
            "  {pcm_name}: {name}: rates {} Hz, channels {}",
            rates.join(", "),
            channels.join(", ")
        );
    }
    if !any {
        let _ = writeln!(s, "  none (no ALSA capture device)");
    }
}
