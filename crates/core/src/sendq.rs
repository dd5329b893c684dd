//! The send queue: whole RTMP packets waiting for the socket, each tagged with
//! what it carries, so that when the uplink cannot keep up the queue sheds the
//! right things (GOP-aware): queued video first, all of it, because a dropped
//! frame makes every later frame up to the next key frame undecodable; audio
//! only when video alone does not bring the queue back under its age limit;
//! control messages and sequence headers never. The front packet is never
//! dropped once its first byte went out (the byte stream would break).
//!
//! Generic over the buffer type so the shell keeps its pooled `Vec<u8>`s and
//! the logic is unit-tested here without a socket.

use core::time::Duration;
use std::collections::VecDeque;

use crate::time::Instant;

/// What a packet carries (decides whether it may be shed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// RTMP control, commands, metadata: never shed.
    Control,
    /// AVC/AAC sequence header: never shed.
    Header,
    /// A video frame.
    Video {
        /// IDR access unit.
        key: bool,
    },
    /// An audio frame.
    Audio,
}

/// One packet.
#[derive(Debug)]
pub struct Packet<B> {
    /// What it carries.
    pub kind: Kind,
    /// When the loop queued it.
    pub queued_at: Instant,
    /// The bytes.
    pub bytes: B,
}

/// What one [`SendQueue::shed`] call dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shed {
    /// Video frames dropped (the caller skips video until the next key frame).
    pub video: u32,
    /// Audio frames dropped.
    pub audio: u32,
}

/// Packets in send order.
#[derive(Debug)]
pub struct SendQueue<B> {
    q: VecDeque<Packet<B>>,
}

impl<B> Default for SendQueue<B> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<B> SendQueue<B> {
    /// An empty queue with room for `n` packets.
    pub fn with_capacity(n: usize) -> Self {
        SendQueue {
            q: VecDeque::with_capacity(n),
        }
    }

    /// Queues a packet behind the others.
    pub fn push(&mut self, p: Packet<B>) {
        self.q.push_back(p);
    }

    /// The packet to write next.
    pub fn front(&self) -> Option<&Packet<B>> {
        self.q.front()
    }

    /// Takes the front packet (written whole).
    pub fn pop(&mut self) -> Option<Packet<B>> {
        self.q.pop_front()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// When the oldest waiting packet was queued.
    pub fn oldest(&self) -> Option<Instant> {
        self.q.front().map(|p| p.queued_at)
    }

    /// Age of the oldest waiting packet at `now` (zero when empty).
    pub fn age(&self, now: Instant) -> Duration {
        self.oldest()
            .map_or(Duration::ZERO, |t| now.saturating_since(t))
    }

    /// Empties the queue, handing every buffer to `back`.
    pub fn drain(&mut self, mut back: impl FnMut(B)) {
        for p in self.q.drain(..) {
            back(p.bytes);
        }
    }

    /// When the oldest packet is older than `max_age`: drops every queued video
    /// frame (not the front one if `front_started`), then, only if the queue is
    /// still too old, the audio frames older than `max_age`. Dropped buffers go
    /// to `back`.
    pub fn shed(
        &mut self,
        now: Instant,
        max_age: Duration,
        front_started: bool,
        mut back: impl FnMut(B),
    ) -> Shed {
        let mut shed = Shed::default();
        if self.age(now) <= max_age {
            return shed;
        }
        let skip = usize::from(front_started);
        shed.video = self.remove(skip, |p| matches!(p.kind, Kind::Video { .. }), &mut back);
        if self.age(now) > max_age {
            shed.audio = self.remove(
                skip,
                |p| p.kind == Kind::Audio && now.saturating_since(p.queued_at) > max_age,
                &mut back,
            );
        }
        shed
    }

    /// Removes the packets after the first `skip` that match `drop`, keeping
    /// the order of the rest; returns how many went. One pass: each packet
    /// is taken from the front and put back at the end unless it goes.
    fn remove(
        &mut self,
        skip: usize,
        drop: impl Fn(&Packet<B>) -> bool,
        back: &mut impl FnMut(B),
    ) -> u32 {
        let mut n = 0;
        for i in 0..self.q.len() {
            let Some(p) = self.q.pop_front() else { break };
            if i >= skip && drop(&p) {
                back(p.bytes);
                n += 1;
            } else {
                self.q.push_back(p);
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kind: Kind, ms: u64, id: u32) -> Packet<u32> {
        Packet {
            kind,
            queued_at: Instant::from_millis(ms),
            bytes: id,
        }
    }

    fn ids(q: &SendQueue<u32>) -> Vec<u32> {
        q.q.iter().map(|p| p.bytes).collect()
    }

    const V: Kind = Kind::Video { key: false };
    const K: Kind = Kind::Video { key: true };

    #[test]
    fn nothing_is_shed_while_young() {
        let mut q = SendQueue::default();
        q.push(p(V, 0, 1));
        q.push(p(Kind::Audio, 10, 2));
        let s = q.shed(
            Instant::from_millis(1000),
            Duration::from_millis(1000),
            false,
            |_| panic!("nothing to drop"),
        );
        assert_eq!(s, Shed::default());
        assert_eq!(ids(&q), [1, 2]);
    }

    #[test]
    fn sheds_all_video_but_keeps_headers_control_audio_and_a_started_front() {
        let mut q = SendQueue::default();
        q.push(p(V, 0, 1)); // partly written
        q.push(p(Kind::Control, 1, 2));
        q.push(p(V, 10, 3));
        q.push(p(Kind::Audio, 20, 4));
        q.push(p(Kind::Header, 30, 5));
        q.push(p(K, 40, 6));
        q.push(p(V, 50, 7));
        let mut back = Vec::new();
        let s = q.shed(
            Instant::from_millis(1001),
            Duration::from_millis(1000),
            true,
            |b| back.push(b),
        );
        assert_eq!(s, Shed { video: 3, audio: 0 });
        assert_eq!(back, [3, 6, 7]);
        assert_eq!(ids(&q), [1, 2, 4, 5], "order of the rest kept");
    }

    #[test]
    fn audio_goes_only_when_video_was_not_enough() {
        let mut q = SendQueue::default();
        q.push(p(Kind::Audio, 0, 1));
        q.push(p(V, 100, 2));
        q.push(p(Kind::Audio, 900, 3));
        q.push(p(Kind::Audio, 1500, 4));
        let mut back = Vec::new();
        let s = q.shed(
            Instant::from_millis(2000),
            Duration::from_millis(1000),
            false,
            |b| back.push(b),
        );
        assert_eq!(s, Shed { video: 1, audio: 2 });
        assert_eq!(back, [2, 1, 3]);
        assert_eq!(ids(&q), [4]);
        assert_eq!(
            q.age(Instant::from_millis(2000)),
            Duration::from_millis(500)
        );

        // audio behind a young queue of control is kept once video is gone
        let mut q = SendQueue::default();
        q.push(p(V, 0, 1));
        q.push(p(Kind::Audio, 1800, 2));
        let s = q.shed(
            Instant::from_millis(2000),
            Duration::from_millis(1000),
            false,
            |_| {},
        );
        assert_eq!(s, Shed { video: 1, audio: 0 });
        assert_eq!(ids(&q), [2]);
    }

    #[test]
    fn a_started_front_is_never_dropped_even_when_old() {
        let mut q = SendQueue::default();
        q.push(p(Kind::Audio, 0, 1));
        let s = q.shed(
            Instant::from_millis(5000),
            Duration::from_millis(10),
            true,
            |_| panic!("front in flight"),
        );
        assert_eq!(s, Shed::default());
        assert_eq!(q.len(), 1);
    }
}
