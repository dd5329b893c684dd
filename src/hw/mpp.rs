//! Rockchip MPP (RK35xx VEPU) loaded at run time: the binary must build and
//! run where librockchip_mpp is absent, so nothing links against it; the
//! library is opened with dlopen(3) and its entry points looked up.
//!
//! Only the probe is built yet (library present, `mpp_create`/`mpp_init`
//! exported); encoding through MPP is not, and a found library is reported as
//! such so the chain moves on. Not tested on hardware.

use std::ffi::{CStr, CString};

/// The sonames tried, newest first.
pub const LIBRARIES: [&str; 2] = ["librockchip_mpp.so.1", "librockchip_mpp.so"];

/// Opens the library and checks its entry points; the handle is closed again.
pub fn probe() -> Result<String, String> {
    let mut last = String::new();
    for lib in LIBRARIES {
        let c = CString::new(lib).expect("static");
        // SAFETY: dlopen with a valid C string; the handle is closed below.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            // SAFETY: dlerror returns a thread-local C string or null.
            let e = unsafe { libc::dlerror() };
            last = if e.is_null() {
                format!("{lib}: not found")
            } else {
                // SAFETY: non-null dlerror result is a valid C string.
                unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
            };
            continue;
        }
        let missing: Vec<&str> = ["mpp_create", "mpp_init", "mpp_destroy"]
            .into_iter()
            .filter(|s| {
                let c = CString::new(*s).expect("static");
                // SAFETY: dlsym on a live handle with a valid C string.
                unsafe { libc::dlsym(h, c.as_ptr()) }.is_null()
            })
            .collect();
        // SAFETY: closing the handle dlopen returned.
        unsafe { libc::dlclose(h) };
        if !missing.is_empty() {
            return Err(format!("{lib} lacks {}", missing.join(", ")));
        }
        return Ok(lib.to_string());
    }
    Err(format!("no library: {last}"))
}
