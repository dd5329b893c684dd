//! The publisher's running totals and a few gauges, for metrics: handed to
//! the observers as one [`Tally`] once a second (right after each netstatus
//! event, so the two describe the same moment) and at the end. Counting is
//! plain integer adds on the paths that already touch each frame; nothing
//! here allocates or waits.

use std::time::Duration;

use crate::health::Unhealthy;
use crate::sendq::Kind;
use crate::time::Instant;

use super::Publisher;

/// Totals since the start, and the send side's gauges at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Video frames the encoder handed the publisher.
    pub video_frames_in: u64,
    /// Audio frames the encoder handed the publisher.
    pub audio_frames_in: u64,
    /// Video frames put onto a publish (its send queue).
    pub video_frames_sent: u64,
    /// Audio frames put onto a publish.
    pub audio_frames_sent: u64,
    /// Video frames the socket took whole.
    pub video_frames_written: u64,
    /// Audio frames the socket took whole.
    pub audio_frames_written: u64,
    /// Video frames shed from the send queue (older than the mode allows).
    pub video_frames_shed: u64,
    /// Audio frames shed from the send queue.
    pub audio_frames_shed: u64,
    /// Bytes the socket took (RTMP: handshake, commands, media; below TLS).
    pub bytes_written: u64,
    /// Connections asked for (the first and every reconnect).
    pub connects: u64,
    /// Successful publishes.
    pub publishes: u64,
    /// The video bitrate the encoder is asked for now, kbps (the adaptive
    /// controller's choice; 0 without video).
    pub target_video_kbps: u32,
    /// Age of the oldest packet waiting in the send queue, ms.
    pub queue_age_ms: u32,
    /// How far behind live the server receives, estimated, ms: the queue's
    /// age, plus the socket's send buffer at the rate the uplink carried
    /// when the queue is not empty (then that buffer is full).
    pub delay_ms: u32,
    /// Why the box is not healthy now (None: healthy).
    pub health: Option<Unhealthy>,
}

impl Tally {
    /// Counts one packet the socket took whole.
    pub(super) fn written(&mut self, kind: Kind) {
        match kind {
            Kind::Video { .. } => self.video_frames_written += 1,
            Kind::Audio => self.audio_frames_written += 1,
            Kind::Control | Kind::Header => {}
        }
    }
}

impl Publisher {
    /// The totals and gauges at `now`; `sent_kbps` is what the uplink
    /// carried in the last netstatus window (for the delay estimate).
    pub(super) fn tally_at(&self, now: Instant, sent_kbps: u32) -> Tally {
        let queue_age = self.queue_age(now);
        let queued = self.conn.as_ref().is_some_and(|c| c.outbox.pending());
        let below = if queued && sent_kbps > 0 {
            Duration::from_millis(self.send_buffer() as u64 * 8 / u64::from(sent_kbps))
        } else {
            Duration::ZERO
        };
        let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u32;
        Tally {
            target_video_kbps: if self.cfg.video {
                self.abr
                    .as_ref()
                    .map_or(self.cfg.params.bitrate_kbps, |a| a.kbps())
            } else {
                0
            },
            queue_age_ms: ms(queue_age),
            delay_ms: ms(queue_age + below),
            health: self.health_at(now),
            ..self.counts
        }
    }

    /// Why the box is not healthy at `now`, if it is not: a track without
    /// frames (the systemd watchdog's rule), a publish whose server takes
    /// no bytes for half the send-stall timeout, a reconnect overdue.
    pub fn health_at(&self, now: Instant) -> Option<Unhealthy> {
        if let Some((track, d)) = self.health.stale(now) {
            return Some(Unhealthy::NoFrames {
                track,
                for_ms: d.as_millis() as u64,
            });
        }
        let waiting = self.conn.as_ref().and_then(|c| c.outbox.waiting_since());
        if let Some(t) = waiting {
            let d = now.saturating_since(t);
            if d >= self.cfg.send_stall / 2 {
                return Some(Unhealthy::SendStalled {
                    for_ms: d.as_millis() as u64,
                });
            }
        }
        if let Some(t) = self.sup.poll_timeout() {
            let d = now.saturating_since(t);
            if d >= Duration::from_secs(2) {
                return Some(Unhealthy::RetryOverdue {
                    by_ms: d.as_millis() as u64,
                });
            }
        }
        None
    }
}
