//! The runner with scripted encoders and fake time, its reports fed to the
//! supervisor: hardware that does not start, that fails or wedges after N
//! frames, that ignores the key-frame interval, that is slow; everything
//! failing. The "decoder" here is a model: a unit decodes when it is a key
//! frame or the next frame of the same encoder instance after one that decoded.

use std::collections::VecDeque;
use std::time::Duration;

use super::*;
use crate::encoder::interface::{Coded, DmaPicture};
use crate::supervisor::{Backoff, Output, Supervisor, SupervisorConfig};
use crate::video::layout::{RawLayout, YU12};

/// How a scripted backend behaves.
#[derive(Clone, Copy, Default)]
struct Script {
    fail_open: bool,
    /// Each instance fails at its Nth picture.
    fail_at: Option<u64>,
    /// Each instance stops giving output after N pictures.
    silent_after: Option<u64>,
    /// Key frames only every this many (ignoring the asked interval).
    own_gop: Option<u32>,
    /// Units held inside before they come out (hardware latency).
    latency: usize,
    /// Can import DMABUFs (when opened with an import layout).
    imports: bool,
    /// After `drain`, this many polls say "pending" first (hardware finishing).
    drain_polls: u32,
    /// Units carry this percentage of the asked bitrate (0: a few bytes each).
    rate_pct: u32,
    /// Refuses bitrate changes (a setting it cannot take).
    refuse_tune: bool,
    /// Fails bitrate changes (the device call fails).
    fail_tune: bool,
}

struct Scripted {
    name: &'static str,
    id: u8,
    n: u64,
    gop: u32,
    since_key: u32,
    key_next: bool,
    held: VecDeque<(Coded, Vec<u8>)>,
    script: Script,
    draining: bool,
    /// Opened for DMABUF import.
    importing: bool,
    /// Asked bitrate and the frame rate it is spread over.
    kbps: u32,
    fps: u32,
}

impl VideoEncoder for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }
    fn submit(&mut self, _pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError> {
        if self.held.len() > self.script.latency + 1 {
            return Ok(Submitted::Busy);
        }
        self.n += 1;
        if self.script.fail_at == Some(self.n) {
            return Err(EncoderError::failed(format_args!(
                "scripted failure at picture {}",
                self.n
            )));
        }
        if self.script.silent_after.is_some_and(|s| self.n > s) {
            return Ok(Submitted::Taken);
        }
        let gop = self.script.own_gop.unwrap_or(self.gop);
        let asked = std::mem::take(&mut self.key_next);
        let key = self.n == 1 || asked || self.since_key + 1 >= gop;
        self.since_key = if key { 0 } else { self.since_key + 1 };
        // the "bitstream": encoder instance, picture number within it
        let mut data = vec![self.id, key as u8, (self.n >> 8) as u8, self.n as u8];
        if self.script.rate_pct > 0 {
            let bytes = self.kbps * 1000 / 8 / self.fps * self.script.rate_pct / 100;
            data.resize((bytes as usize).max(4), 0);
        }
        self.held.push_back((Coded { pts_us, key }, data));
        Ok(Submitted::Taken)
    }
    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError> {
        if self.draining && self.script.drain_polls > 0 {
            self.script.drain_polls -= 1;
            return Ok(Polled::Pending);
        }
        if self.held.len() > self.script.latency || (self.draining && !self.held.is_empty()) {
            let (c, d) = self.held.pop_front().unwrap();
            out.extend_from_slice(&d);
            return Ok(Polled::Unit(c));
        }
        Ok(if self.draining {
            Polled::Drained
        } else {
            Polled::Pending
        })
    }
    fn drain(&mut self) -> Result<(), EncoderError> {
        self.draining = true;
        Ok(())
    }
    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError> {
        if self.script.refuse_tune {
            return Err(EncoderError::unsupported("scripted refusal"));
        }
        if self.script.fail_tune {
            return Err(EncoderError::failed("scripted tune failure"));
        }
        if let Some(k) = t.kbps {
            self.kbps = k;
        }
        Ok(())
    }
    fn force_key(&mut self) {
        self.key_next = true;
    }
    fn imports(&self) -> bool {
        self.importing
    }
    fn submit_dmabuf(&mut self, d: &DmaPicture, pts_us: u64) -> Result<Submitted, EncoderError> {
        assert!(self.importing, "a DMABUF to an encoder opened for copies");
        let data = vec![0u8; d.len];
        let pic = I420 {
            width: 2,
            height: 2,
            data: &data,
        };
        self.submit(&pic, pts_us)
    }
}

struct Backends {
    scripts: Vec<(Backend, Script)>,
    opened: Vec<(Backend, u32, u32)>,
}

impl Opener for Backends {
    fn open(
        &mut self,
        b: Backend,
        s: &EncoderSettings,
    ) -> Result<Box<dyn VideoEncoder>, EncoderError> {
        let script = self
            .scripts
            .iter()
            .find(|x| x.0 == b)
            .map(|x| x.1)
            .unwrap_or_default();
        if script.fail_open {
            return Err(EncoderError::unavailable(format_args!("{b}: no device")));
        }
        self.opened.push((b, s.width, s.height));
        Ok(Box::new(Scripted {
            name: b.name(),
            id: self.opened.len() as u8,
            n: 0,
            gop: s.gop_frames,
            since_key: 0,
            key_next: false,
            held: VecDeque::new(),
            script,
            draining: false,
            importing: script.imports && s.import.is_some(),
            kbps: s.kbps,
            fps: s.fps,
        }))
    }
}

/// Collects units and hands reports to a supervisor.
struct Collect {
    /// Warnings and notes for the log.
    logged: Vec<String>,
    units: Vec<Unit>,
    reports: Vec<Report>,
    sup: Supervisor,
    now: Instant,
}

impl Collect {
    /// Empty, with a fresh supervisor, at time 0.
    fn new() -> Self {
        Collect {
            logged: Vec::new(),
            units: Vec::new(),
            reports: Vec::new(),
            sup: supervisor(),
            now: Instant::from_millis(0),
        }
    }
}

impl Sink for Collect {
    fn buffer(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn unit(&mut self, u: Unit) -> Delivery {
        self.units.push(u);
        Delivery::Taken
    }
    fn report(&mut self, r: Report) -> bool {
        if let Some(i) = r.input() {
            self.sup.handle_input(self.now, i);
        }
        self.reports.push(r);
        true
    }
    fn warn(&mut self, msg: String) {
        self.logged.push(msg);
    }
    fn note(&mut self, msg: String) {
        self.logged.push(msg);
    }
}

fn supervisor() -> Supervisor {
    Supervisor::new(SupervisorConfig {
        video: true,
        audio: false,
        backoff: Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter_pct: 0,
            fast_for: Duration::ZERO,
        },
        attempts_before_fatal: 3,
        stable_after: Duration::from_millis(2000),
        seed: 1,
        autopush: true,
    })
}

fn settings() -> EncoderSettings {
    EncoderSettings::new(
        &crate::config::VideoParams {
            width: 640,
            height: 360,
            fps: 30,
            gop_frames: 30,
            bitrate_kbps: 800,
            max_kbps: 1000,
        },
        true,
    )
}

fn chain(order: &[Backend], max_restarts: u32) -> ChainConfig {
    ChainConfig {
        order: order.to_vec(),
        max_restarts,
        wedge_after: Duration::from_millis(500),
    }
}

/// Runs `pictures` pictures at 30 fps through a runner; the supervisor is
/// publishing before the first one. Returns the sink, the outputs the
/// supervisor gave after publishing, and the opener.
fn run(
    cfg: ChainConfig,
    scripts: Vec<(Backend, Script)>,
    pictures: u64,
) -> (Collect, Vec<String>, Backends, u64) {
    let mut sink = Collect::new();
    let mut opener = Backends {
        scripts,
        opened: Vec::new(),
    };
    let mut r = Runner::new(cfg, settings());
    sink.sup.handle_input(sink.now, Input::CameraOpened);
    sink.sup.handle_input(sink.now, Input::FirstFrame);
    let data = vec![0u8; 640 * 360 * 3 / 2];
    let pic = I420 {
        width: 640,
        height: 360,
        data: &data,
    };
    let mut before_publish = Vec::new();
    let mut given = 0;
    for i in 0..pictures {
        sink.now = Instant::from_micros(i * 33_333);
        let step = r.encode(sink.now, &pic, i * 33_333, &mut opener, &mut sink);
        given += 1;
        if i == 0 {
            // the encoder runs: connect and publish
            before_publish = outputs(&mut sink.sup);
            sink.sup.handle_input(sink.now, Input::Connected);
            sink.sup.handle_input(sink.now, Input::Published);
            before_publish.extend(outputs(&mut sink.sup));
        }
        if step == Step::Stop {
            break;
        }
    }
    let mut after = before_publish;
    after.push("|".into());
    after.extend(outputs(&mut sink.sup));
    (sink, after, opener, given)
}

fn outputs(s: &mut Supervisor) -> Vec<String> {
    std::iter::from_fn(|| s.poll_output())
        .map(|o| match o {
            Output::Status { code, .. } => code.code().to_string(),
            Output::Connect => "connect".into(),
            Output::Error { err_code, .. } => format!("error {err_code}"),
        })
        .collect()
}

/// The decoder model: (units that decode, units that do not).
fn decode(units: &[Unit]) -> (usize, usize) {
    let mut last: Option<(u8, u16)> = None;
    let (mut ok, mut bad) = (0, 0);
    for u in units {
        let (id, key, n) = (
            u.data[0],
            u.data[1] == 1,
            u16::from_be_bytes([u.data[2], u.data[3]]),
        );
        assert_eq!(key, u.key, "the unit's key flag is the bitstream's");
        if key || last == Some((id, n - 1)) {
            ok += 1;
            last = Some((id, n));
        } else {
            bad += 1;
            last = None;
        }
    }
    (ok, bad)
}

fn rising(units: &[Unit]) -> bool {
    units.windows(2).all(|w| w[1].pts_us > w[0].pts_us)
}

const HW: Backend = Backend::V4l2M2m;
const SW: Backend = Backend::Software;

#[test]
fn hardware_missing_at_start_is_1103_then_software_1008_and_a_continuous_stream() {
    let scripts = vec![
        (
            Backend::Vaapi,
            Script {
                fail_open: true,
                ..Script::default()
            },
        ),
        (
            HW,
            Script {
                fail_open: true,
                ..Script::default()
            },
        ),
    ];
    let (sink, out, opener, _) = run(chain(&[Backend::Vaapi, HW, SW], 2), scripts, 90);
    assert_eq!(
        out,
        ["1003", "1007", "1103", "1008", "connect", "1001", "1002", "|"]
    );
    match &sink.reports[0] {
        Report::FellBack(m) => assert!(
            m.contains("vaapi: no device") && m.contains("v4l2-m2m: no device"),
            "{m}"
        ),
        r => panic!("{r:?}"),
    }
    assert_eq!(opener.opened, [(SW, 640, 360)]);
    assert_eq!(sink.units.len(), 90);
    assert_eq!(decode(&sink.units), (90, 0));
    assert!(rising(&sink.units));
    assert_eq!(sink.units.iter().filter(|u| u.key).count(), 3); // every 30
}

#[test]
fn hardware_failing_at_run_time_restarts_then_falls_to_software_on_the_same_session() {
    let hw = Script {
        fail_at: Some(40),
        latency: 2,
        ..Script::default()
    };
    let (sink, out, opener, given) = run(chain(&[HW, SW], 2), vec![(HW, hw)], 200);
    assert_eq!(given, 200);
    // two restarts (1104), then the fall (1103); the session is never dropped
    // (no connect, no error after the publish)
    assert_eq!(
        out,
        ["1003", "1007", "1008", "connect", "1001", "1002", "|", "1104", "1104", "1103"]
    );
    assert_eq!(
        opener.opened.iter().map(|o| o.0).collect::<Vec<_>>(),
        [HW, HW, HW, SW]
    );
    // each failure loses the failed picture and what the hardware still held
    // (its latency): at most 1 + 2 per failure
    assert!(sink.units.len() >= 200 - 3 * 3, "{}", sink.units.len());
    let (ok, bad) = decode(&sink.units);
    assert_eq!(bad, 0, "{ok} decoded");
    assert!(rising(&sink.units));
    // every new encoder's first unit is a key frame
    let mut last_id = 0;
    for u in &sink.units {
        if u.data[0] != last_id {
            assert!(
                u.key,
                "first unit of encoder {} is not a key frame",
                u.data[0]
            );
            last_id = u.data[0];
        }
    }
}

#[test]
fn a_wedged_encoder_is_restarted_after_the_wedge_time() {
    let hw = Script {
        silent_after: Some(20),
        ..Script::default()
    };
    let (sink, out, opener, _) = run(chain(&[HW, SW], 1), vec![(HW, hw)], 150);
    assert_eq!(out[7..], ["1104", "1103"]);
    assert_eq!(opener.opened.len(), 3);
    match &sink.reports[1] {
        Report::Restarted(m) => assert!(m.contains("wedged") && m.contains("500 ms"), "{m}"),
        r => panic!("{r:?}"),
    }
    // the wedge is noticed ~500 ms (15 pictures) after the last output
    let gap = sink
        .units
        .windows(2)
        .map(|w| w[1].pts_us - w[0].pts_us)
        .max()
        .unwrap();
    assert!((500_000..700_000).contains(&gap), "{gap}");
    assert_eq!(decode(&sink.units).1, 0);
}

#[test]
fn everything_failing_is_1303_and_video_stops() {
    let scripts = vec![
        (
            HW,
            Script {
                fail_open: true,
                ..Script::default()
            },
        ),
        (
            SW,
            Script {
                fail_at: Some(10),
                ..Script::default()
            },
        ),
    ];
    let (sink, out, _, given) = run(chain(&[HW, SW], 0), scripts, 100);
    assert_eq!(given, 10, "the runner stops at the failure");
    assert_eq!(out[out.len() - 1], "-1303");
    assert!(
        matches!(sink.reports.last(), Some(Report::NoneLeft(m)) if m.contains("no encoder left"))
    );
    // nothing opens at all: -1303 at once
    let scripts = vec![
        (
            HW,
            Script {
                fail_open: true,
                ..Script::default()
            },
        ),
        (
            SW,
            Script {
                fail_open: true,
                ..Script::default()
            },
        ),
    ];
    let (sink, _, _, given) = run(chain(&[HW, SW], 3), scripts, 100);
    assert_eq!(given, 1);
    assert!(sink.units.is_empty());
    assert!(
        matches!(&sink.reports[0], Report::NoneLeft(m) if m.contains("no video encoder could start"))
    );
}

#[test]
fn a_backend_ignoring_the_interval_gets_key_frames_forced_at_it() {
    let hw = Script {
        own_gop: Some(250),
        latency: 2,
        ..Script::default()
    };
    let (sink, _, _, _) = run(chain(&[HW, SW], 2), vec![(HW, hw)], 200);
    let keys: Vec<usize> = sink
        .units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.key)
        .map(|(i, _)| i)
        .collect();
    // the first interval reveals it (no key at 30); from then on every 30
    assert_eq!(keys[0], 0);
    assert!(keys.len() >= 5, "{keys:?}");
    for w in keys[1..].windows(2) {
        assert_eq!(w[1] - w[0], 30, "{keys:?}");
    }
}

#[test]
fn a_size_change_drains_the_old_encoder_before_the_new_one_speaks() {
    let hw = Script {
        latency: 3,
        drain_polls: 2,
        ..Script::default()
    };
    let mut sink = Collect::new();
    let mut opener = Backends {
        scripts: vec![(HW, hw)],
        opened: Vec::new(),
    };
    let mut r = Runner::new(chain(&[HW, SW], 2), settings());
    let big = vec![0u8; 640 * 360 * 3 / 2];
    let small = vec![0u8; 320 * 180 * 3 / 2];
    for i in 0..20u64 {
        sink.now = Instant::from_micros(i * 33_333);
        if i == 10 {
            r.set_size(sink.now, 320, 180, &mut sink);
        }
        let (w, h, d) = if r.size() == (640, 360) {
            (640, 360, &big)
        } else {
            (320, 180, &small)
        };
        let pic = I420 {
            width: w,
            height: h,
            data: d,
        };
        assert_eq!(
            r.encode(sink.now, &pic, i * 33_333, &mut opener, &mut sink),
            Step::Go
        );
    }
    // all ten big pictures came out (three were still inside at the change,
    // and the encoder took two more polls to finish), all before any small one
    let sizes: Vec<(u32, u32)> = sink.units.iter().map(|u| (u.width, u.height)).collect();
    assert_eq!(sizes.iter().filter(|s| **s == (640, 360)).count(), 10);
    let first_small = sizes.iter().position(|s| *s == (320, 180)).unwrap();
    assert!(
        sizes[first_small..].iter().all(|s| *s == (320, 180)),
        "{sizes:?}"
    );
    // two pictures were dropped while the old encoder drained; the new one
    // still holds its last three at the end
    assert_eq!(sizes.len(), 20 - 2 - 3);
    assert!(sink.units[first_small].key);
    assert!(rising(&sink.units));
    assert_eq!(opener.opened, [(HW, 640, 360), (HW, 320, 180)]);
    assert_eq!(decode(&sink.units).1, 0);
}

/// Runs `frames` ('d' a DMABUF picture, 'p' pixels) through a runner over
/// `script`; returns the steps, the opened backends' import flags and the units.
fn run_frames(script: Script, frames: &str) -> (Vec<Step>, Vec<bool>, Collect) {
    let mut sink = Collect::new();
    let mut opener = Imports {
        inner: Backends {
            scripts: vec![(HW, script)],
            opened: Vec::new(),
        },
        importing: Vec::new(),
    };
    let mut r = Runner::new(chain(&[HW, SW], 2), settings());
    let layout = RawLayout {
        fourcc: YU12,
        width: 640,
        height: 360,
        stride: 640,
        size: 640 * 360 * 3 / 2,
    };
    let data = vec![0u8; 640 * 360 * 3 / 2];
    let pic = I420 {
        width: 640,
        height: 360,
        data: &data,
    };
    let dma = DmaPicture { fd: 7, len: 16 };
    let mut steps = Vec::new();
    for (i, f) in frames.chars().enumerate() {
        sink.now = Instant::from_micros(i as u64 * 33_333);
        let pts = i as u64 * 33_333;
        let mut step = if f == 'd' {
            r.encode_frame(
                sink.now,
                Frame::Dma(&dma, layout),
                pts,
                &mut opener,
                &mut sink,
            )
        } else {
            r.encode(sink.now, &pic, pts, &mut opener, &mut sink)
        };
        steps.push(step);
        if step == Step::NeedPixels {
            step = r.encode(sink.now, &pic, pts, &mut opener, &mut sink);
            assert_eq!(step, Step::Go);
        }
        assert!(r.imports_done().unwrap());
    }
    (steps, opener.importing, sink)
}

/// Records whether each opened encoder imports.
struct Imports {
    inner: Backends,
    importing: Vec<bool>,
}

impl Opener for Imports {
    fn open(
        &mut self,
        b: Backend,
        s: &EncoderSettings,
    ) -> Result<Box<dyn VideoEncoder>, EncoderError> {
        let e = self.inner.open(b, s)?;
        self.importing.push(e.imports());
        Ok(e)
    }
}

#[test]
fn camera_buffers_go_to_an_importing_encoder_and_pixels_reopen_it_for_copies() {
    let hw = Script {
        imports: true,
        ..Script::default()
    };
    // camera pictures, the camera lost (pixels: the no-signal card), back
    let (steps, importing, sink) = run_frames(hw, "ddddpppdd");
    assert!(steps.iter().all(|s| *s == Step::Go), "{steps:?}");
    // opened to import, reopened for copies, reopened to import
    assert_eq!(importing, [true, false, true]);
    assert_eq!(sink.units.len(), 9);
    assert!(rising(&sink.units));
    assert_eq!(decode(&sink.units).1, 0);
    // each reopening starts on a key frame
    let keys: Vec<usize> = (0..9).filter(|i| sink.units[*i].key).collect();
    assert_eq!(keys, [0, 4, 7]);
}

#[test]
fn an_encoder_that_cannot_import_gets_pixels_without_reopening() {
    let (steps, importing, sink) = run_frames(Script::default(), "ddddd");
    // asked once (the encoder opened for the import said no), then at once
    assert!(steps.iter().all(|s| *s == Step::NeedPixels), "{steps:?}");
    assert_eq!(importing, [false]);
    assert_eq!(sink.units.len(), 5);
    assert_eq!(decode(&sink.units).1, 0);
}

/// The stream's bitrate over the units from `from_us` on, kbps.
fn kbps_since(units: &[Unit], from_us: u64) -> u64 {
    let span: Vec<_> = units.iter().filter(|u| u.pts_us >= from_us).collect();
    let bytes: usize = span.iter().map(|u| u.data.len()).sum();
    let us = span.last().unwrap().pts_us + 33_333 - span[0].pts_us;
    bytes as u64 * 8 * 1000 / us
}

#[test]
fn a_backend_overshooting_by_30_percent_is_asked_for_less_and_delivers_the_wanted_rate() {
    let hw = Script {
        rate_pct: 130,
        ..Script::default()
    };
    // 20 s at 30 fps, 800 kbps wanted
    let (sink, _, _, _) = run(chain(&[HW, SW], 2), vec![(HW, hw)], 600);
    let start = kbps_since(&sink.units[..60], 0);
    assert!((1000..=1080).contains(&start), "at first: {start}");
    let settled = kbps_since(&sink.units, 12_000_000);
    assert!(
        (760..=840).contains(&settled),
        "after 12 s: {settled} kbps for 800 wanted"
    );
    assert_eq!(decode(&sink.units).1, 0);
}

#[test]
fn the_next_backend_starts_at_the_wanted_rate_not_the_last_ones_correction() {
    let hw = Script {
        rate_pct: 130,
        fail_at: Some(450),
        ..Script::default()
    };
    let sw = Script {
        rate_pct: 100,
        ..Script::default()
    };
    let (sink, out, opener, _) = run(chain(&[HW, SW], 0), vec![(HW, hw), (SW, sw)], 900);
    assert!(out.contains(&"1103".to_string()), "{out:?}");
    assert_eq!(opener.opened, [(HW, 640, 360), (SW, 640, 360)]);
    // the hardware was corrected; software, on target, runs at the wanted rate
    let hw_late = kbps_since(&sink.units[..449], 10_000_000);
    assert!((760..=840).contains(&hw_late), "hardware: {hw_late}");
    let sw = kbps_since(&sink.units, 16_000_000);
    assert!((790..=810).contains(&sw), "software: {sw}");
}

/// A runner whose backend delivered 125% of its target for 10 s (30 fps):
/// it is asked for 640 kbps to deliver the wanted 800.
fn corrected_runner() -> (Runner, Collect) {
    let hw = Script {
        rate_pct: 125,
        ..Script::default()
    };
    let (r, sink, _) = runner_on(hw, 300);
    assert_eq!(r.asked_kbps(), 640);
    (r, sink)
}

#[test]
fn a_new_wanted_rate_is_asked_less_the_overshoot_already_measured() {
    let (mut r, _) = corrected_runner();
    r.set_bitrate(400).unwrap();
    assert_eq!(r.asked_kbps(), 320);
}

#[test]
fn a_backend_refusing_the_corrected_rate_keeps_its_own_and_is_not_corrected_again() {
    let hw = Script {
        rate_pct: 130,
        refuse_tune: true,
        ..Script::default()
    };
    let (sink, _, _, _) = run(chain(&[HW, SW], 2), vec![(HW, hw)], 900);
    let refusals: Vec<_> = sink
        .logged
        .iter()
        .filter(|l| l.contains("not applied"))
        .collect();
    assert_eq!(refusals.len(), 1, "{:?}", sink.logged);
    assert!(
        refusals[0].contains("not corrected from now on"),
        "{refusals:?}"
    );
    // it runs on at its own rate (800 asked, 1040 out), nothing else changed
    let late = kbps_since(&sink.units, 20_000_000);
    assert!((1000..=1080).contains(&late), "{late}");
}

#[test]
fn a_backend_failing_a_corrected_rate_is_restarted_not_left_uncorrected() {
    let hw = Script {
        rate_pct: 130,
        fail_tune: true,
        ..Script::default()
    };
    let (sink, _, opener, _) = run(chain(&[HW, SW], 2), vec![(HW, hw)], 900);
    assert!(
        sink.reports
            .iter()
            .any(|r| matches!(r, Report::Restarted(m) if m.contains("scripted tune failure"))),
        "{:?}",
        sink.reports
    );
    assert!(
        !sink.logged.iter().any(|l| l.contains("not corrected")),
        "a failure is not a refusal: {:?}",
        sink.logged
    );
    assert!(opener.opened.iter().filter(|o| o.0 == HW).count() >= 2);
}

/// A runner on `hw` after `pictures` pictures at 30 fps, and its sink
/// and opener.
fn runner_on(hw: Script, pictures: u64) -> (Runner, Collect, Backends) {
    let mut sink = Collect::new();
    let mut opener = Backends {
        scripts: vec![(HW, hw)],
        opened: Vec::new(),
    };
    let mut r = Runner::new(chain(&[HW, SW], 2), settings());
    let data = vec![0u8; 640 * 360 * 3 / 2];
    let pic = I420 {
        width: 640,
        height: 360,
        data: &data,
    };
    for i in 0..pictures {
        sink.now = Instant::from_micros(i * 33_333);
        r.encode(sink.now, &pic, i * 33_333, &mut opener, &mut sink);
    }
    (r, sink, opener)
}

#[test]
fn a_bitrate_change_the_device_fails_restarts_the_encoder_a_refused_one_does_not() {
    for (hw, restarts) in [
        (
            Script {
                rate_pct: 100,
                fail_tune: true,
                ..Script::default()
            },
            true,
        ),
        (
            Script {
                rate_pct: 100,
                refuse_tune: true,
                ..Script::default()
            },
            false,
        ),
    ] {
        let (mut r, mut sink, mut opener) = runner_on(hw, 10);
        assert_eq!(opener.opened.len(), 1);
        let e = r.set_bitrate(400).unwrap_err();
        assert_eq!(e.is_failure(), restarts, "{e}");
        assert_eq!(r.asked_kbps(), 800, "the old rate stays asked");
        let data = vec![0u8; 640 * 360 * 3 / 2];
        let pic = I420 {
            width: 640,
            height: 360,
            data: &data,
        };
        sink.now = Instant::from_micros(10 * 33_333);
        assert_eq!(
            r.encode(sink.now, &pic, 10 * 33_333, &mut opener, &mut sink),
            Step::Go
        );
        let restarted = sink
            .reports
            .iter()
            .any(|r| matches!(r, Report::Restarted(m) if m.contains("scripted tune failure")));
        assert_eq!(restarted, restarts, "{:?}", sink.reports);
        assert_eq!(opener.opened.len(), if restarts { 2 } else { 1 });
    }
}

#[test]
fn a_new_size_opens_at_the_wanted_rate() {
    let (mut r, mut sink) = corrected_runner();
    r.set_size(sink.now, 320, 180, &mut sink);
    assert_eq!(
        r.asked_kbps(),
        800,
        "the overshoot at 640x360 says nothing of 320x180"
    );
}

/// A sink whose receiver is gone (the loop ended).
struct GoneSink(Collect);

impl Sink for GoneSink {
    fn buffer(&mut self) -> Vec<u8> {
        Vec::new()
    }
    fn unit(&mut self, _: Unit) -> Delivery {
        Delivery::Gone
    }
    fn report(&mut self, r: Report) -> bool {
        self.0.report(r)
    }
    fn warn(&mut self, msg: String) {
        self.0.warn(msg);
    }
    fn note(&mut self, msg: String) {
        self.0.note(msg);
    }
}

#[test]
fn a_receiver_gone_stops_the_runner_quietly_not_as_an_encoder_failure() {
    let mut sink = GoneSink(Collect::new());
    let mut opener = Backends {
        scripts: vec![(Backend::Software, Script::default())],
        opened: Vec::new(),
    };
    let mut r = Runner::new(chain(&[Backend::Software], 2), settings());
    let data = vec![0u8; 640 * 360 * 3 / 2];
    let pic = I420 {
        width: 640,
        height: 360,
        data: &data,
    };
    let step = r.encode(Instant::from_millis(0), &pic, 0, &mut opener, &mut sink);
    assert!(step == Step::Stop, "the first unit found the receiver gone");
    assert_eq!(opener.opened.len(), 1, "no restart: {:?}", opener.opened);
    assert!(
        !sink.0.reports.iter().any(|r| matches!(
            r,
            Report::Restarted(_) | Report::FellBack(_) | Report::NoneLeft(_)
        )),
        "reported as a failure: {:?}",
        sink.0.logged
    );
    assert!(
        !sink.0.logged.iter().any(|l| l.contains("failed")),
        "{:?}",
        sink.0.logged
    );
}
