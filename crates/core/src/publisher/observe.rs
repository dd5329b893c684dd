//! The publisher's outputs as seen from outside the media path: status
//! codes, netstatus figures, error events and the connection phase. The
//! event log is one observer; status LEDs, a display, a control API and
//! metrics subscribe the same way, and none of them can hold up a frame
//! (they see a reference after the publisher has decided, and return).

use crate::event::Event;
use crate::time::Instant;

/// Where the publisher is, coarsely (what an indicator shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the media side (encoders) before the first connection.
    Starting,
    /// Not pushing by command: `autopush = false` before a start, or
    /// after a stop (the camera and encoders may run: preview, snapshot).
    Idle,
    /// A connection is being set up (TCP, TLS, RTMP handshake, publish).
    Connecting,
    /// The server accepted the publish: media flows.
    Publishing,
    /// The last connection failed; the next attempt is scheduled.
    Retrying,
    /// Stopping: flushing the last packets.
    Stopping,
}

impl Phase {
    /// A short lowercase name (logs, JSON).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Idle => "idle",
            Phase::Connecting => "connecting",
            Phase::Publishing => "publishing",
            Phase::Retrying => "retrying",
            Phase::Stopping => "stopping",
        }
    }
}

/// A fact with no state code in the contract that an indicator still
/// needs (the contract says when a camera opens, 1003, but not when a
/// microphone comes back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The microphone opened again after -1302 or -1306.
    MicBack,
    /// Sound again after -1311.
    SoundBack,
    /// The adaptive bitrate set the video target: below the maximum, the
    /// uplink is short.
    VideoRate {
        /// The new target, kbps.
        kbps: u32,
        /// `max-bitrate`, kbps.
        max_kbps: u32,
    },
    /// The video encoder backend that runs (after a start, a fallback or a
    /// restart).
    VideoEncoder {
        /// Its name ("openh264", "v4l2-m2m", ...).
        backend: &'static str,
    },
    /// The camera in use changed (switch-camera): its place in `[video]
    /// devices`.
    Camera {
        /// 0 for the first.
        index: u8,
    },
    /// The audio peak of the last moments (a few times a second).
    AudioLevel {
        /// Peak, dBFS (-100 for digital silence).
        peak_db: i8,
    },
}

/// One thing an observer is shown.
#[derive(Debug, Clone, Copy)]
pub enum Observed<'a> {
    /// A statechange, netstatus or error event.
    Event(&'a Event),
    /// The phase changed.
    Phase(Phase),
    /// A fact without a state code.
    Notice(Notice),
    /// The totals and the send side's gauges, once a second (metrics).
    Tally(&'a super::Tally),
}

/// Something that watches the publisher (the event log, LEDs, a display,
/// the control API, metrics). Called on the event loop's thread: it must
/// return at once (hand work to its own thread if it has slow work).
pub trait Observer {
    /// `at` is the service's monotonic time.
    fn observe(&mut self, at: Instant, what: Observed<'_>);
}
