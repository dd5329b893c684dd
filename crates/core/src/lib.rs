//! livepush-core: everything of livepush that can be pure.
//!
//! No I/O, no clock reads, no threads, no hardware crates: time enters as
//! [`time::Instant`] arguments, bytes enter and leave as slices and vectors.
//! (rml_rtmp, used by [`rtmp::publish`], reads `SystemTime` for command
//! timestamps and `rand` for handshake bytes; neither affects media
//! timestamps or decisions.)
//!
//! Layers, bottom up:
//! - wire formats: [`codec`] (H.264 Annex-B/AVC, AAC config), [`flv`] (tag
//!   bodies, metadata, file container);
//! - protocol: [`rtmp`] (push URL, publish session, failure kinds);
//! - control: [`supervisor`] (the only producer of [`status::StatusCode`]s),
//!   [`netstatus`] (measured figures), [`event`] (JSON lines);
//! - configuration: [`config`] (TOML with positioned errors, presets);
//! - media flow: [`sendq`] (the send queue), [`start_cache`] (what a publish
//!   starts with);
//! - what the box shows: [`indicate`] (phases, LED patterns, the screens);
//!   [`watchdog`] (when systemd may be told all is well);
//! - [`synth`]: the synthetic camera and microphone.

// (`deny`, not `forbid`: video/filters.rs calls its AVX2 build after the
// CPU check, the crate's only `unsafe` outside tests; its tests call it
// the same way)
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod abr;
pub mod audio_clock;
pub mod codec;
pub mod config;
pub mod congestion;
pub mod encoder;
pub mod event;
pub mod flv;
#[cfg(test)]
mod golden;
pub mod health;
pub mod indicate;
pub mod netstatus;
pub mod publisher;
pub mod rtmp;
pub mod sendq;
pub mod silence_watch;
pub mod start_cache;
pub mod status;
pub mod supervisor;
pub mod synth;
pub mod text;
pub mod time;
pub mod video;
pub mod watchdog;
