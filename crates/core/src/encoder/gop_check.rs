//! Verifies the key-frame interval a backend actually produces: hardware
//! encoders that ignore the GOP setting are the users' first complaint
//! (streaming sites reject a stream without regular key frames). Fed every
//! encoded frame; reports once when an observed interval misses the one
//! asked for by more than a frame (forced key frames, which come early on
//! purpose, restart the count without a verdict).

/// What the check concluded about one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GopMismatch {
    /// Frames between key frames that were asked for.
    pub expected: u32,
    /// Frames between the last two key frames.
    pub observed: u32,
}

/// The key-frame interval watch.
#[derive(Clone, Debug)]
pub struct GopCheck {
    expected: u32,
    since_key: Option<u32>,
    reported: bool,
}

impl GopCheck {
    /// A key frame every `expected` frames is wanted.
    pub fn new(expected: u32) -> Self {
        GopCheck {
            expected: expected.max(1),
            since_key: None,
            reported: false,
        }
    }

    /// An encoded frame; `forced`: a key frame was requested for it. Returns a
    /// mismatch the first time one is seen.
    pub fn frame(&mut self, key: bool, forced: bool) -> Option<GopMismatch> {
        let mut verdict = None;
        if key {
            if let (Some(n), false) = (self.since_key, forced) {
                if n.abs_diff(self.expected) > 1 && !self.reported {
                    self.reported = true;
                    verdict = Some(GopMismatch {
                        expected: self.expected,
                        observed: n,
                    });
                }
            }
            self.since_key = Some(1);
        } else if let Some(n) = self.since_key.as_mut() {
            *n += 1;
            // a missing key frame is a mismatch as soon as it is late
            if *n > self.expected + 1 && !self.reported {
                self.reported = true;
                verdict = Some(GopMismatch {
                    expected: self.expected,
                    observed: *n,
                });
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_gop_passes_and_forced_keys_restart_the_count() {
        let mut g = GopCheck::new(50);
        for i in 0..500 {
            assert_eq!(g.frame(i % 50 == 0, false), None, "frame {i}");
        }
        // a forced key in the middle, then the encoder's own cadence again
        assert_eq!(g.frame(true, true), None);
        for i in 1..200 {
            assert_eq!(g.frame(i % 50 == 0, false), None);
        }
    }

    #[test]
    fn an_encoder_ignoring_the_gop_is_reported_once() {
        let mut g = GopCheck::new(50);
        assert_eq!(g.frame(true, false), None);
        let mut hits = Vec::new();
        for i in 1..400 {
            if let Some(m) = g.frame(i % 250 == 0, false) {
                hits.push((i, m));
            }
        }
        assert_eq!(
            hits,
            [(
                51,
                GopMismatch {
                    expected: 50,
                    observed: 52
                }
            )]
        );
        // too many key frames is a mismatch too
        let mut g = GopCheck::new(50);
        g.frame(true, false);
        for _ in 0..9 {
            g.frame(false, false);
        }
        assert_eq!(
            g.frame(true, false),
            Some(GopMismatch {
                expected: 50,
                observed: 10
            })
        );
    }
}
