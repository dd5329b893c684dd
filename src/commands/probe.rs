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
    s
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
