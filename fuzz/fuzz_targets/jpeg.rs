//! MJPEG frames from USB cameras: what the capture path does with each
//! (`livepush_images::Mjpeg::decode` into a reused 64x36 I420 picture).
//! Never a panic; a refused frame leaves the picture as it was; the size
//! limits hold before the decoder allocates (libFuzzer's -rss_limit_mb).
//! The same bytes as an MJPEG file (`mjpeg:` source): its frames are in
//! order, back to back from the first start-of-image (`FF D8 FF`) to the
//! end, each starting with one, and found in work linear in the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepush_images::{mjpeg_file, Mjpeg};

fuzz_target!(|data: &[u8]| {
    let mut m = Mjpeg::default();
    let mut out = vec![7u8; 64 * 36 * 3 / 2];
    if m.decode(data, &mut out, 64, 36).is_err() {
        assert!(
            out.iter().all(|&b| b == 7),
            "a refused frame changed the picture"
        );
    }
    let (frames, walked) = mjpeg_file::frames_walked(data);
    let first_start = data.windows(3).position(|w| w == [0xff, 0xd8, 0xff]);
    assert_eq!(frames.first().map(|f| f.start), first_start, "{frames:?}");
    if let Some(first) = frames.first() {
        let mut end = first.start;
        for f in &frames {
            assert!(f.start == end && f.start < f.end, "{frames:?}");
            assert!(
                data[f.start..].starts_with(&[0xff, 0xd8, 0xff]),
                "{frames:?}"
            );
            end = f.end;
        }
        assert_eq!(end, data.len(), "{frames:?}");
    }
    // linear work, whatever the bytes
    assert!(
        walked < (mjpeg_file::WALK_BUDGET + 1) * data.len().max(1),
        "walked {walked} for {}",
        data.len()
    );
});
