//! `waiting-image` as an http(s) URL: fetched at the start and on a reload
//! with hyper's HTTP/1.1 client (TLS by rustls through futures-rustls, the
//! same roots and validation as RTMPS), within [`FETCH_TIMEOUT`] and
//! [`files::IMAGE_LIMIT`] bytes, no redirects followed; checked against
//! `waiting-image-md5`; kept in the cache directory (`$CACHE_DIRECTORY`,
//! systemd's, else /var/cache/livepush). A failed fetch or a wrong MD5
//! falls back to the cached copy (itself checked), else to the generated
//! card, with a warning naming the URL without its query or credentials.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use hyper::{Request, Uri};

use crate::files;

/// The whole fetch (connect, TLS, request, body) must be done within this.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// The URL for people: scheme, host, port and path; the query (where
/// tokens live) hidden.
pub fn redact(url: &str) -> String {
    let Ok(u) = url.parse::<Uri>() else {
        return "<unparsable URL>".into();
    };
    let host = u.host().unwrap_or("?");
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let q = if u.query().is_some() { "?<hidden>" } else { "" };
    format!(
        "{}://{host}{port}{}{q}",
        u.scheme_str().unwrap_or("?"),
        u.path()
    )
}

/// The waiting image's bytes from `url`: fetched and checked, else the
/// cached copy, else None (the generated card). Warnings say which and why.
pub fn waiting_image(url: &str, md5: Option<&str>, ca_file: Option<&str>) -> Option<Vec<u8>> {
    let shown = redact(url);
    let cache = cache_path(url);
    let fetched = fetch(url, ca_file).and_then(|b| {
        crate::hw::still::check_md5(&b, md5)?;
        Ok(b)
    });
    match fetched {
        Ok(b) => {
            log::info!("waiting-image {shown}: fetched, {} bytes", b.len());
            if let Some(p) = &cache {
                if let Err(e) = store(p, &b) {
                    log::warn!(
                        "waiting-image cache {}: {e}; the image is used, but not kept for when {shown} cannot be fetched",
                        p.display()
                    );
                }
            }
            Some(b)
        }
        Err(e) => {
            let cached = cache.as_ref().and_then(|p| {
                let b = files::read_regular(
                    &p.to_string_lossy(),
                    "waiting-image cache",
                    files::IMAGE_LIMIT,
                )
                .ok()?;
                crate::hw::still::check_md5(&b, md5).ok()?;
                Some(b)
            });
            match cached {
                Some(b) => {
                    log::warn!("waiting-image {shown}: {e}; using the cached copy");
                    Some(b)
                }
                None => {
                    log::warn!(
                        "waiting-image {shown}: {e}; no cached copy: the generated card is shown instead"
                    );
                    None
                }
            }
        }
    }
}

/// Where the copy of `url` is kept (None: no cache directory).
fn cache_path(url: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var("CACHE_DIRECTORY")
        .ok()
        .and_then(|d| d.split(':').next().map(str::to_string))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/var/cache/livepush".into());
    let dir = std::path::PathBuf::from(dir);
    dir.is_dir().then(|| {
        dir.join(format!(
            "waiting-image-{}.bin",
            &crate::hw::still::md5_hex(url.as_bytes())[..16]
        ))
    })
}

/// Writes the copy whole or not at all (a temporary file renamed); a write
/// that fails (a full disk, a read-only cache) leaves no partial file.
fn store(p: &std::path::Path, b: &[u8]) -> std::io::Result<()> {
    let tmp = p.with_extension("tmp");
    let r = std::fs::write(&tmp, b).and_then(|()| std::fs::rename(&tmp, p));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Fetches `url` (blocking: at the start, or on a reload's blocking thread).
pub fn fetch(url: &str, ca_file: Option<&str>) -> Result<Vec<u8>, String> {
    let u: Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if u.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("credentials in the URL are not supported".into());
    }
    let tls = match u.scheme_str() {
        Some("http") => None,
        Some("https") => Some(crate::net::tls::client_config(ca_file)?),
        _ => return Err("must be http:// or https://".into()),
    };
    let host = u.host().ok_or("no host")?.to_string();
    let port = u.port_u16().unwrap_or(if tls.is_some() { 443 } else { 80 });
    let path = u.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let work = async move {
        let tcp = async_net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        match tls {
            None => get(tcp, &host, &path).await,
            Some(cfg) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("TLS name: {e}"))?;
                let s = futures_rustls::TlsConnector::from(Arc::clone(&cfg))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {}", crate::net::tls::explain_io(&e)))?;
                get(s, &host, &path).await
            }
        }
    };
    let timeout = async {
        smol::Timer::after(FETCH_TIMEOUT).await;
        Err(format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))
    };
    smol::block_on(futures_lite::future::or(work, timeout))
}

/// One HTTP/1.1 request on `stream` with hyper's client: the response, and
/// the task driving the connection (keep it until the body is read).
pub async fn send<S, B>(
    stream: S,
    req: Request<B>,
) -> Result<(hyper::Response<hyper::body::Incoming>, smol::Task<()>), String>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = smol_hyper::rt::FuturesIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = smol::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    Ok((resp, driver))
}

async fn get<S>(stream: S, host: &str, path: &str) -> Result<Vec<u8>, String>
where
    S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
{
    let req = Request::builder()
        .uri(path)
        .header(HOST, host)
        .header(USER_AGENT, concat!("livepush/", env!("CARGO_PKG_VERSION")))
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let (resp, driver) = send(stream, req).await?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let declared = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > files::IMAGE_LIMIT) {
        return Err(format!(
            "{} bytes: more than the {} a waiting image may have",
            declared.unwrap_or(0),
            files::IMAGE_LIMIT
        ));
    }
    let body = Limited::new(resp.into_body(), files::IMAGE_LIMIT as usize)
        .collect()
        .await
        .map_err(|_| {
            format!(
                "more than the {} bytes a waiting image may have (or the body broke off)",
                files::IMAGE_LIMIT
            )
        })?
        .to_bytes();
    drop(driver);
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_query() {
        assert_eq!(
            redact("https://cdn.example.com:8443/img/w.png?token=S3CRET"),
            "https://cdn.example.com:8443/img/w.png?<hidden>"
        );
        assert_eq!(redact("http://h/w.jpg"), "http://h/w.jpg");
        assert!(fetch("http://user:pw@h/x", None)
            .unwrap_err()
            .contains("credentials"));
        assert!(fetch("ftp://h/x", None).unwrap_err().contains("http"));
    }

    #[test]
    fn a_local_server_is_fetched_and_limits_hold() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for body in [&b"\x89PNGfake"[..], &b""[..]] {
                let (mut s, _) = l.accept().unwrap();
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                let head = if body.is_empty() {
                    // a declared size over the limit: refused before reading
                    "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n".to_string()
                } else {
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                };
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(body);
            }
        });
        let got = fetch(&format!("http://127.0.0.1:{port}/w.png?k=1"), None).unwrap();
        assert_eq!(got, b"\x89PNGfake");
        let e = fetch(&format!("http://127.0.0.1:{port}/big"), None).unwrap_err();
        assert!(e.contains("99999999 bytes"), "{e}");
        server.join().unwrap();
    }
}
