//! The status page (`GET /`): one HTML file, a script and a style sheet,
//! compiled into the binary (no build step, no CDN; README has a
//! screenshot). It reads and steers the box through the same API
//! (`/v1/status`, `/v1/events`, `/v1/snapshot`, the commands); with a
//! token configured it asks for it once and keeps it in the browser's
//! local storage. The files themselves carry no state and no secret, so
//! they are served without the token.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response};

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

/// The page's files, if `req` asks for one (GET or HEAD).
pub fn serve<B>(req: &Request<B>) -> Option<Response<super::http::Body>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let (body, kind) = match req.uri().path() {
        "/" | "/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/static/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/static/app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return None,
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())).boxed());
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // the page runs only its own files and talks only to this box
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Some(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_small_and_self_contained() {
        let total = super::INDEX.len() + super::SCRIPT.len() + super::STYLE.len();
        assert!(total < 100 * 1024, "{total} bytes");
        for f in [super::INDEX, super::SCRIPT, super::STYLE] {
            assert!(
                !f.contains("http://") && !f.contains("https://"),
                "no outside address"
            );
        }
        // every button the script wires is an API command or the snapshot
        for cmd in [
            "start",
            "stop",
            "pause",
            "resume",
            "switch-camera",
            "toggle-torch",
            "snapshot",
        ] {
            assert!(
                super::INDEX.contains(&format!("data-cmd=\"{cmd}\"")),
                "{cmd}"
            );
        }
    }
}
