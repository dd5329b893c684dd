//! The chain's backends as the video thread opens them: the hardware ones
//! the board or config names, the software one last, and the fault-injection
//! test hook (`LIVEPUSH_INJECT_ENCODER_FAULT`) wrapped around the first.

use livepush_core::config::EncoderChoice;
use livepush_core::encoder::runner::Opener;
use livepush_core::encoder::settings::EncoderSettings;
use livepush_core::encoder::Backend;

use crate::hw::fault::FailsAfter;
use crate::hw::{EncoderError, VideoEncoder};

/// Opens the chain's backends (with the fault-injection test hook).
pub(super) struct Backends {
    pub(super) software: EncoderChoice,
    pub(super) m2m_device: Option<String>,
    /// LIVEPUSH_INJECT_ENCODER_FAULT: the first encoder fails after this many pictures.
    pub(super) inject_fault_after: Option<u64>,
}

impl Opener for Backends {
    fn open(
        &mut self,
        backend: Backend,
        s: &EncoderSettings,
    ) -> Result<Box<dyn VideoEncoder>, EncoderError> {
        let e = crate::hw::open_backend(backend, self.software, s, self.m2m_device.as_deref())?;
        Ok(match self.inject_fault_after.take() {
            Some(after) => Box::new(FailsAfter::new(e, after)),
            None => e,
        })
    }
}
