//! The encoder runner: what the video thread does with each picture, without
//! the thread. It opens the chain's backends in order through an [`Opener`]
//! (those that do not start are reported together as one fall-back, 1103,
//! then the start, 1008), offers pictures (a busy encoder's finished units
//! are taken and the picture offered once more, else it is dropped), passes
//! access units on to a [`Sink`] with their timestamps, watches the key-frame
//! interval (a backend that ignores it gets key frames forced at the
//! interval), and turns a failure or a wedge (frames in, nothing out for the
//! chain's `wedge_after`) into a restart (1104), a fall to the next backend
//! (1103) or the end (-1303). A new encoder always starts with a key frame,
//! so the stream continues on the same RTMP session. A size change drains
//! the old encoder (its last units still go out, at the old size) while the
//! new one starts. Pictures that stay in camera buffers (DMABUFs) go to a
//! backend opened to import them (zero copy); switching between such
//! pictures and ordinary ones (the camera lost, a smaller size) reopens the
//! encoder like a size change, and a backend that cannot import the
//! camera's layout is asked for ordinary pictures instead (`NeedPixels`).
//! The bitrate asked of each backend is the wanted one less the overshoot
//! the backend shows ([`RateMatch`]): what comes out is what was wanted.
//!
//! All time enters as `now`; the tests drive scripted encoders.

use std::collections::VecDeque;
use std::time::Duration;

use super::chain::{ChainConfig, EncoderChain, Next};
use super::error::EncoderError;
use super::gop_check::GopCheck;
use super::interface::{DmaPicture, Polled, Submitted, Tuning, VideoEncoder, I420};
use super::rate_match::RateMatch;
use super::settings::EncoderSettings;
use super::Backend;
use crate::supervisor::Input;
use crate::time::Instant;
use crate::video::layout::RawLayout;

/// Opens backends.
pub trait Opener {
    /// Opens `backend` for `s`, or says why it cannot.
    fn open(
        &mut self,
        backend: Backend,
        s: &EncoderSettings,
    ) -> Result<Box<dyn VideoEncoder>, EncoderError>;
}

/// Facts for the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The encoder runs (1008 the first time; a `FellBack` came first when
    /// earlier backends did not start).
    Started {
        /// Its name.
        backend: &'static str,
        /// The first encoder of the run.
        first: bool,
    },
    /// Backends did not start, or one failed and the next takes over (1103).
    FellBack(String),
    /// The running one failed and is restarted (1104).
    Restarted(String),
    /// No backend is left (-1303): video ends.
    NoneLeft(String),
}

impl Report {
    /// What the supervisor makes of it (None: only for the log).
    pub fn input(&self) -> Option<Input> {
        Some(match self {
            Report::Started { first: true, .. } => Input::VideoEncoderStarted { fell_back: false },
            Report::Started { first: false, .. } => return None,
            Report::FellBack(m) => Input::EncoderFellBack(m.clone()),
            Report::Restarted(m) => Input::EncoderRestarted(m.clone()),
            Report::NoneLeft(m) => Input::VideoEncoderFailed(m.clone()),
        })
    }
}

/// One access unit for the muxer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// The picture's timestamp, µs.
    pub pts_us: u64,
    /// IDR.
    pub key: bool,
    /// Encoded size.
    pub width: u32,
    /// Encoded size.
    pub height: u32,
    /// Annex-B bytes.
    pub data: Vec<u8>,
}

/// What became of a unit handed to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// On its way.
    Taken,
    /// Dropped (the receiver was busy): the next picture becomes a key frame.
    Dropped,
    /// The receiver is gone: stop.
    Gone,
}

/// Where units and reports go.
pub trait Sink {
    /// An empty buffer for the next unit (recycled ones first).
    fn buffer(&mut self) -> Vec<u8>;
    /// One unit.
    fn unit(&mut self, u: Unit) -> Delivery;
    /// One report; false when the receiver is gone.
    fn report(&mut self, r: Report) -> bool;
    /// A warning for the log.
    fn warn(&mut self, msg: String);
    /// A notice for the log (a rate correction).
    fn note(&mut self, _msg: String) {}
    /// A picture was dropped: the encoder was busy (metrics).
    fn dropped(&mut self) {}
}

/// The runner's answer to a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Go on.
    Go,
    /// Stop the video thread (no encoder left, or the receiver is gone).
    Stop,
    /// The encoder cannot import this DMABUF picture: offer it as pixels.
    NeedPixels,
}

/// One picture: pixels, or a camera buffer to import in place.
#[derive(Clone, Copy)]
pub enum Frame<'a> {
    /// I420 pixels (copied by hardware backends).
    Pixels(&'a I420<'a>),
    /// A DMABUF in `layout`.
    Dma(&'a DmaPicture, RawLayout),
}

/// An old encoder draining after a size change.
struct Draining {
    enc: Box<dyn VideoEncoder>,
    size: (u32, u32),
    until: Instant,
}

/// The runner's state.
pub struct Runner {
    chain: EncoderChain,
    wedge_after: Duration,
    settings: EncoderSettings,
    enc: Option<Box<dyn VideoEncoder>>,
    draining: Option<Draining>,
    gop: GopCheck,
    /// Once a backend is seen ignoring the interval, keys are forced at it.
    enforce_gop: bool,
    /// Pictures submitted since (and with) the last forced key frame.
    in_since_forced: u32,
    force_key: bool,
    /// Timestamps of pictures submitted with a forced key frame.
    forced: VecDeque<u64>,
    announced: bool,
    /// A DMABUF layout the running backend could not import.
    import_refused: Option<RawLayout>,
    /// A unit buffer taken from the sink but not filled (kept for the next
    /// unit: handing one back per picture would empty the recycling pool).
    spare: Option<Vec<u8>>,
    /// The wanted bitrate and what the running backend is asked for.
    rate: RateMatch,
    /// The backend the rate match has learned (another one starts afresh).
    rate_backend: Option<&'static str>,
    /// The running encoder refused a corrected rate: no more corrections
    /// for it (the matcher would measure against a rate never applied).
    rate_refused: bool,
    /// The running encoder failed outside a picture (a bitrate change the
    /// device could not carry out): it is restarted at the next picture.
    broken: Option<EncoderError>,
}

impl Runner {
    /// A runner for the chain `cfg`, encoding as `s` says.
    pub fn new(cfg: ChainConfig, s: EncoderSettings) -> Self {
        Runner {
            wedge_after: cfg.wedge_after,
            chain: EncoderChain::new(cfg),
            gop: GopCheck::new(s.gop_frames),
            rate: RateMatch::new(
                s.kbps,
                Duration::from_micros(
                    u64::from(s.gop_frames) * 1_000_000 / u64::from(s.fps.max(1)),
                ),
            ),
            rate_backend: None,
            rate_refused: false,
            broken: None,
            settings: s,
            enc: None,
            draining: None,
            enforce_gop: false,
            in_since_forced: 0,
            force_key: false,
            forced: VecDeque::new(),
            announced: false,
            import_refused: None,
            spare: None,
        }
    }

    /// An empty buffer for the next unit: the spare one, else the sink's.
    fn buffer(&mut self, sink: &mut dyn Sink) -> Vec<u8> {
        let mut b = self.spare.take().unwrap_or_else(|| sink.buffer());
        b.clear();
        b
    }

    /// Whether the running encoder has released every imported picture
    /// (the camera may then reuse its buffers).
    pub fn imports_done(&mut self) -> Result<bool, EncoderError> {
        match self.enc.as_mut() {
            Some(e) => e.imports_done(),
            None => Ok(true),
        }
    }

    /// The running encoder's descriptor to wait on for released imports.
    pub fn release_fd(&self) -> Option<i32> {
        self.enc.as_ref().and_then(|e| e.release_fd())
    }

    /// A failure the caller saw (an imported buffer never released): the
    /// same path as an encoder error.
    pub fn fail_now(&mut self, why: EncoderError, sink: &mut dyn Sink) -> Step {
        if self.enc.is_none() {
            return Step::Go;
        }
        self.failed(why, sink)
    }

    /// The running encoder's name.
    pub fn backend(&self) -> Option<&'static str> {
        self.enc.as_ref().map(|e| e.name())
    }

    /// The size pictures must have now.
    pub fn size(&self) -> (u32, u32) {
        (self.settings.width, self.settings.height)
    }

    /// Makes the next picture a key frame.
    pub fn force_key(&mut self) {
        self.force_key = true;
    }

    /// A new wanted bitrate (the next encoder opens at it too); the running
    /// encoder is asked for it less the overshoot it has shown. Err: the
    /// running encoder did not take it and keeps its old rate; when it
    /// failed doing so (not a refusal), it is restarted at the next picture.
    pub fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError> {
        self.settings.max_kbps = self.settings.max_kbps.max(kbps);
        let before = self.rate.asked();
        let asked = self.rate.set_wanted(kbps);
        if asked == before {
            return Ok(());
        }
        self.ask(asked).inspect_err(|e| {
            self.rate.refused(before);
            self.settings.kbps = before;
            if e.is_failure() {
                self.broken = Some(e.clone());
            }
        })
    }

    /// The bitrate the running encoder is asked for, kbps (the wanted one
    /// less its overshoot).
    pub fn asked_kbps(&self) -> u32 {
        self.rate.asked()
    }

    /// Asks the running encoder (and the next one opened) for `kbps`.
    fn ask(&mut self, kbps: u32) -> Result<(), EncoderError> {
        self.settings.kbps = kbps;
        match self.enc.as_mut() {
            Some(e) => e.tune(Tuning {
                kbps: Some(kbps),
                fps: None,
            }),
            None => Ok(()),
        }
    }

    /// A new picture size: the running encoder drains (for at most half a
    /// second) and a new one opens at the next picture.
    pub fn set_size(&mut self, now: Instant, width: u32, height: u32, sink: &mut dyn Sink) {
        if (width, height) == self.size() {
            return;
        }
        self.retire(now, sink);
        self.settings.width = width;
        self.settings.height = height;
        // an encoder's overshoot (its floor above all) differs with the size
        self.settings.kbps = self.rate.forget();
    }

    /// Drains the running encoder (its last units still go out); a new one
    /// opens at the next picture.
    fn retire(&mut self, now: Instant, sink: &mut dyn Sink) {
        if let Some(old) = self.draining.take() {
            sink.warn(format!(
                "{} still draining at the next change: its last units are dropped",
                old.enc.name()
            ));
        }
        // a failure it had is its own: the next encoder starts clean
        self.broken = None;
        if let Some(mut enc) = self.enc.take() {
            match enc.drain() {
                Ok(()) => {
                    self.draining = Some(Draining {
                        enc,
                        size: self.size(),
                        until: now + Duration::from_millis(500),
                    })
                }
                Err(e) => sink.warn(format!("draining {}: {e}", enc.name())),
            }
        }
    }

    /// Encodes one picture of the current size.
    pub fn encode(
        &mut self,
        now: Instant,
        pic: &I420<'_>,
        pts_us: u64,
        opener: &mut dyn Opener,
        sink: &mut dyn Sink,
    ) -> Step {
        self.encode_frame(now, Frame::Pixels(pic), pts_us, opener, sink)
    }

    /// Encodes one picture, pixels or DMABUF. `NeedPixels`: offer this
    /// picture again as pixels (the backend cannot import it).
    pub fn encode_frame(
        &mut self,
        now: Instant,
        frame: Frame<'_>,
        pts_us: u64,
        opener: &mut dyn Opener,
        sink: &mut dyn Sink,
    ) -> Step {
        let import = match frame {
            Frame::Dma(_, l) if self.import_refused == Some(l) => return Step::NeedPixels,
            Frame::Dma(_, l) => Some(l),
            Frame::Pixels(_) => None,
        };
        if import != self.settings.import {
            // an encoder opened for the other kind of picture: reopen,
            // unless it copies anyway (then it takes pixels as it is)
            let copies = self.enc.as_ref().is_some_and(|e| !e.imports());
            if !(copies && import.is_none()) {
                self.retire(now, sink);
            }
            self.settings.import = import;
        }
        if self.finish_draining(now, sink) == Step::Stop {
            return Step::Stop;
        }
        if self.draining.is_some() {
            // the old encoder still holds units: the new one starts once they
            // are out, so no new-size unit overtakes them (this picture is
            // dropped; the new encoder starts on a key frame anyway)
            return Step::Go;
        }
        if let Some(e) = self.broken.take().filter(|_| self.enc.is_some()) {
            if self.failed(e, sink) == Step::Stop {
                return Step::Stop;
            }
        }
        if self.enc.is_none() && self.start(opener, sink) == Step::Stop {
            return Step::Stop;
        }
        if let Some(l) = import {
            if !self.enc.as_ref().is_some_and(|e| e.imports()) {
                // this backend copies: pictures as pixels from now on
                sink.warn(format!(
                    "video encoder {} does not import the camera's buffers ({}x{}): copying",
                    self.backend().unwrap_or("?"),
                    l.width,
                    l.height
                ));
                self.import_refused = Some(l);
                self.settings.import = None;
                return Step::NeedPixels;
            }
        }
        if self.enforce_gop && self.in_since_forced >= self.settings.gop_frames {
            self.force_key = true;
        }
        self.chain.frame_in(now);
        let result = self.submit(frame, pts_us, sink);
        match result {
            Ok(false) if self.chain.wedged(now) => {
                let e = EncoderError::Wedged {
                    after_ms: self.wedge_after.as_millis() as u64,
                };
                self.failed(e, sink)
            }
            Ok(_) => Step::Go,
            Err(Halt::Gone) => Step::Stop,
            Err(Halt::Failed(e)) => self.failed(e, sink),
        }
    }

    /// Opens the current backend, or the next ones.
    fn start(&mut self, opener: &mut dyn Opener, sink: &mut dyn Sink) -> Step {
        let mut failed = Vec::new();
        while self.enc.is_none() {
            let Some(b) = self.chain.current() else {
                sink.report(Report::NoneLeft(format!(
                    "no video encoder could start: {}",
                    failed.join("; ")
                )));
                return Step::Stop;
            };
            if self.rate_backend != Some(b.name()) {
                // another backend's rate control: its overshoot is not known
                self.settings.kbps = self.rate.forget();
            }
            match opener.open(b, &self.settings) {
                Ok(e) => {
                    self.enc = Some(e);
                    self.rate_backend = Some(b.name());
                    self.rate_refused = false;
                    self.rate.restart();
                }
                Err(why) => {
                    sink.warn(format!("encoder {b} did not start: {why}"));
                    failed.push(why.to_string());
                    if self.chain.start_failed() == Next::NoneLeft {
                        sink.report(Report::NoneLeft(format!(
                            "no video encoder could start: {}",
                            failed.join("; ")
                        )));
                        return Step::Stop;
                    }
                }
            }
        }
        if !failed.is_empty() && !sink.report(Report::FellBack(failed.join("; "))) {
            return Step::Stop;
        }
        let backend = self.backend().unwrap_or("?");
        self.chain.reset_watch();
        self.force_key = true;
        self.forced.clear();
        self.gop = GopCheck::new(self.settings.gop_frames);
        let first = !self.announced;
        self.announced = true;
        if !sink.report(Report::Started { backend, first }) {
            return Step::Stop;
        }
        Step::Go
    }

    /// A run-time failure: restart, fall back, or stop.
    fn failed(&mut self, e: EncoderError, sink: &mut dyn Sink) -> Step {
        let name = self.backend().unwrap_or("?");
        let why = format!("{name}: {e}");
        sink.warn(format!("video encoder failed: {why}"));
        self.enc = None;
        self.broken = None;
        let r = match self.chain.failed() {
            Next::Restart(b) => Report::Restarted(format!("{why}; restarting {b}")),
            Next::FallTo(b) => Report::FellBack(format!("{why}; falling back to {b}")),
            Next::NoneLeft => {
                sink.report(Report::NoneLeft(format!("{why}; no encoder left")));
                return Step::Stop;
            }
        };
        if sink.report(r) {
            Step::Go
        } else {
            Step::Stop
        }
    }

    /// Offers `pic` (a forced key frame if one is owed), passing on every
    /// unit that is ready. Ok(whether anything came out).
    fn submit(&mut self, frame: Frame<'_>, pts_us: u64, sink: &mut dyn Sink) -> Result<bool, Halt> {
        let forced = std::mem::take(&mut self.force_key);
        let enc = self.enc.as_mut().expect("started");
        if forced {
            enc.force_key();
            self.forced.push_back(pts_us);
            self.in_since_forced = 0;
        }
        self.in_since_forced += 1;
        let mut any = false;
        for attempt in 0..2 {
            let enc = self.enc.as_mut().expect("started");
            let r = match frame {
                Frame::Pixels(pic) => enc.submit(pic, pts_us)?,
                Frame::Dma(d, _) => enc.submit_dmabuf(d, pts_us)?,
            };
            match r {
                Submitted::Taken => break,
                Submitted::Busy if attempt == 0 => any |= self.take_units(sink)?,
                Submitted::Busy => {
                    let name = self.backend().unwrap_or("?");
                    sink.warn(format!("video encoder {name} busy: frame dropped"));
                    sink.dropped();
                    if forced {
                        self.force_key = true;
                    }
                }
            }
        }
        Ok(self.take_units(sink)? || any)
    }

    /// Passes every finished unit on. Ok(whether there was one).
    fn take_units(&mut self, sink: &mut dyn Sink) -> Result<bool, Halt> {
        let mut any = false;
        loop {
            let mut out = self.buffer(sink);
            let enc = self.enc.as_mut().expect("started");
            let c = match enc.poll(&mut out) {
                Ok(Polled::Unit(c)) => c,
                Ok(Polled::Pending | Polled::Drained) => {
                    self.spare = Some(out);
                    return Ok(any);
                }
                Err(e) => {
                    self.spare = Some(out);
                    return Err(Halt::Failed(e));
                }
            };
            any = true;
            self.chain.frame_out();
            let mut forced = false;
            while self.forced.front().is_some_and(|t| *t <= c.pts_us) {
                forced |= self.forced.pop_front() == Some(c.pts_us);
            }
            if c.key && !forced && self.forced.pop_front().is_some() {
                // hardware applies a key request to the next picture it
                // processes, which may be one queued before the request
                forced = true;
            }
            if let Some(m) = self.gop.frame(c.key, forced) {
                let name = self.backend().unwrap_or("?");
                sink.warn(format!(
                    "video encoder {name} ignores the key-frame interval: asked every {} frames, got {}; forcing key frames at the interval from now on",
                    m.expected, m.observed
                ));
                self.enforce_gop = true;
            }
            let retune = if self.rate_refused {
                None
            } else {
                self.rate.unit(c.pts_us, out.len(), c.key)
            };
            let unit = Unit {
                pts_us: c.pts_us,
                key: c.key,
                width: self.settings.width,
                height: self.settings.height,
                data: out,
            };
            match sink.unit(unit) {
                Delivery::Taken => {}
                Delivery::Dropped => self.force_key = true,
                Delivery::Gone => return Err(Halt::Gone),
            }
            if let Some(k) = retune {
                let name = self.backend().unwrap_or("?");
                let wanted = self.rate.wanted();
                let before = self.settings.kbps;
                match self.ask(k) {
                    Ok(()) => sink.note(format!(
                        "video encoder {name}: asking for {k} kbps so that it delivers the wanted {wanted} kbps"
                    )),
                    Err(e) if e.is_failure() => {
                        self.rate.refused(before);
                        self.settings.kbps = before;
                        return Err(Halt::Failed(e));
                    }
                    Err(e) => {
                        sink.warn(format!(
                            "video encoder {name}: {k} kbps not applied ({e}); its rate is not corrected from now on"
                        ));
                        self.rate.refused(before);
                        self.settings.kbps = before;
                        self.rate_refused = true;
                    }
                }
            }
        }
    }

    /// Passes on what a draining encoder still gives; drops it once drained,
    /// failed or out of time.
    fn finish_draining(&mut self, now: Instant, sink: &mut dyn Sink) -> Step {
        if self.draining.is_none() {
            return Step::Go;
        }
        loop {
            let mut out = self.buffer(sink);
            let d = self.draining.as_mut().expect("checked");
            let polled = d.enc.poll(&mut out);
            if !matches!(polled, Ok(Polled::Unit(_))) {
                self.spare = Some(out);
                out = Vec::new();
            }
            let d = self.draining.as_mut().expect("checked");
            match polled {
                Ok(Polled::Unit(c)) => {
                    let u = Unit {
                        pts_us: c.pts_us,
                        key: c.key,
                        width: d.size.0,
                        height: d.size.1,
                        data: out,
                    };
                    match sink.unit(u) {
                        Delivery::Gone => return Step::Stop,
                        Delivery::Dropped => self.force_key = true,
                        Delivery::Taken => {}
                    }
                }
                Ok(Polled::Pending) if now < d.until => return Step::Go,
                Ok(Polled::Pending) => {
                    sink.warn(format!("{} did not drain within 500 ms", d.enc.name()));
                    break;
                }
                Ok(Polled::Drained) => break,
                Err(e) => {
                    sink.warn(format!("draining {}: {e}", d.enc.name()));
                    break;
                }
            }
        }
        self.draining = None;
        Step::Go
    }
}

/// Why passing pictures on stopped.
#[derive(Debug)]
enum Halt {
    /// The sink is gone (the loop ended): stop quietly.
    Gone,
    /// The backend failed: restart or fall back.
    Failed(EncoderError),
}

impl From<EncoderError> for Halt {
    fn from(e: EncoderError) -> Self {
        Halt::Failed(e)
    }
}

#[cfg(test)]
mod tests;
