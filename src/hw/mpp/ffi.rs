//! The subset of librockchip_mpp's C interface (rk_mpi.h, rk_mpi_cmd.h,
//! mpp_frame.h, mpp_packet.h, mpp_buffer.h, rk_venc_cfg.h; Apache-2.0) the
//! encoder uses, looked up with dlsym(3) from a library opened at run time.
//! The vtable layout and command numbers are those of MPP releases since
//! 2020 (MPP_ENC_SET_CFG = 0x320001); functions the headers define as macros
//! (mpp_buffer_get, mpp_buffer_group_get_internal, ...) are called through
//! the exported functions they expand to. Not tested on hardware.

#![allow(dead_code)]

use std::ffi::{c_char, c_void, CStr, CString};

pub type MppCtx = *mut c_void;
pub type MppFrame = *mut c_void;
pub type MppPacket = *mut c_void;
pub type MppBuffer = *mut c_void;
pub type MppBufferGroup = *mut c_void;
pub type MppEncCfg = *mut c_void;
type Ret = i32;

/// struct MppApi_t: the context's function table.
#[repr(C)]
pub struct MppApi {
    pub size: u32,
    pub version: u32,
    pub decode: *const c_void,
    pub decode_put_packet: *const c_void,
    pub decode_get_frame: *const c_void,
    pub encode: *const c_void,
    pub encode_put_frame: unsafe extern "C" fn(MppCtx, MppFrame) -> Ret,
    pub encode_get_packet: unsafe extern "C" fn(MppCtx, *mut MppPacket) -> Ret,
    pub isp: *const c_void,
    pub isp_put_frame: *const c_void,
    pub isp_get_frame: *const c_void,
    pub poll: *const c_void,
    pub dequeue: *const c_void,
    pub enqueue: *const c_void,
    pub reset: unsafe extern "C" fn(MppCtx) -> Ret,
    pub control: unsafe extern "C" fn(MppCtx, u32, *mut c_void) -> Ret,
}

pub const MPP_CTX_ENC: i32 = 1;
pub const MPP_VIDEO_CODING_AVC: i32 = 7;
pub const MPP_FMT_YUV420SP: i32 = 0; // NV12
pub const MPP_BUFFER_TYPE_DRM: i32 = 3;
pub const MPP_BUFFER_INTERNAL: i32 = 0;
pub const MPP_ENC_RC_MODE_CBR: i32 = 1;
pub const MPP_ENC_HEADER_MODE_EACH_IDR: i32 = 1;
pub const MPP_ERR_TIMEOUT: i32 = -8;

pub const MPP_SET_INPUT_TIMEOUT: u32 = 0x0020_0006;
pub const MPP_SET_OUTPUT_TIMEOUT: u32 = 0x0020_0007;
pub const MPP_ENC_SET_CFG: u32 = 0x0032_0001;
pub const MPP_ENC_GET_CFG: u32 = 0x0032_0002;
pub const MPP_ENC_SET_IDR_FRAME: u32 = 0x0032_0009;
pub const MPP_ENC_SET_HEADER_MODE: u32 = 0x0032_8001;

/// The library's entry points.
pub struct Lib {
    handle: *mut c_void,
    pub name: &'static str,
    pub mpp_create: unsafe extern "C" fn(*mut MppCtx, *mut *const MppApi) -> Ret,
    pub mpp_init: unsafe extern "C" fn(MppCtx, i32, i32) -> Ret,
    pub mpp_destroy: unsafe extern "C" fn(MppCtx) -> Ret,
    pub mpp_enc_cfg_init: unsafe extern "C" fn(*mut MppEncCfg) -> Ret,
    pub mpp_enc_cfg_deinit: unsafe extern "C" fn(MppEncCfg) -> Ret,
    pub mpp_enc_cfg_set_s32: unsafe extern "C" fn(MppEncCfg, *const c_char, i32) -> Ret,
    pub mpp_buffer_group_get:
        unsafe extern "C" fn(*mut MppBufferGroup, i32, i32, *const c_char, *const c_char) -> Ret,
    pub mpp_buffer_group_put: unsafe extern "C" fn(MppBufferGroup) -> Ret,
    pub mpp_buffer_get_with_tag: unsafe extern "C" fn(
        MppBufferGroup,
        *mut MppBuffer,
        usize,
        *const c_char,
        *const c_char,
    ) -> Ret,
    pub mpp_buffer_put_with_caller: unsafe extern "C" fn(MppBuffer, *const c_char) -> Ret,
    pub mpp_buffer_get_ptr_with_caller:
        unsafe extern "C" fn(MppBuffer, *const c_char) -> *mut c_void,
    pub mpp_frame_init: unsafe extern "C" fn(*mut MppFrame) -> Ret,
    pub mpp_frame_deinit: unsafe extern "C" fn(*mut MppFrame) -> Ret,
    pub mpp_frame_set_width: unsafe extern "C" fn(MppFrame, u32),
    pub mpp_frame_set_height: unsafe extern "C" fn(MppFrame, u32),
    pub mpp_frame_set_hor_stride: unsafe extern "C" fn(MppFrame, u32),
    pub mpp_frame_set_ver_stride: unsafe extern "C" fn(MppFrame, u32),
    pub mpp_frame_set_fmt: unsafe extern "C" fn(MppFrame, i32),
    pub mpp_frame_set_buffer: unsafe extern "C" fn(MppFrame, MppBuffer),
    pub mpp_frame_set_pts: unsafe extern "C" fn(MppFrame, i64),
    pub mpp_packet_deinit: unsafe extern "C" fn(*mut MppPacket) -> Ret,
    pub mpp_packet_get_pos: unsafe extern "C" fn(MppPacket) -> *mut c_void,
    pub mpp_packet_get_length: unsafe extern "C" fn(MppPacket) -> usize,
    pub mpp_packet_get_pts: unsafe extern "C" fn(MppPacket) -> i64,
}

// SAFETY: the handle and function pointers are process-wide and immutable.
unsafe impl Send for Lib {}
unsafe impl Sync for Lib {}

/// Every entry point `Lib` holds.
const SYMBOLS: [&str; 24] = [
    "mpp_create",
    "mpp_init",
    "mpp_destroy",
    "mpp_enc_cfg_init",
    "mpp_enc_cfg_deinit",
    "mpp_enc_cfg_set_s32",
    "mpp_buffer_group_get",
    "mpp_buffer_group_put",
    "mpp_buffer_get_with_tag",
    "mpp_buffer_put_with_caller",
    "mpp_buffer_get_ptr_with_caller",
    "mpp_frame_init",
    "mpp_frame_deinit",
    "mpp_frame_set_width",
    "mpp_frame_set_height",
    "mpp_frame_set_hor_stride",
    "mpp_frame_set_ver_stride",
    "mpp_frame_set_fmt",
    "mpp_frame_set_buffer",
    "mpp_frame_set_pts",
    "mpp_packet_deinit",
    "mpp_packet_get_pos",
    "mpp_packet_get_length",
    "mpp_packet_get_pts",
];

/// The sonames tried, newest first.
pub const LIBRARIES: [&str; 2] = ["librockchip_mpp.so.1", "librockchip_mpp.so"];

fn dlerror() -> String {
    // SAFETY: dlerror returns a thread-local C string or null.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null dlerror result is a valid C string.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

impl Lib {
    /// Opens the first library found and looks up every entry point; Err
    /// says which library or symbol is missing.
    pub fn open() -> Result<Lib, String> {
        let mut last = String::new();
        for name in LIBRARIES {
            let c = CString::new(name).expect("static");
            // SAFETY: dlopen with a valid C string; closed in Drop.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if h.is_null() {
                last = dlerror();
                continue;
            }
            let sym = |s: &str| -> *mut c_void {
                let c = CString::new(s).expect("static");
                // SAFETY: dlsym on a live handle with a valid C string.
                unsafe { libc::dlsym(h, c.as_ptr()) }
            };
            let missing: Vec<&str> = SYMBOLS.into_iter().filter(|s| sym(s).is_null()).collect();
            if !missing.is_empty() {
                // SAFETY: the handle dlopen returned; nothing from it was used.
                unsafe { libc::dlclose(h) };
                return Err(format!("{name} lacks {}", missing.join(", ")));
            }
            macro_rules! f {
                ($n:ident) => {{
                    let p = sym(stringify!($n));
                    assert!(!p.is_null(), "checked above");
                    // SAFETY: non-null (checked above), and the exported
                    // symbol has the C signature of the field (MPP's headers).
                    unsafe { std::mem::transmute::<*mut c_void, _>(p) }
                }};
            }
            return Ok(Lib {
                handle: h,
                name,
                mpp_create: f!(mpp_create),
                mpp_init: f!(mpp_init),
                mpp_destroy: f!(mpp_destroy),
                mpp_enc_cfg_init: f!(mpp_enc_cfg_init),
                mpp_enc_cfg_deinit: f!(mpp_enc_cfg_deinit),
                mpp_enc_cfg_set_s32: f!(mpp_enc_cfg_set_s32),
                mpp_buffer_group_get: f!(mpp_buffer_group_get),
                mpp_buffer_group_put: f!(mpp_buffer_group_put),
                mpp_buffer_get_with_tag: f!(mpp_buffer_get_with_tag),
                mpp_buffer_put_with_caller: f!(mpp_buffer_put_with_caller),
                mpp_buffer_get_ptr_with_caller: f!(mpp_buffer_get_ptr_with_caller),
                mpp_frame_init: f!(mpp_frame_init),
                mpp_frame_deinit: f!(mpp_frame_deinit),
                mpp_frame_set_width: f!(mpp_frame_set_width),
                mpp_frame_set_height: f!(mpp_frame_set_height),
                mpp_frame_set_hor_stride: f!(mpp_frame_set_hor_stride),
                mpp_frame_set_ver_stride: f!(mpp_frame_set_ver_stride),
                mpp_frame_set_fmt: f!(mpp_frame_set_fmt),
                mpp_frame_set_buffer: f!(mpp_frame_set_buffer),
                mpp_frame_set_pts: f!(mpp_frame_set_pts),
                mpp_packet_deinit: f!(mpp_packet_deinit),
                mpp_packet_get_pos: f!(mpp_packet_get_pos),
                mpp_packet_get_length: f!(mpp_packet_get_length),
                mpp_packet_get_pts: f!(mpp_packet_get_pts),
            });
        }
        Err(format!("no library: {last}"))
    }
}

impl Drop for Lib {
    fn drop(&mut self) {
        // SAFETY: the handle dlopen returned, closed once.
        unsafe { libc::dlclose(self.handle) };
    }
}

/// The tag/caller strings MPP's macros pass.
pub const TAG: &CStr = c"livepush";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vtable_has_mpp_s_layout_and_commands_their_numbers() {
        // size, version, then 14 function pointers before reserv[16]
        assert_eq!(std::mem::offset_of!(MppApi, encode_put_frame), 8 + 4 * 8);
        assert_eq!(std::mem::offset_of!(MppApi, encode_get_packet), 8 + 5 * 8);
        assert_eq!(std::mem::offset_of!(MppApi, control), 8 + 13 * 8);
        // CMD_MODULE_CODEC | CMD_CTX_ID_ENC = 0x320000, then the enum order
        assert_eq!(MPP_ENC_SET_CFG, 0x32_0000 + 1);
        assert_eq!(MPP_ENC_SET_IDR_FRAME, 0x32_0000 + 9);
        assert_eq!(MPP_ENC_SET_HEADER_MODE, 0x32_0000 | 0x8000 | 1);
        assert_eq!(MPP_SET_OUTPUT_TIMEOUT, 0x20_0000 + 7);
    }

    #[test]
    fn a_missing_library_is_an_error_naming_it() {
        // this machine has no librockchip_mpp
        let e = Lib::open().err().expect("no MPP here");
        assert!(e.contains("librockchip_mpp"), "{e}");
    }
}
