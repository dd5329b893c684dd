//! A sine tone as interleaved signed 16-bit samples.

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

    /// Fills `out` (interleaved, a whole number of frames) with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let ch = usize::from(self.channels);
        let period = u64::from(self.rate);
        for frame in out.chunks_exact_mut(ch) {
            let phase = ((self.n * u64::from(self.freq)) % period) as f32 / self.rate as f32;
            let v = (self.amplitude * (phase * core::f32::consts::TAU).sin()) as i16;
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
        // 1000 Hz for one second: 2000 zero crossings (count rising ones: 1000)
        let left: Vec<i16> = buf.iter().step_by(2).copied().collect();
        let rising = left.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        assert!((999..=1001).contains(&rising), "{rising}");
        assert_eq!(buf[0], buf[1], "channels carry the same sample");
        assert!(left.iter().map(|v| v.unsigned_abs()).max().unwrap() > 8000);
    }
}
