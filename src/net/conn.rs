//! Opening a push connection: a smol task resolves the host (deadline ->
//! 3001), connects (deadline -> 3002), for `rtmps://` runs the TLS handshake
//! (certificate or host-name refusal, or its deadline -> 3003, naming the
//! host), then hands the non-blocking stream to the event loop through the
//! mailbox. Dropping the task cancels it.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use livepush_core::rtmp::failure::PushFailure;
use livepush_core::rtmp::url::PushUrl;
use smol::{Async, Timer};

use super::link::Stream;
use crate::mailbox::Lane;

/// What a connect task reports.
#[derive(Debug)]
pub enum NetMsg {
    /// Connected (and TLS established for rtmps); the loop owns the
    /// (non-blocking) stream from now on.
    Connected(Stream),
    /// DNS or TCP connect failed.
    ConnectFailed(PushFailure),
}

/// How to connect.
pub struct ConnectOptions {
    /// DNS + TCP deadline.
    pub timeout: Duration,
    /// TLS handshake deadline (rtmps).
    pub handshake_timeout: Duration,
    /// TCP_USER_TIMEOUT.
    pub user_timeout: Duration,
    /// SO_SNDBUF.
    pub sndbuf: usize,
    /// TLS client setup, for rtmps:// URLs.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Starts connecting; the result arrives in `lane` as `(id, NetMsg)`.
pub fn spawn(
    id: u64,
    url: &PushUrl,
    o: ConnectOptions,
    lane: Arc<Lane<(u64, NetMsg)>>,
) -> smol::Task<()> {
    let host = url.host.clone();
    let port = url.port;
    let shown = url.host_port();
    smol::spawn(async move {
        let shown = shown;
        let r = async {
            let s = connect(&host, port, &shown, o.timeout, o.user_timeout, o.sndbuf).await?;
            let tls = match &o.tls {
                Some(cfg) => {
                    Some(handshake(&s, cfg.clone(), &host, &shown, o.handshake_timeout).await?)
                }
                None => None,
            };
            let s = s
                .into_inner()
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| PushFailure::Connect(format!("{shown}: {e}")))?;
            Ok(match tls {
                Some(t) => Stream::Tls(Box::new((t, s))),
                None => Stream::Tcp(s),
            })
        };
        let ev = match r.await {
            Ok(s) => NetMsg::Connected(s),
            Err(f) => NetMsg::ConnectFailed(f),
        };
        let mut m = (id, ev);
        while let Err(back) = lane.try_send(m) {
            m = back;
            Timer::after(Duration::from_millis(1)).await;
        }
    })
}

async fn connect(
    host: &str,
    port: u16,
    shown: &str,
    timeout: Duration,
    user_timeout: Duration,
    sndbuf: usize,
) -> Result<Async<TcpStream>, PushFailure> {
    let deadline = std::time::Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = {
        let lookup = async {
            smol::net::resolve((host, port))
                .await
                .map_err(|e| PushFailure::Dns(format!("{host}: {e}")))
        };
        let expire = async {
            Timer::at(deadline).await;
            Err(PushFailure::Dns(format!(
                "{host}: no answer within {} ms",
                timeout.as_millis()
            )))
        };
        future::or(lookup, expire).await?
    };
    if addrs.is_empty() {
        return Err(PushFailure::Dns(format!("{host}: no addresses")));
    }
    let mut last = String::new();
    // every address refused the connection: nothing listens there (the
    // reconnect schedule probes such a port sooner: no server process saw it)
    let mut all_refused = true;
    for a in addrs {
        let attempt = async {
            Async::<TcpStream>::connect(a)
                .await
                .map_err(|e| (reached_no_server(e.kind()), e.to_string()))
        };
        let expire = async {
            Timer::at(deadline).await;
            Err((false, format!("timed out after {} ms", timeout.as_millis())))
        };
        match future::or(attempt, expire).await {
            Ok(s) => {
                let _ = s.get_ref().set_nodelay(true);
                tune(s.get_ref(), user_timeout, sndbuf);
                return Ok(s);
            }
            Err((refused, e)) => {
                all_refused &= refused;
                last = e;
            }
        }
    }
    if all_refused {
        return Err(PushFailure::Refused(format!("{shown}: {last}")));
    }
    Err(PushFailure::Connect(format!("{shown}: {last}")))
}

/// Whether a failed connect reached no server process: refused (nothing
/// listens), or reset while it waited in the queue of a listening socket
/// that closed under it (a server shutting down for a restart). Either way
/// the port is worth probing again soon.
fn reached_no_server(kind: std::io::ErrorKind) -> bool {
    matches!(
        kind,
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
    )
}

/// The TLS handshake on a connected socket, within `timeout`. Certificate
/// and host-name checks are rustls' own (always on).
async fn handshake(
    s: &Async<TcpStream>,
    cfg: Arc<rustls::ClientConfig>,
    host: &str,
    shown: &str,
    timeout: Duration,
) -> Result<rustls::ClientConnection, PushFailure> {
    use std::io::ErrorKind;
    let fail = |m: String| PushFailure::Handshake(format!("TLS with {shown}: {m}"));
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| fail(format!("{host} is not a valid server name ({e})")))?;
    let mut tls = rustls::ClientConnection::new(cfg, name).map_err(|e| fail(e.to_string()))?;
    let work = async {
        let mut sock = s.get_ref();
        loop {
            while tls.wants_write() {
                match tls.write_tls(&mut sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        s.writable().await.map_err(|e| fail(e.to_string()))?
                    }
                    Err(e) => return Err(fail(e.to_string())),
                }
            }
            if !tls.is_handshaking() {
                return Ok(());
            }
            match tls.read_tls(&mut sock) {
                Ok(0) => return Err(fail("the server closed the connection".into())),
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        // tell the server why (best effort), then report it
                        let _ = tls.write_tls(&mut sock);
                        return Err(fail(crate::net::tls::explain(&e)));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    s.readable().await.map_err(|e| fail(e.to_string()))?
                }
                Err(e) => return Err(fail(e.to_string())),
            }
        }
    };
    let expire = async {
        Timer::after(timeout).await;
        Err(fail(format!(
            "no handshake within {} ms",
            timeout.as_millis()
        )))
    };
    future::or(work, expire).await?;
    Ok(tls)
}

/// Socket options for a push connection: a small send buffer, a quarter
/// second of the highest bitrate (backlog stays in our queue, where GOP-aware
/// dropping and the send-stall check can see it: a server that stops reading
/// closes its TCP window, which TCP's own timeouts never treat as an error), TCP_USER_TIMEOUT so
/// unacknowledged data fails the socket (the loop's own send-stall check,
/// with the clearer message, normally fires first: callers pass twice its
/// timeout), and keepalive probes for a silent peer.
fn tune(s: &TcpStream, user_timeout: Duration, sndbuf: usize) {
    use std::os::fd::AsRawFd;
    let fd = s.as_raw_fd();
    let set = |level: i32, opt: i32, v: i32| {
        // SAFETY: setsockopt with a valid fd and an int-sized option value.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                opt,
                &v as *const i32 as *const libc::c_void,
                std::mem::size_of::<i32>() as u32,
            )
        };
    };
    set(libc::SOL_SOCKET, libc::SO_SNDBUF, sndbuf as i32);
    set(
        libc::IPPROTO_TCP,
        libc::TCP_USER_TIMEOUT,
        user_timeout.as_millis().min(i32::MAX as u128) as i32,
    );
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 5);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 2);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
}
