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
    /// Parses a push URL.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let s = s.trim();
        let (scheme, rest) = match s.split_once("://") {
            Some((sch, rest)) => (sch.to_ascii_lowercase(), rest),
            None => return Err(UrlError::Scheme(String::new())),
        };
        let scheme = match scheme.as_str() {
            "rtmp" => Scheme::Rtmp,
            "rtmps" => Scheme::Rtmps,
            // the scheme is never the secret part; keep it short anyway
            other => return Err(UrlError::Scheme(other.chars().take(16).collect())),
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
        let (app, key) = match path.split_once('/') {
            Some((a, k)) => (a, k),
            None => (path.split('?').next().unwrap_or(""), ""),
        };
        if app.is_empty() {
            return Err(UrlError::NoApp);
        }
        if key.is_empty() || key.starts_with('?') {
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

    /// Replaces every occurrence of the stream key (and of its part before
    /// `?`) in a message that came from outside, e.g. a server's description.
    pub fn redact(&self, msg: &str) -> String {
        let mut out = msg.to_string();
        let bare = self.key.split('?').next().unwrap_or("");
        for secret in [self.key.as_str(), bare] {
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
        write!(f, "{}/<key hidden>", self.tc_url())
    }
}

impl fmt::Debug for PushUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PushUrl({self})")
    }
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
        assert_eq!(u.stream_key(), "k/x");
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
}
