//! The API's HTTP side: hyper's HTTP/1.1 server on each accepted stream
//! (no parsing here), with the limits a box needs: a few connections at
//! most, request headers within [`HEADER_TIMEOUT`] and [`MAX_HEADER_BYTES`],
//! bodies within [`MAX_BODY`] and [`BODY_TIMEOUT`], the bearer token checked
//! in constant time on TCP when one is configured, and answers that never
//! carry a secret. Routes: `POST /v1/{start,stop,pause,resume,
//! start-preview,stop-preview}` (through the loop), `POST /v1/snapshot` and
//! `POST /v1/switch-camera` (straight to the video thread), `GET /v1/status`,
//! `GET /v1/events` (Server-Sent Events).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::board::Board;
use super::snapshot;
use super::ControlMsg;
use crate::mailbox::Lane;
use crate::media::MediaCtl;
use crate::metrics::{Health, Metrics};
use livepush_api::Endpoint;
use livepush_core::publisher::{Command, Done, Refused};

/// Connections served at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 16;
/// A request's headers must be in within this long (a client sending one
/// byte a second is dropped).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A request's body must be in within this long.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
pub use livepush_api::{MAX_BODY, MAX_HEADER_BYTES};
/// The loop answers a command within this long (it is never busier than
/// a frame's work).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

pub type Body = BoxBody<Bytes, Infallible>;

/// What every connection shares.
pub struct Shared {
    token: Option<String>,
    lane: Arc<Lane<ControlMsg>>,
    board: Arc<Board>,
    metrics: Arc<Metrics>,
    /// What `/metrics` encodes.
    registry: prometheus_client::registry::Registry,
    summary: std::sync::Mutex<serde_json::Value>,
    /// The configuration file, for `POST /v1/reload` (None: no reloads).
    config_path: Option<String>,
    connections: AtomicUsize,
    started: std::time::Instant,
    video: Option<std::sync::Mutex<std::sync::mpsc::Sender<MediaCtl>>>,
    torch: Arc<super::torch::BoardTorch>,
}

impl Shared {
    pub fn new(
        token: Option<String>,
        lane: Arc<Lane<ControlMsg>>,
        board: Arc<Board>,
        metrics: Arc<Metrics>,
        summary: serde_json::Value,
        video: Option<std::sync::mpsc::Sender<MediaCtl>>,
        torch: super::torch::BoardTorch,
        config_path: Option<String>,
    ) -> Shared {
        Shared {
            token,
            lane,
            board,
            registry: crate::metrics::exposition::registry(metrics.clone()),
            metrics,
            summary: std::sync::Mutex::new(summary),
            config_path,
            video: video.map(std::sync::Mutex::new),
            torch: Arc::new(torch),
            connections: AtomicUsize::new(0),
            started: std::time::Instant::now(),
        }
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn set_summary(&self, v: serde_json::Value) {
        *self.summary.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }
}

/// Accepts on a Unix socket (its file permissions are the access control).
pub async fn serve_unix(l: async_net::unix::UnixListener, shared: Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => connection(s, shared.clone(), false),
            Err(e) => {
                log::warn!("control API: accept: {e}");
                smol::Timer::after(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Accepts on TCP (the token, when configured, on every request).
pub async fn serve_tcp(l: async_net::TcpListener, shared: Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                let needs = shared.token.is_some();
                connection(s, shared.clone(), needs)
            }
            Err(e) => {
                log::warn!("control API: accept: {e}");
                smol::Timer::after(Duration::from_millis(200)).await;
            }
        }
    }
}

fn connection<S>(stream: S, shared: Arc<Shared>, needs_token: bool)
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
{
    if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        shared.connections.fetch_sub(1, Ordering::SeqCst);
        log::warn!("control API: more than {MAX_CONNECTIONS} connections; one refused");
        return;
    }
    smol::spawn(async move {
        let io = smol_hyper::rt::FuturesIo::new(stream);
        let sh = shared.clone();
        let svc = hyper::service::service_fn(move |req| {
            let sh = sh.clone();
            async move { Ok::<_, Infallible>(route(req, &sh, needs_token).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(smol_hyper::rt::SmolTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES)
            .serve_connection(io, svc);
        if let Err(e) = conn.await {
            log::debug!("control API connection: {e}");
        }
        shared.connections.fetch_sub(1, Ordering::SeqCst);
    })
    .detach();
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Body> {
    let mut body = v.to_string();
    body.push('\n');
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// An error answer: `{"error": {"code": ..., "message": ...}}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        json!({"ok": false, "error": {"code": code, "message": message}}),
    )
}

async fn route(req: Request<Incoming>, sh: &Shared, needs_token: bool) -> Response<Body> {
    // the status page's files carry no state and no secret: they load
    // without the token (the page asks for it, then sends it with each call)
    if let Some(r) = super::page::serve(&req) {
        return r;
    }
    if needs_token
        && !sh
            .token
            .as_deref()
            .is_some_and(|t| livepush_api::authorized(req.headers().get(AUTHORIZATION), t))
    {
        let mut r = refused(livepush_api::unauthorized());
        r.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return r;
    }
    // which endpoint (the decision is livepush_api's, fuzzed), then its body
    let endpoint = match livepush_api::route(req.method(), req.uri().path()) {
        Ok(e) => e,
        Err(r) => return refused(r),
    };
    let body = if endpoint.has_body() {
        match body_json(req).await {
            Ok(v) => v,
            Err(r) => return r,
        }
    } else {
        serde_json::Value::Null
    };
    match endpoint {
        Endpoint::Metrics => metrics(sh),
        Endpoint::Healthz => healthz(sh),
        Endpoint::Command(c) => run_command(sh, c).await,
        Endpoint::Snapshot => match livepush_api::SnapshotOptions::from_json(&body) {
            Ok(o) => take_snapshot(sh, o).await,
            Err(r) => refused(r),
        },
        Endpoint::SwitchCamera => switch_camera(sh).await,
        Endpoint::ToggleTorch => toggle_torch(sh).await,
        Endpoint::Reload => reload(sh).await,
        Endpoint::Status => json_response(StatusCode::OK, status_json(sh)),
        Endpoint::Events => events(sh),
    }
}

/// A refusal as its JSON answer (with `Allow` for a 405).
fn refused(r: livepush_api::Refusal) -> Response<Body> {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = error(status, r.code, &r.message);
    if let Some(allow) = r.allow {
        resp.headers_mut()
            .insert("allow", HeaderValue::from_static(allow));
    }
    resp
}

/// Reads a request's body: empty, or a JSON object, within the limits.
async fn body_json(req: Request<Incoming>) -> Result<serde_json::Value, Response<Body>> {
    let limited = Limited::new(req.into_body(), MAX_BODY);
    let read = async { Some(limited.collect().await) };
    let timeout = async {
        smol::Timer::after(BODY_TIMEOUT).await;
        None
    };
    let bytes = match futures_lite::future::or(read, timeout).await {
        None => {
            return Err(error(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                &format!(
                    "the body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            ))
        }
        Some(Err(_)) => return Err(refused(livepush_api::too_large())),
        Some(Ok(c)) => c.to_bytes(),
    };
    livepush_api::body(&bytes).map_err(refused)
}

async fn run_command(sh: &Shared, command: Command) -> Response<Body> {
    let (tx, rx) = async_channel::bounded(1);
    if sh
        .lane
        .try_send(ControlMsg::Command { command, reply: tx })
        .is_err()
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the service is busy or stopping: try again",
        );
    }
    let timeout = async {
        smol::Timer::after(REPLY_TIMEOUT).await;
        None
    };
    let answer = futures_lite::future::or(async { rx.recv().await.ok() }, timeout).await;
    match answer {
        Some(Ok(done)) => json_response(
            StatusCode::OK,
            json!({
                "ok": true,
                "command": command.name(),
                "changed": done == Done::Changed,
            }),
        ),
        Some(Err(r)) => error(
            StatusCode::CONFLICT,
            match r {
                Refused::NotPushing => "not-pushing",
                Refused::Stopping => "stopping",
            },
            &r.to_string(),
        ),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-answer",
            "the service did not answer in time",
        ),
    }
}

/// Sends a command to the video thread with a reply channel, and waits
/// (bounded) for the answer.
async fn ask_video<R>(
    sh: &Shared,
    make: impl FnOnce(async_channel::Sender<R>) -> MediaCtl,
) -> Result<R, Response<Body>> {
    let Some(video) = &sh.video else {
        return Err(error(
            StatusCode::CONFLICT,
            "no-camera",
            "no video: enable-camera = false",
        ));
    };
    let (tx, rx) = async_channel::bounded(1);
    let sent = video
        .lock()
        .map(|v| v.send(make(tx)).is_ok())
        .unwrap_or(false);
    if !sent {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the video thread has ended",
        ));
    }
    let timeout = async {
        smol::Timer::after(REPLY_TIMEOUT).await;
        None
    };
    match futures_lite::future::or(async { rx.recv().await.ok() }, timeout).await {
        Some(r) => Ok(r),
        None => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-answer",
            "the video thread did not answer in time",
        )),
    }
}

async fn take_snapshot(sh: &Shared, o: livepush_api::SnapshotOptions) -> Response<Body> {
    let pic = match ask_video(sh, MediaCtl::Snapshot).await {
        Err(r) => return r,
        Ok(Err(e)) => return error(StatusCode::CONFLICT, "no-picture", &e),
        Ok(Ok(p)) => p,
    };
    // JPEG encoding on a blocking thread: neither the loop nor the media path
    match smol::unblock(move || snapshot::encode(&pic, o)).await {
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "snapshot-failed", &e),
        Ok((jpeg, w, h)) => {
            let mut r = Response::new(Full::new(Bytes::from(jpeg)).boxed());
            let hd = r.headers_mut();
            hd.insert(CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
            hd.insert("x-width", HeaderValue::from(w));
            hd.insert("x-height", HeaderValue::from(h));
            hd.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

async fn switch_camera(sh: &Shared) -> Response<Body> {
    match ask_video(sh, MediaCtl::SwitchCamera).await {
        Err(r) => r,
        Ok(Ok(device)) => json_response(
            StatusCode::OK,
            json!({"ok": true, "command": "switch-camera", "changed": true, "camera": device}),
        ),
        Ok(Err(e)) => error(StatusCode::CONFLICT, "camera-failed", &e),
    }
}

async fn reload(sh: &Shared) -> Response<Body> {
    let Some(path) = sh.config_path.clone() else {
        return error(
            StatusCode::CONFLICT,
            "no-config-file",
            "this run has no configuration file to read again",
        );
    };
    match super::reload(path, sh.lane.clone(), true).await {
        Some(Ok(plan)) => json_response(
            StatusCode::OK,
            json!({
                "ok": true,
                "command": "reload",
                "changed": !plan.applied.is_empty(),
                "applied": plan.applied,
                "restart_needed": plan.restart,
            }),
        ),
        Some(Err(errors)) => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({
                "ok": false,
                "error": {
                    "code": "bad-config",
                    "message": "the configuration was refused; the running one goes on",
                    "errors": errors,
                },
            }),
        ),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-answer",
            "the service did not answer",
        ),
    }
}

async fn toggle_torch(sh: &Shared) -> Response<Body> {
    // the camera's flash control first (only when there is a camera)
    let camera = match &sh.video {
        Some(_) => match ask_video(sh, MediaCtl::Torch).await {
            Err(r) => return r,
            Ok(r) => Some(r),
        },
        None => None,
    };
    let answer = |on: bool, via: &str| {
        json_response(
            StatusCode::OK,
            json!({"ok": true, "command": "toggle-torch", "changed": true, "on": on, "via": via}),
        )
    };
    match camera {
        Some(Ok(on)) => return answer(on, "camera flash control (V4L2_CID_FLASH_LED_MODE)"),
        Some(Err(Some(why))) => return error(StatusCode::CONFLICT, "torch-failed", &why),
        Some(Err(None)) | None => {}
    }
    if !sh.torch.present() {
        return error(
            StatusCode::CONFLICT,
            "no-torch",
            "this box has no torch: the camera has no flash control (V4L2_CID_FLASH_LED_MODE) and the board profile names no `[leds] torch`",
        );
    }
    let t = sh.torch.clone();
    let via = t.describe();
    match smol::unblock(move || t.toggle()).await {
        Ok(on) => answer(on, &format!("board torch {via}")),
        Err(e) => error(StatusCode::CONFLICT, "torch-failed", &e),
    }
}

/// `GET /metrics`: the OpenMetrics text exposition (Prometheus scrapes it).
fn metrics(sh: &Shared) -> Response<Body> {
    let text = crate::metrics::exposition::render(&sh.registry);
    let mut r = Response::new(Full::new(Bytes::from(text)).boxed());
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /healthz`: 200 while healthy, 503 with the reason otherwise.
fn healthz(sh: &Shared) -> Response<Body> {
    let (s, _) = sh.metrics.snapshot();
    let state = if s.paused { "paused" } else { s.phase.name() };
    match sh.metrics.health() {
        Health::Ok => json_response(StatusCode::OK, json!({"ok": true, "state": state})),
        Health::Unhealthy(why) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ok": false, "state": state, "reason": why}),
        ),
    }
}

fn status_json(sh: &Shared) -> serde_json::Value {
    let s = sh.board.state();
    let summary = sh.summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let state = match s.phase.name() {
        _ if s.paused => "paused",
        n => n,
    };
    let codes: Vec<serde_json::Value> = s
        .codes
        .iter()
        .map(|(c, d, ms)| json!({"code": c.code(), "message": c.message(), "detail": d, "uptime_ms": ms}))
        .collect();
    let (c0, c1, c2) = s.color;
    let wall = crate::clock::wall();
    json!({
        "state": state,
        "headline": s.headline,
        "color": format!("#{c0:02x}{c1:02x}{c2:02x}"),
        "health": match sh.metrics.health() {
            Health::Ok => json!({"ok": true}),
            Health::Unhealthy(why) => json!({"ok": false, "reason": why}),
        },
        "uptime_ms": sh.started.elapsed().as_millis() as u64,
        // for people: nothing livepush times reads the wall clock
        "clock": json!({"utc": wall.utc, "synchronized": wall.synchronized}),
        "phase": s.phase.name(),
        "paused": s.paused,
        "camera_open": s.camera_open,
        "camera": summary["video"]["devices"].get(usize::from(s.camera_index)).cloned(),
        "encoder": s.encoder,
        "uptime_s": sh.started.elapsed().as_secs(),
        "last_codes": codes,
        "netstatus": s.net.map(|n| json!({
            "videoBitrate": n.video_bitrate,
            "audioBitrate": n.audio_bitrate,
            "videoFPS": n.video_fps,
            "videoGOP": n.video_gop,
            "netSpeed": n.net_speed,
            "netJitter": n.net_jitter,
            "videoWidth": n.video_width,
            "videoHeight": n.video_height,
        })),
        "config": summary,
    })
}

/// `GET /v1/events`: every event line as a Server-Sent Event, as it happens.
fn events(sh: &Shared) -> Response<Body> {
    let Some(rx) = sh.board.subscribe() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too-many-subscribers",
            "too many event subscribers",
        );
    };
    use futures_lite::StreamExt;
    let hello = futures_lite::stream::once(Ok::<_, Infallible>(Frame::data(Bytes::from_static(
        b": livepush events\n\n",
    ))));
    let lines = rx.map(|line: Arc<str>| {
        let mut s = String::with_capacity(line.len() + 8);
        s.push_str("data: ");
        s.push_str(&line);
        s.push_str("\n\n");
        Ok::<_, Infallible>(Frame::data(Bytes::from(s)))
    });
    let body = StreamBody::new(hello.chain(lines));
    let mut r = Response::new(BodyExt::boxed(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
