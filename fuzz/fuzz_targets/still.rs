//! The waiting image: a JPEG or PNG file's bytes decoded as `livepush run`
//! does (`livepush_images::still::decode` to a 64x36 I420 picture). Never a
//! panic; a success is a whole picture.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = livepush_images::still::decode(data, "fuzz.png", 64, 36) {
        assert_eq!(p.len(), 64 * 36 * 3 / 2);
    }
});
