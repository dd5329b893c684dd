//! Elementary-stream wire formats: H.264 Annex-B and AVC records, AAC configs.

pub mod aac;
pub mod h264;
