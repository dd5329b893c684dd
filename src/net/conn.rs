//! One push connection as a smol task: resolve (deadline -> 3001), TCP connect
//! (deadline -> 3002), then read and write concurrently. Everything it learns
//! goes to the event loop as [`NetMsg`]s tagged with the connection id; the
//! loop writes through [`WriteReq`]s. Dropping the task closes the socket.

use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use livepush_core::rtmp::failure::PushFailure;
use livepush_core::rtmp::url::PushUrl;
use livepush_core::time::Instant;
use smol::channel::{Receiver, Sender};
use smol::net::TcpStream;
use smol::Timer;

use crate::shell::Msg;

/// What a connection task reports.
#[derive(Debug)]
pub enum NetMsg {
    /// TCP connected.
    Connected,
    /// DNS or TCP connect failed.
    ConnectFailed(PushFailure),
    /// Bytes read.
    Data(Vec<u8>),
    /// The server closed its side.
    Eof,
    /// A read or write failed.
    IoError(String),
    /// A [`WriteReq`] was written whole.
    Written {
        /// Bytes written.
        len: usize,
        /// When the loop queued it.
        queued_at: Instant,
    },
}

/// Bytes for the socket, written whole and in order.
#[derive(Debug)]
pub struct WriteReq {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When the loop queued them (for send-delay jitter).
    pub queued_at: Instant,
}

/// Starts a connection task. The returned sender feeds its writer.
pub fn spawn(
    id: u64,
    url: &PushUrl,
    connect_timeout: Duration,
    tx: Sender<Msg>,
) -> (smol::Task<()>, Sender<WriteReq>) {
    let (wtx, wrx) = smol::channel::bounded::<WriteReq>(64);
    let host = url.host.clone();
    let port = url.port;
    let shown = url.host_port();
    let task = smol::spawn(async move {
        let send = |ev: NetMsg| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Msg::Net { conn: id, ev }).await;
            }
        };
        let stream = match connect(&host, port, &shown, connect_timeout).await {
            Ok(s) => s,
            Err(f) => return send(NetMsg::ConnectFailed(f)).await,
        };
        send(NetMsg::Connected).await;
        let reader = read_loop(stream.clone(), id, tx.clone());
        let writer = write_loop(stream, wrx, id, tx.clone());
        future::or(reader, writer).await;
    });
    (task, wtx)
}

async fn connect(
    host: &str,
    port: u16,
    shown: &str,
    timeout: Duration,
) -> Result<TcpStream, PushFailure> {
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
        let attempt = async { TcpStream::connect(a).await.map_err(|e| e.to_string()) };
        let expire = async {
            Timer::at(deadline).await;
            Err(format!("timed out after {} ms", timeout.as_millis()))
        };
        match future::or(attempt, expire).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(PushFailure::Connect(format!("{shown}: {last}")))
}

async fn read_loop(mut s: TcpStream, id: u64, tx: Sender<Msg>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let ev = match s.read(&mut buf).await {
            Ok(0) => NetMsg::Eof,
            Ok(n) => NetMsg::Data(buf[..n].to_vec()),
            Err(e) => NetMsg::IoError(format!("read: {e}")),
        };
        let end = !matches!(ev, NetMsg::Data(_));
        if tx.send(Msg::Net { conn: id, ev }).await.is_err() || end {
            return;
        }
    }
}

async fn write_loop(mut s: TcpStream, rx: Receiver<WriteReq>, id: u64, tx: Sender<Msg>) {
    while let Ok(req) = rx.recv().await {
        let ev = match s.write_all(&req.bytes).await {
            Ok(()) => NetMsg::Written {
                len: req.bytes.len(),
                queued_at: req.queued_at,
            },
            Err(e) => NetMsg::IoError(format!("write: {e}")),
        };
        let end = matches!(ev, NetMsg::IoError(_));
        if tx.send(Msg::Net { conn: id, ev }).await.is_err() || end {
            return;
        }
    }
    let _ = s.close().await;
    // the loop dropped us: wait to be cancelled
    future::pending::<()>().await;
}
