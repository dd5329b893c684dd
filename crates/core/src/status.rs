//! The one `StatusCode` enum: every state code of the live-pusher contract
//! (`spec/live-pusher.md`), numerically identical to uni-app's `@statechange`
//! `detail.code`, and three of livepush's own for the control commands
//! (1201 paused, 1202 resumed, 1203 stopped: the contract's component
//! reports those through its methods' callbacks, a box through its events).
//! Only the supervisor turns typed errors into these codes.

use core::fmt;

/// A live-pusher state code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum StatusCode {
    /// 1001: connected to the push server.
    ConnectSucc = 1001,
    /// 1002: handshake with the server done, pushing started.
    PushBegin = 1002,
    /// 1003: camera opened.
    OpenCameraSucc = 1003,
    /// 1004: screen capture started (not emitted: no screen source).
    ScreenCaptureSucc = 1004,
    /// 1005: resolution adjusted dynamically.
    ChangeResolution = 1005,
    /// 1006: bitrate adjusted dynamically.
    ChangeBitrate = 1006,
    /// 1007: first frame captured.
    FirstFrameAvailable = 1007,
    /// 1008: encoder started.
    StartVideoEncoder = 1008,
    /// 1101: poor network, data backing up.
    NetBusy = 1101,
    /// 1102: network disconnected, automatic reconnect started.
    Reconnect = 1102,
    /// 1103: hardware encoder failed to start, using software encoding.
    HwAccelerationFail = 1103,
    /// 1104: video encoding failed (warning, encoder restarted).
    VideoEncodeFail = 1104,
    /// 1105: new beauty encoder failed (not emitted).
    BeautySurfaceInitFail = 1105,
    /// 1106: beauty filter fell back (not emitted yet).
    BeautyFallback = 1106,
    /// -1301: failed to open camera.
    OpenCameraFail = -1301,
    /// -1302: failed to open microphone.
    OpenMicFail = -1302,
    /// -1303: video encoding failed.
    VideoEncodeFailFatal = -1303,
    /// -1304: audio encoding failed.
    AudioEncodeFail = -1304,
    /// -1305: unsupported video resolution.
    UnsupportedResolution = -1305,
    /// -1306: unsupported audio sample rate.
    UnsupportedSampleRate = -1306,
    /// -1307: disconnected and several reconnects failed.
    NetDisconnect = -1307,
    /// -1308: screen recording failed to start (not emitted).
    ScreenCaptureStartFailed = -1308,
    /// -1309: screen recording unsupported (not emitted).
    ScreenCaptureUnsupported = -1309,
    /// -1310: screen recording interrupted (not emitted).
    ScreenCaptureDisturbed = -1310,
    /// -1311: microphone open but delivers no audio data.
    MicRecordFail = -1311,
    /// -1312: screen recording orientation switch failed (not emitted).
    ScreenCaptureSwitchDisplayFailed = -1312,
    /// 3001: RTMP DNS resolution failed.
    DnsFail = 3001,
    /// 3002: RTMP server connection failed.
    ServerConnFail = 3002,
    /// 3003: RTMP server handshake failed.
    HandshakeFail = 3003,
    /// 3004: RTMP server closed the connection or rejected the publish.
    ServerDisconnect = 3004,
    /// 3005: RTMP read/write failed.
    ReadWriteFail = 3005,
    /// 1201 (livepush's own, not in the contract): paused by a command, the
    /// waiting image is pushed on the same publish.
    PushPaused = 1201,
    /// 1202 (livepush's own): resumed, camera video again.
    PushResumed = 1202,
    /// 1203 (livepush's own): the push was stopped by a command (or a
    /// pause outlasted `pause-time`); no reconnect follows.
    PushStopped = 1203,
}

/// Coarse class of a code, for indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// 1001..=1008, 1201..=1203: progress and commands carried out.
    Event,
    /// 1101..=1106, 3001..=3005: warnings, the unit recovers by itself.
    Warning,
    /// Negative codes: the current push session failed.
    Error,
}

impl StatusCode {
    /// Every code, in numeric order.
    pub const ALL: [StatusCode; 34] = [
        Self::ScreenCaptureSwitchDisplayFailed,
        Self::MicRecordFail,
        Self::ScreenCaptureDisturbed,
        Self::ScreenCaptureUnsupported,
        Self::ScreenCaptureStartFailed,
        Self::NetDisconnect,
        Self::UnsupportedSampleRate,
        Self::UnsupportedResolution,
        Self::AudioEncodeFail,
        Self::VideoEncodeFailFatal,
        Self::OpenMicFail,
        Self::OpenCameraFail,
        Self::ConnectSucc,
        Self::PushBegin,
        Self::OpenCameraSucc,
        Self::ScreenCaptureSucc,
        Self::ChangeResolution,
        Self::ChangeBitrate,
        Self::FirstFrameAvailable,
        Self::StartVideoEncoder,
        Self::NetBusy,
        Self::Reconnect,
        Self::HwAccelerationFail,
        Self::VideoEncodeFail,
        Self::BeautySurfaceInitFail,
        Self::BeautyFallback,
        Self::PushPaused,
        Self::PushResumed,
        Self::PushStopped,
        Self::DnsFail,
        Self::ServerConnFail,
        Self::HandshakeFail,
        Self::ServerDisconnect,
        Self::ReadWriteFail,
    ];

    /// The numeric code.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// Event, warning or error.
    pub const fn class(self) -> Class {
        match self as i32 {
            c if c < 0 => Class::Error,
            1001..=1008 | 1201..=1203 => Class::Event,
            _ => Class::Warning,
        }
    }

    /// Looks a numeric code up.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// English message (our translation of the uni-app text).
    pub const fn message(self) -> &'static str {
        match self {
            Self::ConnectSucc => "connected to the push server",
            Self::PushBegin => "handshake with the server done, pushing started",
            Self::OpenCameraSucc => "camera opened",
            Self::ScreenCaptureSucc => "screen capture started",
            Self::ChangeResolution => "resolution adjusted",
            Self::ChangeBitrate => "bitrate adjusted",
            Self::FirstFrameAvailable => "first frame captured",
            Self::StartVideoEncoder => "encoder started",
            Self::NetBusy => "poor network: upstream bandwidth too small, data backing up",
            Self::Reconnect => "network disconnected, automatic reconnect started",
            Self::HwAccelerationFail => "hardware encoder failed to start, using software encoding",
            Self::VideoEncodeFail => "video encoding failed, encoder restarted",
            Self::BeautySurfaceInitFail | Self::BeautyFallback => {
                "beauty filter failed, using the previous one"
            }
            Self::OpenCameraFail => "failed to open camera",
            Self::OpenMicFail => "failed to open microphone",
            Self::VideoEncodeFailFatal => "video encoding failed",
            Self::AudioEncodeFail => "audio encoding failed",
            Self::UnsupportedResolution => "unsupported video resolution",
            Self::UnsupportedSampleRate => "unsupported audio sample rate",
            Self::NetDisconnect => "network disconnected and several reconnects failed",
            Self::ScreenCaptureStartFailed => "screen recording failed to start",
            Self::ScreenCaptureUnsupported => "screen recording unsupported",
            Self::ScreenCaptureDisturbed => "screen recording interrupted",
            Self::MicRecordFail => "microphone opened but delivers no audio data",
            Self::ScreenCaptureSwitchDisplayFailed => "screen recording orientation switch failed",
            Self::DnsFail => "RTMP DNS resolution failed",
            Self::ServerConnFail => "RTMP server connection failed",
            Self::HandshakeFail => "RTMP server handshake failed",
            Self::ServerDisconnect => {
                "RTMP server closed the connection (check the push address and its auth token)"
            }
            Self::ReadWriteFail => "RTMP read/write failed",
            Self::PushPaused => "paused: the waiting image is pushed",
            Self::PushResumed => "resumed: camera video again",
            Self::PushStopped => "push stopped by a command",
        }
    }

    /// Whether this appliance can ever emit the code (screen capture codes are n/a).
    pub const fn emitted_by_appliance(self) -> bool {
        !matches!(
            self,
            Self::ScreenCaptureSucc
                | Self::BeautySurfaceInitFail
                | Self::ScreenCaptureStartFailed
                | Self::ScreenCaptureUnsupported
                | Self::ScreenCaptureDisturbed
                | Self::ScreenCaptureSwitchDisplayFailed
        )
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_sorted_unique_and_round_trips() {
        for w in StatusCode::ALL.windows(2) {
            assert!(w[0].code() < w[1].code(), "{:?} !< {:?}", w[0], w[1]);
        }
        for c in StatusCode::ALL {
            assert_eq!(StatusCode::from_code(c.code()), Some(c));
        }
        assert_eq!(StatusCode::from_code(42), None);
    }

    #[test]
    fn contract_codes_present() {
        let want = [
            1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, -1301, -1302, -1303, -1304, -1305,
            -1306, -1307, -1308, -1309, -1310, -1311, -1312, 1101, 1102, 1103, 1104, 1105, 1106,
            3001, 3002, 3003, 3004, 3005,
        ];
        for w in want {
            assert!(StatusCode::from_code(w).is_some(), "missing {w}");
        }
        assert_eq!(StatusCode::NetDisconnect.class(), Class::Error);
        assert_eq!(StatusCode::PushBegin.class(), Class::Event);
        assert_eq!(StatusCode::ReadWriteFail.class(), Class::Warning);
        assert_eq!(StatusCode::PushPaused.class(), Class::Event);
        assert_eq!(StatusCode::PushStopped.class(), Class::Event);
    }
}
