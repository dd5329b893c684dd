//! The publisher's answers to a slow uplink: the send queue shed when older
//! than the preset allows (GOP-aware, then skip to a key frame), 1101 from
//! the queue's age, the adaptive bitrate's window each netstatus second and
//! the socket send buffer sized to the bitrate.

use std::time::Duration;

use crate::abr::{Decision, Window};
use crate::congestion::Change;
use crate::supervisor::Input as Fact;
use crate::time::Instant;

use super::{EncoderCommand, Notice, Output, Publisher};

impl Publisher {
    /// One netstatus window has closed: the adaptive-bitrate controller gets
    /// what the socket took and how old the queue is, and its decision goes
    /// to the encoder (and, as 1006/1005, to the supervisor).
    pub(super) fn adapt(
        &mut self,
        now: Instant,
        length: Duration,
        sent_kbps: u32,
        video_kbps: u32,
    ) {
        let publishing = self
            .conn
            .as_ref()
            .and_then(|c| c.session.as_ref())
            .is_some_and(|s| s.is_publishing());
        let queue_age = self.queue_age(now);
        let shed = std::mem::take(&mut self.shed_in_window);
        let Some(abr) = self.abr.as_mut() else { return };
        if !publishing {
            abr.reset_history();
            return;
        }
        let w = Window {
            sent_bytes: u64::from(sent_kbps) * 1000 / 8 * length.as_millis() as u64 / 1000,
            length,
            queue_age,
            shed,
            video_kbps,
        };
        log::debug!(
            "abr window: queue age {} ms, shed {shed}, sent {sent_kbps} kbps, video delivered {video_kbps} of {} kbps",
            queue_age.as_millis(),
            abr.kbps()
        );
        let Some(d) = abr.on_window(now, w) else {
            return;
        };
        match d {
            Decision::Bitrate {
                from,
                to,
                uplink_kbps,
            } => {
                self.out
                    .push_back(Output::Encoder(EncoderCommand::Bitrate(to)));
                if self.conn.as_ref().is_some_and(|c| c.session.is_some()) {
                    self.out.push_back(Output::SendBuffer(self.send_buffer()));
                }
                let detail = if uplink_kbps > 0 {
                    format!("video bitrate {from} -> {to} kbps (uplink carried {uplink_kbps} kbps)")
                } else {
                    format!("video bitrate {from} -> {to} kbps (uplink keeps up)")
                };
                self.sup.handle_input(now, Fact::BitrateChanged(detail));
                // the ceiling is the mode's bitrate (see `Publisher::new`)
                self.out.push_back(Output::Notice(Notice::VideoRate {
                    kbps: to,
                    max_kbps: self.cfg.params.bitrate_kbps,
                }));
            }
            Decision::Resolution {
                width,
                height,
                down,
            } => {
                self.out
                    .push_back(Output::Encoder(EncoderCommand::Resize { width, height }));
                let (w0, h0) = self.size;
                let why = if down {
                    "uplink below min-bitrate"
                } else {
                    "uplink recovered"
                };
                let detail = format!("resolution {w0}x{h0} -> {width}x{height} ({why})");
                self.sup.handle_input(now, Fact::ResolutionAdjusted(detail));
            }
        }
    }

    /// The socket send buffer for the bitrate now: a quarter second of it
    /// (an eighth in RTC mode), at least 4 KB. Backlog then waits in the send
    /// queue, where it is measured and shed, not in the kernel, where it would
    /// only add delay; a server that stops reading shows as a send stall. The
    /// kernel doubles the value, so throughput is not bound below the bitrate
    /// for round trips up to half (RTC: a quarter of) a second.
    pub(super) fn send_buffer(&self) -> usize {
        let video = self
            .abr
            .as_ref()
            .map_or(self.cfg.params.bitrate_kbps, |a| a.kbps());
        let video = if self.cfg.video { video } else { 0 };
        let audio = if self.cfg.muted {
            0
        } else {
            self.cfg.audio_kbps
        };
        let per_s = u64::from(video + audio) * 1000 / 8;
        let div = if self.cfg.rtc { 8 } else { 4 };
        ((per_s / div) as usize).max(4096)
    }

    /// Age of the oldest unsent packet.
    pub(super) fn queue_age(&self, now: Instant) -> Duration {
        self.conn
            .as_ref()
            .and_then(|c| c.outbox.oldest())
            .map_or(Duration::ZERO, |t| now.saturating_since(t))
    }

    /// Sheds the send queue when it is older than the preset allows
    /// (GOP-aware: video first, then skip to the next key frame), and feeds
    /// its age to the 1101 watch.
    pub(super) fn check_busy(&mut self, now: Instant) {
        let limit = self.cfg.queue_limit;
        if let Some(c) = self.conn.as_mut() {
            let pool = &mut self.pool;
            let shed = c.outbox.shed(now, limit, |b| pool.give(b));
            if shed.video > 0 || shed.audio > 0 {
                self.shed_in_window = true;
                self.counts.video_frames_shed += u64::from(shed.video);
                self.counts.audio_frames_shed += u64::from(shed.audio);
                if !c.timeline.skipping() {
                    log::warn!(
                        "send queue older than {} ms: dropped {} video and {} audio frames; video resumes at the next key frame",
                        limit.as_millis(),
                        shed.video,
                        shed.audio
                    );
                }
                if shed.video > 0 && c.timeline.skip_to_key() {
                    self.out
                        .push_back(Output::Encoder(EncoderCommand::ForceKey));
                }
            }
        }
        let age = self.queue_age(now);
        match self.busy.update(now, age) {
            Some(Change::Busy) => {
                let detail = format!("send queue {} ms behind", age.as_millis());
                self.sup.handle_input(now, Fact::NetBusy(detail));
            }
            Some(Change::Calm) => log::info!("uplink keeps up again"),
            None => {}
        }
    }
}
