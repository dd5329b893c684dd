//! A Linux framebuffer (`/dev/fbN`): an HDMI console, an fbtft or DRM panel
//! with fbdev emulation, a kernel-driven SSD1306 (1 bit a pixel). A screen
//! at least 240x240 gets the colour layout, a smaller one the 128x64 (or
//! 128x32) monochrome one; it is drawn at the largest whole scale that
//! fits, in the top-left corner, and written with `pwrite` (16, 24 and 32
//! bits a pixel with the channel offsets the driver gives; 1 bit a pixel
//! least significant bit first, as fbdev's monochrome drivers read it). On
//! the console's framebuffer the text console is switched to graphics mode
//! (KDSETMODE on /dev/tty0) so its cursor does not draw over the screen,
//! and back at the end.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, RgbColor};
use livepush_core::indicate::draw::{draw_color, draw_mono, Canvas, Frame};

const FBIOGET_VSCREENINFO: libc::c_ulong = 0x4600;
const FBIOGET_FSCREENINFO: libc::c_ulong = 0x4602;
const KDSETMODE: libc::c_ulong = 0x4b3a;
const KD_TEXT: libc::c_int = 0;
const KD_GRAPHICS: libc::c_int = 1;
/// `fix.visual`: monochrome, 1 is black.
const VISUAL_MONO01: u32 = 0;

/// struct fb_fix_screeninfo.
#[repr(C)]
struct FixInfo {
    id: [u8; 16],
    smem_start: libc::c_ulong,
    smem_len: u32,
    type_: u32,
    type_aux: u32,
    visual: u32,
    xpanstep: u16,
    ypanstep: u16,
    ywrapstep: u16,
    line_length: u32,
    mmio_start: libc::c_ulong,
    mmio_len: u32,
    accel: u32,
    capabilities: u16,
    reserved: [u16; 2],
}

/// The layout drawn, by the screen's size.
enum Layout {
    Color(Canvas<Rgb565>),
    Mono(Canvas<BinaryColor>),
}

/// Where the canvas goes: its size, the scale, and the pixel format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The layout's size.
    pub width: u32,
    /// The layout's size.
    pub height: u32,
    /// Whole-number scale.
    pub scale: u32,
}

/// The layout and scale for a framebuffer of `xres` x `yres`.
pub fn placement(xres: u32, yres: u32) -> Placement {
    let (width, height) = if xres >= 240 && yres >= 240 {
        (240, 240)
    } else if yres >= 64 {
        (128, 64)
    } else {
        (128, 32)
    };
    let scale = (xres / width).min(yres / height).max(1);
    Placement {
        width,
        height,
        scale,
    }
}

/// An open framebuffer.
pub struct Framebuffer {
    file: File,
    path: String,
    xres: u32,
    yres: u32,
    bpp: u32,
    line: usize,
    /// (red, green, blue) bit offsets and lengths.
    channels: [(u32, u32); 3],
    mono01: bool,
    place: Placement,
    layout: Layout,
    row: Vec<u8>,
    tty: Option<File>,
}

impl Framebuffer {
    /// Opens `path` and reads its mode.
    pub fn open(path: &str) -> Result<Self, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{path}: {e}"))?;
        let mut var = [0u32; 40];
        // SAFETY: FBIOGET_VSCREENINFO fills a struct fb_var_screeninfo (40 u32s).
        if unsafe { libc::ioctl(file.as_raw_fd(), FBIOGET_VSCREENINFO as _, var.as_mut_ptr()) } < 0
        {
            return Err(format!(
                "{path}: FBIOGET_VSCREENINFO: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: all-zero is a valid FixInfo (plain integers).
        let mut fix: FixInfo = unsafe { std::mem::zeroed() };
        // SAFETY: FBIOGET_FSCREENINFO fills a struct fb_fix_screeninfo.
        if unsafe { libc::ioctl(file.as_raw_fd(), FBIOGET_FSCREENINFO as _, &mut fix) } < 0 {
            return Err(format!(
                "{path}: FBIOGET_FSCREENINFO: {}",
                std::io::Error::last_os_error()
            ));
        }
        let (xres, yres, bpp) = (var[0], var[1], var[6]);
        if !matches!(bpp, 1 | 16 | 24 | 32) || xres < 128 || yres < 32 {
            return Err(format!(
                "{path}: a {xres}x{yres} screen at {bpp} bits a pixel is not supported"
            ));
        }
        let place = placement(xres, yres);
        let layout = if place.width >= 240 {
            Layout::Color(Canvas::new(place.width, place.height))
        } else {
            Layout::Mono(Canvas::new(place.width, place.height))
        };
        // the console's framebuffer: keep the text console from drawing on it
        let tty = (path == "/dev/fb0")
            .then(|| OpenOptions::new().write(true).open("/dev/tty0").ok())
            .flatten()
            .filter(|t| {
                // SAFETY: KDSETMODE takes an int mode.
                unsafe { libc::ioctl(t.as_raw_fd(), KDSETMODE as _, KD_GRAPHICS) == 0 }
            });
        Ok(Framebuffer {
            file,
            path: path.to_string(),
            xres,
            yres,
            bpp,
            line: fix.line_length as usize,
            channels: [(var[8], var[9]), (var[11], var[12]), (var[14], var[15])],
            mono01: fix.visual == VISUAL_MONO01,
            place,
            layout,
            row: Vec::new(),
            tty,
        })
    }

    /// One canvas row, scaled, in the framebuffer's format.
    fn encode_row(&mut self, y: u32) {
        let p = self.place;
        let width = (p.width * p.scale).min(self.xres) as usize;
        self.row.clear();
        let pixel = |x: usize| -> (u8, u8, u8) {
            let cx = (x as u32 / p.scale) as usize;
            let i = y as usize * p.width as usize + cx;
            match &self.layout {
                Layout::Color(c) => {
                    let px = c.pixels()[i];
                    (px.r() << 3, px.g() << 2, px.b() << 3)
                }
                Layout::Mono(c) => {
                    let v = if c.pixels()[i].is_on() { 255 } else { 0 };
                    (v, v, v)
                }
            }
        };
        match self.bpp {
            1 => {
                for byte_x in 0..width.div_ceil(8) {
                    let mut b = 0u8;
                    for bit in 0..8 {
                        let x = byte_x * 8 + bit;
                        if x < width && (pixel(x).0 > 127) != self.mono01 {
                            b |= 1 << bit;
                        }
                    }
                    self.row.push(b);
                }
            }
            bpp => {
                let bytes = (bpp / 8) as usize;
                for x in 0..width {
                    let (r, g, b) = pixel(x);
                    let mut v = 0u32;
                    for ((off, len), c) in self.channels.iter().zip([r, g, b]) {
                        let c = u32::from(c) >> (8u32.saturating_sub(*len));
                        v |= c << off;
                    }
                    self.row.extend_from_slice(&v.to_le_bytes()[..bytes]);
                }
            }
        }
    }
}

impl super::Screen for Framebuffer {
    fn describe(&self) -> String {
        format!(
            "framebuffer {} ({}x{}, {} bpp)",
            self.path, self.xres, self.yres, self.bpp
        )
    }

    fn render(&mut self, f: &Frame<'_>) {
        let _ = match &mut self.layout {
            Layout::Color(c) => draw_color(c, f),
            Layout::Mono(c) => draw_mono(c, f),
        };
    }

    fn flush(&mut self) -> Result<(), String> {
        let p = self.place;
        for y in 0..p.height {
            self.encode_row(y);
            for k in 0..p.scale {
                let fy = (y * p.scale + k) as usize;
                if fy >= self.yres as usize {
                    break;
                }
                self.file
                    .write_all_at(&self.row, (fy * self.line) as u64)
                    .map_err(|e| format!("{}: {e}", self.path))?;
            }
        }
        Ok(())
    }

    fn set_dim(&mut self, _dim: bool) -> Result<(), String> {
        // a framebuffer has no brightness of its own (a panel's backlight
        // is another device): nothing to do
        Ok(())
    }

    fn finish(&mut self) {
        if let Some(t) = &self.tty {
            // SAFETY: KDSETMODE takes an int mode.
            unsafe { libc::ioctl(t.as_raw_fd(), KDSETMODE as _, KD_TEXT) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_and_scale_follow_the_screen() {
        let p = |w, h| {
            let p = placement(w, h);
            (p.width, p.height, p.scale)
        };
        assert_eq!(p(1024, 768), (240, 240, 3));
        assert_eq!(p(320, 240), (240, 240, 1));
        assert_eq!(p(128, 64), (128, 64, 1));
        assert_eq!(p(128, 32), (128, 32, 1));
        assert_eq!(p(160, 128), (128, 64, 1));
    }

    #[test]
    fn a_missing_framebuffer_is_an_error_naming_it() {
        let e = Framebuffer::open("/dev/fb-none").err().unwrap();
        assert!(e.starts_with("/dev/fb-none: "), "{e}");
        // a file that is no framebuffer
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = Framebuffer::open(f.path().to_str().unwrap()).err().unwrap();
        assert!(e.contains("FBIOGET_VSCREENINFO"), "{e}");
    }
}
