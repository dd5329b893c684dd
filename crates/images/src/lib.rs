//! Pictures livepush did not make, decoded within limits: Motion-JPEG frames
//! from USB cameras ([`jpeg`]) and the waiting image, a JPEG or PNG file
//! ([`still`]), both to the encoder's limited-range I420 at the output size;
//! and the frames of a Motion-JPEG file ([`mjpeg_file`]).
//!
//! Every byte here is hostile: the picture size is read from the header and
//! refused over [`MAX_SIDE`]/[`MAX_PIXELS`] before pixel memory is
//! allocated, and no input panics (the `jpeg` and `still` fuzz targets in
//! `fuzz/` run exactly these functions). Pure: no files, no devices.

pub mod jpeg;
pub mod mjpeg_file;
pub mod still;

pub use jpeg::{check_size, Mjpeg, MAX_PIXELS, MAX_SIDE};
