//! Events as JSON lines, shaped like the component's events:
//! `{"event":"statechange","code":1002,"message":"..."}`,
//! `{"event":"netstatus","info":{...}}`, `{"event":"error","errCode":1001,"errMsg":"..."}`.

use serde_json::json;

use crate::netstatus::NetStatus;
use crate::status::StatusCode;

/// One event for the outside world.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A state code.
    StateChange {
        /// The code.
        code: StatusCode,
        /// Extra detail (never a secret).
        detail: Option<String>,
    },
    /// About once a second.
    NetStatus(NetStatus),
    /// Permission errors: 1001 camera, 1002 microphone.
    Error {
        /// 1001 or 1002.
        err_code: i32,
        /// What happened.
        err_msg: String,
    },
}

impl Event {
    /// The event as one JSON line (no trailing newline). `uptime_ms` is the
    /// service's monotonic age when the event happened.
    pub fn to_json(&self, uptime_ms: u64) -> String {
        let v = match self {
            Event::StateChange { code, detail } => {
                let mut v = json!({"event": "statechange", "code": code.code(), "message": code.message(), "uptime_ms": uptime_ms});
                if let Some(d) = detail {
                    v["detail"] = json!(d);
                }
                v
            }
            Event::NetStatus(n) => json!({
                "event": "netstatus",
                "uptime_ms": uptime_ms,
                "info": {
                    "videoBitrate": n.video_bitrate,
                    "audioBitrate": n.audio_bitrate,
                    "videoFPS": n.video_fps,
                    "videoGOP": n.video_gop,
                    "netSpeed": n.net_speed,
                    "netJitter": n.net_jitter,
                    "videoWidth": n.video_width,
                    "videoHeight": n.video_height,
                }
            }),
            Event::Error { err_code, err_msg } => {
                json!({"event": "error", "errCode": err_code, "errMsg": err_msg, "uptime_ms": uptime_ms})
            }
        };
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shapes() {
        let e = Event::StateChange {
            code: StatusCode::PushBegin,
            detail: None,
        };
        assert_eq!(
            e.to_json(5),
            r#"{"code":1002,"event":"statechange","message":"handshake with the server done, pushing started","uptime_ms":5}"#
        );
        let n = NetStatus {
            video_bitrate: 600,
            audio_bitrate: 128,
            video_fps: 20.0,
            video_gop: 1.0,
            net_speed: 740,
            net_jitter: 2,
            video_width: 360,
            video_height: 640,
        };
        assert_eq!(
            Event::NetStatus(n).to_json(1000),
            r#"{"event":"netstatus","info":{"audioBitrate":128,"netJitter":2,"netSpeed":740,"videoBitrate":600,"videoFPS":20.0,"videoGOP":1.0,"videoHeight":640,"videoWidth":360},"uptime_ms":1000}"#
        );
        let e = Event::Error {
            err_code: 1001,
            err_msg: "x".into(),
        };
        assert_eq!(
            e.to_json(0),
            r#"{"errCode":1001,"errMsg":"x","event":"error","uptime_ms":0}"#
        );
    }
}
