//! Test-only encoders, one place: a wrapper that makes the encoder under it
//! fail after a number of pictures (the real binary's fault injection,
//! `LIVEPUSH_INJECT_ENCODER_FAULT`, used by tests/encoders.rs to prove 1104
//! and the restart on the same publish). Nothing here runs unless that
//! variable is set.

use super::{EncoderError, Polled, Submitted, Tuning, VideoEncoder, I420};

/// Wraps an encoder so that it fails once after `after` pictures.
pub struct FailsAfter {
    inner: Box<dyn VideoEncoder>,
    after: u64,
    n: u64,
}

impl VideoEncoder for FailsAfter {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError> {
        self.n += 1;
        if self.n > self.after {
            return Err(EncoderError::failed(format_args!(
                "injected fault after {} frames (LIVEPUSH_INJECT_ENCODER_FAULT)",
                self.n
            )));
        }
        self.inner.submit(pic, pts_us)
    }
    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError> {
        self.inner.poll(out)
    }
    fn drain(&mut self) -> Result<(), EncoderError> {
        self.inner.drain()
    }
    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError> {
        self.inner.tune(t)
    }
    fn force_key(&mut self) {
        self.inner.force_key()
    }
}

impl FailsAfter {
    /// `inner`, failing at picture `after + 1`.
    pub fn new(inner: Box<dyn VideoEncoder>, after: u64) -> Self {
        FailsAfter { inner, after, n: 0 }
    }
}
