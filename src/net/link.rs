//! The live connection as the event loop drives it: non-blocking reads and
//! writes of what the publisher's send queue holds (the queue, its age and
//! the write position are the core's). The bytes go straight to the TCP
//! socket, or through a rustls client session (`rtmps://`) whose handshake
//! the connect task already finished.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};

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

/// A connected stream. The send queue is the publisher's (in the core);
/// this writes what it is handed and says how much the socket took.
pub struct Link {
    stream: Stream,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// The stream took this many bytes (TCP: into the socket; TLS: into
    /// rustls, as plaintext to encrypt).
    Took(usize),
    /// Nothing now: the socket (or rustls' buffer) is full.
    Full,
}

impl Link {
    /// Wraps a connected stream.
    pub fn new(mut stream: Stream) -> Self {
        if let Stream::Tls(b) = &mut stream {
            b.0.set_buffer_limit(Some(TLS_BUFFER));
        }
        Link { stream }
    }

    /// The socket to poll.
    pub fn fd(&self) -> RawFd {
        self.stream.fd()
    }

    /// TLS: the stream's bytes reach the socket only as records, written by
    /// [`Self::flush_records`]. TCP: every write is progress.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
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

    /// Whether TLS records wait for the socket.
    pub fn held_below(&self) -> bool {
        matches!(&self.stream, Stream::Tls(b) if b.0.wants_write())
    }

    /// TLS: writes the records waiting for the socket. Returns whether any
    /// bytes reached the socket and whether all did (false: it would block).
    pub fn flush_records(&mut self) -> std::io::Result<(bool, bool)> {
        let mut progress = false;
        if let Stream::Tls(b) = &mut self.stream {
            let (tls, sock) = &mut **b;
            while tls.wants_write() {
                match tls.write_tls(sock) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(_) => progress = true,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok((progress, false)),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok((progress, true))
    }

    /// Writes what the stream takes of `bytes` now.
    pub fn write(&mut self, bytes: &[u8]) -> std::io::Result<Wrote> {
        loop {
            let r = match &mut self.stream {
                Stream::Tcp(s) => s.write(bytes),
                Stream::Tls(b) => match b.0.writer().write(bytes) {
                    // rustls' buffer is full and was not drained: wait
                    Ok(0) if !bytes.is_empty() => return Ok(Wrote::Full),
                    r => r,
                },
            };
            return match r {
                Ok(0) if !bytes.is_empty() => Err(ErrorKind::WriteZero.into()),
                Ok(n) => Ok(Wrote::Took(n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Wrote::Full),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
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
}
