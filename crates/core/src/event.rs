//! Events as JSON lines, shaped like the component's events:
//! `{"event":"statechange","code":1002,"message":"..."}`,
//! `{"event":"netstatus","info":{...}}`, `{"event":"error","errCode":1001,"errMsg":"..."}`.

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
        let mut s = String::new();
        self.write_json(uptime_ms, &mut s);
        s
    }

    /// Appends the JSON line to `out` without allocating (beyond `out` growing).
    /// Keys are in alphabetical order.
    pub fn write_json(&self, uptime_ms: u64, out: &mut String) {
        use core::fmt::Write;
        match self {
            Event::StateChange { code, detail } => {
                let _ = write!(out, "{{\"code\":{},", code.code());
                if let Some(d) = detail {
                    out.push_str("\"detail\":");
                    json_str(d, out);
                    out.push(',');
                }
                out.push_str("\"event\":\"statechange\",\"message\":");
                json_str(code.message(), out);
                let _ = write!(out, ",\"uptime_ms\":{uptime_ms}}}");
            }
            Event::NetStatus(n) => {
                let _ = write!(
                    out,
                    "{{\"event\":\"netstatus\",\"info\":{{\"audioBitrate\":{},\"netJitter\":{},\"netSpeed\":{},\"videoBitrate\":{},\"videoFPS\":{:?},\"videoGOP\":{:?},\"videoHeight\":{},\"videoWidth\":{}}},\"uptime_ms\":{uptime_ms}}}",
                    n.audio_bitrate, n.net_jitter, n.net_speed, n.video_bitrate, n.video_fps, n.video_gop, n.video_height, n.video_width
                );
            }
            Event::Error { err_code, err_msg } => {
                let _ = write!(out, "{{\"errCode\":{err_code},\"errMsg\":");
                json_str(err_msg, out);
                let _ = write!(out, ",\"event\":\"error\",\"uptime_ms\":{uptime_ms}}}");
            }
        }
    }
}

/// Writes `s` as a JSON string literal.
fn json_str(s: &str, out: &mut String) {
    use core::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
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
        let n = NetStatus {
            video_fps: 24.5,
            video_gop: 0.04,
            ..n
        };
        assert!(Event::NetStatus(n)
            .to_json(1)
            .contains(r#""videoFPS":24.5,"videoGOP":0.04,"#));
    }

    #[test]
    fn strings_are_escaped_and_every_line_is_valid_json() {
        let nasty = "said \"no\"\\\n\u{1}";
        let e = Event::StateChange {
            code: StatusCode::ServerDisconnect,
            detail: Some(nasty.into()),
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json(7)).unwrap();
        assert_eq!(v["detail"], nasty);
        assert_eq!(v["code"], 3004);
        for ev in [
            Event::NetStatus(NetStatus::default()),
            Event::Error {
                err_code: 1002,
                err_msg: nasty.into(),
            },
        ] {
            let v: serde_json::Value = serde_json::from_str(&ev.to_json(0)).unwrap();
            assert!(v["event"].is_string());
        }
    }
}
