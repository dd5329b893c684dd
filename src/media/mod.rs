//! The media path: a video thread (source + H.264 encoder) and an audio thread
//! (source + AAC encoder), each paced by the monotonic clock, each handing
//! encoded access units to the event loop through its bounded channel. Heavy
//! work never runs on the event-loop thread.

pub mod audio;
pub mod counters;
pub mod video;

// What the media threads tell the event loop is the publisher's input type,
// defined in the core beside the publisher that consumes it.
pub use livepush_core::publisher::{EncodedAudio, EncodedVideo, MediaMsg};

/// What ties a media thread to the event loop.
pub struct Wiring {
    /// The service's clock origin (media timestamps count from it).
    pub origin: std::time::Instant,
    /// Where encoded frames and device facts go.
    pub mb: std::sync::Arc<crate::mailbox::Lane<MediaMsg>>,
    /// Commands from the loop.
    pub ctl: std::sync::mpsc::Receiver<MediaCtl>,
    /// Buffers the loop hands back for reuse.
    pub recycle: smol::channel::Receiver<Vec<u8>>,
    /// Media time per real time (`run --fast-clock N`; 1 normally): a
    /// synthetic source's pictures and samples come N times as fast, with
    /// their timestamps on the media clock (soak tests: hours in minutes).
    pub speed: u32,
}

/// A picture for a snapshot: I420 at the encoder's size, after crop and
/// scale, before encoding.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// I420 planes.
    pub i420: Vec<u8>,
}

/// Where the video thread answers a snapshot (never waits: one slot).
pub type SnapshotReply = async_channel::Sender<Result<Picture, String>>;
/// Where the video thread answers a camera switch: the device now in use,
/// or why the next one could not be opened (the current one stays).
pub type SwitchReply = async_channel::Sender<Result<String, String>>;

/// Where the video thread answers a torch toggle: Ok(on), Err(None) when
/// the camera has no flash control, Err(Some(why)) when it refused.
pub type TorchReply = async_channel::Sender<Result<bool, Option<String>>>;

/// Commands to the media threads.
#[derive(Debug, Clone)]
pub enum MediaCtl {
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
    /// Pause: video pushes the waiting image at `fps`; audio is silence
    /// when `mute`.
    Pause {
        /// `pause-fps`.
        fps: u32,
        /// `background-mute`.
        mute: bool,
    },
    /// Camera and microphone again.
    Resume,
    /// Open or close the camera.
    Camera(bool),
    /// A copy of the next picture.
    Snapshot(SnapshotReply),
    /// Open the next camera of `[video] devices`.
    SwitchCamera(SwitchReply),
    /// Toggle the camera's torch (its flash control).
    Torch(TorchReply),
    /// A new waiting image (a reload; None: the generated card).
    Still(Option<Vec<u8>>),
    /// New `beauty` and `whiteness` levels (a reload).
    Filters {
        /// 0..9.
        beauty: u8,
        /// 0..9.
        whiteness: u8,
    },
    /// End the thread.
    Stop,
}

impl From<livepush_core::publisher::MediaCommand> for MediaCtl {
    fn from(c: livepush_core::publisher::MediaCommand) -> Self {
        use livepush_core::publisher::MediaCommand as M;
        match c {
            M::Pause { fps, mute } => MediaCtl::Pause { fps, mute },
            M::Resume => MediaCtl::Resume,
            M::Camera(on) => MediaCtl::Camera(on),
        }
    }
}

impl From<livepush_core::publisher::EncoderCommand> for MediaCtl {
    fn from(c: livepush_core::publisher::EncoderCommand) -> Self {
        use livepush_core::publisher::EncoderCommand as E;
        match c {
            E::ForceKey => MediaCtl::ForceKey,
            E::Bitrate(k) => MediaCtl::Bitrate(k),
            E::Resize { width, height } => MediaCtl::Resize { width, height },
        }
    }
}

/// The pending commands, merged (the last bitrate and size win).
#[derive(Debug, Default)]
pub(crate) struct Commands {
    /// A key frame was asked for.
    pub key: bool,
    /// New video bitrate, kbps.
    pub bitrate: Option<u32>,
    /// New output size.
    pub size: Option<(u32, u32)>,
    /// Paused (`Some(Some(..))`) or resumed (`Some(None)`); the last wins.
    pub pause: Option<Option<Pause>>,
    /// Open or close the camera; the last wins.
    pub camera: Option<bool>,
    /// Snapshots asked for.
    pub snapshots: Vec<SnapshotReply>,
    /// Camera switches asked for.
    pub switches: Vec<SwitchReply>,
    /// Torch toggles asked for.
    pub torches: Vec<TorchReply>,
    /// A new waiting image.
    pub still: Option<Option<Vec<u8>>>,
    /// New filter levels (beauty, whiteness); the last wins.
    pub filters: Option<(u8, u8)>,
}

/// A pause as the media threads carry it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pause {
    /// The waiting image's frame rate.
    pub fps: u32,
    /// Silence instead of the microphone.
    pub mute: bool,
}

/// Takes every pending command. `None`: the thread must end.
pub(crate) fn take_commands(ctl: &std::sync::mpsc::Receiver<MediaCtl>) -> Option<Commands> {
    use std::sync::mpsc::TryRecvError;
    let mut c = Commands::default();
    loop {
        match ctl.try_recv() {
            Ok(MediaCtl::ForceKey) => c.key = true,
            Ok(MediaCtl::Bitrate(k)) => c.bitrate = Some(k),
            Ok(MediaCtl::Resize { width, height }) => c.size = Some((width, height)),
            Ok(MediaCtl::Pause { fps, mute }) => c.pause = Some(Some(Pause { fps, mute })),
            Ok(MediaCtl::Resume) => c.pause = Some(None),
            Ok(MediaCtl::Camera(on)) => c.camera = Some(on),
            Ok(MediaCtl::Snapshot(r)) => c.snapshots.push(r),
            Ok(MediaCtl::SwitchCamera(r)) => c.switches.push(r),
            Ok(MediaCtl::Torch(r)) => c.torches.push(r),
            Ok(MediaCtl::Still(s)) => c.still = Some(s),
            Ok(MediaCtl::Filters { beauty, whiteness }) => c.filters = Some((beauty, whiteness)),
            Ok(MediaCtl::Stop) | Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => return Some(c),
        }
    }
}

/// Sleeps until `deadline` on the monotonic clock.
pub(crate) fn sleep_until(deadline: std::time::Instant) {
    let now = std::time::Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}
