//! The control API's requests: bytes from a client through hyper's HTTP/1.1
//! server with the shell's limits (`max_buf_size` = MAX_HEADER_BYTES,
//! bodies limited to MAX_BODY) into `livepush_api`'s decisions (the
//! endpoint, the bearer token, the body, a snapshot's options), as
//! `src/control/http.rs` runs them. Never a panic; every answer a valid
//! status; pipelined requests on one connection included.
#![no_main]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Request, Response};
use libfuzzer_sys::fuzz_target;
use livepush_api::{Endpoint, SnapshotOptions, MAX_BODY, MAX_HEADER_BYTES};

/// A connection whose client sent `input` and then closed.
struct Mem {
    input: Vec<u8>,
    pos: usize,
}

impl hyper::rt::Read for Mem {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf.remaining().min(self.input.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.input[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for Mem {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

async fn decide(req: Request<Incoming>) -> u16 {
    let _ = livepush_api::authorized(req.headers().get(AUTHORIZATION), "s3cret-token");
    let e = match livepush_api::route(req.method(), req.uri().path()) {
        Ok(e) => e,
        Err(r) => {
            assert!((400..500).contains(&r.status));
            return r.status;
        }
    };
    if !e.has_body() {
        return 200;
    }
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return livepush_api::too_large().status,
    };
    match livepush_api::body(&bytes) {
        Err(r) => r.status,
        Ok(v) if e == Endpoint::Snapshot => {
            SnapshotOptions::from_json(&v).map_or_else(|r| r.status, |_| 200)
        }
        Ok(_) => 200,
    }
}

fuzz_target!(|data: &[u8]| {
    let svc = hyper::service::service_fn(|req| async move {
        let status = decide(req).await;
        Ok::<_, Infallible>(
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEADER_BYTES)
        .serve_connection(
            Mem {
                input: data.to_vec(),
                pos: 0,
            },
            svc,
        );
    let _ = futures_lite::future::block_on(conn);
});
