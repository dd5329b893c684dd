//! Golden-image checks for the unit tests (test builds only): a picture
//! compared byte for byte with a PNG under `tests/data/`, or written there
//! when the blessing variable is set; on a mismatch the picture made is
//! written under `target/` and named in the complaint.

use std::path::{Path, PathBuf};

/// One golden picture: its folder under `tests/data/`, the environment
/// variable that (re)writes it, and its PNG colour type (grey or RGB, 8 bits).
pub struct Golden<'a> {
    /// Folder under `tests/data/` (and `target/{folder}-actual/`).
    pub folder: &'a str,
    /// Set this variable to write the golden pictures instead of comparing.
    pub bless: &'a str,
    /// `png::ColorType::Grayscale` or `png::ColorType::Rgb`.
    pub color: png::ColorType,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(path: &Path, w: u32, h: u32, color: png::ColorType, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut e = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    e.set_color(color);
    e.set_depth(png::BitDepth::Eight);
    e.write_header().unwrap().write_image_data(data).unwrap();
}

fn read(path: &Path, color: png::ColorType) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let mut d = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .ok()?;
    let mut buf = vec![0; d.output_buffer_size()];
    let info = d.next_frame(&mut buf).ok()?;
    if info.color_type != color || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(info.buffer_size());
    Some((info.width, info.height, buf))
}

impl Golden<'_> {
    /// Compares `data` (`w` x `h`) with `tests/data/{folder}/{name}.png`
    /// (or writes it when blessing); a complaint on a mismatch.
    pub fn check(&self, name: &str, w: u32, h: u32, data: &[u8]) -> Option<String> {
        let path = repo()
            .join("tests/data")
            .join(self.folder)
            .join(format!("{name}.png"));
        if std::env::var_os(self.bless).is_some() {
            write(&path, w, h, self.color, data);
            return None;
        }
        match read(&path, self.color) {
            Some((gw, gh, g)) if (gw, gh) == (w, h) && g == data => None,
            found => {
                let actual = repo()
                    .join(format!("target/{}-actual", self.folder))
                    .join(format!("{name}.png"));
                write(&actual, w, h, self.color, data);
                Some(format!(
                    "{name}: {} (made: {})",
                    if found.is_some() {
                        "differs from the golden image"
                    } else {
                        "no golden image"
                    },
                    actual.display()
                ))
            }
        }
    }
}
