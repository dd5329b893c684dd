//! Opening a push connection: a smol task resolves the host (deadline ->
//! 3001) and connects (deadline -> 3002), then hands the non-blocking socket
//! to the event loop through the mailbox. Dropping the task cancels it.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use livepush_core::rtmp::failure::PushFailure;
use livepush_core::rtmp::url::PushUrl;
use smol::{Async, Timer};

use crate::mailbox::Mailbox;
use crate::shell::Msg;

/// What a connect task reports.
#[derive(Debug)]
pub enum NetMsg {
    /// TCP connected; the loop owns the (non-blocking) socket from now on.
    Connected(TcpStream),
    /// DNS or TCP connect failed.
    ConnectFailed(PushFailure),
}

/// Starts connecting; the result arrives as `Msg::Net { conn: id, .. }`.
pub fn spawn(
    id: u64,
    url: &PushUrl,
    timeout: Duration,
    mb: Arc<Mailbox>,
    user_timeout: Duration,
    sndbuf: usize,
) -> smol::Task<()> {
    let host = url.host.clone();
    let port = url.port;
    let shown = url.host_port();
    smol::spawn(async move {
        let shown = shown;
        let ev = match connect(&host, port, &shown, timeout, user_timeout, sndbuf).await {
            Ok(s) => match s
                .into_inner()
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
            {
                Ok(s) => NetMsg::Connected(s),
                Err(e) => NetMsg::ConnectFailed(PushFailure::Connect(format!("{shown}: {e}"))),
            },
            Err(f) => NetMsg::ConnectFailed(f),
        };
        let mut m = Msg::Net { conn: id, ev };
        while let Err(back) = mb.try_send(m) {
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
    for a in addrs {
        let attempt = async {
            Async::<TcpStream>::connect(a)
                .await
                .map_err(|e| e.to_string())
        };
        let expire = async {
            Timer::at(deadline).await;
            Err(format!("timed out after {} ms", timeout.as_millis()))
        };
        match future::or(attempt, expire).await {
            Ok(s) => {
                let _ = s.get_ref().set_nodelay(true);
                tune(s.get_ref(), user_timeout, sndbuf);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(PushFailure::Connect(format!("{shown}: {last}")))
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
