//! The publisher's write buffers: every media message is chunked into a
//! pooled buffer, queued, written, and the buffer comes back here emptied.
//!
//! Which buffer a message gets decides the pool's memory over months. A
//! stack (the last buffer back is the next one out) lets key frames land in
//! whichever buffer is on top, so one by one every buffer that a burst ever
//! brought into use grows to the largest key frame: memory that creeps up
//! for hours (a soak measured the main heap growing by a few hundred kB
//! over ten hours of media at 320x180) and, at 1080p, up to `MAX` times a
//! key frame. Here a message takes the smallest buffer that already holds
//! it and is not far larger (best fit), or the largest smaller one, or a
//! new one: the large buffers stay with large messages, so as many grow to
//! a key frame's size as key frames are queued at once, and the pool's
//! memory settles within the first few key frames.

/// Buffers kept for reuse (more are dropped when they come back).
pub const MAX: usize = 256;

/// Buffers ready for the next media messages, all empty.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: Vec<Vec<u8>>,
}

impl BufferPool {
    /// An empty pool with room for [`MAX`] buffers.
    pub fn new() -> Self {
        BufferPool {
            free: Vec::with_capacity(MAX),
        }
    }

    /// A buffer for a message of about `need` bytes: the smallest that
    /// holds it unless that is far larger (more than twice `need` and a
    /// kB), else the largest smaller one (it grows), else a new one (so a
    /// key frame's buffer is never spent on a small message).
    pub fn take(&mut self, need: usize) -> Vec<u8> {
        let roomy = need.saturating_mul(2).saturating_add(1024);
        let mut fit: Option<(usize, usize)> = None; // (index, capacity)
        let mut below: Option<(usize, usize)> = None;
        for (i, b) in self.free.iter().enumerate() {
            let cap = b.capacity();
            if cap >= need {
                if cap <= roomy && fit.is_none_or(|(_, c)| cap < c) {
                    fit = Some((i, cap));
                }
            } else if below.is_none_or(|(_, c)| cap > c) {
                below = Some((i, cap));
            }
        }
        match fit.or(below) {
            Some((i, _)) => self.free.swap_remove(i),
            None => Vec::with_capacity(need),
        }
    }

    /// Takes a buffer back, emptied (media is appended to pooled buffers,
    /// so one must never come back with old bytes in it); dropped when the
    /// pool is full.
    pub fn give(&mut self, mut b: Vec<u8>) {
        if self.free.len() < MAX {
            b.clear();
            self.free.push(b);
        }
    }

    /// Buffers in the pool.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.free.len()
    }

    /// No buffer in the pool.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.free.is_empty()
    }

    /// The pool's buffers' capacity, bytes.
    #[cfg(test)]
    pub fn capacity_bytes(&self) -> usize {
        self.free.iter().map(Vec::capacity).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_caps(caps: &[usize]) -> BufferPool {
        let mut p = BufferPool::new();
        for &c in caps {
            p.give(Vec::with_capacity(c));
        }
        p
    }

    #[test]
    fn a_message_takes_the_smallest_buffer_that_holds_it() {
        let mut p = with_caps(&[100, 5000, 200, 300]);
        assert_eq!(p.take(150).capacity(), 200);
        assert_eq!(p.take(10).capacity(), 100);
        // none holds it: the largest smaller one, which grows the least
        assert_eq!(p.take(9000).capacity(), 5000);
        assert_eq!(p.take(1).capacity(), 300);
        assert!(p.is_empty());
        assert_eq!(
            p.take(40).capacity(),
            40,
            "a new one when the pool is empty"
        );
        // a key frame's buffer is not spent on a small message
        let mut p = with_caps(&[30_000]);
        assert_eq!(p.take(300).capacity(), 300);
        assert_eq!(p.take(29_000).capacity(), 30_000);
    }

    #[test]
    fn buffers_come_back_empty_and_the_pool_is_bounded() {
        let mut p = BufferPool::new();
        for _ in 0..MAX + 10 {
            p.give(vec![7u8; 16]);
        }
        assert_eq!(p.len(), MAX);
        let b = p.take(16);
        assert!(b.is_empty() && b.capacity() >= 16);
    }

    /// Months of a stream in miniature: queues of a varying depth (bursts
    /// up to 60 messages), a key frame (30 kB) every 50 messages among
    /// 300-byte ones, each message written into a buffer taken from the
    /// pool and given back once "sent". The pool's memory must settle:
    /// as many key-frame-sized buffers as key frames were ever queued at
    /// once, not one per buffer a burst brought into use (a stack that
    /// hands out whatever is on top grows them all, one by one).
    #[test]
    fn the_pools_memory_settles_at_the_key_frames_in_flight() {
        let mut p = BufferPool::new();
        let mut queue: std::collections::VecDeque<Vec<u8>> = Default::default();
        let mut n = 0u64;
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut max_keys_queued = 0;
        let mut settled = 0;
        for round in 0..20_000 {
            // a burst of 1..=60 messages queued, then a few sent
            let burst = if next() % 10 == 0 { 1 + next() % 60 } else { 1 };
            for _ in 0..burst {
                let len = if n % 50 == 0 { 30_000 } else { 300 };
                n += 1;
                let mut b = p.take(len);
                b.resize(len, 1);
                queue.push_back(b);
            }
            let keys = queue.iter().filter(|b| b.len() > 1000).count();
            max_keys_queued = usize::max(max_keys_queued, keys);
            let keep = (next() % 4) as usize;
            while queue.len() > keep {
                p.give(queue.pop_front().unwrap());
            }
            if round == 2_000 {
                settled = p.capacity_bytes() + queue.iter().map(Vec::capacity).sum::<usize>();
            }
        }
        let end = p.capacity_bytes() + queue.iter().map(Vec::capacity).sum::<usize>();
        let bound = max_keys_queued * 30_000 + 70 * 600;
        assert!(
            end <= bound,
            "the pool holds {end} bytes; {max_keys_queued} key frames were ever queued at once (bound {bound})"
        );
        assert!(
            end <= settled + 30_000,
            "the pool kept growing after it had settled: {settled} then {end} bytes"
        );
    }
}
