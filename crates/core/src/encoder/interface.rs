//! The one video encoder interface every backend implements, poll-style (as
//! cros-codecs' encoders): `submit` offers a picture and either takes it (its
//! pixels are copied into the backend's own buffer: an M2M OUTPUT buffer, a
//! VA surface, an MPP frame) or hands it back as busy; `poll` yields finished
//! access units in order; `drain` asks for everything still inside, after
//! which `poll` ends with [`Polled::Drained`]; `tune` changes bitrate and
//! frame rate at run time; `force_key` makes the next picture a key frame.
//!
//! Software encoders work synchronously: [`Immediate`] gives any
//! [`SyncEncoder`] this interface (it encodes in `submit` and queues the result).
//! The backends live in the shell (`src/hw/`); the core's [`super::runner`]
//! drives whichever runs, and its tests drive scripted ones.

use std::collections::VecDeque;

pub use super::error::EncoderError;

/// One planar I420 picture, contiguous (Y, then U, then V).
pub struct I420<'a> {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// `width * height * 3 / 2` bytes.
    pub data: &'a [u8],
}

/// A picture that stays in a camera buffer exported as a DMABUF: an encoder
/// that imports it reads it in place (zero copy). The camera may reuse the
/// buffer only once the encoder's `imports_done` says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaPicture {
    /// The DMABUF file descriptor.
    pub fd: i32,
    /// Its length in bytes.
    pub len: usize,
}

/// What `submit` did with a picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Taken: it will come out of `poll` (or be dropped by the encoder's rate control).
    Taken,
    /// Not taken: every input buffer is in use. Poll, then offer it again (or drop it).
    Busy,
}

/// A finished access unit's facts; its Annex-B bytes went into `poll`'s buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coded {
    /// The submitted picture's timestamp, microseconds.
    pub pts_us: u64,
    /// A key frame (IDR).
    pub key: bool,
}

/// What `poll` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// One access unit.
    Unit(Coded),
    /// Nothing finished yet.
    Pending,
    /// After `drain`: everything has come out.
    Drained,
}

/// Run-time changes (None: unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuning {
    /// CBR target, kbit/s.
    pub kbps: Option<u32>,
    /// Frames per second.
    pub fps: Option<u32>,
}

/// A video encoder backend. Errors name the backend or device; their kind
/// ([`EncoderError`]) says whether the runner restarts, falls back or works
/// around a setting.
pub trait VideoEncoder: Send {
    /// Backend name for logs.
    fn name(&self) -> &'static str;
    /// Offers one picture with its timestamp.
    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError>;
    /// Takes the next finished access unit (appending its bytes to `out`).
    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError>;
    /// Stops taking pictures and lets every one inside come out.
    fn drain(&mut self) -> Result<(), EncoderError>;
    /// Changes bitrate and/or frame rate from the next picture on.
    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError>;
    /// Makes the next submitted picture a key frame.
    fn force_key(&mut self);
    /// Whether it was opened to import DMABUFs (`settings.import`): then it
    /// takes pictures through `submit_dmabuf` only.
    fn imports(&self) -> bool {
        false
    }
    /// Offers a picture in a DMABUF of the import layout.
    fn submit_dmabuf(
        &mut self,
        _pic: &DmaPicture,
        _pts_us: u64,
    ) -> Result<Submitted, EncoderError> {
        Err(EncoderError::unsupported(format_args!(
            "{}: cannot import DMABUFs",
            self.name()
        )))
    }
    /// Whether every imported buffer has been released.
    fn imports_done(&mut self) -> Result<bool, EncoderError> {
        Ok(true)
    }
    /// A descriptor that polls writable (POLLOUT) when an imported buffer
    /// may have been released: the shell sleeps on it between
    /// `imports_done` calls. None: the shell polls on a short timer.
    fn release_fd(&self) -> Option<i32> {
        None
    }
}

/// A synchronous encoder: one picture in, zero or one access unit out, now.
pub trait SyncEncoder: Send {
    /// Backend name for logs.
    fn name(&self) -> &'static str;
    /// Encodes one picture, appending an Annex-B access unit to `out`
    /// (nothing when it skipped the frame). Returns whether it is a key frame.
    fn encode(
        &mut self,
        pic: &I420<'_>,
        force_key: bool,
        out: &mut Vec<u8>,
    ) -> Result<bool, EncoderError>;
    /// Changes the target bitrate from the next frame on.
    fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError>;
    /// Changes the frame rate the rate control plans for.
    fn set_fps(&mut self, fps: u32) -> Result<(), EncoderError>;
}

/// A [`SyncEncoder`] behind the poll-style interface. At most `depth`
/// finished units wait to be polled; beyond that `submit` says busy.
pub struct Immediate<E> {
    inner: E,
    done: VecDeque<(Coded, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    depth: usize,
    key_next: bool,
    draining: bool,
}

impl<E: SyncEncoder> Immediate<E> {
    /// Wraps `inner`.
    pub fn new(inner: E) -> Self {
        Immediate {
            inner,
            done: VecDeque::new(),
            spare: Vec::new(),
            depth: 4,
            key_next: false,
            draining: false,
        }
    }
}

impl<E: SyncEncoder> VideoEncoder for Immediate<E> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn submit(&mut self, pic: &I420<'_>, pts_us: u64) -> Result<Submitted, EncoderError> {
        if self.draining {
            return Err(EncoderError::failed(format_args!(
                "{}: picture submitted while draining",
                self.name()
            )));
        }
        if self.done.len() >= self.depth {
            return Ok(Submitted::Busy);
        }
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        let want_key = std::mem::take(&mut self.key_next);
        let key = self.inner.encode(pic, want_key, &mut buf)?;
        if buf.is_empty() {
            // skipped: the key frame is still owed
            self.key_next = want_key;
            self.spare.push(buf);
        } else {
            self.done.push_back((Coded { pts_us, key }, buf));
        }
        Ok(Submitted::Taken)
    }

    fn poll(&mut self, out: &mut Vec<u8>) -> Result<Polled, EncoderError> {
        match self.done.pop_front() {
            Some((c, buf)) => {
                out.extend_from_slice(&buf);
                self.spare.push(buf);
                Ok(Polled::Unit(c))
            }
            None if self.draining => Ok(Polled::Drained),
            None => Ok(Polled::Pending),
        }
    }

    fn drain(&mut self) -> Result<(), EncoderError> {
        self.draining = true;
        Ok(())
    }

    fn tune(&mut self, t: Tuning) -> Result<(), EncoderError> {
        if let Some(k) = t.kbps {
            self.inner.set_bitrate(k)?;
        }
        if let Some(f) = t.fps {
            self.inner.set_fps(f)?;
        }
        Ok(())
    }

    fn force_key(&mut self) {
        self.key_next = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes the picture's first byte as a one-byte "unit"; every third is skipped.
    struct Echo {
        n: u32,
        kbps: u32,
    }

    impl SyncEncoder for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn encode(
            &mut self,
            pic: &I420<'_>,
            key: bool,
            out: &mut Vec<u8>,
        ) -> Result<bool, EncoderError> {
            self.n += 1;
            if self.n % 3 != 0 {
                out.push(pic.data[0]);
            }
            Ok(key)
        }
        fn set_bitrate(&mut self, kbps: u32) -> Result<(), EncoderError> {
            self.kbps = kbps;
            Ok(())
        }
        fn set_fps(&mut self, _: u32) -> Result<(), EncoderError> {
            Err(EncoderError::unsupported("echo: no frame rate"))
        }
    }

    fn pic(v: u8) -> Vec<u8> {
        vec![v; 6]
    }

    #[test]
    fn units_come_out_in_order_with_their_timestamps_and_busy_hands_back() {
        let mut e = Immediate::new(Echo { n: 0, kbps: 0 });
        let mut taken = 0;
        for i in 0..8u8 {
            let data = pic(i);
            let p = I420 {
                width: 2,
                height: 2,
                data: &data,
            };
            if i == 2 {
                e.force_key();
            }
            match e.submit(&p, u64::from(i) * 10).unwrap() {
                Submitted::Taken => taken += 1,
                Submitted::Busy => break,
            }
        }
        // 0, 1 out; 2 skipped (n=3); 3, 4 out: four waiting, so 5 is handed back
        assert_eq!(taken, 5);
        let mut out = Vec::new();
        let mut got = Vec::new();
        while let Polled::Unit(c) = e.poll(&mut out).unwrap() {
            got.push((c.pts_us, c.key));
        }
        assert_eq!(out, vec![0, 1, 3, 4]);
        // the key frame asked for the skipped third picture went to the next one
        assert_eq!(got, vec![(0, false), (10, false), (30, true), (40, false)]);
        let data = pic(9);
        let p = I420 {
            width: 2,
            height: 2,
            data: &data,
        };
        assert_eq!(e.submit(&p, 50).unwrap(), Submitted::Taken); // skipped (n=6)
        assert_eq!(e.poll(&mut out).unwrap(), Polled::Pending);
        assert_eq!(e.submit(&p, 60).unwrap(), Submitted::Taken);
        assert_eq!(
            e.poll(&mut out).unwrap(),
            Polled::Unit(Coded {
                pts_us: 60,
                key: false
            })
        );
        assert_eq!(e.poll(&mut out).unwrap(), Polled::Pending);
        e.drain().unwrap();
        assert_eq!(e.poll(&mut out).unwrap(), Polled::Drained);
        assert!(e.submit(&p, 80).is_err());
    }

    #[test]
    fn tune_reaches_the_encoder_and_its_refusals_come_back() {
        let mut e = Immediate::new(Echo { n: 0, kbps: 0 });
        e.tune(Tuning {
            kbps: Some(700),
            fps: None,
        })
        .unwrap();
        assert_eq!(e.inner.kbps, 700);
        let err = e
            .tune(Tuning {
                kbps: None,
                fps: Some(15),
            })
            .unwrap_err();
        assert_eq!(err, EncoderError::Unsupported("echo: no frame rate".into()));
    }
}
