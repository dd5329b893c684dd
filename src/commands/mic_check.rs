//! `livepush mic-check`: records from an ALSA capture PCM and prints frames,
//! peak and overruns (the field check of a microphone).

use std::process::ExitCode;

use crate::hw;
use crate::MicCheckCmd;

/// Runs the check; exit 0, or 1 when the PCM cannot be opened or read.
pub fn run(m: &MicCheckCmd) -> ExitCode {
    let mut mic = match hw::alsa::Mic::open(&m.device, m.rate, m.channels, 1024) {
        Ok(mic) => mic,
        Err(
            hw::alsa::MicError::Open { msg, .. }
            | hw::alsa::MicError::Rate { msg }
            | hw::alsa::MicError::Other(msg),
        ) => {
            eprintln!("livepush mic-check: {msg}");
            return ExitCode::from(1);
        }
    };
    let ch = usize::from(m.channels);
    let mut buf = vec![0i16; 1024 * ch];
    let mut all: Vec<u8> = Vec::new();
    let (mut got, mut overruns, mut peak) = (0usize, 0u32, 0u16);
    while got < m.frames {
        let n = (m.frames - got).min(1024);
        match mic.read(&mut buf[..n * ch], 2000) {
            Ok(hw::alsa::Read::Full) => {}
            Ok(hw::alsa::Read::NoData) => {
                eprintln!("livepush mic-check: no data from {:?} for 2 s", m.device);
                return ExitCode::from(1);
            }
            Ok(hw::alsa::Read::Overrun) => overruns += 1,
            Err(e) => {
                eprintln!("livepush mic-check: {e}");
                return ExitCode::from(1);
            }
        }
        peak = buf[..n * ch]
            .iter()
            .map(|s| s.unsigned_abs())
            .fold(peak, u16::max);
        if m.out.is_some() {
            all.extend(buf[..n * ch].iter().flat_map(|s| s.to_le_bytes()));
        }
        got += n;
    }
    if let Some(path) = &m.out {
        if let Err(e) = std::fs::write(path, &all) {
            eprintln!("livepush mic-check: {path}: {e}");
            return ExitCode::from(1);
        }
    }
    eprintln!(
        "mic-check: {got} frames from {:?} at {} Hz, {} ch; peak {peak}; {overruns} overruns",
        m.device, m.rate, m.channels
    );
    ExitCode::SUCCESS
}
