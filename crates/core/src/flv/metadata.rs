//! The `onMetaData` script-data body (AMF0): what players read first.

/// Stream properties announced in `onMetaData`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Frames per second.
    pub framerate: Option<f64>,
    /// kbps.
    pub video_data_rate: Option<u32>,
    /// Hz.
    pub audio_sample_rate: Option<u32>,
    /// kbps.
    pub audio_data_rate: Option<u32>,
    /// Channel count.
    pub audio_channels: Option<u32>,
    /// Writer name.
    pub encoder: Option<String>,
}

fn amf_string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn amf_number_prop(name: &str, v: f64, out: &mut Vec<u8>) {
    amf_string(name, out);
    out.push(0x00);
    out.extend_from_slice(&v.to_be_bytes());
}

impl Metadata {
    /// AMF0 `"onMetaData"` followed by an ECMA array of the known fields.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(0x02);
        amf_string("onMetaData", out);
        let mut props: Vec<(&str, f64)> = Vec::new();
        if let (Some(w), Some(h)) = (self.width, self.height) {
            props.push(("width", f64::from(w)));
            props.push(("height", f64::from(h)));
            props.push(("videocodecid", 7.0));
        }
        if let Some(f) = self.framerate {
            props.push(("framerate", f));
        }
        if let Some(r) = self.video_data_rate {
            props.push(("videodatarate", f64::from(r)));
        }
        if let Some(r) = self.audio_sample_rate {
            props.push(("audiocodecid", 10.0));
            props.push(("audiosamplerate", f64::from(r)));
            props.push(("audiosamplesize", 16.0));
        }
        if let Some(r) = self.audio_data_rate {
            props.push(("audiodatarate", f64::from(r)));
        }
        if let Some(c) = self.audio_channels {
            props.push(("audiochannels", f64::from(c)));
        }
        out.push(0x08);
        let n = props.len()
            + usize::from(self.audio_channels.is_some())
            + usize::from(self.encoder.is_some());
        out.extend_from_slice(&(n as u32).to_be_bytes());
        for (k, v) in props {
            amf_number_prop(k, v, out);
        }
        if let Some(c) = self.audio_channels {
            amf_string("stereo", out);
            out.push(0x01);
            out.push(u8::from(c == 2));
        }
        if let Some(e) = &self.encoder {
            amf_string("encoder", out);
            out.push(0x02);
            amf_string(e, out);
        }
        out.extend_from_slice(&[0, 0, 9]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_golden() {
        let m = Metadata {
            width: Some(2),
            height: Some(1),
            encoder: Some("x".into()),
            ..Default::default()
        };
        let mut out = Vec::new();
        m.encode(&mut out);
        let mut want = vec![0x02, 0, 10];
        want.extend_from_slice(b"onMetaData");
        want.extend_from_slice(&[0x08, 0, 0, 0, 4]);
        for (k, v) in [("width", 2.0f64), ("height", 1.0), ("videocodecid", 7.0)] {
            want.extend_from_slice(&(k.len() as u16).to_be_bytes());
            want.extend_from_slice(k.as_bytes());
            want.push(0);
            want.extend_from_slice(&v.to_be_bytes());
        }
        want.extend_from_slice(&[0, 7]);
        want.extend_from_slice(b"encoder");
        want.extend_from_slice(&[0x02, 0, 1, b'x', 0, 0, 9]);
        assert_eq!(out, want);
    }
}
