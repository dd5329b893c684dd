//! The live connection as the event loop drives it: non-blocking reads, and
//! whole packets written in order from the core's GOP-aware send queue (its
//! age decides when video is shed), with the offset of a partial write. The
//! bytes go straight to the TCP socket, or through a rustls client session
//! (`rtmps://`) whose handshake the connect task already finished.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use livepush_core::sendq::{Kind, Packet, SendQueue, Shed};
use livepush_core::time::Instant;

/// Plaintext rustls may hold before it has written its records to the socket
/// (small: backlog belongs in the send queue, where it is measured and shed).
const TLS_BUFFER: usize = 16 * 1024;

/// The byte stream under RTMP.
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP (handshake complete).
    Tls(Box<(rustls::ClientConnection, TcpStream)>),
}

impl Stream {
    fn fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Tls(b) => b.1.as_raw_fd(),
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Tcp(_) => "Stream::Tcp",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

/// A connected stream and its send queue.
pub struct Link {
    stream: Stream,
    queue: SendQueue<Vec<u8>>,
    offset: usize,
    /// Last time bytes left, or the queue went from empty to non-empty.
    progress_at: Instant,
}

impl Link {
    /// Wraps a connected stream.
    pub fn new(mut stream: Stream) -> Self {
        if let Stream::Tls(b) = &mut stream {
            b.0.set_buffer_limit(Some(TLS_BUFFER));
        }
        Link {
            stream,
            queue: SendQueue::with_capacity(256),
            offset: 0,
            progress_at: Instant::ZERO,
        }
    }

    /// The socket to poll.
    pub fn fd(&self) -> RawFd {
        self.stream.fd()
    }

    /// Resizes the socket's send buffer (the kernel doubles the value; a
    /// smaller buffer takes effect as it drains).
    pub fn set_send_buffer(&self, bytes: usize) {
        let v = bytes.min(i32::MAX as usize) as i32;
        // SAFETY: setsockopt on our own socket with an int-sized value.
        unsafe {
            libc::setsockopt(
                self.fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                &v as *const i32 as *const libc::c_void,
                std::mem::size_of::<i32>() as u32,
            )
        };
    }

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

    /// While bytes wait: when the socket last took some (for send-stall detection).
    pub fn waiting_since(&self) -> Option<Instant> {
        self.pending().then_some(self.progress_at)
    }

    /// Whether anything waits to be written (queued packets or TLS records).
    pub fn pending(&self) -> bool {
        !self.queue.is_empty() || matches!(&self.stream, Stream::Tls(b) if b.0.wants_write())
    }

    /// When the oldest unwritten packet was queued.
    pub fn oldest(&self) -> Option<Instant> {
        self.queue.oldest()
    }

    /// Sheds what is older than `max_age` (GOP-aware, see the core's `sendq`).
    pub fn shed(&mut self, now: Instant, max_age: Duration, back: impl FnMut(Vec<u8>)) -> Shed {
        self.queue.shed(now, max_age, self.offset > 0, back)
    }

    /// Writes until the socket would block; `done` gets every packet written whole.
    pub fn flush(
        &mut self,
        now: Instant,
        mut done: impl FnMut(Packet<Vec<u8>>),
    ) -> std::io::Result<()> {
        loop {
            if let Stream::Tls(b) = &mut self.stream {
                let (tls, sock) = &mut **b;
                while tls.wants_write() {
                    match tls.write_tls(sock) {
                        Ok(0) => return Err(ErrorKind::WriteZero.into()),
                        Ok(_) => self.progress_at = now,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            let Some(front) = self.queue.front() else {
                return Ok(());
            };
            let rest = &front.bytes[self.offset..];
            let r = match &mut self.stream {
                Stream::Tcp(s) => s.write(rest),
                Stream::Tls(b) => match b.0.writer().write(rest) {
                    // rustls' buffer is full and was not drained: wait
                    Ok(0) => return Ok(()),
                    r => r,
                },
            };
            match r {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    if matches!(self.stream, Stream::Tcp(_)) {
                        self.progress_at = now;
                    }
                    self.offset += n;
                    if self.offset == front.bytes.len() {
                        self.offset = 0;
                        if let Some(p) = self.queue.pop() {
                            done(p);
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what is there: `Ok(Some(0))` is EOF, `Ok(None)` nothing now.
    pub fn read(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        loop {
            match &mut self.stream {
                Stream::Tcp(s) => match s.read(buf) {
                    Ok(n) => return Ok(Some(n)),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                Stream::Tls(b) => {
                    let (tls, sock) = &mut **b;
                    match tls.reader().read(buf) {
                        Ok(n) => return Ok(Some(n)),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(Some(0)),
                        Err(e) => return Err(e),
                    }
                    match tls.read_tls(sock) {
                        Ok(0) => return Ok(Some(0)),
                        Ok(_) => {
                            tls.process_new_packets()
                                .map_err(|e| std::io::Error::other(format!("TLS: {e}")))?;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Gives every queued buffer back (the connection is closing).
    pub fn drain_buffers(&mut self, back: impl FnMut(Vec<u8>)) {
        self.queue.drain(back);
    }
}
