//! RTMPS: the rustls client configuration (ring provider), certificate and
//! host-name validation always on. Trusted roots are the system's CA bundle
//! (`SSL_CERT_FILE`, else Debian's /etc/ssl/certs/ca-certificates.crt), or,
//! with `[network] ca-file`, only the certificates in that file (a private CA).
//! The handshake itself runs in the connect task (`net::conn`).

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
