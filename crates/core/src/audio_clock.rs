//! Audio timestamps for a real microphone: they follow the sample count (so
//! consecutive frames are exactly a frame apart, as decoders want), steered
//! slowly toward the monotonic clock, because a sound card's crystal is never
//! exactly the nominal rate. At 100 ppm off, counting samples alone drifts
//! 8.6 s a day against the camera's clock; steering keeps the offset to a few
//! milliseconds for as long as the box runs.

/// Sample-count timestamps, corrected against CLOCK_MONOTONIC.
#[derive(Clone, Debug)]
pub struct AudioClock {
    rate: u64,
    start_us: u64,
    samples: u64,
    /// Correction added to the sample-count time, µs.
    offset_us: f64,
    /// Smoothed (clock - stamp) error, µs.
    error_us: f64,
    primed: bool,
}

/// Largest correction applied per call, µs (a 1024-sample frame at 48 kHz is
/// 21 333 µs long: 200 µs is under 1 % of it, inaudible and invisible).
const MAX_STEP_US: f64 = 200.0;

impl AudioClock {
    /// A clock for `rate` Hz whose first sample was captured at `start_us`.
    pub fn new(rate: u32, start_us: u64) -> Self {
        AudioClock {
            rate: u64::from(rate),
            start_us,
            samples: 0,
            offset_us: 0.0,
            error_us: 0.0,
            primed: false,
        }
    }

    /// `frames` samples (per channel) arrived at `now_us` (monotonic, when the
    /// read returned). Returns the timestamp of the first of them, µs.
    pub fn stamp(&mut self, frames: u64, now_us: u64) -> u64 {
        let at = |samples: u64| self.start_us as f64 + samples as f64 * 1e6 / self.rate as f64;
        let pts = (at(self.samples) + self.offset_us).max(0.0) as u64;
        self.samples += frames;
        // when the last sample arrived by the clock vs by the count
        let err = now_us as f64 - (at(self.samples) + self.offset_us);
        if self.primed {
            // scheduling jitter averages out; a rate error accumulates and gets followed
            self.error_us += (err - self.error_us) / 32.0;
        } else {
            self.error_us = err;
            self.primed = true;
        }
        self.offset_us += (self.error_us / 16.0).clamp(-MAX_STEP_US, MAX_STEP_US);
        pts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A microphone whose crystal is `ppm` off and whose reads return with up
    /// to `jitter_us` of scheduling delay, over `hours` of media.
    fn worst_offset(ppm: f64, jitter_us: u64, hours: u64) -> (f64, bool) {
        let (rate, frame) = (48_000u32, 1024u64);
        let true_rate = f64::from(rate) * (1.0 + ppm * 1e-6);
        let mut clock = AudioClock::new(rate, 1_000_000);
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut worst: f64 = 0.0;
        let mut last_pts = 0;
        let mut monotonic = true;
        let frames = hours * 3600 * u64::from(rate) / frame;
        for n in 0..frames {
            // the true capture time of the frame's first sample
            let truth = 1_000_000.0 + (n * frame) as f64 * 1e6 / true_rate;
            let arrived = 1_000_000.0 + ((n + 1) * frame) as f64 * 1e6 / true_rate;
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = seed % (jitter_us + 1);
            let pts = clock.stamp(frame, arrived as u64 + delay);
            if n > 0 && pts <= last_pts {
                monotonic = false;
            }
            last_pts = pts;
            if n > 500 {
                worst = worst.max((pts as f64 - truth).abs());
            }
        }
        (worst, monotonic)
    }

    #[test]
    fn offset_stays_under_20_ms_for_a_day_with_a_fast_or_slow_crystal() {
        for ppm in [-300.0, -50.0, 0.0, 100.0, 300.0] {
            let (worst, monotonic) = worst_offset(ppm, 8_000, 24);
            assert!(
                worst < 20_000.0,
                "{ppm} ppm: A/V offset reached {:.1} ms",
                worst / 1000.0
            );
            assert!(monotonic, "{ppm} ppm: timestamps must increase");
        }
    }

    #[test]
    fn the_simulation_catches_drift_that_sample_counting_alone_has() {
        // sample-count stamps of the same 100 ppm microphone, one hour
        let (rate, frame, ppm) = (48_000.0f64, 1024u64, 100.0);
        let true_rate = rate * (1.0 + ppm * 1e-6);
        let n = 3600 * 48_000 / frame;
        let naive = (n * frame) as f64 * 1e6 / rate;
        let truth = (n * frame) as f64 * 1e6 / true_rate;
        assert!(
            (naive - truth).abs() > 300_000.0,
            "uncorrected: {:.0} ms off after an hour",
            (naive - truth) / 1000.0
        );
        let (worst, _) = worst_offset(ppm, 0, 1);
        assert!(worst < 20_000.0, "corrected: {:.1} ms", worst / 1000.0);
    }
}
