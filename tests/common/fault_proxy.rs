//! A fault proxy between the pusher and a real server (nginx-rtmp): plain TCP
//! relaying on loopback with faults switched at run time — a rate cap on the
//! upstream direction (a token bucket, the way a slow uplink behaves: the
//! pusher's socket fills and its own queue backs up), and a slow accept (the
//! connection is taken but nothing is relayed for a while). Small socket
//! buffers on the pusher's side so back-pressure shows within a second.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running proxy.
pub struct FaultProxy {
    /// Where the pusher connects.
    pub port: u16,
    /// Upstream cap in kbit/s (0: none).
    pub rate_kbps: Arc<AtomicU64>,
    /// Delay before a new connection is relayed, ms.
    pub accept_delay_ms: Arc<AtomicU64>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    /// Bytes relayed upstream so far.
    pub bytes_up: Arc<AtomicU64>,
}

impl FaultProxy {
    /// Relays 127.0.0.1:`port` to 127.0.0.1:`upstream`.
    pub fn start(upstream: u16) -> FaultProxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        super::fault_server::set_int(&l, libc::SOL_SOCKET, libc::SO_RCVBUF, 8 * 1024);
        // a real link's segment size: loopback's 64 KB MSS against a 16 KB
        // window would keep the window shut between reads, which no real
        // uplink does (and which Linux's zero-window probing times out)
        super::fault_server::set_int(&l, libc::IPPROTO_TCP, libc::TCP_MAXSEG, 1448);
        let port = l.local_addr().unwrap().port();
        let p = FaultProxy {
            port,
            rate_kbps: Arc::new(AtomicU64::new(0)),
            accept_delay_ms: Arc::new(AtomicU64::new(0)),
            connections: Arc::new(AtomicUsize::new(0)),
            bytes_up: Arc::new(AtomicU64::new(0)),
        };
        let (rate, delay, conns, up) = (
            p.rate_kbps.clone(),
            p.accept_delay_ms.clone(),
            p.connections.clone(),
            p.bytes_up.clone(),
        );
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                conns.fetch_add(1, Ordering::SeqCst);
                let (rate, delay, up) = (rate.clone(), delay.clone(), up.clone());
                std::thread::spawn(move || relay(client, upstream, &rate, &delay, &up));
            }
        });
        p
    }

    /// Sets the upstream cap (0 lifts it).
    pub fn cap(&self, kbps: u64) {
        self.rate_kbps.store(kbps, Ordering::SeqCst);
    }
}

fn relay(client: TcpStream, upstream: u16, rate: &AtomicU64, delay: &AtomicU64, up: &AtomicU64) {
    std::thread::sleep(Duration::from_millis(delay.load(Ordering::SeqCst)));
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = server.set_nodelay(true);
    // server -> client: plain copy
    let (mut s_rd, mut c_wr) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = s_rd.read(&mut buf) {
            if n == 0 || c_wr.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_wr.shutdown(Shutdown::Both);
    });
    // client -> server: through the token bucket
    let (mut c_rd, mut s_wr) = (client, server);
    let mut buf = [0u8; 4 * 1024];
    let mut next = Instant::now();
    loop {
        let kbps = rate.load(Ordering::SeqCst);
        // with a cap, read small pieces so the pace is smooth
        let want = if kbps == 0 {
            buf.len()
        } else {
            ((kbps * 1000 / 8 / 50) as usize).clamp(256, buf.len())
        };
        let n = match c_rd.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if kbps > 0 {
            let now = Instant::now();
            // no credit saved up beyond 50 ms of idle time
            if next + Duration::from_millis(50) < now {
                next = now;
            }
            next += Duration::from_secs_f64(n as f64 * 8.0 / (kbps as f64 * 1000.0));
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        if s_wr.write_all(&buf[..n]).is_err() {
            break;
        }
        up.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = s_wr.shutdown(Shutdown::Both);
}

/// The newest tag timestamp (ms) in a growing FLV file, and how many video
/// frames it holds (AVC NALU tags; sequence headers are not frames): walks the
/// tags from the start and stops at the first one not yet complete (the
/// core's FLV reader, `livepush_core::flv::read`).
pub fn flv_progress(path: &std::path::Path) -> Option<(u32, u32)> {
    let d = std::fs::read(path).ok()?;
    let s = livepush_core::flv::read::summary(&d)?;
    s.last_ms().map(|t| (t, s.video_frames))
}
