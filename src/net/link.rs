//! The live connection as the event loop drives it: non-blocking reads, and
//! whole packets written in order from a queue the loop can see (its age
//! decides when video is dropped), with the offset of a partial write.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use livepush_core::time::Instant;

/// Bytes for the socket, written whole and in order.
#[derive(Debug)]
pub struct WriteReq {
    /// The bytes (a pooled buffer).
    pub bytes: Vec<u8>,
    /// When the loop queued them.
    pub queued_at: Instant,
}

/// A connected socket and its send queue.
pub struct Link {
    /// The socket (non-blocking).
    pub sock: TcpStream,
    queue: VecDeque<WriteReq>,
    offset: usize,
    /// Last time bytes left, or the queue went from empty to non-empty.
    progress_at: Instant,
}

impl Link {
    /// Wraps a connected socket.
    pub fn new(sock: TcpStream) -> Self {
        Link {
            sock,
            queue: VecDeque::with_capacity(256),
            offset: 0,
            progress_at: Instant::ZERO,
        }
    }

    /// Queues a packet.
    pub fn push(&mut self, req: WriteReq) {
        if self.queue.is_empty() {
            self.progress_at = req.queued_at;
        }
        self.queue.push_back(req);
    }

    /// While bytes wait: when the socket last took some (for send-stall detection).
    pub fn waiting_since(&self) -> Option<Instant> {
        self.pending().then_some(self.progress_at)
    }

    /// Whether anything waits to be written.
    pub fn pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// When the oldest unwritten packet was queued.
    pub fn oldest(&self) -> Option<Instant> {
        self.queue.front().map(|r| r.queued_at)
    }

    /// Writes until the socket would block; `done` gets every packet written whole.
    pub fn flush(&mut self, now: Instant, mut done: impl FnMut(WriteReq)) -> std::io::Result<()> {
        while let Some(front) = self.queue.front() {
            match (&self.sock).write(&front.bytes[self.offset..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.progress_at = now;
                    self.offset += n;
                    if self.offset == front.bytes.len() {
                        self.offset = 0;
                        if let Some(r) = self.queue.pop_front() {
                            done(r);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what is there: `Ok(Some(0))` is EOF, `Ok(None)` nothing now.
    pub fn read(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        loop {
            match (&self.sock).read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives every queued buffer back (the connection is closing).
    pub fn drain_buffers(&mut self, mut back: impl FnMut(Vec<u8>)) {
        for r in self.queue.drain(..) {
            back(r.bytes);
        }
    }
}
