//! RTMPS: the rustls client configuration (ring provider), certificate and
//! host-name validation always on. Trusted roots are the system's CA bundle
//! (`SSL_CERT_FILE`, else Debian's /etc/ssl/certs/ca-certificates.crt), or,
//! with `[network] ca-file`, only the certificates in that file (a private CA).
//! The handshake itself runs in the connect task (`net::conn`).
//!
//! Certificate dates are checked against the wall clock, the one thing in
//! livepush that depends on it: a board without a real-time clock boots in
//! 1970 (or at its image's date) until NTP answers. A refusal for dates
//! says what this box's clock reads and whether it is synchronised
//! ([`explain`]), so "not valid yet" at boot is not mistaken for a bad
//! server.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The system CA bundle on Debian (and most Linux systems).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Builds the client configuration. Errors name the file and what is wrong.
pub fn client_config(ca_file: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let (path, what) = match ca_file {
        Some(p) => (p.to_string(), "[network] ca-file"),
        None => match std::env::var("SSL_CERT_FILE") {
            Ok(p) if !p.is_empty() => (p, "SSL_CERT_FILE"),
            _ => (SYSTEM_BUNDLE.to_string(), "the system CA bundle"),
        },
    };
    let mut roots = RootCertStore::empty();
    let pem = crate::files::read_regular(&path, what, crate::files::CA_LIMIT)?;
    let certs = CertificateDer::pem_slice_iter(&pem);
    let mut n = 0usize;
    for c in certs {
        let c = c.map_err(|e| format!("{what} {path}: {e}"))?;
        if roots.add(c).is_ok() {
            n += 1;
        }
    }
    if n == 0 {
        return Err(format!("{what} {path}: no usable CA certificate in it"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A TLS error as people read it: rustls' words, and for a certificate
/// refused for its dates, what this box's clock reads and, when the kernel
/// says it is not synchronised, that the reading may be wrong (the refusal
/// cannot be trusted until NTP sets the clock; the kernel's flag is all we
/// know, and a clock set by hand keeps it).
pub fn explain(e: &rustls::Error) -> String {
    explain_with(e, &crate::clock::wall())
}

fn explain_with(e: &rustls::Error, wall: &crate::clock::Wall) -> String {
    use rustls::CertificateError as C;
    let dates = matches!(
        e,
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. }
        )
    );
    if !dates {
        return e.to_string();
    }
    if wall.synchronized {
        format!("{e} (this box's clock reads {}, synchronised)", wall.utc)
    } else {
        format!(
            "{e} (this box's clock reads {} and is not synchronised, so it may be wrong: certificate dates cannot be trusted until NTP sets it)",
            wall.utc
        )
    }
}

/// [`explain`] for an I/O error that carries a rustls error (what
/// futures-rustls returns), else the I/O error's words.
pub fn explain_io(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => explain(t),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Wall;
    use rustls::pki_types::UnixTime;
    use rustls::CertificateError as C;

    fn wall(utc: &str, synchronized: bool) -> Wall {
        Wall {
            utc: utc.into(),
            synchronized,
        }
    }

    #[test]
    fn a_date_refusal_says_what_the_clock_reads_and_whether_to_trust_it() {
        let early = rustls::Error::InvalidCertificate(C::NotValidYetContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(62)),
            not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_764_000_000)),
        });
        let boot = wall("1970-01-01T00:01:02Z", false);
        let m = explain_with(&early, &boot);
        assert!(
            m.starts_with("invalid peer certificate: certificate not valid yet"),
            "{m}"
        );
        assert!(
            m.contains("this box's clock reads 1970-01-01T00:01:02Z and is not synchronised"),
            "{m}"
        );
        let set = wall("2026-12-05T15:00:00Z", true);
        for e in [
            rustls::Error::InvalidCertificate(C::Expired),
            rustls::Error::InvalidCertificate(C::NotValidYet),
        ] {
            let m = explain_with(&e, &set);
            assert!(
                m.ends_with("(this box's clock reads 2026-12-05T15:00:00Z, synchronised)"),
                "{m}"
            );
        }
        // other refusals: rustls' words alone
        let other = rustls::Error::InvalidCertificate(C::UnknownIssuer);
        assert_eq!(explain_with(&other, &boot), other.to_string());
        // through an I/O error, as futures-rustls returns it
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, early.clone());
        assert!(
            explain_io(&io).contains("this box's clock reads"),
            "{}",
            explain_io(&io)
        );
        let plain = std::io::Error::new(std::io::ErrorKind::Other, "reset");
        assert_eq!(explain_io(&plain), "reset");
    }
}
