//! The redirect policy: where an Enhanced RTMP reconnect request's `tcUrl`
//! sends the next connection, or why it is ignored (the current URL is kept).

use crate::rtmp::url::{PushUrl, Scheme};

/// Why a reconnect request's target is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It would go from rtmps:// to plain rtmp://.
    GivesUpTls(String),
    /// rtmps:// but this run has no TLS set up (the config's URL is rtmp://).
    NeedsTls(String),
    /// The tcUrl does not make a push URL.
    Unusable(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::GivesUpTls(u) => {
                write!(f, "reconnect request to {u} ignored: it would give up TLS")
            }
            Refused::NeedsTls(u) => write!(
                f,
                "reconnect request to {u} ignored: rtmps:// needs an rtmps:// url in the config"
            ),
            Refused::Unusable(e) => {
                write!(f, "reconnect request with an unusable tcUrl ignored: {e}")
            }
        }
    }
}

/// The URL a reconnect request's `tcUrl` points to, with the current stream
/// key. The texts in [`Refused`] are redacted (no key).
pub fn target(current: &PushUrl, tc_url: &str, tls_available: bool) -> Result<PushUrl, Refused> {
    let joined = format!("{}/{}", tc_url.trim_end_matches('/'), current.stream_key());
    match PushUrl::parse(&joined) {
        Ok(u) if current.scheme == Scheme::Rtmps && u.scheme != Scheme::Rtmps => {
            Err(Refused::GivesUpTls(current.redact(&u.to_string())))
        }
        Ok(u) if u.scheme == Scheme::Rtmps && !tls_available => {
            Err(Refused::NeedsTls(current.redact(&u.to_string())))
        }
        Ok(u) => Ok(u),
        Err(e) => Err(Refused::Unusable(current.redact(&e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y?sig=S3CRET";

    fn url(s: &str) -> PushUrl {
        PushUrl::parse(&format!("{s}/{KEY}")).unwrap()
    }

    #[test]
    fn a_new_host_keeps_the_key_and_scheme_rules() {
        let cur = url("rtmp://a.example/live");
        let t = target(&cur, "rtmp://10.1.2.3:1936/live/", false).unwrap();
        assert_eq!(t.host_port(), "10.1.2.3:1936");
        assert_eq!(t.stream_key(), KEY);
        // rtmps -> rtmps is fine when TLS is set up
        let cur = url("rtmps://a.example/live");
        let t = target(&cur, "rtmps://b.example/live", true).unwrap();
        assert_eq!(t.scheme, Scheme::Rtmps);
    }

    #[test]
    fn giving_up_tls_or_needing_it_is_refused_without_the_key() {
        let cur = url("rtmps://a.example/live");
        let e = target(&cur, "rtmp://b.example/live", true).unwrap_err();
        assert!(matches!(e, Refused::GivesUpTls(_)), "{e:?}");
        assert!(!e.to_string().contains("S3CRET"), "{e}");
        let cur = url("rtmp://a.example/live");
        let e = target(&cur, "rtmps://b.example/live", false).unwrap_err();
        assert!(matches!(e, Refused::NeedsTls(_)), "{e:?}");
        assert!(!e.to_string().contains("S3CRET"), "{e}");
        let e = target(&cur, "http://b.example/live", false).unwrap_err();
        assert!(matches!(e, Refused::Unusable(_)), "{e:?}");
        assert!(!e.to_string().contains("S3CRET"), "{e}");
    }
}
