//! What the media threads tell the publisher, and what it asks of the video
//! encoder: one message type per direction, defined here beside the
//! publisher that consumes them (the media threads send these directly; no
//! translation in the shell).

use super::observe::Notice;
use crate::supervisor::Input as Fact;

/// What the media threads tell the event loop.
#[derive(Debug)]
pub enum MediaMsg {
    /// The camera (synthetic source) opened.
    CameraOpened,
    /// A device fact for the supervisor (open failures, mode, lost device);
    /// `fatal`: the thread has ended.
    Device {
        /// The fact.
        input: Fact,
        /// The thread ended with it.
        fatal: bool,
    },
    /// The first picture was captured.
    FirstFrame,
    /// The video encoder runs.
    VideoEncoderStarted {
        /// Backend name.
        backend: &'static str,
    },
    /// The video encoder failed for good: no backend left (-1303).
    VideoEncoderFailed(String),
    /// Backends before the running one failed (1103).
    EncoderFellBack(String),
    /// The running backend failed or wedged and was restarted (1104).
    EncoderRestarted(String),
    /// One encoded video access unit (Annex-B).
    Video(EncodedVideo),
    /// The audio encoder runs.
    AudioEncoderStarted {
        /// AudioSpecificConfig.
        asc: Vec<u8>,
    },
    /// The audio encoder failed (-1304).
    AudioFailed(String),
    /// One raw AAC frame.
    Audio(EncodedAudio),
    /// A fact for the indicators with no state code (the microphone is
    /// back, the audio level): passed on to the observers as it is.
    Notice(Notice),
}

/// An encoded video frame.
#[derive(Debug)]
pub struct EncodedVideo {
    /// Capture time on the monotonic clock, µs since the service started.
    pub pts_us: u64,
    /// IDR access unit.
    pub key: bool,
    /// Encoded size.
    pub width: u32,
    /// Encoded size.
    pub height: u32,
    /// Annex-B bytes.
    pub data: Vec<u8>,
}

/// An encoded audio frame.
#[derive(Debug)]
pub struct EncodedAudio {
    /// Time of the frame's first sample, µs since the service started.
    pub pts_us: u64,
    /// Raw AAC frame.
    pub data: Vec<u8>,
}

/// What the publisher asks of both media threads (a pause, a resume).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCommand {
    /// Video: the waiting image at `fps` frames a second, starting with a
    /// key frame; audio: silence when `mute` (`background-mute`).
    Pause {
        /// The waiting image's frame rate (`pause-fps`).
        fps: u32,
        /// Silence instead of the microphone.
        mute: bool,
    },
    /// The camera and the microphone again, starting with a key frame.
    Resume,
    /// Open (`true`) or close the camera: closed, the video thread
    /// captures and encodes nothing (`stop-closes-camera`, stop-preview).
    Camera(bool),
}

/// What the publisher asks of the video encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderCommand {
    /// Make the next video frame a key frame.
    ForceKey,
    /// Change the video bitrate (kbps) at once.
    Bitrate(u32),
    /// Encode at this size from the next frame on (a new encoder, a key frame).
    Resize {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}
