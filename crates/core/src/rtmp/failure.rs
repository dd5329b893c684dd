//! Why a push connection ended, as typed errors; [`PushFailure::status`] is the
//! one place that maps them onto the contract's 3001..3005 codes.
//! Messages never contain the stream key (see [`super::url::PushUrl::redact`]).

use core::fmt;

use crate::status::StatusCode;

/// Why a push connection failed or ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushFailure {
    /// The host name did not resolve (3001).
    Dns(String),
    /// TCP connect unreachable or timed out (3002).
    Connect(String),
    /// TCP connect refused (or reset in a closing listener's queue) by every
    /// address: no server process saw it (3002).
    Refused(String),
    /// The RTMP handshake or the connect/publish exchange failed or timed out (3003).
    Handshake(String),
    /// The connection closed or failed before the server sent a byte (3003):
    /// no server process answered it.
    Unanswered(String),
    /// The server rejected the connect or publish request (3004).
    Rejected(String),
    /// The server closed the connection (3004).
    Closed(&'static str),
    /// Reading or writing the socket failed, or the server spoke garbage mid-stream (3005).
    Io(String),
}

impl PushFailure {
    /// The contract code for this failure.
    pub const fn status(&self) -> StatusCode {
        match self {
            PushFailure::Dns(_) => StatusCode::DnsFail,
            PushFailure::Connect(_) | PushFailure::Refused(_) => StatusCode::ServerConnFail,
            PushFailure::Handshake(_) | PushFailure::Unanswered(_) => StatusCode::HandshakeFail,
            PushFailure::Rejected(_) | PushFailure::Closed(_) => StatusCode::ServerDisconnect,
            PushFailure::Io(_) => StatusCode::ReadWriteFail,
        }
    }
}

impl fmt::Display for PushFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushFailure::Dns(m) => write!(f, "DNS lookup failed: {m}"),
            PushFailure::Connect(m) | PushFailure::Refused(m) => write!(f, "connect failed: {m}"),
            PushFailure::Handshake(m) | PushFailure::Unanswered(m) => {
                write!(f, "handshake failed: {m}")
            }
            PushFailure::Rejected(m) => write!(f, "server rejected the stream: {m}"),
            PushFailure::Closed(when) => write!(f, "server closed the connection {when}"),
            PushFailure::Io(m) => write!(f, "read/write failed: {m}"),
        }
    }
}
