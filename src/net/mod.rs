//! Network side of the shell: the connect task ([`conn`], with the TLS
//! handshake for `rtmps://`), the connected stream the loop reads and writes
//! without blocking ([`link`]), the TLS client setup ([`tls`]), and the
//! waiting image's http(s) fetch ([`fetch`]).

pub mod conn;
pub mod fetch;
pub mod link;
pub mod tls;
