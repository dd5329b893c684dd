//! Rockchip MPP (RK35xx VEPU) loaded at run time: the binary must build and
//! run where librockchip_mpp is absent, so nothing links against it; the
//! library is opened with dlopen(3) and its entry points looked up
//! ([`ffi`]). [`encoder::MppEncoder`] encodes through it. Needs the vendor
//! kernel's /dev/mpp_service (mainline Linux has no RK3588 H.264 encoder).
//! Not tested on hardware: the parameter setup and bitstream handling are
//! unit-tested, the library's absence is tested here.

pub mod encoder;
pub mod ffi;

/// Opens the library and checks every entry point the encoder uses.
pub fn probe() -> Result<String, String> {
    ffi::Lib::open().map(|l| l.name.to_string())
}
