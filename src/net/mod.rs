//! Network side of the shell: connecting with deadlines and the per-connection
//! socket task that reads into and writes from the event loop.

pub mod conn;
