//! Why a video encoder backend said no, typed by what the runner does about
//! it: a backend that is not on this machine is skipped for the run, a
//! setting it cannot take is worked around (the rate is no longer corrected,
//! pictures are copied instead of imported), and a failure while it runs
//! restarts it, then falls back. The text names the backend, the device or
//! library call and the OS's reason; it is what reaches the log and the
//! 1103/1104/-1303 events (strings only there, at the edge).

use core::fmt;

/// An encoder backend's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncoderError {
    /// Not on this machine or not in this build: no such device, a library
    /// not found, a feature not compiled in. Only `open` says this; the chain
    /// moves on to the next backend.
    Unavailable(String),
    /// The backend cannot do what was asked (a size, a profile, a bitrate, a
    /// frame rate, a DMABUF layout). From `open`: the next backend; from
    /// `tune`: the runner keeps the rate it had and stops correcting it;
    /// from `submit_dmabuf`: pictures are offered as pixels.
    Unsupported(String),
    /// A device or library call failed (an ioctl, a VA or MPP call, the
    /// codec library), or its output could not be read: the runner restarts
    /// the backend, then falls back (1104, then 1103).
    Failed(String),
    /// Pictures went in and nothing came out for this many milliseconds.
    Wedged {
        /// How long nothing came out.
        after_ms: u64,
    },
}

impl EncoderError {
    /// `Unavailable` from anything printable.
    pub fn unavailable(why: impl fmt::Display) -> Self {
        EncoderError::Unavailable(why.to_string())
    }

    /// `Unsupported` from anything printable.
    pub fn unsupported(why: impl fmt::Display) -> Self {
        EncoderError::Unsupported(why.to_string())
    }

    /// `Failed` from anything printable.
    pub fn failed(why: impl fmt::Display) -> Self {
        EncoderError::Failed(why.to_string())
    }

    /// The same kind of error with `prefix: ` before its text (a backend
    /// naming itself before a helper's message).
    pub fn context(self, prefix: impl fmt::Display) -> Self {
        match self {
            EncoderError::Unavailable(m) => EncoderError::Unavailable(format!("{prefix}: {m}")),
            EncoderError::Unsupported(m) => EncoderError::Unsupported(format!("{prefix}: {m}")),
            EncoderError::Failed(m) => EncoderError::Failed(format!("{prefix}: {m}")),
            w @ EncoderError::Wedged { .. } => w,
        }
    }

    /// Whether the backend itself stopped working (restart or fall back), as
    /// opposed to not being there or not taking a setting.
    pub fn is_failure(&self) -> bool {
        matches!(self, EncoderError::Failed(_) | EncoderError::Wedged { .. })
    }
}

impl fmt::Display for EncoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncoderError::Unavailable(m)
            | EncoderError::Unsupported(m)
            | EncoderError::Failed(m) => f.write_str(m),
            EncoderError::Wedged { after_ms } => {
                write!(
                    f,
                    "no output for {after_ms} ms while frames went in (wedged)"
                )
            }
        }
    }
}

impl std::error::Error for EncoderError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_prefixes_the_text() {
        let e = EncoderError::unsupported("1920x1080 refused").context("v4l2-m2m");
        assert_eq!(
            e,
            EncoderError::Unsupported("v4l2-m2m: 1920x1080 refused".into())
        );
        assert!(!e.is_failure());
        let e = EncoderError::failed("VIDIOC_QBUF: EIO").context("v4l2-m2m");
        assert_eq!(e.to_string(), "v4l2-m2m: VIDIOC_QBUF: EIO");
        assert!(e.is_failure());
        let w = EncoderError::Wedged { after_ms: 3000 }.context("x");
        assert_eq!(
            w.to_string(),
            "no output for 3000 ms while frames went in (wedged)"
        );
        assert!(w.is_failure());
        assert!(!EncoderError::unavailable("no device").is_failure());
    }
}
