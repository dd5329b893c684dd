//! RTMP: push URLs, the sans-IO publish session over rml_rtmp, and why a push failed.

pub mod chunk;
pub mod failure;
pub mod hostile;
pub mod publish;
#[cfg(test)]
pub(crate) mod test_server;
pub mod url;
