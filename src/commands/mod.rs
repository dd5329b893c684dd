//! The binary's commands besides `run` (the service itself, in `shell`):
//! field checks (`probe`, `encoder-check`, `mic-check`, `indicators`), the built-in RTMP
//! server (`receive`), the demo and the benchmark.

pub mod bench;
pub mod bench_filters;
pub mod ctl;
pub mod demo;
pub mod encoder_check;
pub mod indicators;
pub mod mic_check;
pub mod probe;
pub mod receive;
pub mod status;
