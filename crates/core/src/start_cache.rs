//! What a publish starts with. While no publish is on, the encoder's output
//! since its last key frame is kept (with the audio alongside it), bounded by
//! age and bytes, so a publish that begins shortly after starts on the key
//! frame the encoder already made, followed by the frames after it: one key
//! frame at start, then the configured GOP. Without it the first key frame
//! is thrown away while the connection is set up and a second one is forced
//! a few frames later (two key frames in a row, and netstatus read a GOP of
//! 0.04 s for the first seconds).
//!
//! When nothing usable is kept (no key frame yet, or the frames since it are
//! older than the limit, as after a slow connect or an outage: starting with
//! them would put the stream that far behind live), [`StartCache::take`]
//! returns `None` and the caller forces a fresh key frame.
//!
//! Generic over the buffer type; buffers that are let go are handed to a
//! `free` callback with their [`Track`] so the caller can recycle them.

use core::time::Duration;
use std::collections::VecDeque;

/// Which encoder a buffer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// The video encoder.
    Video,
    /// The audio encoder.
    Audio,
}

/// One kept frame, in the order [`StartCache::take`] gives them back.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<B> {
    /// An encoded video frame.
    Video {
        /// Presentation time, µs.
        pts_us: u64,
        /// A key frame.
        key: bool,
        /// Annex-B bytes.
        data: B,
    },
    /// An encoded audio frame.
    Audio {
        /// Presentation time, µs.
        pts_us: u64,
        /// Raw AAC bytes.
        data: B,
    },
}

impl<B> Frame<B> {
    /// Its presentation time.
    pub fn pts_us(&self) -> u64 {
        match self {
            Frame::Video { pts_us, .. } | Frame::Audio { pts_us, .. } => *pts_us,
        }
    }
}

/// Frames since the last key frame, while no publish is on.
#[derive(Debug)]
pub struct StartCache<B> {
    /// Video from the last key frame on (empty: none usable).
    video: VecDeque<(u64, bool, B)>,
    /// Audio of the last `max_age` (it may arrive before the video frame it
    /// goes with: video encoding takes longer).
    audio: VecDeque<(u64, B)>,
    video_bytes: usize,
    max_age_us: u64,
    max_bytes: usize,
}

impl<B: AsRef<[u8]>> StartCache<B> {
    /// Keeps at most `max_age` of frames after a key frame and `max_bytes` of
    /// video.
    pub fn new(max_age: Duration, max_bytes: usize) -> Self {
        StartCache {
            video: VecDeque::new(),
            audio: VecDeque::new(),
            video_bytes: 0,
            max_age_us: max_age.as_micros() as u64,
            max_bytes,
        }
    }

    /// An encoded video frame made while no publish is on.
    pub fn video(&mut self, pts_us: u64, key: bool, data: B, mut free: impl FnMut(Track, B)) {
        if key {
            self.clear_video(&mut free);
            // audio before the key frame cannot go with it
            while self.audio.front().is_some_and(|(t, _)| *t < pts_us) {
                free(Track::Audio, self.audio.pop_front().unwrap().1);
            }
        }
        let Some(&(key_pts, _, _)) = self.video.front() else {
            if key {
                self.video_bytes = data.as_ref().len();
                self.video.push_back((pts_us, key, data));
            } else {
                // nothing to decode it against
                free(Track::Video, data);
            }
            return;
        };
        let bytes = self.video_bytes + data.as_ref().len();
        if pts_us.saturating_sub(key_pts) > self.max_age_us || bytes > self.max_bytes {
            // too far behind live to start with: wait for the next key frame
            self.clear_video(&mut free);
            free(Track::Video, data);
            return;
        }
        self.video_bytes = bytes;
        self.video.push_back((pts_us, key, data));
    }

    /// An encoded audio frame made while no publish is on. Audio keeps
    /// time when video stalls (a wedged encoder, a camera that stopped
    /// without an error yet): a key frame older than the limit by the audio
    /// clock is let go too.
    pub fn audio(&mut self, pts_us: u64, data: B, mut free: impl FnMut(Track, B)) {
        if self
            .video
            .front()
            .is_some_and(|(key_pts, _, _)| pts_us.saturating_sub(*key_pts) > self.max_age_us)
        {
            self.clear_video(&mut free);
        }
        let floor = match self.video.front() {
            Some(&(key_pts, _, _)) => key_pts,
            None => pts_us.saturating_sub(self.max_age_us),
        };
        while self.audio.front().is_some_and(|(t, _)| *t < floor) {
            free(Track::Audio, self.audio.pop_front().unwrap().1);
        }
        if pts_us < floor {
            free(Track::Audio, data);
            return;
        }
        // bounded like the video: by age (audio is a few kB a second)
        self.audio.push_back((pts_us, data));
    }

    /// Whether a key frame is kept (a publish starting now would start with it).
    pub fn has_key_frame(&self) -> bool {
        !self.video.is_empty()
    }

    /// Everything kept, video and audio merged by time, starting with the key
    /// frame; `None` when no key frame is kept (force one). Empties the cache
    /// either way (audio without a key frame goes to `free`).
    pub fn take(&mut self, mut free: impl FnMut(Track, B)) -> Option<Vec<Frame<B>>> {
        if self.video.is_empty() {
            for (_, b) in self.audio.drain(..) {
                free(Track::Audio, b);
            }
            return None;
        }
        let mut out = Vec::with_capacity(self.video.len() + self.audio.len());
        let key_pts = self.video[0].0;
        while let Some((t, _)) = self.audio.front() {
            if *t >= key_pts {
                break;
            }
            free(Track::Audio, self.audio.pop_front().unwrap().1);
        }
        loop {
            let v = self.video.front().map(|(t, _, _)| *t);
            let a = self.audio.front().map(|(t, _)| *t);
            match (v, a) {
                (None, None) => break,
                (Some(v), Some(a)) if a < v => {
                    let (pts_us, data) = self.audio.pop_front().unwrap();
                    out.push(Frame::Audio { pts_us, data });
                }
                (Some(_), _) => {
                    let (pts_us, key, data) = self.video.pop_front().unwrap();
                    out.push(Frame::Video { pts_us, key, data });
                }
                (None, Some(_)) => {
                    let (pts_us, data) = self.audio.pop_front().unwrap();
                    out.push(Frame::Audio { pts_us, data });
                }
            }
        }
        self.video_bytes = 0;
        Some(out)
    }

    /// Lets everything go.
    pub fn clear(&mut self, mut free: impl FnMut(Track, B)) {
        self.clear_video(&mut free);
        for (_, b) in self.audio.drain(..) {
            free(Track::Audio, b);
        }
    }

    fn clear_video(&mut self, free: &mut impl FnMut(Track, B)) {
        for (_, _, b) in self.video.drain(..) {
            free(Track::Video, b);
        }
        self.video_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    fn cache() -> StartCache<Vec<u8>> {
        StartCache::new(Duration::from_millis(500), 10_000)
    }

    fn kinds(f: &[Frame<Vec<u8>>]) -> Vec<(char, u64)> {
        f.iter()
            .map(|f| match f {
                Frame::Video { pts_us, key, .. } => (if *key { 'K' } else { 'P' }, pts_us / MS),
                Frame::Audio { pts_us, .. } => ('A', pts_us / MS),
            })
            .collect()
    }

    #[test]
    fn a_publish_starts_with_the_last_key_frame_and_what_followed_it_merged_by_time() {
        let mut c = cache();
        let mut freed = 0;
        let mut free = |_, _: Vec<u8>| freed += 1;
        c.audio(0, vec![1], &mut free); // before the key frame
        c.video(10 * MS, true, vec![0; 100], &mut free);
        c.audio(23 * MS, vec![1], &mut free);
        c.video(50 * MS, false, vec![0; 10], &mut free);
        c.audio(46 * MS, vec![1], &mut free);
        c.video(90 * MS, false, vec![0; 10], &mut free);
        let f = c.take(&mut free).unwrap();
        assert_eq!(
            kinds(&f),
            vec![('K', 10), ('A', 23), ('A', 46), ('P', 50), ('P', 90)]
        );
        assert_eq!(freed, 1, "the audio before the key frame");
        assert!(c.take(|_, _| {}).is_none(), "taken once");
    }

    #[test]
    fn audio_that_arrives_before_its_key_frame_is_kept() {
        let mut c = cache();
        c.audio(20 * MS, vec![1], |_, _| {});
        c.audio(43 * MS, vec![1], |_, _| {});
        c.video(30 * MS, true, vec![0; 100], |_, _| {});
        let f = c.take(|_, _| {}).unwrap();
        assert_eq!(kinds(&f), vec![('K', 30), ('A', 43)]);
    }

    #[test]
    fn without_a_key_frame_nothing_is_kept_and_the_caller_forces_one() {
        let mut c = cache();
        let mut freed = 0;
        c.video(0, false, vec![0; 10], |_, _| freed += 1);
        c.audio(0, vec![1], |_, _| freed += 1);
        assert!(!c.has_key_frame());
        assert!(c.take(|_, _| freed += 1).is_none());
        assert_eq!(freed, 2, "every buffer handed back");
    }

    #[test]
    fn frames_older_than_the_limit_are_dropped_until_the_next_key_frame() {
        let mut c = cache();
        let mut freed = 0;
        c.video(0, true, vec![0; 100], |_, _| freed += 1);
        for i in 1..=12 {
            c.video(i * 40 * MS, false, vec![0; 10], |_, _| freed += 1);
        }
        // 480 ms kept; 520 ms would start the stream too far behind live
        assert!(c.has_key_frame());
        c.video(520 * MS, false, vec![0; 10], |_, _| freed += 1);
        assert!(!c.has_key_frame());
        assert_eq!(freed, 14);
        c.video(560 * MS, false, vec![0; 10], |_, _| freed += 1);
        assert!(c.take(|_, _| {}).is_none());
        c.video(600 * MS, true, vec![0; 100], |_, _| {});
        assert_eq!(kinds(&c.take(|_, _| {}).unwrap()), vec![('K', 600)]);
    }

    #[test]
    fn video_beyond_the_byte_limit_is_dropped() {
        let mut c = cache();
        c.video(0, true, vec![0; 9_000], |_, _| {});
        c.video(40 * MS, false, vec![0; 2_000], |_, _| {});
        assert!(!c.has_key_frame());
    }

    #[test]
    fn a_new_key_frame_replaces_everything_before_it() {
        let mut c = cache();
        let mut freed = 0;
        c.video(0, true, vec![0; 100], |_, _| freed += 1);
        c.audio(10 * MS, vec![1], |_, _| freed += 1);
        c.video(40 * MS, false, vec![0; 10], |_, _| freed += 1);
        c.video(80 * MS, true, vec![0; 100], |_, _| freed += 1);
        assert_eq!(freed, 3);
        assert_eq!(kinds(&c.take(|_, _| {}).unwrap()), vec![('K', 80)]);
    }

    #[test]
    fn a_video_stall_lets_the_key_frame_go_by_the_audio_clock() {
        let mut c = cache();
        let mut freed = 0;
        c.video(0, true, vec![0; 100], |_, _| freed += 1);
        c.video(40 * MS, false, vec![0; 10], |_, _| freed += 1);
        // video stops; audio goes on for 3 s
        for i in 0..130 {
            c.audio(i * 23 * MS, vec![1], |_, _| freed += 1);
        }
        assert!(!c.has_key_frame(), "a key frame 3 s old is no start");
        assert!(c.audio.len() <= 23, "audio bounded too: {}", c.audio.len());
        assert!(c.take(|_, _| freed += 1).is_none());
        assert_eq!(freed, 132, "every buffer handed back");
    }

    #[test]
    fn audio_is_bounded_by_age_without_video() {
        let mut c = cache();
        let mut freed = 0;
        for i in 0..100 {
            c.audio(i * 23 * MS, vec![1], |_, _| freed += 1);
        }
        assert!(c.audio.len() <= 23, "{}", c.audio.len());
        assert_eq!(freed + c.audio.len(), 100);
    }
}
