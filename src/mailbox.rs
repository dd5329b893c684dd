//! The event loop's mailbox: a bounded lock-free queue plus an eventfd
//! doorbell. Media threads and tasks push without blocking and without
//! allocating; the loop drains the queue and sleeps in ppoll(2) on the
//! doorbell and its socket (see docs/design/0002-event-loop-wakeups.md).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use concurrent_queue::{ConcurrentQueue, PushError};

use crate::shell::Msg;

/// The sending side, shared by every producer.
pub struct Mailbox {
    queue: ConcurrentQueue<Msg>,
    bell: OwnedFd,
}

/// The loop's side of the doorbell.
pub struct Doorbell {
    fd: OwnedFd,
}

/// A mailbox for `capacity` messages.
pub fn new(capacity: usize) -> std::io::Result<(Arc<Mailbox>, Doorbell)> {
    // SAFETY: eventfd returns a new descriptor or -1.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    let bell = unsafe { OwnedFd::from_raw_fd(raw) };
    let dup = bell.try_clone()?;
    let mb = Arc::new(Mailbox {
        queue: ConcurrentQueue::bounded(capacity),
        bell,
    });
    Ok((mb, Doorbell { fd: dup }))
}

impl Mailbox {
    /// Queues a message; gives it back when the mailbox is full.
    pub fn try_send(&self, m: Msg) -> Result<(), Msg> {
        match self.queue.push(m) {
            Ok(()) => {
                self.ring();
                Ok(())
            }
            Err(PushError::Full(m) | PushError::Closed(m)) => Err(m),
        }
    }

    /// Queues a message, waiting (on this thread) while the mailbox is full.
    /// Returns false when the loop has gone.
    pub fn send_blocking(&self, mut m: Msg) -> bool {
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
    pub fn try_recv(&self) -> Option<Msg> {
        self.queue.pop().ok()
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
}
