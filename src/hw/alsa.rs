//! ALSA microphone capture (alsa-lib through the `alsa` crate): interleaved
//! s16, the configured rate and channels, blocking reads on the audio thread.
//! An overrun (xrun) is recovered and reported with the number of frames the
//! hardware dropped, so the caller can keep the timeline without a gap.

use alsa::pcm::{Access, Format, HwParams, State, PCM};
use alsa::{Direction, ValueOr};

/// Why the microphone could not be used.
#[derive(Debug)]
pub enum MicError {
    /// Opening the PCM failed; `permission` for EACCES/EPERM (error event 1002).
    Open {
        /// What failed, naming the PCM.
        msg: String,
        /// The service user may not use the device.
        permission: bool,
    },
    /// The PCM does not take the configured rate (-1306).
    Rate {
        /// What failed, with the rates the PCM takes.
        msg: String,
    },
    /// Any other failure (-1302).
    Other(String),
}

/// Rates probed to tell the user what a PCM takes.
pub const COMMON_RATES: [u32; 9] = [8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000];

/// An open capture PCM.
pub struct Mic {
    pcm: PCM,
    name: String,
    channels: usize,
}

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// The buffer is full of fresh samples.
    Full,
    /// The buffer is full, but an overrun lost audio before it and the capture
    /// was restarted; how much was lost the caller tells from the clock (ALSA
    /// only knows its ring size, not how long nobody read).
    Overrun,
    /// Nothing arrived within the wait: the buffer is untouched.
    NoData,
}

impl Mic {
    /// Opens `name` for `rate` Hz, `channels`, s16 interleaved, ~`period` frames per period.
    pub fn open(name: &str, rate: u32, channels: u8, period: usize) -> Result<Self, MicError> {
        let pcm = PCM::new(name, Direction::Capture, false).map_err(|e| MicError::Open {
            msg: format!("ALSA PCM {name:?}: {e}"),
            permission: matches!(e.errno(), libc::EACCES | libc::EPERM),
        })?;
        {
            let hw = HwParams::any(&pcm)
                .map_err(|e| MicError::Other(format!("ALSA PCM {name:?}: {e}")))?;
            let other = |e: alsa::Error| MicError::Other(format!("ALSA PCM {name:?}: {e}"));
            hw.set_access(Access::RWInterleaved).map_err(other)?;
            hw.set_format(Format::s16()).map_err(|e| {
                MicError::Other(format!("ALSA PCM {name:?}: no signed 16-bit format: {e}"))
            })?;
            hw.set_channels(u32::from(channels)).map_err(|e| {
                MicError::Other(format!(
                    "ALSA PCM {name:?}: cannot capture {channels} channel(s): {e}"
                ))
            })?;
            if hw.test_rate(rate).is_err() {
                let takes: Vec<String> = COMMON_RATES
                    .iter()
                    .filter(|r| hw.test_rate(**r).is_ok())
                    .map(|r| r.to_string())
                    .collect();
                return Err(MicError::Rate {
                    msg: format!(
                        "ALSA PCM {name:?} does not capture at {rate} Hz; it takes {}",
                        if takes.is_empty() {
                            "none of the common rates".into()
                        } else {
                            format!("{} Hz", takes.join(", "))
                        }
                    ),
                });
            }
            hw.set_rate(rate, ValueOr::Nearest).map_err(other)?;
            hw.set_period_size_near(period as alsa::pcm::Frames, ValueOr::Nearest)
                .map_err(other)?;
            hw.set_buffer_size_near((period * 8) as alsa::pcm::Frames)
                .map_err(other)?;
            pcm.hw_params(&hw).map_err(other)?;
        }
        Ok(Mic {
            pcm,
            name: name.to_string(),
            channels: usize::from(channels),
        })
    }

    /// Fills `out` (interleaved) with the next samples, waiting at most
    /// `wait_ms` for the first of them ([`Read::NoData`] then).
    pub fn read(&mut self, out: &mut [i16], wait_ms: u32) -> Result<Read, String> {
        if self.pcm.state() == State::Running && !self.pcm.wait(Some(wait_ms)).unwrap_or(true) {
            return Ok(Read::NoData);
        }
        let io = self
            .pcm
            .io_i16()
            .map_err(|e| format!("ALSA PCM {:?}: {e}", self.name))?;
        let frames = out.len() / self.channels;
        let mut got = 0;
        let mut overrun = false;
        while got < frames {
            match io.readi(&mut out[got * self.channels..]) {
                Ok(n) => got += n,
                Err(e) if e.errno() == libc::EPIPE => {
                    overrun = true;
                    self.pcm.prepare().map_err(|e| {
                        format!("ALSA PCM {:?}: recovering from an overrun: {e}", self.name)
                    })?;
                }
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {}
                Err(e) if self.pcm.state() == State::Suspended => {
                    self.pcm
                        .try_recover(e, true)
                        .map_err(|e| format!("ALSA PCM {:?}: {e}", self.name))?;
                }
                Err(e) => return Err(format!("ALSA PCM {:?}: {e}", self.name)),
            }
        }
        Ok(if overrun { Read::Overrun } else { Read::Full })
    }
}
