//! FLV as the receiver and the tests read it (`livepush_core::flv::read`):
//! the tags of a file, AVC and AAC tag bodies, length-prefixed NAL units,
//! the decoder record's SPS/PPS and the SPS inside, and a recording's
//! summary. Never a panic; the walk never claims more bytes than it has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepush_core::codec::h264;
use livepush_core::flv::read::{self, Audio, Video};
use livepush_core::flv::tag;

fuzz_target!(|data: &[u8]| {
    if let Some(s) = read::summary(data) {
        assert!(s.complete_bytes <= data.len());
        assert!(s.key_frames <= s.video_frames);
    }
    let Some(tags) = read::tags(data) else {
        // the tag bodies alone, as RTMP messages carry them
        let _ = tag::video_kind(data);
        let _ = read::audio(data);
        bodies(data);
        return;
    };
    for t in tags {
        assert!(t.body.len() < 1 << 24);
        let _ = tag::video_kind(t.body);
        bodies(t.body);
        let _ = read::audio(t.body);
    }
});

fn bodies(body: &[u8]) {
    match read::video(body) {
        Video::SequenceHeader(rec) => {
            if let Some((sps, _pps)) = read::decoder_config(rec) {
                let _ = h264::parse_sps(sps);
            }
        }
        Video::Frame { nalus, .. } => {
            for n in read::avcc_nal_units(nalus) {
                if let Ok(n) = n {
                    let _ = h264::nal_unit_type(n);
                }
            }
        }
        Video::EndOfSequence | Video::Other => {}
    }
    if let Audio::AacHeader(asc) | Audio::AacRaw(asc) = read::audio(body) {
        let _ = asc.len();
    }
}
