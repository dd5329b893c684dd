//! Sources that need no hardware: the test pattern and sine tone from
//! `livepush_core::synth`, raw files (I420 video, s16le audio) and MJPEG
//! files (a camera's JPEG frames, corrupt ones included) read in a loop, for
//! benchmarks, tests and field checks with recorded material.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use livepush_core::synth::{pattern::TestPattern, tone::Sine};

/// Where video pictures come from.
pub enum VideoSource {
    /// Moving test pattern with a burned-in frame counter.
    Pattern(TestPattern),
    /// Raw I420 frames, looped; `size`: the file's frame size when it
    /// differs from the output (`file:PATH@WxH`), read into `buf` and scaled.
    RawFile {
        file: File,
        path: String,
        size: Option<(u32, u32)>,
        buf: Vec<u8>,
        /// The output size.
        out: (u32, u32),
    },
    /// JPEG frames one after another (`mjpeg:PATH`), looped, decoded as a
    /// camera's MJPEG frames are; one that does not decode is counted and the
    /// last good picture is sent again.
    Mjpeg {
        data: Vec<u8>,
        /// Where each frame starts and ends in `data`.
        frames: Vec<std::ops::Range<usize>>,
        path: String,
        decoder: livepush_images::Mjpeg,
        out: (u32, u32),
    },
}

/// The largest MJPEG file read (it is held in memory).
pub const MJPEG_FILE_LIMIT: u64 = 256 * 1024 * 1024;

impl VideoSource {
    /// Opens the source. Errors name the file.
    pub fn open(
        device: &livepush_core::config::VideoDevice,
        width: u32,
        height: u32,
    ) -> Result<Self, String> {
        use livepush_core::config::VideoDevice;
        match device {
            VideoDevice::TestPattern => Ok(VideoSource::Pattern(TestPattern::new(width, height))),
            VideoDevice::RawFile(spec) => {
                let (path, size) = livepush_core::config::raw_file_size(spec);
                let size = size.filter(|s| *s != (width, height));
                let (fw, fh) = size.unwrap_or((width, height));
                let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
                let len = file.metadata().map_err(|e| format!("{path}: {e}"))?.len();
                let frame = u64::from(fw * fh * 3 / 2);
                if len < frame {
                    return Err(format!(
                        "{path}: {len} bytes is less than one {fw}x{fh} I420 frame"
                    ));
                }
                Ok(VideoSource::RawFile {
                    file,
                    path: path.to_string(),
                    size,
                    buf: size.map_or_else(Vec::new, |_| vec![0; frame as usize]),
                    out: (width, height),
                })
            }
            VideoDevice::MjpegFile(path) => {
                let data = crate::files::read_regular(path, "video.device", MJPEG_FILE_LIMIT)?;
                // frames walked by their structure (an EXIF thumbnail stays inside)
                let frames = livepush_images::mjpeg_file::frames(&data);
                let mut decoder = livepush_images::Mjpeg::default();
                let mut probe = vec![0u8; livepush_core::video::convert::i420_len(width, height)];
                // refused unless one frame decodes (the first picture must be good)
                let Some(first) = frames.iter().position(|r| {
                    decoder
                        .decode(&data[r.clone()], &mut probe, width, height)
                        .is_ok()
                }) else {
                    return Err(format!(
                        "video.device {path}: no JPEG frame in it decodes ({} found)",
                        frames.len()
                    ));
                };
                let mut frames = frames;
                frames.rotate_left(first);
                Ok(VideoSource::Mjpeg {
                    data,
                    frames,
                    path: path.clone(),
                    decoder,
                    out: (width, height),
                })
            }
            VideoDevice::V4l2(p) => Err(format!(
                "{p}: a camera, not a synthetic source (see hw::v4l2)"
            )),
        }
    }

    /// Fills `out` with picture `index`. Ok(false): a corrupt MJPEG frame,
    /// `out` still holds the last picture.
    pub fn next(&mut self, index: u64, out: &mut [u8]) -> Result<bool, String> {
        match self {
            VideoSource::Pattern(p) => {
                p.render(index, out);
                Ok(true)
            }
            VideoSource::RawFile {
                file,
                path,
                size: None,
                ..
            } => read_looped(file, out)
                .map(|()| true)
                .map_err(|e| format!("{path}: {e}")),
            VideoSource::RawFile {
                file,
                path,
                size: Some((w, h)),
                buf,
                out: (ow, oh),
            } => {
                read_looped(file, buf).map_err(|e| format!("{path}: {e}"))?;
                let pic = livepush_core::video::convert::Picture {
                    format: livepush_core::video::negotiate::PixelFormat::I420,
                    width: *w,
                    height: *h,
                    stride: 0,
                    data: buf,
                };
                livepush_core::video::convert::to_i420(&pic, out, *ow, *oh)
                    .map(|()| true)
                    .map_err(|e| format!("{path}: scaling: {e:?}"))
            }
            VideoSource::Mjpeg {
                data,
                frames,
                path,
                decoder,
                out: (ow, oh),
            } => {
                let r = frames[(index % frames.len() as u64) as usize].clone();
                if let Err(e) = decoder.decode(&data[r], out, *ow, *oh) {
                    crate::media::counters::corrupt_picture(path, &e);
                    return Ok(false);
                }
                Ok(true)
            }
        }
    }
}

impl VideoSource {
    /// The frame size the source gives when it differs from the output.
    pub fn own_size(&self) -> Option<(u32, u32)> {
        match self {
            VideoSource::RawFile { size, .. } => *size,
            VideoSource::Pattern(_) | VideoSource::Mjpeg { .. } => None,
        }
    }
}

/// Where audio samples come from.
pub enum AudioSource {
    /// Sine tone.
    Sine(Sine),
    /// Raw interleaved s16le, looped.
    RawFile {
        file: File,
        path: String,
        bytes: Vec<u8>,
    },
}

impl AudioSource {
    /// Opens the source.
    pub fn open(cfg: &livepush_core::config::AudioConfig) -> Result<Self, String> {
        use livepush_core::config::AudioDevice;
        match &cfg.device {
            AudioDevice::Sine => Ok(AudioSource::Sine(Sine::new(
                cfg.sample_rate,
                cfg.channels,
                cfg.frequency,
            ))),
            AudioDevice::RawFile(path) => {
                let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
                Ok(AudioSource::RawFile {
                    file,
                    path: path.clone(),
                    bytes: Vec::new(),
                })
            }
            AudioDevice::Alsa(p) => Err(format!(
                "{p}: a microphone, not a synthetic source (see hw::alsa)"
            )),
        }
    }

    /// Continues the tone from sample `n` of the shared clock (its sync marks
    /// then line up with the test pattern's counter); a file plays on.
    pub fn seek(&mut self, n: u64) {
        if let AudioSource::Sine(s) = self {
            s.seek(n);
        }
    }

    /// Fills `out` with the next interleaved samples.
    pub fn next(&mut self, out: &mut [i16]) -> Result<(), String> {
        match self {
            AudioSource::Sine(s) => {
                s.fill(out);
                Ok(())
            }
            AudioSource::RawFile { file, path, bytes } => {
                bytes.resize(out.len() * 2, 0);
                read_looped(file, bytes).map_err(|e| format!("{path}: {e}"))?;
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = i16::from_le_bytes([b[0], b[1]]);
                }
                Ok(())
            }
        }
    }
}

/// Reads exactly `out.len()` bytes, starting over at the end of the file.
fn read_looped(file: &mut File, out: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    let mut rewound = false;
    while filled < out.len() {
        let n = file.read(&mut out[filled..])?;
        if n == 0 {
            if rewound && filled == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file is empty",
                ));
            }
            file.seek(SeekFrom::Start(0))?;
            rewound = true;
            // a partial frame at the end of the file is discarded
            filled = 0;
            continue;
        }
        filled += n;
    }
    Ok(())
}
