//! `livepush ctl`: the control API from the command line (hyper's HTTP/1.1
//! client over the Unix socket, or TCP with a bearer token). Prints the
//! answer's JSON (`events`: the event lines as they come). Exit codes a
//! script can use: 0 done, 1 refused by the service (the answer says why),
//! 2 a usage error, 3 the service could not be reached.

use std::io::Write;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, HOST};
use hyper::{Method, Request};

/// Where the API is.
pub enum Target {
    /// A Unix socket path.
    Unix(String),
    /// `http://HOST:PORT` with an optional bearer token.
    Tcp {
        /// host:port.
        addr: String,
        /// The token.
        token: Option<String>,
    },
}

/// The commands and their endpoints.
const COMMANDS: &[(&str, Method, &str)] = &[
    ("start", Method::POST, "/v1/start"),
    ("stop", Method::POST, "/v1/stop"),
    ("pause", Method::POST, "/v1/pause"),
    ("resume", Method::POST, "/v1/resume"),
    ("start-preview", Method::POST, "/v1/start-preview"),
    ("stop-preview", Method::POST, "/v1/stop-preview"),
    ("switch-camera", Method::POST, "/v1/switch-camera"),
    ("snapshot", Method::POST, "/v1/snapshot"),
    ("toggle-torch", Method::POST, "/v1/toggle-torch"),
    ("reload", Method::POST, "/v1/reload"),
    ("status", Method::GET, "/v1/status"),
    ("events", Method::GET, "/v1/events"),
];

/// The target from `--url` (and `--token-file`), else `--socket`, else the default socket.
pub fn target(
    socket: Option<String>,
    url: Option<String>,
    token_file: Option<String>,
) -> Result<Target, String> {
    let token = match token_file {
        Some(f) => Some(crate::files::read_token_file(&f)?),
        None => None,
    };
    match url {
        Some(u) => {
            let uri: hyper::Uri = u.parse().map_err(|e| format!("--url {u}: {e}"))?;
            if uri.scheme_str() != Some("http") {
                return Err(format!("--url {u}: must be http://HOST:PORT"));
            }
            let host = uri.host().ok_or(format!("--url {u}: no host"))?;
            let port = uri.port_u16().unwrap_or(80);
            Ok(Target::Tcp {
                addr: format!("{host}:{port}"),
                token,
            })
        }
        None => Ok(Target::Unix(socket.unwrap_or_else(|| {
            livepush_core::config::DEFAULT_CONTROL_SOCKET.to_string()
        }))),
    }
}

/// Runs one command; `out`: where a snapshot's JPEG goes.
pub fn run(target: &Target, command: &str, body: Option<&str>, out: Option<&str>) -> ExitCode {
    let Some((_, method, path)) = COMMANDS.iter().find(|(n, _, _)| *n == command) else {
        let names: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
        eprintln!(
            "livepush ctl: unknown command {command:?}: one of {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    match smol::block_on(request(target, method.clone(), path, body, out)) {
        Err(e) => {
            eprintln!("livepush ctl: {e}");
            ExitCode::from(3)
        }
        Ok(status) if status.is_success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
    }
}

/// A connected stream to the API, whichever transport.
trait Io: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static {}
impl<T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Connects to `target`; the stream and the token to send on it.
async fn connect(target: &Target) -> Result<(Box<dyn Io>, Option<&str>), String> {
    match target {
        Target::Unix(p) => {
            let s = async_net::unix::UnixStream::connect(p).await.map_err(|e| {
                format!("unix:{p}: {e} (is livepush running, with [control] listen there?)")
            })?;
            Ok((Box::new(s), None))
        }
        Target::Tcp { addr, token } => {
            let s = async_net::TcpStream::connect(addr.as_str())
                .await
                .map_err(|e| format!("{addr}: {e}"))?;
            Ok((Box::new(s), token.as_deref()))
        }
    }
}

/// A request to the API (its Host, the bearer token when there is one).
fn build(
    method: Method,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, "livepush");
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    req.body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
        .map_err(|e| e.to_string())
}

/// `GET path` on `target`, the answer's status and body (for `livepush status`).
pub fn get(target: &Target, path: &str) -> Result<(hyper::StatusCode, Vec<u8>), String> {
    smol::block_on(async {
        let (stream, token) = connect(target).await?;
        let req = build(Method::GET, path, None, token)?;
        let (resp, driver) = crate::net::fetch::send(stream, req).await?;
        let status = resp.status();
        let body = futures_lite::future::or(
            async {
                resp.into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes().to_vec())
                    .map_err(|e| format!("HTTP: {e}"))
            },
            async {
                smol::Timer::after(std::time::Duration::from_secs(10)).await;
                Err("no answer within 10 s".to_string())
            },
        )
        .await?;
        drop(driver);
        Ok((status, body))
    })
}

/// Sends one command and prints (or, a snapshot, writes) the answer.
async fn request(
    target: &Target,
    method: Method,
    path: &str,
    body: Option<&str>,
    out: Option<&str>,
) -> Result<hyper::StatusCode, String> {
    let (stream, token) = connect(target).await?;
    let req = build(method, path, body, token)?;
    let (resp, driver) = crate::net::fetch::send(stream, req).await?;
    let status = resp.status();
    let is_jpeg = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v == "image/jpeg");
    if is_jpeg {
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("HTTP: {e}"))?
            .to_bytes();
        let path = out.unwrap_or("snapshot.jpg");
        std::fs::write(path, &bytes).map_err(|e| format!("{path}: {e}"))?;
        println!(
            "{{\"ok\":true,\"command\":\"snapshot\",\"file\":{:?},\"bytes\":{}}}",
            path,
            bytes.len()
        );
        drop(driver);
        return Ok(status);
    }
    let mut body = resp.into_body();
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("HTTP: {e}"))?;
        if let Some(d) = frame.data_ref() {
            // the event stream's lines without their SSE framing
            for piece in d.split_inclusive(|b| *b == b'\n') {
                let piece = piece.strip_prefix(b"data: ").unwrap_or(piece);
                if piece == b"\n" || piece.starts_with(b":") {
                    continue;
                }
                let _ = out.write_all(piece);
            }
            let _ = out.flush();
        }
    }
    drop(driver);
    Ok(status)
}
