//! A sine tone as interleaved signed 16-bit samples, with a sync mark: the
//! first [`SYNC_GAP_MS`] of every second (sample `n` with `n % rate` below
//! the gap's length) are silent. Sample `n` is meant to play at `n / rate`
//! seconds on the same clock as the test pattern's frame `k` at `k / fps`
//! (both count from the service's start), so the tone's onset after a gap
//! lines up with the frame whose counter is a whole number of seconds: a
//! recording shows its audio/video offset (`livepush_core::synth` users: the
//! synthetic sources, and the A/V offset test).

/// Silent span at the start of every second.
pub const SYNC_GAP_MS: u32 = 10;

/// Sine generator; the phase follows the sample index, so it never drifts.
#[derive(Clone, Debug)]
pub struct Sine {
    rate: u32,
    channels: u8,
    freq: u32,
    amplitude: f32,
    n: u64,
}

impl Sine {
    /// A tone of `freq` Hz at about -12 dBFS.
    pub fn new(rate: u32, channels: u8, freq: u32) -> Self {
        Sine {
            rate,
            channels,
            freq,
            amplitude: 8192.0,
            n: 0,
        }
    }

    /// Continues from sample `n` (on the shared clock: `n / rate` seconds).
    pub fn seek(&mut self, n: u64) {
        self.n = n;
    }

    /// Fills `out` (interleaved, a whole number of frames) with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let ch = usize::from(self.channels);
        let period = u64::from(self.rate);
        let gap = period * u64::from(SYNC_GAP_MS) / 1000;
        for frame in out.chunks_exact_mut(ch) {
            let phase = ((self.n * u64::from(self.freq)) % period) as f32 / self.rate as f32;
            let v = if self.n % period < gap {
                0
            } else {
                (self.amplitude * (phase * core::f32::consts::TAU).sin()) as i16
            };
            frame.fill(v);
            self.n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_has_the_frequency() {
        let mut s = Sine::new(48000, 2, 1000);
        let mut buf = vec![0i16; 48000 * 2];
        s.fill(&mut buf);
        // 1000 Hz for one second less the 10 ms gap: 990 rising zero crossings
        let left: Vec<i16> = buf.iter().step_by(2).copied().collect();
        let rising = left.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        assert!((989..=991).contains(&rising), "{rising}");
        assert_eq!(buf[0], buf[1], "channels carry the same sample");
        assert!(left.iter().map(|v| v.unsigned_abs()).max().unwrap() > 8000);
    }

    #[test]
    fn the_first_ten_ms_of_every_second_are_silent() {
        let mut s = Sine::new(48000, 1, 1000);
        s.seek(47_000);
        let mut buf = vec![0i16; 2000];
        s.fill(&mut buf);
        // samples 47000..49000: tone, then 480 silent from 48000, then tone
        assert!(buf[..1000].iter().any(|v| v.abs() > 8000));
        assert!(buf[1000..1480].iter().all(|v| *v == 0));
        assert!(buf[1480..].iter().any(|v| v.abs() > 8000));
        assert_ne!(buf[999], 0);
    }
}
