//! `livepush status`: the box's state on one screen for a person on ssh
//! (`GET /v1/status` and `/healthz` of the control API, in words); `--json`
//! prints the API's answer as it is (what `livepush ctl status` prints).

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use super::ctl::{get, Target};

/// Prints the status; exit 0 when healthy, 1 when not, 3 when the API
/// could not be asked.
pub fn run(target: &Target, json: bool) -> ExitCode {
    let (code, body) = match get(target, "/v1/status") {
        Ok(r) => r,
        Err(e) => {
            eprintln!("livepush status: {e}");
            return ExitCode::from(3);
        }
    };
    if json {
        print!("{}", String::from_utf8_lossy(&body));
        return if code.is_success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) if code.is_success() => v,
        Ok(v) => {
            eprintln!(
                "livepush status: HTTP {code}: {}",
                v["error"]["message"].as_str().unwrap_or("")
            );
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("livepush status: the answer is not JSON: {e}");
            return ExitCode::from(3);
        }
    };
    print!("{}", render(&v));
    if v["health"]["ok"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn kbps(v: &Value) -> String {
    match v.as_u64() {
        Some(k) if k >= 1000 => format!("{:.2} Mbit/s", k as f64 / 1000.0),
        Some(k) => format!("{k} kbit/s"),
        None => "-".into(),
    }
}

fn duration(s: u64) -> String {
    let (d, h, m) = (s / 86400, s / 3600 % 24, s / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min {} s", s % 60),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h {m} min"),
    }
}

/// The screen for a status answer.
pub fn render(v: &Value) -> String {
    let mut o = String::new();
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_string();
    let health = if v["health"]["ok"].as_bool() == Some(true) {
        "healthy".to_string()
    } else {
        format!(
            "NOT HEALTHY: {}",
            v["health"]["reason"].as_str().unwrap_or("?")
        )
    };
    let _ = writeln!(o, "{}  ({}; {health})", s("headline"), s("state"));
    let c = &v["config"];
    let _ = writeln!(
        o,
        "  push       {} ({} mode{})",
        c["url"].as_str().unwrap_or("-"),
        c["mode"].as_str().unwrap_or("-"),
        if c["autopush"].as_bool() == Some(false) {
            ", autopush off"
        } else {
            ""
        }
    );
    let camera = match (v["camera"].as_str(), v["camera_open"].as_bool()) {
        (Some(cam), Some(true)) => cam.to_string(),
        (Some(cam), _) => format!("{cam} (not open)"),
        (None, _) => "-".into(),
    };
    let _ = writeln!(
        o,
        "  encoder    {}    camera {camera}",
        v["encoder"].as_str().unwrap_or("-")
    );
    let n = &v["netstatus"];
    if n.is_object() {
        let _ = writeln!(
            o,
            "  video      {}  {:.1} fps  {}x{}  key frame every {:.1} s",
            kbps(&n["videoBitrate"]),
            n["videoFPS"].as_f64().unwrap_or(0.0),
            n["videoWidth"],
            n["videoHeight"],
            n["videoGOP"].as_f64().unwrap_or(0.0)
        );
        let _ = writeln!(o, "  audio      {}", kbps(&n["audioBitrate"]));
        let _ = writeln!(
            o,
            "  uplink     {}  jitter {} ms",
            kbps(&n["netSpeed"]),
            n["netJitter"]
        );
    }
    let _ = writeln!(
        o,
        "  up         {}",
        duration(v["uptime_s"].as_u64().unwrap_or(0))
    );
    if let Some(utc) = v["clock"]["utc"].as_str() {
        let _ = writeln!(
            o,
            "  clock      {utc}{}",
            if v["clock"]["synchronized"] == true {
                ""
            } else {
                "  (not synchronised: may jump when NTP answers)"
            }
        );
    }
    let now_ms = v["uptime_ms"].as_u64().unwrap_or(0);
    if let Some(codes) = v["last_codes"].as_array() {
        let _ = writeln!(o, "last state codes (newest first):");
        for c in codes.iter().rev().take(10) {
            let ago = now_ms.saturating_sub(c["uptime_ms"].as_u64().unwrap_or(0)) / 1000;
            let detail = c["detail"]
                .as_str()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  {:>8} ago  {:>5}  {}{detail}",
                duration(ago),
                c["code"].as_i64().unwrap_or(0),
                c["message"].as_str().unwrap_or("")
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_status_answer_reads_as_one_screen() {
        let v = serde_json::json!({
            "headline": "LIVE", "state": "publishing", "health": {"ok": true},
            "config": {"url": "rtmp://example.net/live/****", "mode": "HD", "autopush": true},
            "camera": "/dev/video0", "camera_open": true, "encoder": "v4l2-m2m",
            "netstatus": {"videoBitrate": 1800, "audioBitrate": 64, "videoFPS": 29.97,
                "videoWidth": 1280, "videoHeight": 720, "videoGOP": 2.0, "netSpeed": 1900, "netJitter": 4},
            "uptime_s": 7384, "uptime_ms": 7_384_000,
            "clock": {"utc": "1970-01-01T02:03:04Z", "synchronized": false},
            "last_codes": [{"code": 1002, "message": "connected, pushing", "uptime_ms": 7_000_000}],
        });
        let s = super::render(&v);
        assert!(s.starts_with("LIVE  (publishing; healthy)\n"), "{s}");
        assert!(s.contains("1.80 Mbit/s  30.0 fps  1280x720"), "{s}");
        assert!(s.contains("v4l2-m2m    camera /dev/video0"), "{s}");
        assert!(s.contains("2 h 3 min"), "{s}");
        assert!(
            s.contains("clock      1970-01-01T02:03:04Z  (not synchronised"),
            "{s}"
        );
        assert!(
            s.contains("6 min 24 s ago   1002  connected, pushing"),
            "{s}"
        );
        assert!(s.lines().count() <= 24, "one screen");
    }
}
