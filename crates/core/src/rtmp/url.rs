//! Push URL parsing: `rtmp[s]://host[:port]/app[/more]/key[?query]` into the
//! parts an RTMP publisher needs, keeping the stream key secret.
//!
//! The stream key (everything after the application name, query included) and
//! any `user:password@` part are secrets: [`PushUrl`]'s `Display` and `Debug`
//! never show them, so a URL can be put in a log line, an event or an error.

use core::fmt;

/// `rtmp://` or `rtmps://`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain RTMP, default port 1935.
    Rtmp,
    /// RTMP over TLS, default port 443.
    Rtmps,
}

impl Scheme {
    /// The IANA default port.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Rtmp => 1935,
            Scheme::Rtmps => 443,
        }
    }
    /// `rtmp` or `rtmps`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Rtmp => "rtmp",
            Scheme::Rtmps => "rtmps",
        }
    }
}

/// A parsed push address. `Display`/`Debug` redact the stream key.
#[derive(Clone, PartialEq, Eq)]
pub struct PushUrl {
    /// Scheme.
    pub scheme: Scheme,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Port (explicit or the scheme's default).
    pub port: u16,
    /// RTMP application name (first path segment).
    pub app: String,
    key: String,
}

/// Why a push URL is not usable. Messages never contain the stream key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not `rtmp://` or `rtmps://`.
    Scheme(String),
    /// No host.
    NoHost,
    /// Port not a number in 1..=65535.
    BadPort,
    /// No application name.
    NoApp,
    /// No stream key after the application name.
    NoKey,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Scheme(s) => write!(
                f,
                "scheme must be rtmp:// or rtmps://, got {}",
                if s.is_empty() { "none" } else { s.as_str() }
            ),
            UrlError::NoHost => f.write_str("no host name"),
            UrlError::BadPort => f.write_str("port must be a number from 1 to 65535"),
            UrlError::NoApp => f.write_str("no application name (rtmp://host/APP/KEY)"),
            UrlError::NoKey => f.write_str("no stream key (rtmp://host/app/KEY)"),
        }
    }
}

impl PushUrl {
    /// Parses a push URL with its stream key: `rtmp[s]://host[:port]/app/key`.
    /// The application is split from the key as ffmpeg splits it: with three
    /// or more path segments the first two are the application (an
    /// application instance: `app/_definst_/key`, `live/sub/key`), unless
    /// the second holds a `:` (a play path such as `mp4:name`).
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        Self::parse_parts(s, true)
    }

    /// Parses a push URL whose whole path is the application (the stream key
    /// comes from elsewhere, `url-key-file`): `rtmp[s]://host[:port]/app[/instance]`.
    /// Give it its key with [`Self::with_key`].
    pub fn parse_without_key(s: &str) -> Result<Self, UrlError> {
        Self::parse_parts(s, false)
    }

    /// This URL with `key` as its stream key.
    pub fn with_key(&self, key: &str) -> Self {
        PushUrl {
            key: key.to_string(),
            ..self.clone()
        }
    }

    fn parse_parts(s: &str, key_in_url: bool) -> Result<Self, UrlError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, rest)) => (sch.to_ascii_lowercase(), rest),
            None => return Err(UrlError::Scheme(String::new())),
        };
        let scheme = match scheme.as_str() {
            "rtmp" => Scheme::Rtmp,
            "rtmps" => Scheme::Rtmps,
            // shown only when it looks like a scheme: in a mistyped URL the
            // text before "://" may hold the key (`rtmp:/h/live/KEY?r=x://`)
            other if looks_like_scheme(other) => return Err(UrlError::Scheme(other.to_string())),
            _ => return Err(UrlError::Scheme("something that is not a scheme".into())),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        // user:password@ is a secret and not used by RTMP: drop it
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let end = stripped.find(']').ok_or(UrlError::NoHost)?;
            let host = &stripped[..end];
            let after = &stripped[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(UrlError::BadPort),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(UrlError::BadPort),
            },
        };
        let (app, key) = if key_in_url {
            split_app_key(path)
        } else {
            (path.trim_end_matches('/'), "")
        };
        if app.is_empty() || app.starts_with('?') {
            return Err(UrlError::NoApp);
        }
        if key_in_url && (key.is_empty() || key.starts_with('?')) {
            return Err(UrlError::NoKey);
        }
        Ok(PushUrl {
            scheme,
            host: host.to_string(),
            port,
            app: app.to_string(),
            key: key.to_string(),
        })
    }

    /// The stream key (secret). Only the RTMP `publish` command may use it.
    pub fn stream_key(&self) -> &str {
        &self.key
    }

    /// `tcUrl` for the RTMP connect command: `rtmp://host:port/app` (no key).
    pub fn tc_url(&self) -> String {
        format!(
            "{}://{}/{}",
            self.scheme.as_str(),
            self.host_port(),
            self.app
        )
    }

    /// The URL for people (logs, events, errors, `check-config`):
    /// `scheme://host:port/app` with the application's query (Wowza and SRS
    /// put tokens there: `rtmp://h/live?auth=TOKEN/KEY`), the key and any
    /// password left out, and control characters escaped.
    pub fn for_people(&self) -> String {
        let app = self.app.split('?').next().unwrap_or("");
        crate::text::printable(&format!(
            "{}://{}/{}",
            self.scheme.as_str(),
            self.host_port(),
            app
        ))
    }

    /// Replaces every occurrence of the stream key (and of its part before
    /// `?`), and of a query on the application (`live?auth=TOKEN`), in a
    /// message that came from outside, e.g. a server's description.
    pub fn redact(&self, msg: &str) -> String {
        let mut out = msg.to_string();
        let bare = self.key.split('?').next().unwrap_or("");
        let app_query = self.app.split_once('?').map_or("", |(_, q)| q);
        for secret in [self.key.as_str(), bare, app_query] {
            if secret.len() >= 2 {
                out = out.replace(secret, "<key>");
            }
        }
        out
    }

    /// `host:port`, with brackets around IPv6 literals.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for PushUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/<key hidden>", self.for_people())
    }
}

impl fmt::Debug for PushUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushUrl({self})")
    }
}

/// Splits a URL path into application and stream key the way ffmpeg's RTMP
/// client does (`libavformat/rtmpproto.c`): `app/key`; `app/inst/key...`
/// (three or more segments: the first two are the application) unless the
/// second segment holds a `:` (`vod/mp4:name`). One deviation: a `?` in the
/// second segment marks it as the key with a query (`live/key?t=a/b` keeps
/// `live` as the application; ffmpeg would take `live/key?t=a`).
fn split_app_key(path: &str) -> (&str, &str) {
    let Some(p) = path.find('/') else {
        return (path.split('?').next().unwrap_or(""), "");
    };
    let rest = &path[p + 1..];
    match rest.find('/') {
        Some(q) if !rest[..q].contains([':', '?']) && q > 0 => (&path[..p + 1 + q], &rest[q + 1..]),
        _ => (&path[..p], rest),
    }
}

/// Up to 10 characters, a letter then letters, digits, `+`, `-` or `.` (RFC 3986).
fn looks_like_scheme(s: &str) -> bool {
    let mut c = s.chars();
    s.len() <= 10
        && c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Any URL-like text for people, parsed or not: `scheme://host[:port]/app`
/// (the first path segment without its query), never what follows it, no
/// `user:password@`, control characters escaped. For strings that may not
/// parse as a [`PushUrl`] (a server's redirect target, a mistyped url).
pub fn for_people(s: &str) -> String {
    let s = s.trim();
    let Some((scheme, rest)) = s
        .split_once("://")
        .filter(|(sch, _)| looks_like_scheme(sch))
    else {
        return "<not a URL>".into();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let authority = authority.split(['?', '#']).next().unwrap_or("");
    let app = path.split(['/', '?', '#']).next().unwrap_or("");
    crate::text::printable(&format!(
        "{}://{authority}/{app}",
        scheme.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts() {
        let u = PushUrl::parse("rtmp://example.com/live/abc123?token=zz").unwrap();
        assert_eq!(u.scheme, Scheme::Rtmp);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, 1935);
        assert_eq!(u.app, "live");
        assert_eq!(u.stream_key(), "abc123?token=zz");
        assert_eq!(u.tc_url(), "rtmp://example.com:1935/live");
        let u = PushUrl::parse("RTMPS://user:pw@[::1]:8443/app/k/x").unwrap();
        assert_eq!(u.scheme, Scheme::Rtmps);
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 8443);
        assert_eq!((u.app.as_str(), u.stream_key()), ("app/k", "x"));
        assert_eq!(u.host_port(), "[::1]:8443");
    }

    #[test]
    fn display_and_debug_hide_key_and_password() {
        let u = PushUrl::parse("rtmp://bob:hunter2@h:1/live/SECRETKEY?sig=TOKEN").unwrap();
        for s in [format!("{u}"), format!("{u:?}")] {
            assert!(!s.contains("SECRETKEY"), "{s}");
            assert!(!s.contains("TOKEN"), "{s}");
            assert!(!s.contains("hunter2"), "{s}");
            assert!(s.contains("rtmp://h:1/live"), "{s}");
        }
    }

    #[test]
    fn redacts_key_in_foreign_messages() {
        let u = PushUrl::parse("rtmp://h/live/cam7?sig=abc").unwrap();
        assert_eq!(
            u.redact("stream cam7 busy; cam7?sig=abc"),
            "stream <key> busy; <key>"
        );
        let u = PushUrl::parse("rtmp://h/live?auth=TOK99/cam7").unwrap();
        assert_eq!(
            u.redact("bad tcUrl rtmp://h/live?auth=TOK99"),
            "bad tcUrl rtmp://h/live?<key>"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        assert_eq!(
            PushUrl::parse("http://h/live/k"),
            Err(UrlError::Scheme("http".into()))
        );
        assert_eq!(
            PushUrl::parse("h/live/k"),
            Err(UrlError::Scheme(String::new()))
        );
        assert_eq!(PushUrl::parse("rtmp:///live/k"), Err(UrlError::NoHost));
        assert_eq!(PushUrl::parse("rtmp://h:0/live/k"), Err(UrlError::BadPort));
        assert_eq!(PushUrl::parse("rtmp://h:x/live/k"), Err(UrlError::BadPort));
        assert_eq!(PushUrl::parse("rtmp://h/"), Err(UrlError::NoApp));
        assert_eq!(PushUrl::parse("rtmp://h/live"), Err(UrlError::NoKey));
        assert_eq!(PushUrl::parse("rtmp://h/live/"), Err(UrlError::NoKey));
    }

    /// Every URL shape the issue names, and what people may see of it.
    #[test]
    fn urls_for_people_show_no_query_key_or_password() {
        let cases = [
            ("rtmp://h/live/KEY", "rtmp://h:1935/live"),
            ("rtmp://h/live/KEY?token=TOK", "rtmp://h:1935/live"),
            ("rtmp://h/live?auth=TOK/KEY", "rtmp://h:1935/live"),
            (
                "rtmp://h:1936/app?wowzatoken=TOK&x=1/KEY",
                "rtmp://h:1936/app",
            ),
            ("rtmps://user:PASS@h:443/live/KEY", "rtmps://h:443/live"),
            ("rtmp://[::1]:1935/live/KEY", "rtmp://[::1]:1935/live"),
            ("rtmp://h/app/_definst_/KEY", "rtmp://h:1935/app/_definst_"),
            ("rtmp://h/live\n/KEY", "rtmp://h:1935/live\\n"),
        ];
        for (raw, shown) in cases {
            let u = PushUrl::parse(raw).unwrap();
            assert_eq!(u.for_people(), shown, "{raw}");
            for s in [u.to_string(), format!("{u:?}"), for_people(raw)] {
                for secret in ["KEY", "TOK", "PASS"] {
                    assert!(!s.contains(secret), "{raw} -> {s}");
                }
            }
            assert!(u.to_string().starts_with(shown), "{raw}");
        }
        // the protocol still gets the application's query (servers need it)
        let u = PushUrl::parse("rtmp://h/live?auth=TOK/KEY").unwrap();
        assert_eq!(u.tc_url(), "rtmp://h:1935/live?auth=TOK");
        // unparsed text: a redirect target or anything else
        assert_eq!(
            for_people("rtmp://u:PASS@h:1/live?auth=TOK/KEY"),
            "rtmp://h:1/live"
        );
        assert_eq!(for_people("RTMPS://h/live/KEY"), "rtmps://h/live");
        assert_eq!(for_people("h/live/KEY"), "<not a URL>");
        assert_eq!(
            for_people("rtmp://h/a\nINFO forged/KEY"),
            "rtmp://h/a\\nINFO forged"
        );
        assert_eq!(for_people("rtmp://h/a\nb/K"), "rtmp://h/a\\nb");
        assert_eq!(for_people("rtmp://h/a\nb"), "rtmp://h/a\\nb");
        assert!(!for_people("rtmp://h/a\nb").contains('\n'));
    }

    #[test]
    fn a_mistyped_scheme_never_echoes_the_key() {
        for raw in [
            "rtmp:/h/live/SECRETKEY?next=rtmp://x",
            "rtmpx://h/live/SECRETKEY",
            "rtmp//h/live/SECRETKEY",
            "live/SECRETKEY?x=http://y",
        ] {
            let e = PushUrl::parse(raw).unwrap_err().to_string();
            assert!(!e.contains("SECRET"), "{raw} -> {e}");
        }
        assert_eq!(
            PushUrl::parse("htp://h/live/k").unwrap_err().to_string(),
            "scheme must be rtmp:// or rtmps://, got htp"
        );
    }

    /// Real services' URL shapes, split as ffmpeg (and OBS, for these) split them.
    #[test]
    fn services_urls_are_split_like_ffmpeg() {
        let cases = [
            // YouTube, Twitch, Facebook (RTMPS), nginx-rtmp
            (
                "rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop-qrst",
                "a.rtmp.youtube.com",
                1935,
                "live2",
                "abcd-efgh-ijkl-mnop-qrst",
            ),
            (
                "rtmp://live.twitch.tv/app/live_123456_AbCdEf",
                "live.twitch.tv",
                1935,
                "app",
                "live_123456_AbCdEf",
            ),
            (
                "rtmps://live-api-s.facebook.com:443/rtmp/FB-1234567890-0-AbCdEf",
                "live-api-s.facebook.com",
                443,
                "rtmp",
                "FB-1234567890-0-AbCdEf",
            ),
            (
                "rtmp://10.0.0.5/live/cam1",
                "10.0.0.5",
                1935,
                "live",
                "cam1",
            ),
            // Wowza: application instance, and a token on the application
            (
                "rtmp://wowza.example:1935/live/_definst_/myStream",
                "wowza.example",
                1935,
                "live/_definst_",
                "myStream",
            ),
            (
                "rtmp://wowza.example/app?wowzatoken=abc/myStream",
                "wowza.example",
                1935,
                "app?wowzatoken=abc",
                "myStream",
            ),
            // SRS: vhost on the application, token on the key
            (
                "rtmp://srs.example/live?vhost=v.example/livestream",
                "srs.example",
                1935,
                "live?vhost=v.example",
                "livestream",
            ),
            (
                "rtmp://srs.example/live/livestream?secret=x/y",
                "srs.example",
                1935,
                "live",
                "livestream?secret=x/y",
            ),
            // more segments: the first two are the application
            ("rtmp://h/live/sub/key", "h", 1935, "live/sub", "key"),
            ("rtmp://h/a/b/c/d", "h", 1935, "a/b", "c/d"),
            // a play path with a colon keeps one segment of application
            ("rtmp://h/vod/mp4:clip/x", "h", 1935, "vod", "mp4:clip/x"),
        ];
        for (raw, host, port, app, key) in cases {
            let u = PushUrl::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(
                (u.host.as_str(), u.port, u.app.as_str(), u.stream_key()),
                (host, port, app, key),
                "{raw}"
            );
            assert_eq!(
                u.tc_url(),
                format!("{}://{}:{port}/{app}", u.scheme.as_str(), host),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_url_without_key_takes_its_key_from_elsewhere() {
        let u = PushUrl::parse_without_key("rtmp://h/app/_definst_").unwrap();
        assert_eq!((u.app.as_str(), u.stream_key()), ("app/_definst_", ""));
        let k = u.with_key("SECRET");
        assert_eq!(k.stream_key(), "SECRET");
        assert_eq!(k.tc_url(), "rtmp://h:1935/app/_definst_");
        assert!(!k.to_string().contains("SECRET"));
        assert_eq!(
            PushUrl::parse_without_key("rtmp://h/"),
            Err(UrlError::NoApp)
        );
        assert_eq!(
            PushUrl::parse_without_key("rtmp://h/live/").unwrap().app,
            "live"
        );
    }
}
