//! The control API's requests, decided without I/O: which endpoint a method
//! and path name (or why none), whether an `Authorization` header carries
//! the token (constant-time), what a body says (empty, or a JSON object
//! within [`MAX_BODY`]), and a snapshot's options. The shell's HTTP server
//! (`src/control/http.rs`, hyper) answers with these; the `control_request`
//! fuzz target runs hyper's HTTP/1.1 parser with the shell's limits into
//! them. Every string from a request that reaches an answer goes through
//! `livepush_core::text::printable`.

use http::header::HeaderValue;
use http::Method;
use livepush_core::publisher::Command;

/// Request headers at most (hyper's read buffer).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Request bodies at most.
pub const MAX_BODY: usize = 16 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /metrics`.
    Metrics,
    /// `GET /healthz`.
    Healthz,
    /// `POST /v1/{start,stop,pause,resume,start-preview,stop-preview}`.
    Command(Command),
    /// `POST /v1/snapshot` (its options come in the body).
    Snapshot,
    /// `POST /v1/switch-camera`.
    SwitchCamera,
    /// `POST /v1/toggle-torch`.
    ToggleTorch,
    /// `POST /v1/reload`.
    Reload,
    /// `GET /v1/status`.
    Status,
    /// `GET /v1/events`.
    Events,
}

impl Endpoint {
    /// Whether the endpoint reads a body (the POSTs).
    pub fn has_body(self) -> bool {
        !matches!(
            self,
            Endpoint::Metrics | Endpoint::Healthz | Endpoint::Status | Endpoint::Events
        )
    }
}

/// Why a request is refused: the answer's status, code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// The error's code in the JSON answer.
    pub code: &'static str,
    /// What to tell the caller.
    pub message: String,
    /// For 405: the method to use (the `Allow` header).
    pub allow: Option<&'static str>,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    fn method(allow: &'static str) -> Refusal {
        Refusal {
            allow: Some(allow),
            ..Refusal::new(405, "method-not-allowed", format!("use {allow}"))
        }
    }
}

/// The endpoint `method` and `path` name.
pub fn route(method: &Method, path: &str) -> Result<Endpoint, Refusal> {
    match (path, method) {
        ("/metrics", &Method::GET) => return Ok(Endpoint::Metrics),
        ("/healthz", &Method::GET) => return Ok(Endpoint::Healthz),
        ("/metrics" | "/healthz", _) => return Err(Refusal::method("GET")),
        _ => {}
    }
    let Some(name) = path.strip_prefix("/v1/") else {
        return Err(Refusal::new(
            404,
            "not-found",
            "no such endpoint: see / (the status page), /v1/status, /metrics, /healthz",
        ));
    };
    let post = match name {
        "start" => Some(Endpoint::Command(Command::Start)),
        "stop" => Some(Endpoint::Command(Command::Stop)),
        "pause" => Some(Endpoint::Command(Command::Pause)),
        "resume" => Some(Endpoint::Command(Command::Resume)),
        "start-preview" => Some(Endpoint::Command(Command::StartPreview)),
        "stop-preview" => Some(Endpoint::Command(Command::StopPreview)),
        "snapshot" => Some(Endpoint::Snapshot),
        "switch-camera" => Some(Endpoint::SwitchCamera),
        "toggle-torch" => Some(Endpoint::ToggleTorch),
        "reload" => Some(Endpoint::Reload),
        _ => None,
    };
    let get = match name {
        "status" => Some(Endpoint::Status),
        "events" => Some(Endpoint::Events),
        _ => None,
    };
    match (post, get, method) {
        (Some(e), _, &Method::POST) => Ok(e),
        (Some(_), _, _) => Err(Refusal::method("POST")),
        (_, Some(e), &Method::GET) => Ok(e),
        (_, Some(_), _) => Err(Refusal::method("GET")),
        _ => Err(Refusal::new(
            404,
            "unknown-command",
            "unknown endpoint: POST /v1/start, stop, pause, resume, start-preview, stop-preview, snapshot, switch-camera, toggle-torch, reload; GET /v1/status, /v1/events, /metrics, /healthz, /",
        )),
    }
}

/// Whether `header` (the request's `Authorization`) is `Bearer TOKEN`
/// (compared in constant time).
pub fn authorized(header: Option<&HeaderValue>, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The refusal of a request without the token.
pub fn unauthorized() -> Refusal {
    Refusal::new(
        401,
        "unauthorized",
        "a bearer token is required (Authorization: Bearer TOKEN, the token in control.token-file)",
    )
}

/// A request body: empty (or only white space) is `{}`, else it must be a
/// JSON object of at most [`MAX_BODY`] bytes.
pub fn body(bytes: &[u8]) -> Result<serde_json::Value, Refusal> {
    if bytes.len() > MAX_BODY {
        return Err(too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(Refusal::new(
            400,
            "bad-json",
            "the body must be a JSON object",
        )),
        Err(e) => Err(Refusal::new(
            400,
            "bad-json",
            format!(
                "the body is not JSON: {}",
                livepush_core::text::printable(&e.to_string())
            ),
        )),
    }
}

/// The refusal of a body over [`MAX_BODY`].
pub fn too_large() -> Refusal {
    Refusal::new(
        413,
        "too-large",
        format!("request bodies are limited to {MAX_BODY} bytes"),
    )
}

/// What a snapshot request may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// Scale to this width (None: the picture's).
    pub width: Option<u32>,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            quality: 85,
            width: None,
        }
    }
}

impl SnapshotOptions {
    /// From a request's JSON object; an error names the field.
    pub fn from_json(v: &serde_json::Value) -> Result<SnapshotOptions, Refusal> {
        let bad = |m: String| Refusal::new(400, "bad-option", m);
        let mut o = SnapshotOptions::default();
        if let Some(q) = v.get("quality") {
            o.quality = q
                .as_u64()
                .filter(|q| (1..=100).contains(q))
                .ok_or_else(|| bad("`quality` must be a whole number from 1 to 100".into()))?
                as u8;
        }
        if let Some(w) = v.get("width") {
            o.width = Some(
                w.as_u64()
                    .filter(|w| (16..=3840).contains(w) && w % 2 == 0)
                    .ok_or_else(|| bad("`width` must be an even number from 16 to 3840".into()))?
                    as u32,
            );
        }
        if let Some(k) = v.as_object().and_then(|m| {
            m.keys()
                .find(|k| !matches!(k.as_str(), "quality" | "width"))
        }) {
            return Err(bad(format!(
                "unknown field `{}`: quality, width",
                livepush_core::text::printable(k)
            )));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_methods_and_refusals() {
        assert_eq!(route(&Method::GET, "/metrics"), Ok(Endpoint::Metrics));
        assert_eq!(
            route(&Method::POST, "/v1/pause"),
            Ok(Endpoint::Command(Command::Pause))
        );
        assert_eq!(route(&Method::POST, "/v1/snapshot"), Ok(Endpoint::Snapshot));
        assert_eq!(route(&Method::GET, "/v1/events"), Ok(Endpoint::Events));
        let r = route(&Method::GET, "/v1/stop").unwrap_err();
        assert_eq!((r.status, r.allow), (405, Some("POST")));
        let r = route(&Method::DELETE, "/v1/status").unwrap_err();
        assert_eq!((r.status, r.allow), (405, Some("GET")));
        assert_eq!(
            route(&Method::POST, "/v1/format-disk").unwrap_err().code,
            "unknown-command"
        );
        assert_eq!(route(&Method::GET, "/etc/passwd").unwrap_err().status, 404);
        assert!(Endpoint::Snapshot.has_body() && !Endpoint::Status.has_body());
    }

    #[test]
    fn the_token_and_bodies() {
        let h = HeaderValue::from_static("Bearer s3cret");
        assert!(authorized(Some(&h), "s3cret"));
        assert!(!authorized(Some(&h), "s3cret2"));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Basic s3cret")),
            "s3cret"
        ));
        assert!(!authorized(None, "s3cret"));
        assert_eq!(body(b"  \n").unwrap(), serde_json::json!({}));
        assert_eq!(body(br#"{"quality": 5}"#).unwrap()["quality"], 5);
        assert_eq!(body(b"[1]").unwrap_err().code, "bad-json");
        let e = body(b"{\"\x1b[31m\": ").unwrap_err();
        assert!(!e.message.contains('\x1b'), "{}", e.message);
        assert_eq!(body(&vec![b' '; MAX_BODY + 1]).unwrap_err().status, 413);
    }

    #[test]
    fn snapshot_options_are_checked_by_name() {
        let o =
            SnapshotOptions::from_json(&serde_json::json!({"quality": 50, "width": 640})).unwrap();
        assert_eq!(
            o,
            SnapshotOptions {
                quality: 50,
                width: Some(640)
            }
        );
        let m = |v| SnapshotOptions::from_json(&v).unwrap_err().message;
        assert!(m(serde_json::json!({"quality": 0})).contains("quality"));
        assert!(m(serde_json::json!({"width": 641})).contains("width"));
        assert!(m(serde_json::json!({"path": "/etc/x"})).contains("unknown field `path`"));
    }
}
