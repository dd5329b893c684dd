//! The event loop's inbox: one bounded lock-free queue ([`Lane`]) per kind
//! of producer (media threads, connect tasks, signals), all ringing one
//! eventfd doorbell that the loop sleeps on in ppoll(2) beside its socket
//! (see docs/design/0002-event-loop-wakeups.md). Producers push without
//! blocking and without allocating; each holds only its own lane and names
//! only its own message type, so no producer imports the loop's types (and
//! `src/` has no import cycle through the shell).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use concurrent_queue::{ConcurrentQueue, PushError};

/// One producer kind's queue into the loop.
pub struct Lane<M> {
    queue: ConcurrentQueue<M>,
    bell: Arc<OwnedFd>,
}

/// The loop's side of the doorbell.
pub struct Doorbell {
    fd: OwnedFd,
}

/// What makes lanes that ring one [`Doorbell`].
#[derive(Clone)]
pub struct Ringer {
    bell: Arc<OwnedFd>,
}

/// A doorbell, and what makes lanes that ring it.
pub fn doorbell() -> std::io::Result<(Doorbell, Ringer)> {
    // SAFETY: eventfd returns a new descriptor or -1.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    let bell = unsafe { OwnedFd::from_raw_fd(raw) };
    let dup = bell.try_clone()?;
    Ok((
        Doorbell { fd: dup },
        Ringer {
            bell: Arc::new(bell),
        },
    ))
}

impl Ringer {
    /// A lane for `capacity` messages.
    pub fn lane<M>(&self, capacity: usize) -> Arc<Lane<M>> {
        Arc::new(Lane {
            queue: ConcurrentQueue::bounded(capacity),
            bell: self.bell.clone(),
        })
    }
}

impl<M> Lane<M> {
    /// Queues a message; gives it back when the lane is full or closed.
    pub fn try_send(&self, m: M) -> Result<(), M> {
        match self.queue.push(m) {
            Ok(()) => {
                self.ring();
                Ok(())
            }
            Err(PushError::Full(m) | PushError::Closed(m)) => Err(m),
        }
    }

    /// Queues a message, waiting (on this thread) while the lane is full.
    /// Returns false when the loop has gone.
    pub fn send_blocking(&self, mut m: M) -> bool {
        loop {
            match self.queue.push(m) {
                Ok(()) => {
                    self.ring();
                    return true;
                }
                Err(PushError::Closed(_)) => return false,
                Err(PushError::Full(back)) => {
                    m = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    /// Takes the next message.
    pub fn try_recv(&self) -> Option<M> {
        self.queue.pop().ok()
    }

    /// Messages waiting now (the loop takes at most this many per pass, so
    /// a busy lane cannot starve the others).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Refuses further messages (the loop is gone).
    pub fn close(&self) {
        self.queue.close();
    }

    /// Whether the loop is gone.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a u64 to our eventfd.
        unsafe {
            libc::write(
                self.bell.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
    }
}

impl Doorbell {
    /// The descriptor to poll for POLLIN.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Silences the bell (after it rang).
    pub fn reset(&self) {
        let mut v: u64 = 0;
        // SAFETY: reading 8 bytes into a u64 from our non-blocking eventfd.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut v as *mut u64 as *mut libc::c_void,
                8,
            )
        };
    }

    /// Whether the bell has rung since the last reset (without resetting it).
    #[cfg(test)]
    fn rang(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_keep_their_order_and_ring_one_bell() {
        let (bell, ringer) = doorbell().unwrap();
        let a = ringer.lane::<u32>(2);
        let b = ringer.lane::<&str>(2);
        assert!(!bell.rang());
        a.try_send(1).unwrap();
        a.try_send(2).unwrap();
        assert_eq!(a.try_send(3), Err(3), "full: the message comes back");
        b.try_send("x").unwrap();
        assert!(bell.rang());
        bell.reset();
        assert!(!bell.rang());
        assert_eq!((a.len(), b.len()), (2, 1));
        assert_eq!(
            (a.try_recv(), a.try_recv(), a.try_recv()),
            (Some(1), Some(2), None)
        );
        assert_eq!(b.try_recv(), Some("x"));
        a.close();
        assert!(a.is_closed() && !a.send_blocking(4));
        assert_eq!(a.try_send(5), Err(5));
    }
}
