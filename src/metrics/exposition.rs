//! `GET /metrics`: the Prometheus/OpenMetrics text exposition, written by
//! the Prometheus project's `prometheus-client` crate (names, `_total`,
//! units, escaping, `# EOF`) from the last [`super::Snapshot`], the media
//! counters and `/proc/self`, at scrape time. Names: a `livepush_` prefix,
//! base units in the names, labels only for small fixed sets (state code,
//! track, drop reason, phase). README's "Metrics" section lists them.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use livepush_core::publisher::Phase;
use livepush_core::status::StatusCode;

use super::{process, Health, Metrics};
use crate::media::counters::{get, MEDIA};

/// Every phase, for the `livepush_phase{phase}` gauge.
const PHASES: [Phase; 6] = [
    Phase::Starting,
    Phase::Idle,
    Phase::Connecting,
    Phase::Publishing,
    Phase::Retrying,
    Phase::Stopping,
];

/// The registry `/metrics` encodes (built once; its collectors read the
/// shared state when scraped).
pub fn registry(metrics: Arc<Metrics>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(ProcessCollector));
    r.sub_registry_with_prefix("livepush")
        .register_collector(Box::new(Livepush(metrics)));
    r
}

/// Encodes `registry` (the answer's body).
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(16 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        log::warn!("metrics: encoding failed: {e}");
    }
    out
}

fn bits_per_second() -> Unit {
    Unit::Other("bits_per_second".into())
}

fn pixels() -> Unit {
    Unit::Other("pixels".into())
}

/// One value of a metric without labels.
fn one(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    m: &impl EncodeMetric,
) -> fmt::Result {
    let me = e.encode_descriptor(name, help, unit, m.metric_type())?;
    m.encode(me)
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> fmt::Result {
    one(e, name, help, None, &ConstCounter::new(v))
}

fn gauge(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: f64,
) -> fmt::Result {
    one(e, name, help, unit, &ConstGauge::new(v))
}

/// A metric with one row per label set.
fn family<const N: usize>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    kind: MetricType,
    rows: &[([(&str, String); N], f64)],
) -> fmt::Result {
    let mut me: MetricEncoder<'_> = e.encode_descriptor(name, help, unit, kind)?;
    for (labels, v) in rows {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let m = me.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(*v as u64).encode(m)?,
            _ => ConstGauge::new(*v).encode(m)?,
        }
    }
    Ok(())
}

/// livepush's own metrics.
#[derive(Debug)]
struct Livepush(Arc<Metrics>);

impl Collector for Livepush {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let m = &self.0;
        let (s, _) = m.snapshot();
        let b = m.build();
        let t = &s.tally;
        let e = &mut e;

        let info = prometheus_client::metrics::info::Info::new([
            ("version", b.version.to_string()),
            ("features", b.features.clone()),
            ("board", b.board.clone()),
            ("encoder", s.encoder.unwrap_or("").to_string()),
        ]);
        one(
            e,
            "build",
            "The build and what runs: version, optional features, board profile, the video encoder backend in use",
            None,
            &info,
        )?;

        // state
        gauge(
            e,
            "state_code",
            "The last state code emitted (the live-pusher contract's codes; 0 before the first)",
            None,
            f64::from(s.last_code.map_or(0, StatusCode::code)),
        )?;
        let phases: Vec<([(&str, String); 1], f64)> = PHASES
            .iter()
            .map(|p| {
                (
                    [("phase", p.name().to_string())],
                    f64::from(u8::from(*p == s.phase)),
                )
            })
            .collect();
        family(
            e,
            "phase",
            "1 for the push's phase now (starting, idle, connecting, publishing, retrying, stopping)",
            None,
            MetricType::Gauge,
            &phases,
        )?;
        gauge(
            e,
            "paused",
            "1 while paused by a command",
            None,
            f64::from(u8::from(s.paused)),
        )?;
        gauge(
            e,
            "healthy",
            "1 while /healthz answers 200",
            None,
            f64::from(u8::from(m.health() == Health::Ok)),
        )?;
        gauge(
            e,
            "camera_index",
            "Which of [video] devices is in use (0: the first)",
            None,
            f64::from(s.camera_index),
        )?;
        gauge(
            e,
            "uptime",
            "Time since the service started",
            Some(&Unit::Seconds),
            m.uptime().as_secs_f64(),
        )?;

        // codes
        let codes: Vec<([(&str, String); 1], f64)> = StatusCode::ALL
            .iter()
            .zip(s.codes.iter())
            .map(|(c, n)| ([("code", c.code().to_string())], *n as f64))
            .collect();
        family(
            e,
            "state_changes",
            "State codes emitted, by code",
            None,
            MetricType::Counter,
            &codes,
        )?;
        let failures: Vec<([(&str, String); 1], f64)> = [
            StatusCode::DnsFail,
            StatusCode::ServerConnFail,
            StatusCode::HandshakeFail,
            StatusCode::ServerDisconnect,
            StatusCode::ReadWriteFail,
        ]
        .iter()
        .map(|c| ([("code", c.code().to_string())], s.count(*c) as f64))
        .collect();
        family(
            e,
            "connection_failures",
            "Connections that failed or broke, by code (3001 DNS, 3002 connect, 3003 handshake, 3004 server closed, 3005 read/write)",
            None,
            MetricType::Counter,
            &failures,
        )?;
        counter(
            e,
            "connection_attempts",
            "Connections asked for (the first and every reconnect)",
            t.connects,
        )?;
        counter(e, "publishes", "Publishes the server accepted", t.publishes)?;
        counter(
            e,
            "reconnects",
            "Reconnects started (code 1102)",
            s.count(StatusCode::Reconnect),
        )?;
        counter(
            e,
            "encoder_restarts",
            "Video encoder failures it was restarted after (code 1104)",
            s.count(StatusCode::VideoEncodeFail),
        )?;
        counter(
            e,
            "encoder_fallbacks",
            "Falls back from a hardware video encoder to the next one (code 1103)",
            s.count(StatusCode::HwAccelerationFail),
        )?;
        counter(
            e,
            "camera_losses",
            "Camera open failures and losses (code -1301)",
            s.count(StatusCode::OpenCameraFail),
        )?;
        counter(
            e,
            "microphone_losses",
            "Microphone open failures and losses (code -1302)",
            s.count(StatusCode::OpenMicFail),
        )?;
        counter(
            e,
            "microphone_silences",
            "Times the microphone went silent (code -1311)",
            s.count(StatusCode::MicRecordFail),
        )?;
        counter(
            e,
            "audio_overruns",
            "Microphone overruns (ALSA xruns)",
            get(&MEDIA.audio_overruns),
        )?;
        counter(
            e,
            "audio_overrun_lost_frames",
            "Audio frames lost in overruns (filled with silence)",
            get(&MEDIA.audio_overrun_frames),
        )?;

        // frames
        let track = |v: &str| ("track", v.to_string());
        family(
            e,
            "frames_captured",
            "Pictures and audio chunks from the camera, the microphone or the synthetic sources",
            None,
            MetricType::Counter,
            &[
                ([track("video")], get(&MEDIA.video_captured) as f64),
                ([track("audio")], get(&MEDIA.audio_captured) as f64),
            ],
        )?;
        family(
            e,
            "frames_encoded",
            "Encoded frames the encoders handed the event loop",
            None,
            MetricType::Counter,
            &[
                ([track("video")], t.video_frames_in as f64),
                ([track("audio")], t.audio_frames_in as f64),
            ],
        )?;
        family(
            e,
            "frames_sent",
            "Frames the socket took whole",
            None,
            MetricType::Counter,
            &[
                ([track("video")], t.video_frames_written as f64),
                ([track("audio")], t.audio_frames_written as f64),
            ],
        )?;
        let reason = |v: &str| ("reason", v.to_string());
        family(
            e,
            "frames_dropped",
            "Frames dropped, by track and reason: pacing (kept to the frame rate), encoder (busy), loop (its inbox full), corrupt (a camera's JPEG that did not decode; the last good picture sent instead), queue_shed (older than the mode allows)",
            None,
            MetricType::Counter,
            &[
                ([track("video"), reason("pacing")], get(&MEDIA.video_dropped_pacing) as f64),
                ([track("video"), reason("encoder")], get(&MEDIA.video_dropped_encoder) as f64),
                ([track("video"), reason("loop")], get(&MEDIA.video_dropped_loop) as f64),
                ([track("video"), reason("corrupt")], get(&MEDIA.video_dropped_corrupt) as f64),
                ([track("video"), reason("queue_shed")], t.video_frames_shed as f64),
                ([track("audio"), reason("loop")], get(&MEDIA.audio_dropped_loop) as f64),
                ([track("audio"), reason("queue_shed")], t.audio_frames_shed as f64),
            ],
        )?;
        one(
            e,
            "sent",
            "Bytes the socket took (RTMP handshake, commands and media; below TLS)",
            Some(&Unit::Bytes),
            &ConstCounter::new(t.bytes_written),
        )?;

        // the send side and the netstatus figures
        let bps = bits_per_second();
        gauge(
            e,
            "video_target_bitrate",
            "The video bitrate the encoder is asked for (the adaptive controller's choice)",
            Some(&bps),
            f64::from(t.target_video_kbps) * 1000.0,
        )?;
        gauge(
            e,
            "send_queue_age",
            "Age of the oldest packet waiting in the send queue",
            Some(&Unit::Seconds),
            f64::from(t.queue_age_ms) / 1000.0,
        )?;
        gauge(
            e,
            "delay_behind_live",
            "How far behind live the server receives, estimated (queue age plus a full socket buffer at the uplink's rate)",
            Some(&Unit::Seconds),
            f64::from(t.delay_ms) / 1000.0,
        )?;
        if let Some((n, at_ms)) = s.net {
            gauge(
                e,
                "video_bitrate",
                "netstatus videoBitrate: the video encoder's output",
                Some(&bps),
                f64::from(n.video_bitrate) * 1000.0,
            )?;
            gauge(
                e,
                "audio_bitrate",
                "netstatus audioBitrate: the audio encoder's output",
                Some(&bps),
                f64::from(n.audio_bitrate) * 1000.0,
            )?;
            gauge(
                e,
                "net_speed",
                "netstatus netSpeed: what the socket took",
                Some(&bps),
                f64::from(n.net_speed) * 1000.0,
            )?;
            gauge(
                e,
                "net_jitter",
                "netstatus netJitter: mean change between consecutive send delays",
                Some(&Unit::Seconds),
                f64::from(n.net_jitter) / 1000.0,
            )?;
            gauge(
                e,
                "video_fps",
                "netstatus videoFPS: encoded video frames per second",
                None,
                f64::from(n.video_fps),
            )?;
            gauge(
                e,
                "video_gop",
                "netstatus videoGOP: time between the last two key frames",
                Some(&Unit::Seconds),
                f64::from(n.video_gop),
            )?;
            gauge(
                e,
                "video_width",
                "netstatus videoWidth",
                Some(&pixels()),
                f64::from(n.video_width),
            )?;
            gauge(
                e,
                "video_height",
                "netstatus videoHeight",
                Some(&pixels()),
                f64::from(n.video_height),
            )?;
            gauge(
                e,
                "netstatus_uptime",
                "The service time of the netstatus figures above (their event's uptime_ms)",
                Some(&Unit::Seconds),
                at_ms as f64 / 1000.0,
            )?;
        }
        Ok(())
    }
}

/// The process collector's names (`process_*`, no prefix: dashboards know them).
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
        let Some(p) = process::read() else {
            return Ok(());
        };
        let e = &mut e;
        gauge(
            e,
            "process_resident_memory",
            "Resident memory size",
            Some(&Unit::Bytes),
            p.resident_bytes as f64,
        )?;
        one(
            e,
            "process_cpu",
            "User and system CPU time spent",
            Some(&Unit::Seconds),
            &ConstCounter::new(p.cpu_seconds),
        )?;
        gauge(e, "process_threads", "Threads", None, p.threads as f64)?;
        gauge(
            e,
            "process_open_fds",
            "Open file descriptors",
            None,
            p.open_fds as f64,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BuildInfo, Feed};
    use livepush_core::event::Event;
    use livepush_core::netstatus::NetStatus;
    use livepush_core::publisher::{Observed, Observer, Tally};
    use livepush_core::time::Instant;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn the_exposition_follows_the_naming_rules_and_carries_what_was_observed() {
        let m = Metrics::new(BuildInfo {
            version: "9.9.9",
            features: "x264".into(),
            board: "rpi4".into(),
        });
        let reg = registry(m.clone());
        let mut f = Feed::new(m.clone());
        let at = Instant::from_millis(5000);
        for code in [
            StatusCode::PushBegin,
            StatusCode::Reconnect,
            StatusCode::ServerConnFail,
            StatusCode::Reconnect,
        ] {
            f.observe(
                at,
                Observed::Event(&Event::StateChange { code, detail: None }),
            );
        }
        let n = NetStatus {
            video_bitrate: 812,
            audio_bitrate: 64,
            video_fps: 29.5,
            video_gop: 2.0,
            net_speed: 900,
            net_jitter: 7,
            video_width: 1280,
            video_height: 720,
        };
        f.observe(at, Observed::Event(&Event::NetStatus(n)));
        let tally = Tally {
            bytes_written: 123_456,
            video_frames_written: 150,
            target_video_kbps: 1000,
            queue_age_ms: 250,
            ..Tally::default()
        };
        f.observe(at, Observed::Tally(&tally));
        let text = render(&reg);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(
            text.contains("# TYPE livepush_state_changes counter"),
            "{text}"
        );
        assert_eq!(
            value(&text, "livepush_state_changes_total{code=\"1102\"}"),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "livepush_state_changes_total{code=\"-1301\"}"),
            Some(0.0)
        );
        assert_eq!(
            value(&text, "livepush_connection_failures_total{code=\"3002\"}"),
            Some(1.0)
        );
        assert_eq!(value(&text, "livepush_reconnects_total"), Some(2.0));
        assert_eq!(value(&text, "livepush_state_code"), Some(1102.0));
        assert_eq!(value(&text, "livepush_sent_bytes_total"), Some(123_456.0));
        assert_eq!(
            value(&text, "livepush_frames_sent_total{track=\"video\"}"),
            Some(150.0)
        );
        assert_eq!(
            value(&text, "livepush_video_bitrate_bits_per_second"),
            Some(812_000.0)
        );
        assert_eq!(value(&text, "livepush_net_jitter_seconds"), Some(0.007));
        assert_eq!(value(&text, "livepush_video_width_pixels"), Some(1280.0));
        assert_eq!(value(&text, "livepush_send_queue_age_seconds"), Some(0.25));
        assert_eq!(value(&text, "livepush_netstatus_uptime_seconds"), Some(5.0));
        assert_eq!(
            value(&text, "livepush_video_target_bitrate_bits_per_second"),
            Some(1e6)
        );
        assert!(
            text.contains("livepush_build_info{version=\"9.9.9\",features=\"x264\",board=\"rpi4\",encoder=\"\"} 1"),
            "{text}"
        );
        assert!(value(&text, "process_resident_memory_bytes").unwrap() > 1e6);
        assert!(
            text.contains("# TYPE process_cpu_seconds counter"),
            "{text}"
        );
        // every counter sample ends in _total; no sample without the prefix but process_*
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                l.starts_with("livepush_") || l.starts_with("process_"),
                "{l}"
            );
        }
        // the healthy gauge follows the tally's health
        assert_eq!(value(&text, "livepush_healthy"), Some(1.0));
    }
}
