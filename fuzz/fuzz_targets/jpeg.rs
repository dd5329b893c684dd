//! MJPEG frames from USB cameras: what the capture path does with each
//! (`livepush_images::Mjpeg::decode` into a reused 64x36 I420 picture).
//! Never a panic; a refused frame leaves the picture as it was; the size
//! limits hold before the decoder allocates (libFuzzer's -rss_limit_mb).
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepush_images::Mjpeg;

fuzz_target!(|data: &[u8]| {
    let mut m = Mjpeg::default();
    let mut out = vec![7u8; 64 * 36 * 3 / 2];
    if m.decode(data, &mut out, 64, 36).is_err() {
        assert!(out.iter().all(|&b| b == 7), "a refused frame changed the picture");
    }
});
