//! Supervisor scenarios with fake time.

use super::*;

fn sup(video: bool) -> Supervisor {
    Supervisor::new(SupervisorConfig {
        video,
        audio: true,
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter_pct: 0,
            // the back-off alone (the fast period has its own test)
            fast_for: Duration::ZERO,
        },
        attempts_before_fatal: 3,
        stable_after: Duration::from_millis(2000),
        seed: 1,
        autopush: true,
    })
}

fn drain(s: &mut Supervisor) -> Vec<String> {
    std::iter::from_fn(|| s.poll_output())
        .map(|o| match o {
            Output::Status { code, .. } => code.code().to_string(),
            Output::Connect => "connect".into(),
            Output::Error { err_code, .. } => format!("error {err_code}"),
        })
        .collect()
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

#[test]
fn happy_path_order_is_pinned() {
    let mut s = sup(true);
    // audio is ready first: no connect until the video encoder runs
    s.handle_input(t(0), Input::AudioEncoderStarted);
    s.handle_input(t(0), Input::CameraOpened);
    s.handle_input(t(1), Input::FirstFrame);
    s.handle_input(t(1), Input::FirstFrame);
    assert_eq!(drain(&mut s), ["1003", "1007"]);
    s.handle_input(t(2), Input::VideoEncoderStarted { fell_back: false });
    s.handle_input(t(3), Input::Connected);
    s.handle_input(t(4), Input::Published);
    assert_eq!(drain(&mut s), ["1008", "connect", "1001", "1002"]);
    assert!(s.is_publishing());
}

#[test]
fn software_fallback_is_1103_before_1008() {
    let mut s = sup(true);
    s.handle_input(t(0), Input::CameraOpened);
    s.handle_input(t(0), Input::FirstFrame);
    s.handle_input(t(0), Input::VideoEncoderStarted { fell_back: true });
    s.handle_input(t(0), Input::AudioEncoderStarted);
    assert_eq!(drain(&mut s), ["1003", "1007", "1103", "1008", "connect"]);
}

#[test]
fn audio_only_announces_the_audio_encoder() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    assert_eq!(drain(&mut s), ["1008", "connect"]);
}

#[test]
fn failures_back_off_then_1307_then_keep_trying_and_success_resets() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    let fail = |s: &mut Supervisor, at: u64, f: PushFailure| {
        s.handle_input(t(at), Input::PushFailed(f));
        drain(s)
    };
    // the first retry goes at once
    assert_eq!(
        fail(&mut s, 0, PushFailure::Connect("refused".into())),
        ["3002", "1102"]
    );
    assert_eq!(s.poll_timeout(), Some(t(0)));
    s.handle_timeout(t(0));
    assert_eq!(drain(&mut s), ["connect"]);
    // then (past the fast period) the back-off from twice the first delay:
    // 200, 400 (and -1307 at the third failure), 800, 1000, 1000
    assert_eq!(
        fail(&mut s, 0, PushFailure::Dns("no such host".into())),
        ["3001", "1102"]
    );
    assert_eq!(s.poll_timeout(), Some(t(200)));
    s.handle_timeout(t(199));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t(200));
    assert_eq!(drain(&mut s), ["connect"]);
    assert_eq!(
        fail(&mut s, 200, PushFailure::Handshake("garbage".into())),
        ["3003", "-1307", "1102"]
    );
    assert_eq!(s.poll_timeout(), Some(t(600)));
    let mut at = 600;
    for want in [800, 1000, 1000, 1000] {
        s.handle_timeout(t(at));
        assert_eq!(drain(&mut s), ["connect"]);
        assert_eq!(
            fail(&mut s, at, PushFailure::Connect("refused".into())),
            ["3002", "1102"],
            "still retrying after -1307"
        );
        assert_eq!(s.poll_timeout(), Some(t(at + want)));
        at += want;
    }
    s.handle_timeout(t(at));
    drain(&mut s);
    s.handle_input(t(at), Input::Connected);
    s.handle_input(t(at + 1), Input::Published);
    assert_eq!(drain(&mut s), ["1001", "1002"]);
    assert_eq!(s.consecutive_failures(), 0);
    // a publish that held resets the back-off: the next retry goes at once
    let later = at + 5000;
    assert_eq!(
        fail(&mut s, later, PushFailure::Io("reset".into())),
        ["3005", "1102"]
    );
    assert_eq!(
        s.poll_timeout(),
        Some(t(later)),
        "counter was reset by the publish"
    );
}

#[test]
fn a_stale_failure_while_waiting_is_ignored() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    s.handle_input(t(0), Input::PushFailed(PushFailure::Closed("x")));
    drain(&mut s);
    s.handle_input(t(1), Input::PushFailed(PushFailure::Closed("x")));
    assert!(drain(&mut s).is_empty());
}

#[test]
fn backoff_doubles_and_caps() {
    let b = Backoff {
        first: Duration::from_millis(500),
        max: Duration::from_secs(3),
        jitter_pct: 20,
        fast_for: Duration::ZERO,
    };
    let d: Vec<u128> = (1..=5).map(|n| b.delay(n).as_millis()).collect();
    assert_eq!(d, [500, 1000, 2000, 3000, 3000]);
}

#[test]
fn jitter_spreads_delays_within_bounds() {
    let b = Backoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(30),
        jitter_pct: 20,
        fast_for: Duration::ZERO,
    };
    let mut j = Jitter::new(42);
    let delays: Vec<u128> = (0..1000)
        .map(|_| {
            b.jittered(Duration::from_secs(10), j.next_u32())
                .as_millis()
        })
        .collect();
    assert!(
        delays.iter().all(|d| (8000..=12000).contains(d)),
        "within ±20%"
    );
    let (lo, hi) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
    assert!(
        *lo < 8400 && *hi > 11600,
        "spread across the range: {lo}..{hi}"
    );
    let none = Backoff { jitter_pct: 0, ..b };
    assert_eq!(
        none.jittered(Duration::from_secs(10), 12345),
        Duration::from_secs(10)
    );
}

#[test]
fn device_failures_map_to_their_codes() {
    let mut s = sup(true);
    s.handle_input(
        t(0),
        Input::CameraPermission("/dev/video0: Permission denied".into()),
    );
    s.handle_input(
        t(0),
        Input::CameraMode("/dev/video0: no usable capture format".into()),
    );
    s.handle_input(
        t(0),
        Input::ResolutionAdjusted("640x480 cropped to 640x360".into()),
    );
    s.handle_input(t(0), Input::MicPermission("hw:0: Permission denied".into()));
    s.handle_input(
        t(0),
        Input::MicRate("hw:0 does not capture at 44100 Hz".into()),
    );
    s.handle_input(t(0), Input::MicFailed("hw:9: No such device".into()));
    assert_eq!(
        drain(&mut s),
        [
            "error 1001",
            "-1301",
            "-1305",
            "1005",
            "error 1002",
            "-1302",
            "-1306",
            "-1302"
        ]
    );
}

#[test]
fn a_server_that_drops_every_publish_at_once_is_not_hammered() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    let mut at = 0;
    let mut delays = Vec::new();
    for _ in 0..5 {
        s.handle_input(t(at), Input::Connected);
        s.handle_input(t(at + 10), Input::Published);
        s.handle_input(t(at + 20), Input::PushFailed(PushFailure::Closed("x")));
        drain(&mut s);
        let next = s.poll_timeout().unwrap();
        delays.push(next.saturating_since(t(at + 20)).as_millis());
        s.handle_timeout(next);
        drain(&mut s);
        at = next.as_millis();
    }
    assert_eq!(
        delays,
        [0, 200, 400, 800, 1000],
        "publishes shorter than stable_after do not reset"
    );
}

#[test]
fn a_reconnect_request_is_1102_and_an_immediate_connect_without_counting_a_failure() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    s.handle_input(t(0), Input::Connected);
    s.handle_input(t(10), Input::Published);
    drain(&mut s);
    s.handle_input(t(500), Input::ReconnectRequested("server asked".into()));
    assert_eq!(drain(&mut s), ["1102", "connect"]);
    assert_eq!(s.consecutive_failures(), 0);
    // while connecting (before Publish.Start) it is honoured too, but a
    // second one in a row so soon waits on the back-off's first delay
    s.handle_input(t(600), Input::ReconnectRequested("again".into()));
    assert_eq!(drain(&mut s), ["1102"]);
    assert_eq!(s.poll_timeout(), Some(t(700)));
    s.handle_timeout(t(700));
    assert_eq!(drain(&mut s), ["connect"]);
    // a stale one while waiting to retry is ignored
    s.handle_input(
        t(700),
        Input::PushFailed(PushFailure::Connect("refused".into())),
    );
    drain(&mut s);
    s.handle_input(t(700), Input::ReconnectRequested("stale".into()));
    assert!(drain(&mut s).is_empty());
}

/// A server that asks for a reconnect right after every publish (a loop):
/// the first is followed at once, the next ones on the back-off's schedule
/// (100, 200, 400, 800 ms, then the longest, 1 s), each with 1102 saying so;
/// a publish that lasts `stable_after` ends the streak.
#[test]
fn a_server_that_keeps_asking_to_reconnect_is_followed_on_the_back_off() {
    let mut s = sup(false);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    let mut now = 0;
    let mut delays = Vec::new();
    for _ in 0..7 {
        s.handle_input(t(now), Input::Connected);
        s.handle_input(t(now + 5), Input::Published);
        drain(&mut s);
        now += 50;
        s.handle_input(t(now), Input::ReconnectRequested("asked".into()));
        let out = drain(&mut s);
        assert_eq!(out[0], "1102");
        if out.len() == 2 {
            delays.push(0);
        } else {
            let at = s.poll_timeout().unwrap();
            delays.push(at.saturating_since(t(now)).as_millis() as u64);
            now = at.saturating_since(t(0)).as_millis() as u64;
            s.handle_timeout(t(now));
            assert_eq!(drain(&mut s), ["connect"]);
        }
        assert_eq!(s.consecutive_failures(), 0, "not failures");
    }
    assert_eq!(delays, [0, 100, 200, 400, 800, 1000, 1000]);
    // a publish that lasted stable_after: the next request goes at once
    s.handle_input(t(now), Input::Connected);
    s.handle_input(t(now + 5), Input::Published);
    drain(&mut s);
    s.handle_input(t(now + 2100), Input::ReconnectRequested("later".into()));
    assert_eq!(drain(&mut s), ["1102", "connect"]);
}

/// An audio-only supervisor with the default schedule (1 s, 30 s, 20%
/// jitter) and a fast period of 60 s.
fn default_schedule(seed: u32) -> Supervisor {
    Supervisor::new(SupervisorConfig {
        video: false,
        audio: true,
        backoff: Backoff {
            first: Duration::from_millis(1000),
            max: Duration::from_secs(30),
            jitter_pct: 20,
            fast_for: Duration::from_secs(60),
        },
        attempts_before_fatal: 3,
        stable_after: Duration::from_secs(5),
        seed,
        autopush: true,
    })
}

/// Attempt start times (ms) over 180 s of an outage starting at 10 s, with
/// the default schedule, each attempt failing 3 ms after it starts with `fail`.
fn outage_attempts(fail: fn() -> PushFailure) -> Vec<u64> {
    let mut s = default_schedule(7);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    s.handle_input(t(0), Input::Connected);
    s.handle_input(t(10), Input::Published);
    let mut starts = Vec::new();
    let mut now = t(10_000);
    s.handle_input(now, Input::PushFailed(PushFailure::Io("reset".into())));
    while now < t(10_000 + 180_000) {
        drain(&mut s);
        let next = s.poll_timeout().expect("a retry is scheduled");
        assert!(next >= now, "a retry in the past");
        now = next;
        s.handle_timeout(now);
        assert_eq!(drain(&mut s), ["connect"], "at {now:?}, after {starts:?}");
        starts.push(now.as_micros() / 1000);
        now = now + Duration::from_millis(3);
        s.handle_input(now, Input::PushFailed(fail()));
    }
    starts
}

/// Checks an outage's attempts: the first at once; for the first minute
/// `lo..=hi` ms apart, so that wherever in that minute the server comes
/// back an attempt starts within `hi` ms; after it delays of about 2, 4, 8,
/// 16 s, then 30 s, each within 20%.
fn check_outage(starts: &[u64], lo: u64, hi: u64) {
    assert_eq!(starts[0], 10_000, "the first retry goes at once");
    let fast: Vec<u64> = starts
        .windows(2)
        .filter(|w| w[1] <= 70_000)
        .map(|w| w[1] - w[0])
        .collect();
    assert!(
        fast.len() as u64 >= 55_000 / hi,
        "{} attempts in the first minute",
        fast.len()
    );
    assert!(
        fast.iter().all(|g| (lo..=hi).contains(g)),
        "fast spacing: {fast:?}"
    );
    for back in (10_000..69_000).step_by(37) {
        let next = starts.iter().find(|&&a| a >= back).unwrap();
        assert!(
            next - back <= hi,
            "server back at {back}: next attempt at {next}"
        );
    }
    let slow: Vec<u64> = starts
        .windows(2)
        .filter(|w| w[0] >= 70_000)
        .map(|w| w[1] - w[0])
        .collect();
    for (g, want) in slow
        .iter()
        .zip([2_000u64, 4_000, 8_000, 16_000, 30_000, 30_000])
    {
        assert!(
            (want * 8 / 10..=want * 12 / 10 + 10).contains(g),
            "slow gaps {slow:?}: {g} for {want}"
        );
    }
    assert!(slow.len() >= 6, "{slow:?}");
}

/// A server whose process answers and fails (here: the handshake) is tried
/// about once a second (0.9-1.0 s apart, never more often) for the first
/// minute of the outage, then with the back-off.
#[test]
fn an_outage_is_retried_about_every_second_for_a_minute_then_backed_off() {
    let starts = outage_attempts(|| PushFailure::Handshake("garbage".into()));
    check_outage(&starts, 900, 1000);
}

/// A connection closed before the server sent a byte (a socket closing under
/// a dying server) is probed as a refused one.
#[test]
fn an_unanswered_connection_is_probed_every_quarter_second() {
    let starts = outage_attempts(|| PushFailure::Unanswered("closed".into()));
    check_outage(&starts, 225, 250);
}

/// A connect that times out or finds no route (an uplink that is down) is
/// not probed sooner: once a second, as anything else.
#[test]
fn an_unreachable_server_is_tried_once_a_second() {
    let starts = outage_attempts(|| PushFailure::Connect("timed out".into()));
    check_outage(&starts, 900, 1000);
}

/// While the port refuses connections (nothing listens, no server process
/// sees the attempt) it is probed four times as often, so a restarted
/// server is published to within about a quarter of a second.
#[test]
fn a_refusing_port_is_probed_every_quarter_second_for_a_minute() {
    let starts = outage_attempts(|| PushFailure::Refused("refused".into()));
    check_outage(&starts, 225, 250);
}

/// An attempt that itself takes longer than the spacing (a handshake timing
/// out after 5 s) is followed by the next one at once, not 1 s later.
#[test]
fn a_slow_failed_attempt_is_retried_at_once_in_the_fast_period() {
    let mut s = default_schedule(3);
    s.handle_input(t(0), Input::AudioEncoderStarted);
    drain(&mut s);
    s.handle_input(
        t(100),
        Input::PushFailed(PushFailure::Handshake("slow".into())),
    );
    s.handle_timeout(t(100));
    drain(&mut s);
    s.handle_input(
        t(5100),
        Input::PushFailed(PushFailure::Handshake("timed out".into())),
    );
    assert_eq!(s.poll_timeout(), Some(t(5100)));
}
