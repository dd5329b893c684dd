//! Network side of the shell: the connect task ([`conn`], with the TLS
//! handshake for `rtmps://`), the connected stream the loop reads and writes
//! without blocking ([`link`]), and the TLS client setup ([`tls`]).

pub mod conn;
pub mod link;
pub mod tls;
