//! One connection as the publisher keeps it: the publish session, this
//! publish's FLV timeline, and the send queue with the write position and
//! write progress (the socket itself stays in the shell, which writes what
//! [`Connection::transmit`] shows and reports how much the socket took).

use std::time::Duration;

use crate::flv::timeline::Timeline;
use crate::rtmp::publish::PublishSession;
use crate::sendq::{Kind, Packet, SendQueue, Shed};
use crate::time::Instant;

/// A connection the publisher asked the shell to open.
pub(crate) struct Connection {
    /// Names the connection in [`super::Output::Connect`] and the shell's reports.
    pub id: u64,
    /// The session, once the shell reported the socket connected.
    pub session: Option<PublishSession>,
    /// This publish's FLV timeline (timestamps, headers, skip-to-key).
    pub timeline: Timeline,
    /// The publish has started (`on_published` ran): frames go out live.
    /// Until then they are kept for the start, also in the moment between
    /// the session reading Publish.Start and the publisher acting on it.
    pub on_air: bool,
    /// The send queue and the write position.
    pub outbox: Outbox,
}

/// The send queue, the write position in its front packet, and write progress.
pub(crate) struct Outbox {
    queue: SendQueue<Vec<u8>>,
    /// Bytes of the front packet already written.
    offset: usize,
    /// Last time bytes left, or the queue went from empty to non-empty.
    progress_at: Instant,
    /// Bytes wait below the queue (TLS records the socket has not taken).
    held_below: bool,
}

impl Connection {
    pub fn new(id: u64, audio_only: bool) -> Self {
        Connection {
            id,
            session: None,
            timeline: Timeline::new(audio_only),
            on_air: false,
            outbox: Outbox {
                queue: SendQueue::with_capacity(256),
                offset: 0,
                progress_at: Instant::ZERO,
                held_below: false,
            },
        }
    }
}

impl Outbox {
    /// Queues a packet.
    pub fn push(&mut self, kind: Kind, queued_at: Instant, bytes: Vec<u8>) {
        if !self.pending() {
            self.progress_at = queued_at;
        }
        self.queue.push(Packet {
            kind,
            queued_at,
            bytes,
        });
    }

    /// Whether anything waits to be written (queued packets or bytes below).
    pub fn pending(&self) -> bool {
        !self.queue.is_empty() || self.held_below
    }

    /// While bytes wait: when the socket last took some (send-stall detection).
    pub fn waiting_since(&self) -> Option<Instant> {
        self.pending().then_some(self.progress_at)
    }

    /// When the oldest unwritten packet was queued.
    pub fn oldest(&self) -> Option<Instant> {
        self.queue.oldest()
    }

    /// Sheds what is older than `max_age` (GOP-aware, see [`crate::sendq`]).
    pub fn shed(&mut self, now: Instant, max_age: Duration, back: impl FnMut(Vec<u8>)) -> Shed {
        self.queue.shed(now, max_age, self.offset > 0, back)
    }

    /// The unwritten rest of the front packet.
    pub fn transmit(&self) -> Option<&[u8]> {
        self.queue.front().map(|p| &p.bytes[self.offset..])
    }

    /// The socket took `n` bytes of [`Self::transmit`]; a packet written
    /// whole goes to `done`.
    pub fn written(&mut self, n: usize, done: impl FnOnce(Packet<Vec<u8>>)) {
        let Some(front) = self.queue.front() else {
            return;
        };
        self.offset = (self.offset + n).min(front.bytes.len());
        if self.offset == front.bytes.len() {
            self.offset = 0;
            if let Some(p) = self.queue.pop() {
                done(p);
            }
        }
    }

    /// Bytes left for the network now.
    pub fn progress(&mut self, now: Instant) {
        self.progress_at = now;
    }

    /// Whether bytes wait below the queue.
    pub fn set_held_below(&mut self, held: bool) {
        self.held_below = held;
    }

    /// Every queued buffer to `back` (the connection is closing).
    pub fn drain(&mut self, back: impl FnMut(Vec<u8>)) {
        self.offset = 0;
        self.queue.drain(back);
    }
}
