//! The indicator mapping with a simulated clock: every contract code's
//! effect, the priorities, the hold times and what clears each error.

use super::*;
use crate::indicate::led::{self, Pattern, Role};

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn code(i: &mut Indicators, at: u64, c: StatusCode) {
    let ev = Event::StateChange {
        code: c,
        detail: None,
    };
    i.observe(t(at), Observed::Event(&ev));
}

/// A box that started at 0 and went live at 1 s (the happy path's codes).
fn live() -> Indicators {
    let mut i = Indicators::new(t(0));
    for c in [
        StatusCode::OpenCameraSucc,
        StatusCode::FirstFrameAvailable,
        StatusCode::StartVideoEncoder,
    ] {
        code(&mut i, 100, c);
    }
    i.observe(t(200), Observed::Phase(Link::Connecting));
    code(&mut i, 300, StatusCode::ConnectSucc);
    i.observe(t(400), Observed::Phase(Link::Publishing));
    code(&mut i, 400, StatusCode::PushBegin);
    i
}

#[test]
fn the_happy_path_is_starting_then_connecting_then_live() {
    let mut i = Indicators::new(t(0));
    assert_eq!(i.view(t(0)).phase, Phase::Starting);
    code(&mut i, 100, StatusCode::OpenCameraSucc);
    assert_eq!(i.view(t(100)).phase, Phase::Starting);
    i.observe(t(200), Observed::Phase(Link::Connecting));
    assert_eq!(i.view(t(200)).phase, Phase::Connecting);
    // 1002 comes before the publisher's phase change: live at once, never
    // "reconnecting" in between
    let mut i = Indicators::new(t(0));
    i.observe(t(200), Observed::Phase(Link::Connecting));
    code(&mut i, 300, StatusCode::PushBegin);
    assert_eq!(i.view(t(300)).phase, Phase::Live);
    let i = live();
    let v = i.view(t(500));
    assert_eq!(v.phase, Phase::Live);
    assert!(v.also.is_empty());
    assert_eq!(v.last, None, "progress codes are not held as the last code");
    assert_eq!(v.uptime, Duration::from_millis(500));
}

/// What a code does to a live box: the phase right after it (with the
/// connection phase the publisher gives with it), whether it is shown as
/// the last code, and what (if anything) holds it beyond [`CODE_HOLD`].
#[derive(Debug, PartialEq)]
enum Held {
    /// Not shown as the last code (progress).
    No,
    /// Shown for [`CODE_HOLD`].
    ForAWhile,
    /// Shown until its condition clears.
    UntilCleared,
}

fn effect(c: StatusCode) -> (Option<Link>, Phase, Held) {
    use StatusCode as C;
    match c {
        C::ConnectSucc
        | C::PushBegin
        | C::OpenCameraSucc
        | C::ScreenCaptureSucc
        | C::FirstFrameAvailable
        | C::StartVideoEncoder => (None, Phase::Live, Held::No),
        C::ChangeResolution | C::ChangeBitrate => (None, Phase::Live, Held::ForAWhile),
        C::NetBusy => (None, Phase::Degraded, Held::ForAWhile),
        C::Reconnect => (Some(Link::Retrying), Phase::Reconnecting, Held::ForAWhile),
        C::HwAccelerationFail => (None, Phase::Software, Held::ForAWhile),
        C::VideoEncodeFail | C::BeautySurfaceInitFail | C::BeautyFallback => {
            (None, Phase::Live, Held::ForAWhile)
        }
        C::OpenCameraFail | C::UnsupportedResolution => (None, Phase::NoCamera, Held::UntilCleared),
        C::OpenMicFail | C::UnsupportedSampleRate => (None, Phase::NoMic, Held::UntilCleared),
        C::VideoEncodeFailFatal | C::AudioEncodeFail => (None, Phase::Stopped, Held::UntilCleared),
        C::NetDisconnect => (Some(Link::Retrying), Phase::Restarting, Held::UntilCleared),
        C::MicRecordFail => (None, Phase::MicSilent, Held::UntilCleared),
        // never emitted (no screen source): a passing error, shown a while
        C::ScreenCaptureStartFailed
        | C::ScreenCaptureUnsupported
        | C::ScreenCaptureDisturbed
        | C::ScreenCaptureSwitchDisplayFailed => (None, Phase::Live, Held::ForAWhile),
        C::DnsFail
        | C::ServerConnFail
        | C::HandshakeFail
        | C::ServerDisconnect
        | C::ReadWriteFail => (Some(Link::Retrying), Phase::Reconnecting, Held::ForAWhile),
        C::PushPaused => (None, Phase::Paused, Held::No),
        C::PushResumed => (None, Phase::Live, Held::No),
        C::PushStopped => (Some(Link::Idle), Phase::Standby, Held::ForAWhile),
    }
}

#[test]
fn every_contract_code_has_its_pinned_effect() {
    for c in StatusCode::ALL {
        let (link, phase, held) = effect(c);
        let mut i = live();
        if let Some(l) = link {
            i.observe(t(1000), Observed::Phase(l));
        }
        code(&mut i, 1000, c);
        let v = i.view(t(1000));
        assert_eq!(v.phase, phase, "{c:?}");
        let shown = |at: u64| i.view(t(at)).last.map(|l| l.code) == Some(c);
        match held {
            Held::No => assert!(!shown(1000), "{c:?}"),
            Held::ForAWhile => {
                assert!(shown(1000) && shown(1000 + 4_999), "{c:?} readable for 5 s");
                assert!(!shown(1000 + 5_000), "{c:?} gone after 5 s");
                assert!(
                    i.poll_timeout(t(1000))
                        .is_some_and(|w| w <= t(1000 + 5_000)),
                    "{c:?}: a redraw is due when it goes"
                );
            }
            Held::UntilCleared => {
                assert!(
                    shown(1000) && shown(1000 + 3_600_000),
                    "{c:?} held while it holds"
                );
            }
        }
        // every code is drawn with words, and every phase has LED looks
        assert!(!crate::indicate::screen::words(c).is_empty());
    }
}

#[test]
fn errors_clear_with_what_ends_them() {
    // -1301 / -1305: until the camera opens (1003)
    for c in [
        StatusCode::OpenCameraFail,
        StatusCode::UnsupportedResolution,
    ] {
        let mut i = live();
        code(&mut i, 1000, c);
        assert_eq!(i.view(t(60_000)).phase, Phase::NoCamera);
        code(&mut i, 60_000, StatusCode::OpenCameraSucc);
        let v = i.view(t(60_000));
        assert_eq!((v.phase, v.last), (Phase::Live, None), "{c:?}");
    }
    // -1302 / -1306: until the microphone is back
    for c in [StatusCode::OpenMicFail, StatusCode::UnsupportedSampleRate] {
        let mut i = live();
        code(&mut i, 1000, c);
        i.observe(t(30_000), Observed::Notice(Notice::SoundBack));
        assert_eq!(
            i.view(t(30_000)).phase,
            Phase::NoMic,
            "sound alone is not the mic back"
        );
        i.observe(t(31_000), Observed::Notice(Notice::MicBack));
        let v = i.view(t(31_000));
        assert_eq!((v.phase, v.last), (Phase::Live, None), "{c:?}");
    }
    // -1311: until sound returns
    let mut i = live();
    code(&mut i, 1000, StatusCode::MicRecordFail);
    assert_eq!(i.view(t(20_000)).phase, Phase::MicSilent);
    i.observe(t(20_000), Observed::Notice(Notice::SoundBack));
    assert_eq!(i.view(t(20_000)).phase, Phase::Live);
    // -1307: until the server takes the stream again (1002)
    let mut i = live();
    i.observe(t(1000), Observed::Phase(Link::Retrying));
    for n in 0..5 {
        code(&mut i, 1000 + n, StatusCode::ServerConnFail);
        code(&mut i, 1000 + n, StatusCode::Reconnect);
    }
    code(&mut i, 1010, StatusCode::NetDisconnect);
    i.observe(t(2000), Observed::Phase(Link::Connecting));
    let v = i.view(t(600_000));
    assert_eq!(v.phase, Phase::Restarting);
    assert_eq!(v.attempt, 5);
    assert_eq!(v.last.map(|l| l.code), Some(StatusCode::NetDisconnect));
    i.observe(t(600_000), Observed::Phase(Link::Publishing));
    code(&mut i, 600_000, StatusCode::PushBegin);
    let v = i.view(t(600_000));
    assert_eq!((v.phase, v.attempt, v.last), (Phase::Live, 0, None));
}

#[test]
fn reconnects_count_attempts_since_the_stream_was_last_live() {
    let mut i = live();
    i.observe(t(1000), Observed::Phase(Link::Retrying));
    for n in 1..=4u64 {
        code(&mut i, 1000 * n, StatusCode::ServerConnFail);
        code(&mut i, 1000 * n, StatusCode::Reconnect);
        i.observe(t(1000 * n + 1), Observed::Phase(Link::Connecting));
        assert_eq!(i.view(t(1000 * n + 1)).phase, Phase::Reconnecting);
        assert_eq!(i.view(t(1000 * n + 1)).attempt, n as u32);
        i.observe(t(1000 * n + 2), Observed::Phase(Link::Retrying));
    }
    // the first connection is "connecting", not "reconnecting"
    let mut i = Indicators::new(t(0));
    i.observe(t(10), Observed::Phase(Link::Connecting));
    assert_eq!(i.view(t(10)).phase, Phase::Connecting);
    // ...until it failed once
    i.observe(t(20), Observed::Phase(Link::Retrying));
    code(&mut i, 20, StatusCode::ServerConnFail);
    code(&mut i, 20, StatusCode::Reconnect);
    assert_eq!(i.view(t(20)).phase, Phase::Reconnecting);
}

#[test]
fn priorities_when_several_conditions_hold() {
    let mut i = live();
    code(&mut i, 1000, StatusCode::HwAccelerationFail);
    code(&mut i, 1000, StatusCode::NetBusy);
    assert_eq!(i.view(t(1000)).phase, Phase::Degraded);
    assert!(i.view(t(1000)).also.contains(Phase::Software));
    i.set_paused(true);
    assert_eq!(i.view(t(1000)).phase, Phase::Paused);
    code(&mut i, 1000, StatusCode::MicRecordFail);
    assert_eq!(i.view(t(1000)).phase, Phase::MicSilent);
    code(&mut i, 1000, StatusCode::OpenMicFail);
    let v = i.view(t(1000));
    assert_eq!(v.phase, Phase::NoMic);
    assert!(
        !v.also.contains(Phase::MicSilent),
        "no mic says more than a silent one"
    );
    code(&mut i, 1000, StatusCode::OpenCameraFail);
    assert_eq!(i.view(t(1000)).phase, Phase::NoCamera);
    i.observe(t(1000), Observed::Phase(Link::Retrying));
    code(&mut i, 1000, StatusCode::Reconnect);
    let v = i.view(t(1000));
    assert_eq!(v.phase, Phase::Reconnecting);
    let also: Vec<Phase> = v.also.iter().collect();
    assert_eq!(
        also,
        [Phase::NoCamera, Phase::NoMic, Phase::Paused],
        "off air: the stream's own warnings (slow, software) are not listed"
    );
    code(&mut i, 1000, StatusCode::NetDisconnect);
    assert_eq!(i.view(t(1000)).phase, Phase::Restarting);
    code(&mut i, 1000, StatusCode::VideoEncodeFailFatal);
    assert_eq!(i.view(t(1000)).phase, Phase::Stopped);
    i.set_config_error(Some("config line 3, column 1: unknown key `urll`"));
    let v = i.view(t(1000));
    assert_eq!(v.phase, Phase::BadConfig);
    assert_eq!(
        v.config_error,
        Some("config line 3, column 1: unknown key `urll`")
    );
    assert!(v.also.contains(Phase::Stopped));
    i.set_config_error(None);
    assert_eq!(i.view(t(1000)).phase, Phase::Stopped);
}

#[test]
fn degraded_lasts_ten_seconds_after_the_last_1101_or_while_the_rate_is_lowered() {
    let mut i = live();
    code(&mut i, 1000, StatusCode::NetBusy);
    code(&mut i, 4000, StatusCode::NetBusy);
    assert_eq!(i.view(t(13_999)).phase, Phase::Degraded);
    assert_eq!(i.poll_timeout(t(9_000)), Some(t(14_000)));
    assert_eq!(i.view(t(14_000)).phase, Phase::Live);
    assert_eq!(i.poll_timeout(t(14_000)), None);
    i.observe(
        t(20_000),
        Observed::Notice(Notice::VideoRate {
            kbps: 600,
            max_kbps: 1000,
        }),
    );
    assert_eq!(i.view(t(100_000)).phase, Phase::Degraded);
    i.observe(
        t(100_000),
        Observed::Notice(Notice::VideoRate {
            kbps: 1000,
            max_kbps: 1000,
        }),
    );
    assert_eq!(i.view(t(100_000)).phase, Phase::Live);
}

#[test]
fn a_permission_error_says_so_until_the_device_opens() {
    let mut i = live();
    let ev = Event::Error {
        err_code: 1001,
        err_msg: "camera: permission denied".into(),
    };
    i.observe(t(1000), Observed::Event(&ev));
    code(&mut i, 1000, StatusCode::OpenCameraFail);
    let v = i.view(t(1000));
    assert!(v.permission);
    assert_eq!(
        crate::indicate::screen::hint(&v),
        Some("user not in 'video'")
    );
    code(&mut i, 2000, StatusCode::OpenCameraSucc);
    assert!(!i.view(t(2000)).permission);
}

#[test]
fn figures_are_shown_only_on_air_and_do_not_count_as_a_change() {
    let mut i = live();
    assert!(i.take_changed());
    assert!(!i.take_changed());
    let n = NetStatus {
        video_bitrate: 900,
        ..NetStatus::default()
    };
    i.observe(t(1000), Observed::Event(&Event::NetStatus(n)));
    i.observe(
        t(1000),
        Observed::Notice(Notice::AudioLevel { peak_db: -20 }),
    );
    assert!(!i.take_changed(), "figures redraw at the display's pace");
    assert_eq!(i.view(t(1000)).figures, Some(n));
    assert_eq!(i.view(t(1000)).level_db, Some(-20));
    assert_eq!(i.view(t(3000)).level_db, None, "an old level is not shown");
    i.observe(t(1000), Observed::Phase(Link::Retrying));
    assert!(i.take_changed());
    assert_eq!(i.view(t(1000)).figures, None);
}

#[test]
fn a_stop_is_stopped_until_the_next_publish() {
    let mut i = live();
    i.observe(t(1000), Observed::Phase(Link::Stopping));
    assert_eq!(i.view(t(1000)).phase, Phase::Stopped);
    i.observe(t(2000), Observed::Phase(Link::Connecting));
    assert_eq!(i.view(t(2000)).phase, Phase::Stopped);
    i.observe(t(3000), Observed::Phase(Link::Publishing));
    code(&mut i, 3000, StatusCode::PushBegin);
    assert_eq!(i.view(t(3000)).phase, Phase::Live);
}

/// The README's LED table, row by row (the same rows as `led.rs`'s doc).
#[test]
fn every_phase_has_its_led_row() {
    use Pattern::{Double as D, Fast as F, Off as O, On as I, Slow as S};
    let rows: [(Phase, [Pattern; 4]); 14] = [
        (Phase::Starting, [I, O, O, O]),
        (Phase::Standby, [I, O, O, O]),
        (Phase::Connecting, [I, O, S, O]),
        (Phase::Live, [I, I, I, O]),
        (Phase::Degraded, [I, I, D, O]),
        (Phase::Software, [I, I, I, S]),
        (Phase::Reconnecting, [I, O, F, O]),
        (Phase::Restarting, [I, O, F, I]),
        (Phase::NoCamera, [I, S, I, I]),
        (Phase::NoMic, [I, I, I, I]),
        (Phase::MicSilent, [I, I, I, S]),
        (Phase::Paused, [I, S, I, O]),
        (Phase::Stopped, [I, O, O, F]),
        (Phase::BadConfig, [D, O, O, F]),
    ];
    for (phase, want) in rows {
        let v = View {
            phase,
            also: Phases::default(),
            attempt: 1,
            last: None,
            permission: false,
            figures: None,
            uptime: Duration::ZERO,
            level_db: None,
            config_error: None,
        };
        let got =
            [Role::Power, Role::Live, Role::Net, Role::Error].map(|r| led::look(r, &v).pattern);
        assert_eq!(got, want, "{phase:?}");
        let rgb = led::look(Role::Status, &v);
        assert!(rgb.color != led::Rgb::OFF, "{phase:?}");
    }
    // the error LED shows the worst condition, not only the phase
    let mut i = live();
    code(&mut i, 1000, StatusCode::OpenCameraFail);
    i.observe(t(1000), Observed::Phase(Link::Retrying));
    code(&mut i, 1000, StatusCode::Reconnect);
    let v = i.view(t(1000));
    assert_eq!(v.phase, Phase::Reconnecting);
    assert_eq!(led::look(Role::Error, &v).pattern, Pattern::On);
    assert_eq!(led::look(Role::Net, &v).pattern, Pattern::Fast);
    // every phase has a distinct RGB look
    let looks: std::collections::HashSet<_> = Phase::ALL.iter().map(|p| led::status(*p)).collect();
    assert_eq!(looks.len(), Phase::ALL.len());
}

#[test]
fn phase_names_round_trip() {
    for p in Phase::ALL {
        assert_eq!(Phase::from_name(p.name()), Some(p));
    }
    let mut sorted = Phase::ALL;
    sorted.sort();
    assert_eq!(sorted, Phase::ALL, "ALL is in priority order");
}
