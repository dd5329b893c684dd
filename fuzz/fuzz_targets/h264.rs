//! H.264 bitstreams as hardware encoders hand them back (a V4L2 M2M
//! driver's, VAAPI's or MPP's bytes are not ours): Annex B NAL splitting,
//! key-frame detection, the parameter sets, SPS parsing (what the stream
//! metadata and the size check read), AVCC conversion, the sequence header
//! and the parameter sets put in front of a key frame. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepush_core::codec::h264;

fuzz_target!(|data: &[u8]| {
    for nal in h264::nal_units(data) {
        let _ = h264::nal_unit_type(nal);
        let _ = h264::parse_sps(nal);
    }
    let _ = h264::is_keyframe(data);
    let mut out = Vec::new();
    if let Some((sps, pps)) = h264::parameter_sets(data) {
        let _ = h264::parse_sps(sps);
        h264::avc_decoder_config(sps, pps, &mut out);
    }
    h264::annexb_to_avcc(data, &mut out);
    let mut buf = data.to_vec();
    let mut sets = Vec::new();
    h264::ensure_parameter_sets(&mut buf, 0, &mut sets);
    // a second frame after the first: the remembered sets are used
    let at = buf.len();
    buf.extend_from_slice(data);
    h264::ensure_parameter_sets(&mut buf, at, &mut sets);
});
