//! The publisher driven with a simulated clock against an in-memory RTMP
//! server: the start, reconnects, redirects, shedding under a cap, the send
//! stall, the stop, and the adaptive bitrate reaching the encoder.

use super::*;
use crate::rtmp::test_server::{self, Server, Verdict};
use crate::status::StatusCode;
use rml_rtmp::sessions::ServerSessionEvent as Sev;

const KEY: &str = "cam-7?secret=S3CRET";
const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

fn config(extra: &str) -> PublisherConfig {
    let auto = if extra.contains("autopush") {
        ""
    } else {
        "autopush = true\n"
    };
    let text = format!("url = \"rtmp://127.0.0.1/live/{KEY}\"\n{auto}{extra}");
    let cfg = crate::config::parse(&text).unwrap().config;
    PublisherConfig::from_config(&cfg, 7, false, "livepush test".into())
}

/// Annex-B: a key frame carries SPS and PPS; `size` bytes of slice data.
fn frame(key: bool, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 32);
    if key {
        for n in [SPS, PPS] {
            v.extend_from_slice(&[0, 0, 0, 1]);
            v.extend_from_slice(n);
        }
    }
    v.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }]);
    v.resize(v.len() + size, 0x5a);
    v
}

/// The shell's part, simulated: a socket that takes `take` bytes per step
/// (None: everything), an in-memory server, and what came out.
struct Rig {
    p: Publisher,
    now: Instant,
    conn: Option<u64>,
    server: Option<Server>,
    take: Option<usize>,
    connects: Vec<PushUrl>,
    closes: usize,
    events: Vec<Event>,
    commands: Vec<EncoderCommand>,
    media_commands: Vec<MediaCommand>,
    phases: Vec<Phase>,
    notices: Vec<Notice>,
    recycled: usize,
    send_buffers: Vec<usize>,
    /// Every server event, across connections.
    seen: Vec<Sev>,
    /// Every tally, with when it came.
    tallies: Vec<(Instant, Tally)>,
    /// Where in `seen` each connection's server events begin.
    servers_at: Vec<usize>,
}

impl Rig {
    fn new(extra: &str) -> Rig {
        Rig {
            p: Publisher::new(config(extra), Instant::ZERO),
            now: Instant::ZERO,
            conn: None,
            server: None,
            take: None,
            connects: Vec::new(),
            closes: 0,
            events: Vec::new(),
            commands: Vec::new(),
            media_commands: Vec::new(),
            phases: Vec::new(),
            notices: Vec::new(),
            recycled: 0,
            send_buffers: Vec::new(),
            seen: Vec::new(),
            tallies: Vec::new(),
            servers_at: Vec::new(),
        }
    }

    fn input(&mut self, i: Input<'_>) {
        self.p.handle_input(self.now, i);
        self.outputs();
        self.due();
    }

    /// As the shell's loop: every deadline that has come is handled (until
    /// the run is over).
    fn due(&mut self) {
        while !self.p.finished(self.now) && self.p.poll_timeout() <= self.now {
            self.p.handle_timeout(self.now);
            self.outputs();
        }
    }

    fn media(&mut self, m: MediaMsg) {
        self.input(Input::Media(m));
        self.wire();
    }

    fn outputs(&mut self) {
        while let Some(o) = self.p.poll_output() {
            match o {
                Output::Connect { conn, url, .. } => {
                    self.conn = Some(conn);
                    self.server = None;
                    self.connects.push(url);
                }
                Output::Close { conn } => {
                    if self.conn == Some(conn) {
                        self.conn = None;
                        self.server = None;
                    }
                    self.closes += 1;
                }
                Output::SendBuffer(b) => self.send_buffers.push(b),
                Output::Encoder(c) => self.commands.push(c),
                Output::Media(c) => self.media_commands.push(c),
                Output::Event(e) => self.events.push(e),
                Output::Phase(p) => self.phases.push(p),
                Output::Notice(n) => self.notices.push(n),
                Output::Recycle(..) => self.recycled += 1,
                Output::Tally(t) => {
                    assert!(
                        matches!(self.events.last(), Some(Event::NetStatus(_))),
                        "a tally follows its netstatus event"
                    );
                    self.tallies.push((self.now, t))
                }
            }
        }
    }

    fn codes(&self) -> Vec<i32> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::StateChange { code, .. } => Some(*code as i32),
                _ => None,
            })
            .collect()
    }

    /// Both encoders running: the supervisor asks for the first connection.
    fn media_ready(&mut self) {
        self.media(MediaMsg::CameraOpened);
        self.media(MediaMsg::FirstFrame);
        self.media(MediaMsg::VideoEncoderStarted { backend: "test" });
        self.media(MediaMsg::AudioEncoderStarted {
            asc: vec![0x12, 0x10],
        });
    }

    /// The connection asked for is made, to a server that answers `v`.
    fn connected(&mut self, v: Verdict) {
        let conn = self.conn.expect("a connection was asked for");
        self.input(Input::Connected { conn });
        self.servers_at.push(self.seen.len());
        self.server = Some(Server::new(v));
        self.wire();
    }

    /// Moves bytes both ways until nothing moves (or the socket is full).
    fn wire(&mut self) {
        loop {
            let Some(server) = self.server.as_mut() else {
                return;
            };
            let Some(bytes) = self.p.transmit() else {
                return;
            };
            let n = self.take.map_or(bytes.len(), |t| t.min(bytes.len()));
            if n == 0 {
                return;
            }
            let back = server.feed(&bytes[..n]);
            self.seen.append(&mut server.events);
            self.p.handle_input(self.now, Input::Written(n));
            self.p.handle_input(self.now, Input::Progress);
            if let Some(t) = self.take.as_mut() {
                *t -= n;
            }
            if !back.is_empty() {
                self.p.handle_input(self.now, Input::Received(&back));
            }
            self.outputs();
        }
    }

    /// Time passes in 1 ms steps, handling every deadline.
    fn advance(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now = self.now + Duration::from_millis(1);
            self.due();
        }
        self.wire();
    }

    fn video(&mut self, pts_ms: u64, key: bool, size: usize) {
        self.media(MediaMsg::Video(EncodedVideo {
            pts_us: pts_ms * 1000,
            key,
            width: 640,
            height: 360,
            data: frame(key, size),
        }));
    }

    fn audio(&mut self, pts_ms: u64) {
        self.media(MediaMsg::Audio(EncodedAudio {
            pts_us: pts_ms * 1000,
            data: vec![0x21; 40],
        }));
    }

    /// What the server received as video: (timestamp, key frame) of each
    /// coded frame (sequence headers left out).
    fn server_video(&self) -> Vec<(u32, bool)> {
        self.seen
            .iter()
            .filter_map(|e| match e {
                Sev::VideoDataReceived {
                    data, timestamp, ..
                } if data.len() > 1 && data[1] == 1 => Some((timestamp.value, data[0] == 0x17)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn the_happy_path_starts_on_the_key_frame_made_while_connecting() {
    let mut r = Rig::new("");
    r.media_ready();
    assert_eq!(r.codes(), vec![1003, 1007, 1008]);
    assert_eq!(r.connects.len(), 1, "one connection asked for");
    assert_eq!(r.phases, vec![Phase::Connecting]);
    // the encoder's first frames arrive while the connection is set up
    r.video(0, true, 2000);
    r.audio(10);
    r.advance(50);
    r.video(50, false, 500);
    r.connected(Verdict::Accept);
    assert_eq!(r.codes(), vec![1003, 1007, 1008, 1001, 1002]);
    assert_eq!(r.phases, vec![Phase::Connecting, Phase::Publishing]);
    assert!(
        r.commands.is_empty(),
        "no second key frame forced: {:?}",
        r.commands
    );
    r.advance(50);
    r.video(100, false, 500);
    r.audio(100);
    assert_eq!(
        r.server_video(),
        vec![(0, true), (50, false), (100, false)],
        "the stream starts at the cached key frame, at 0"
    );
    assert!(r
        .seen
        .iter()
        .any(|e| matches!(e, Sev::StreamMetadataChanged { .. })));
    assert_eq!(r.p.counts().video_frames_sent, 3);
    assert_eq!(r.p.counts().publishes, 1);
    assert!(
        r.recycled >= 5,
        "every encoder buffer goes back: {}",
        r.recycled
    );
    // the key stays out of every event
    assert!(r.events.iter().all(|e| !e.to_json(0).contains("S3CRET")));
}

#[test]
fn without_a_recent_key_frame_a_fresh_one_is_forced_at_the_start() {
    let mut r = Rig::new("");
    r.media_ready();
    r.video(0, true, 2000);
    // the cached key frame grows older than the limit (RTC: 1/4 of the queue limit)
    for t in (50..=1000).step_by(50) {
        r.advance(50);
        r.video(t, false, 300);
        r.audio(t);
    }
    r.connected(Verdict::Accept);
    assert_eq!(r.commands, vec![EncoderCommand::ForceKey]);
    // P frames until the forced key frame do not start the stream
    r.video(1050, false, 300);
    r.video(1100, true, 2000);
    assert_eq!(r.server_video(), vec![(0, true)]);
}

#[test]
fn a_refused_connect_retries_and_a_stale_report_is_ignored() {
    let mut r = Rig::new("");
    r.media_ready();
    let first = r.conn.unwrap();
    r.input(Input::ConnectFailed {
        conn: first,
        failure: PushFailure::Refused("nothing listens".into()),
    });
    assert_eq!(r.codes()[3..], [3002, 1102]);
    assert_eq!(
        r.phases,
        vec![Phase::Connecting, Phase::Retrying, Phase::Connecting]
    );
    // the first retry goes at once
    assert_eq!(r.connects.len(), 2);
    let second = r.conn.unwrap();
    assert_ne!(first, second);
    // a late report about the first connection changes nothing
    r.input(Input::ConnectFailed {
        conn: first,
        failure: PushFailure::Refused("late".into()),
    });
    assert_eq!(r.codes().len(), 5);
    r.connected(Verdict::Accept);
    assert_eq!(r.codes()[5..], [1001, 1002]);
}

#[test]
fn a_reconnect_request_redirects_and_a_failure_there_goes_back_to_the_config() {
    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    let req = test_server::reconnect_request(Some("rtmp://10.9.8.7:1936/live"), "move");
    r.input(Input::Received(&req));
    assert_eq!(r.closes, 1, "the old connection is closed");
    assert_eq!(r.connects.len(), 2, "and a new one asked for at once");
    let to = &r.connects[1];
    assert_eq!(to.host_port(), "10.9.8.7:1936");
    assert_eq!(to.stream_key(), KEY, "the key goes along");
    let detail = r
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::StateChange {
                code: StatusCode::Reconnect,
                detail,
            } => detail.clone(),
            _ => None,
        })
        .unwrap();
    assert!(
        detail.contains("10.9.8.7:1936") && !detail.contains("S3CRET"),
        "{detail}"
    );
    // the redirect target fails: back to the configured URL
    let conn = r.conn.unwrap();
    r.input(Input::ConnectFailed {
        conn,
        failure: PushFailure::Refused("no".into()),
    });
    assert_eq!(r.connects.len(), 3);
    assert_eq!(r.connects[2].host_port(), "127.0.0.1:1935");
    // a request towards rtmps:// without TLS set up keeps the current URL
    r.connected(Verdict::Accept);
    let req = test_server::reconnect_request(Some("rtmps://10.9.8.7/live"), "");
    r.input(Input::Received(&req));
    // (a second request so soon after the first: on the back-off's schedule)
    assert_eq!(r.connects.len(), 3);
    r.advance(1500);
    assert_eq!(r.connects[3].host_port(), "127.0.0.1:1935");
}

#[test]
fn under_a_stuck_uplink_the_queue_is_shed_and_video_resumes_at_a_forced_key_frame() {
    // RTC: frames older than the queue limit are shed
    let mut r = Rig::new("");
    let limit = r.p.cfg.queue_limit;
    r.media_ready();
    r.connected(Verdict::Accept);
    r.video(0, true, 2000);
    r.take = Some(0);
    let mut t = 0;
    while Duration::from_millis(t) < limit * 3 {
        t += 50;
        r.advance(50);
        r.video(t, false, 800);
        r.audio(t);
    }
    let codes = r.codes();
    assert!(
        codes.contains(&1101),
        "1101 while the queue ages: {codes:?}"
    );
    assert!(
        r.commands.contains(&EncoderCommand::ForceKey),
        "a key frame asked for after shedding video: {:?}",
        r.commands
    );
    assert!(r.p.queue_age(r.now) <= limit + Duration::from_millis(50));
    // the uplink comes back: P frames are skipped until the key frame
    r.take = None;
    t += 50;
    r.advance(50);
    r.video(t, false, 800);
    t += 50;
    r.video(t, true, 2000);
    let v = r.server_video();
    let (ts, key) = *v.last().unwrap();
    assert!(key, "video resumes with a key frame: {v:?}");
    assert_eq!(u64::from(ts), t, "at its own time");
    assert!(
        !v.iter().any(|(ts, _)| u64::from(*ts) == t - 50),
        "the P frame before it was skipped: {v:?}"
    );
}

#[test]
fn a_server_that_takes_nothing_is_a_send_stall_then_a_reconnect() {
    let mut r = Rig::new("");
    let stall = r.p.cfg.send_stall;
    r.media_ready();
    r.connected(Verdict::Accept);
    r.take = Some(0);
    r.video(0, true, 2000);
    r.advance(stall.as_millis() as u64 - 10);
    assert!(!r.codes().contains(&3005));
    r.advance(20);
    let codes = r.codes();
    let at = codes.iter().position(|c| *c == 3005).expect("3005");
    assert_eq!(codes[at + 1], 1102, "{codes:?}");
    assert_eq!(r.connects.len(), 2, "reconnecting at once");
}

#[test]
fn a_stop_flushes_what_is_queued_or_gives_up_after_the_grace_time() {
    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.video(0, true, 2000);
    r.input(Input::Stop);
    assert_eq!(r.phases.last(), Some(&Phase::Stopping));
    r.wire();
    assert!(r.p.finished(r.now), "nothing left to write: done");

    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.take = Some(0);
    r.video(0, true, 2000);
    r.input(Input::Stop);
    r.advance(STOP_GRACE.as_millis() as u64 - 10);
    assert!(!r.p.finished(r.now), "still flushing");
    r.advance(10);
    assert!(r.p.finished(r.now), "the grace time is up");
    // frames after the stop go straight back to the encoder
    let before = r.recycled;
    r.video(2100, false, 100);
    assert_eq!(r.recycled, before + 1);
}

#[test]
fn a_capped_uplink_lowers_the_bitrate_at_the_encoder() {
    let mut r = Rig::new("min-bitrate = 100\nmax-bitrate = 800\nmode = \"SD\"");
    let start = r.p.cfg.params.bitrate_kbps;
    r.media_ready();
    r.connected(Verdict::Accept);
    let fps = 20u64;
    let frame_bytes = (start as usize * 1000 / 8) / fps as usize;
    // the link carries 40% of the video
    let per_ms = frame_bytes * fps as usize * 4 / 10 / 1000;
    let mut t = 0;
    while t < 15_000 {
        r.video(t, t % 2000 == 0, frame_bytes);
        r.audio(t);
        for _ in 0..(1000 / fps) {
            r.take = Some(per_ms);
            r.advance(1);
        }
        t += 1000 / fps;
    }
    let lowered = r
        .commands
        .iter()
        .find_map(|c| match c {
            EncoderCommand::Bitrate(k) => Some(*k),
            _ => None,
        })
        .expect("the encoder was asked for less");
    assert!(lowered < start, "{lowered} < {start}");
    assert!(r.codes().contains(&1006), "1006 shown: {:?}", r.codes());
    assert!(
        r.notices.contains(&Notice::VideoRate {
            kbps: lowered,
            max_kbps: start
        }),
        "the indicators are told the rate and its ceiling: {:?}",
        r.notices
    );
    assert!(
        !r.send_buffers.is_empty(),
        "the socket buffer follows the bitrate"
    );
    assert!(
        r.events.iter().any(|e| matches!(e, Event::NetStatus(_))),
        "netstatus every second"
    );
}

#[test]
fn a_new_stream_key_is_used_from_the_next_connection() {
    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    assert!(!r.p.set_stream_key(KEY), "the same key is no change");
    assert!(r.p.set_stream_key("rotated"));
    r.input(Input::Eof);
    assert_eq!(r.connects.last().unwrap().stream_key(), "rotated");
}

#[test]
fn the_media_threads_notices_reach_the_observers_in_order() {
    let mut r = Rig::new("");
    r.media_ready();
    r.media(MediaMsg::Notice(Notice::AudioLevel { peak_db: -12 }));
    r.media(MediaMsg::Notice(Notice::MicBack));
    assert_eq!(
        r.notices,
        [
            // the publisher's own: which backend runs (for the API's status)
            Notice::VideoEncoder { backend: "test" },
            Notice::AudioLevel { peak_db: -12 },
            Notice::MicBack
        ]
    );
}

impl Rig {
    fn command(&mut self, c: Command) -> Result<Done, Refused> {
        let r = self.p.command(self.now, c);
        self.outputs();
        self.wire();
        self.due();
        r
    }

    fn publishes_seen(&self) -> usize {
        self.seen
            .iter()
            .filter(|e| matches!(e, Sev::PublishStreamRequested { .. }))
            .count()
    }
}

#[test]
fn without_autopush_nothing_connects_until_start_and_start_is_idempotent() {
    let mut r = Rig::new("autopush = false");
    r.media_ready();
    assert_eq!(r.codes(), vec![1003, 1007, 1008], "capture and encoder run");
    assert!(r.connects.is_empty(), "no connection before start");
    assert_eq!(r.phases, vec![Phase::Idle]);
    r.video(0, true, 2000);
    r.advance(5_000);
    assert!(r.connects.is_empty());
    assert_eq!(r.command(Command::Pause), Err(Refused::NotPushing));
    assert_eq!(r.command(Command::Start), Ok(Done::Changed));
    assert_eq!(r.connects.len(), 1);
    assert_eq!(r.command(Command::Start), Ok(Done::Already));
    assert_eq!(r.connects.len(), 1, "a second start changes nothing");
    r.connected(Verdict::Accept);
    assert_eq!(r.codes(), vec![1003, 1007, 1008, 1001, 1002]);
    assert_eq!(r.phases.last(), Some(&Phase::Publishing));
}

#[test]
fn a_stop_unpublishes_closes_and_never_reconnects_then_start_publishes_again() {
    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.video(0, true, 2000);
    r.audio(10);
    assert_eq!(r.command(Command::Stop), Ok(Done::Changed));
    assert!(
        r.seen
            .iter()
            .any(|e| matches!(e, Sev::PublishStreamFinished { .. })),
        "the server saw the publish end (deleteStream)"
    );
    let fc = r.seen.iter().position(|e| {
        matches!(e, Sev::UnhandleableAmf0Command { command_name, additional_values, .. }
            if command_name == "FCUnpublish"
                && additional_values.first() == Some(&rml_amf0::Amf0Value::Utf8String(KEY.into())))
    });
    let end = r
        .seen
        .iter()
        .position(|e| matches!(e, Sev::PublishStreamFinished { .. }));
    assert!(
        fc.is_some() && fc < end,
        "FCUnpublish with the key, then deleteStream"
    );
    assert_eq!(r.closes, 1, "the socket closed once flushed");
    assert_eq!(r.phases.last(), Some(&Phase::Idle));
    let codes = r.codes();
    assert_eq!(codes.last(), Some(&1203), "{codes:?}");
    // frames keep coming; nothing is sent, nothing reconnects
    r.video(40, false, 300);
    r.advance(60_000);
    assert_eq!(r.connects.len(), 1);
    assert!(
        !r.codes()
            .iter()
            .any(|c| *c == 1102 || (3001..=3005).contains(c)),
        "no reconnect or network code after a deliberate stop: {:?}",
        r.codes()
    );
    assert_eq!(r.command(Command::Stop), Ok(Done::Already));
    assert_eq!(r.command(Command::Start), Ok(Done::Changed));
    assert_eq!(r.connects.len(), 2);
    r.connected(Verdict::Accept);
    r.video(60_100, true, 2000);
    assert_eq!(r.p.counts().publishes, 2);
    assert_eq!(r.publishes_seen(), 2);
}

#[test]
fn a_stop_while_the_server_takes_nothing_closes_after_the_grace_time() {
    let mut r = Rig::new("");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.take = Some(0);
    r.video(0, true, 20_000);
    r.command(Command::Stop).unwrap();
    assert_eq!(r.closes, 0, "still flushing");
    r.advance(STOP_GRACE.as_millis() as u64);
    assert_eq!(r.closes, 1, "closed when the grace ran out");
    assert!(!r.p.finished(r.now), "the service runs on, idle");
    assert!(!r.codes().contains(&1102));
}

#[test]
fn pause_and_resume_drive_the_media_threads_and_a_long_pause_becomes_a_stop() {
    let mut r = Rig::new("pause-fps = 2\npause-time = 30\nbackground-mute = true");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.video(0, true, 2000);
    assert_eq!(r.command(Command::Pause), Ok(Done::Changed));
    assert_eq!(
        r.media_commands,
        vec![MediaCommand::Pause { fps: 2, mute: true }]
    );
    assert_eq!(r.command(Command::Pause), Ok(Done::Already));
    assert_eq!(r.media_commands.len(), 1);
    assert!(r.p.is_paused());
    assert_eq!(r.codes().last(), Some(&1201));
    assert_eq!(
        r.phases.last(),
        Some(&Phase::Publishing),
        "the publish stays"
    );
    r.advance(1000);
    assert_eq!(r.command(Command::Resume), Ok(Done::Changed));
    assert_eq!(r.media_commands.last(), Some(&MediaCommand::Resume));
    assert_eq!(r.codes().last(), Some(&1202));
    assert_eq!(r.command(Command::Resume), Ok(Done::Already));

    // a pause past pause-time: a stop (1203), the camera back for preview
    r.command(Command::Pause).unwrap();
    let paused_at = r.now;
    r.advance(29_999);
    assert!(r.p.is_paused() && r.p.is_pushing());
    r.advance(1);
    assert!(!r.p.is_paused() && !r.p.is_pushing());
    assert_eq!(r.now.saturating_since(paused_at), Duration::from_secs(30));
    assert_eq!(r.media_commands.last(), Some(&MediaCommand::Resume));
    let last = r.events.iter().rev().find_map(|e| match e {
        Event::StateChange { code, detail } => Some((*code as i32, detail.clone())),
        _ => None,
    });
    assert_eq!(
        last,
        Some((
            1203,
            Some("paused for longer than pause-time (30 s)".to_string())
        ))
    );
    assert_eq!(r.publishes_seen(), 1, "one publish through it all");
}

#[test]
fn a_reload_moves_to_the_new_url_at_once_and_bounds_the_bitrate() {
    let mut r = Rig::new("min-bitrate = 100\nmax-bitrate = 800\nmode = \"SD\"");
    r.media_ready();
    r.connected(Verdict::Accept);
    r.video(0, true, 2000);
    let old = crate::config::parse(&format!(
        "url = \"rtmp://127.0.0.1/live/{KEY}\"\nautopush = true\nmin-bitrate = 100\nmax-bitrate = 800\nmode = \"SD\""
    ))
    .unwrap()
    .config;
    let new = crate::config::parse(
        "url = \"rtmp://127.0.0.1/live/cam-8?secret=N3W\"\nautopush = true\nmin-bitrate = 100\nmax-bitrate = 300\nmode = \"SD\"",
    )
    .unwrap()
    .config;
    let plan = crate::config::reload::plan(&old, &new);
    assert_eq!(plan.applied, vec!["url", "max-bitrate"]);
    r.p.reconfigure(r.now, &new, &plan);
    r.outputs();
    assert_eq!(r.closes, 1, "the old connection closed");
    assert_eq!(r.connects.len(), 2);
    assert_eq!(r.connects[1].stream_key(), "cam-8?secret=N3W");
    assert_eq!(r.commands.last(), Some(&EncoderCommand::Bitrate(300)));
    let detail = r.events.iter().rev().find_map(|e| match e {
        Event::StateChange { code, detail } if *code as i32 == 1102 => detail.clone(),
        _ => None,
    });
    let detail = detail.expect("1102 says why");
    assert!(detail.contains("reloaded"), "{detail}");
    assert!(
        !detail.contains("N3W") && !detail.contains("S3CRET"),
        "{detail}"
    );
    r.connected(Verdict::Accept);
    assert_eq!(r.p.counts().publishes, 2);
}

#[test]
fn the_tally_counts_what_came_in_went_out_and_was_shed_once_a_second() {
    let mut r = Rig::new("");
    let limit = r.p.cfg.queue_limit;
    r.media_ready();
    r.connected(Verdict::Accept);
    let mut t = 0;
    let (mut vin, mut ain) = (0u64, 0u64);
    r.video(0, true, 2000);
    vin += 1;
    while t < 2000 {
        t += 50;
        r.advance(50);
        r.video(t, false, 800);
        r.audio(t);
        vin += 1;
        ain += 1;
    }
    let (_, last) = *r.tallies.last().expect("a tally each second");
    assert_eq!(r.tallies.len(), 2, "one a second: {:?}", r.tallies.len());
    let now = r.p.tally_at(r.now, 0);
    assert_eq!((now.video_frames_in, now.audio_frames_in), (vin, ain));
    // everything was written: the socket took every frame
    assert_eq!(now.video_frames_written, vin);
    assert_eq!(now.audio_frames_written, ain);
    assert_eq!(now.video_frames_sent, vin);
    assert!(now.bytes_written > 800 * vin, "{now:?}");
    assert_eq!((now.connects, now.publishes), (1, 1));
    assert!(last.video_frames_in < vin, "the tally is of its moment");
    assert_eq!(now.health, None, "healthy: {:?}", now.health);
    assert_eq!(now.target_video_kbps, r.p.cfg.params.bitrate_kbps);
    // a stuck uplink: shed frames are counted, the queue's age shows
    r.take = Some(0);
    let stuck_from = t;
    while Duration::from_millis(t - stuck_from) < limit * 2 {
        t += 50;
        r.advance(50);
        r.video(t, false, 800);
        r.audio(t);
    }
    let s = r.p.tally_at(r.now, 500);
    assert!(s.video_frames_shed > 0 && s.audio_frames_shed > 0, "{s:?}");
    assert!(s.queue_age_ms > 0 && u64::from(s.queue_age_ms) <= limit.as_millis() as u64 + 50);
    assert!(
        s.delay_ms > s.queue_age_ms,
        "plus the socket's buffer: {s:?}"
    );
    assert_eq!(
        s.video_frames_written, now.video_frames_written,
        "nothing written since"
    );
}

#[test]
fn health_follows_the_watchdogs_rule_and_the_servers_progress() {
    use crate::health::Unhealthy;
    use crate::watchdog::Track as T;
    let mut r = Rig::new("");
    let stall = r.p.cfg.send_stall;
    r.media_ready();
    r.connected(Verdict::Accept);
    let mut t = 0;
    r.video(0, true, 2000);
    while t < 2000 {
        t += 50;
        r.advance(50);
        r.video(t, false, 800);
        r.audio(t);
    }
    assert_eq!(r.p.health_at(r.now), None);
    // video stops (a hung encoder), audio goes on: unhealthy after 3 s
    while t < 4900 {
        t += 50;
        r.advance(50);
        r.audio(t);
    }
    assert_eq!(r.p.health_at(r.now), None, "2.9 s without video is fine");
    while t < 5200 {
        t += 50;
        r.advance(50);
        r.audio(t);
    }
    match r.p.health_at(r.now) {
        Some(Unhealthy::NoFrames {
            track: T::Video,
            for_ms,
        }) => {
            assert!((3000..3400).contains(&for_ms), "{for_ms}")
        }
        h => panic!("{h:?}"),
    }
    assert!(
        r.tallies.last().unwrap().1.health.is_some(),
        "the tally carries it"
    );
    // video back: healthy again at once
    r.video(t, true, 2000);
    assert_eq!(r.p.health_at(r.now), None);
    // the server stops taking bytes: unhealthy at half the send-stall time,
    // before the stall ends the connection
    r.take = Some(0);
    let from = r.now;
    while r.now.saturating_since(from) < stall / 2 + Duration::from_millis(100) {
        t += 50;
        r.advance(50);
        r.video(t, false, 800);
        r.audio(t);
    }
    assert!(
        matches!(r.p.health_at(r.now), Some(Unhealthy::SendStalled { .. })),
        "{:?}",
        r.p.health_at(r.now)
    );
    assert!(
        !r.codes().contains(&3005),
        "the connection is not given up yet"
    );
    let why = r.p.health_at(r.now).unwrap().to_string();
    assert!(why.contains("taken no bytes"), "{why}");
}

#[test]
fn a_closed_camera_is_not_a_health_problem() {
    let mut r = Rig::new("autopush = false\n[control]\nstop-closes-camera = true\n");
    r.media_ready();
    let mut t = 0;
    r.video(0, true, 2000);
    r.p.command(r.now, Command::StopPreview).unwrap();
    r.outputs();
    while t < 6000 {
        t += 50;
        r.advance(50);
        r.audio(t);
    }
    assert_eq!(r.p.health_at(r.now), None, "no video expected");
    r.p.command(r.now, Command::StartPreview).unwrap();
    r.advance(2000);
    assert_eq!(r.p.health_at(r.now), None, "a fresh start for the camera");
    r.advance(1500);
    assert!(r.p.health_at(r.now).is_some(), "but it must give frames");
}

/// Property tests: any sequence of media, network events, commands and
/// clock ticks keeps the publisher's invariants.
mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Video {
            key: bool,
            size: u16,
        },
        Audio,
        Advance(u16),
        /// The socket takes this many KiB from now on (None: everything).
        Uplink(Option<u8>),
        Accept,
        Reject,
        Refused,
        Eof,
        IoError,
        Command(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (any::<bool>(), 10u16..6000).prop_map(|(key, size)| Step::Video { key, size }),
            4 => Just(Step::Audio),
            6 => (1u16..3000).prop_map(Step::Advance),
            2 => proptest::option::of(0u8..64).prop_map(Step::Uplink),
            3 => Just(Step::Accept),
            1 => Just(Step::Reject),
            1 => Just(Step::Refused),
            1 => Just(Step::Eof),
            1 => Just(Step::IoError),
            1 => (0u8..4).prop_map(Step::Command),
        ]
    }

    /// (timestamp, video?) of every media message each server received,
    /// one list per connection.
    fn per_server(r: &Rig) -> Vec<Vec<(u32, bool)>> {
        let mut bounds = r.servers_at.clone();
        bounds.push(r.seen.len());
        bounds
            .windows(2)
            .map(|w| {
                r.seen[w[0]..w[1]]
                    .iter()
                    .filter_map(|e| match e {
                        Sev::VideoDataReceived {
                            data, timestamp, ..
                        } if data.len() > 1 && data[1] == 1 => Some((timestamp.value, true)),
                        Sev::AudioDataReceived {
                            data, timestamp, ..
                        } if data.len() > 1 && data[1] == 1 => Some((timestamp.value, false)),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }

    fn run(steps: &[Step]) {
        let mut r = Rig::new("");
        let limit = r.p.cfg.queue_limit;
        let longest = r.p.cfg.supervisor.backoff.max;
        r.media_ready();
        let (mut vpts, mut apts) = (0u64, 0u64);
        r.video(0, true, 2000);
        for s in steps {
            let now_ms = r.now.as_millis();
            match *s {
                Step::Video { key, size } => {
                    vpts = (vpts + 1).max(now_ms);
                    r.video(vpts, key, usize::from(size));
                }
                Step::Audio => {
                    apts = (apts + 1).max(now_ms);
                    r.audio(apts);
                }
                Step::Advance(ms) => r.advance(u64::from(ms)),
                Step::Uplink(k) => {
                    r.take = k.map(|k| usize::from(k) * 1024);
                    r.wire();
                }
                Step::Accept | Step::Reject if r.conn.is_some() && r.server.is_none() => {
                    r.connected(if matches!(s, Step::Accept) {
                        Verdict::Accept
                    } else {
                        Verdict::RejectPublish
                    });
                }
                Step::Refused if r.conn.is_some() && r.server.is_none() => {
                    let conn = r.conn.unwrap();
                    r.input(Input::ConnectFailed {
                        conn,
                        failure: PushFailure::Refused("nothing listens".into()),
                    });
                }
                Step::Eof if r.server.is_some() => {
                    r.server = None;
                    r.input(Input::Eof);
                }
                Step::IoError if r.server.is_some() => {
                    r.server = None;
                    r.input(Input::IoFailed("connection reset".into()));
                }
                Step::Command(c) => {
                    let c = [
                        Command::Start,
                        Command::Stop,
                        Command::Pause,
                        Command::Resume,
                    ][usize::from(c)];
                    let _ = r.p.command(r.now, c);
                    r.outputs();
                    r.due();
                    r.wire();
                }
                _ => {}
            }
            if matches!(s, Step::Video { .. } | Step::Audio) {
                // media just went through the shedding check: nothing older
                // than the mode allows waits, but what is never shed (the
                // session's own messages) until the send stall ends it
                let age = r.p.queue_age(r.now);
                let bound = limit.max(r.p.cfg.send_stall) + Duration::from_millis(5);
                assert!(age <= bound, "queue age {age:?} > {bound:?} after {s:?}");
            }
        }
        // timestamps never go back within one publish, per track
        for (i, msgs) in per_server(&r).iter().enumerate() {
            for video in [true, false] {
                let ts: Vec<u32> = msgs.iter().filter(|m| m.1 == video).map(|m| m.0).collect();
                assert!(
                    ts.windows(2).all(|w| w[0] <= w[1]),
                    "connection {i}, video {video}: {ts:?}"
                );
            }
        }
        // every connection failure is followed by a reconnect (-1307 may
        // come between), and each announces a delay within the schedule
        let codes = r.codes();
        for (i, c) in codes.iter().enumerate() {
            if (3001..=3005).contains(c) {
                let next: Vec<i32> = codes[i + 1..].iter().copied().take(2).collect();
                assert!(
                    next.first() == Some(&1102) || next == [-1307, 1102],
                    "{c} then {next:?}: {codes:?}"
                );
            }
        }
        for e in &r.events {
            if let Event::StateChange {
                code: StatusCode::Reconnect,
                detail: Some(d),
            } = e
            {
                let ms: u64 = d
                    .strip_prefix("next attempt in ")
                    .and_then(|d| d.strip_suffix(" ms"))
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                assert!(
                    Duration::from_millis(ms) <= longest * 5 / 4,
                    "{d} beyond the longest delay {longest:?}"
                );
            }
        }
        // one 1002 per publish the server accepted
        let pushes = codes.iter().filter(|c| **c == 1002).count() as u64;
        assert_eq!(pushes, r.p.counts().publishes, "{codes:?}");
        // and it never gives up: with a server back, a push that was not
        // stopped by a command connects again within the longest delay
        let pushing = r.p.sup.is_pushing();
        r.take = None;
        r.advance((longest * 5 / 4).as_millis() as u64 + 1000);
        if pushing && r.server.is_none() {
            assert!(r.conn.is_some(), "no connection asked for: {codes:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn any_sequence_of_media_network_commands_and_time_keeps_the_invariants(
            steps in proptest::collection::vec(step(), 1..40)
        ) {
            run(&steps);
        }
    }
}
