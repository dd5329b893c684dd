//! VAAPI (Intel/AMD) through cros-libva: finding an H.264 encoder. Each DRM
//! render node is opened with vaGetDisplayDRM + vaInitialize and asked for
//! an H.264 encode entry point (EncSlice or the low-power EncSliceLP) on the
//! Constrained Baseline, Main or High profile.
//!
//! [`encoder::VaapiEncoder`] encodes. Not tested on hardware (this machine
//! has no GPU): compiled in CI for x86_64 and aarch64, the picture structure
//! and sequence numbers it uses are unit-tested in the core (`encoder::ipp`).

pub mod encoder;

use cros_libva::{Display, VAEntrypoint, VAProfile};

/// The DRM render nodes, sorted.
pub fn render_nodes() -> Vec<String> {
    let mut nodes: Vec<String> = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().display().to_string())
                .filter(|p| p.starts_with("/dev/dri/renderD"))
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

/// The first render node with an H.264 encoder, or why there is none.
pub fn probe() -> Result<String, String> {
    let nodes = render_nodes();
    if nodes.is_empty() {
        return Err("no device: no /dev/dri/renderD* render node".into());
    }
    let mut why = Vec::new();
    for n in &nodes {
        let d = match Display::open_drm_display(n) {
            Ok(d) => d,
            Err(e) => {
                why.push(format!("{n}: {e}"));
                continue;
            }
        };
        let vendor = d.query_vendor_string().unwrap_or_else(|e| e.to_string());
        for profile in [
            VAProfile::VAProfileH264ConstrainedBaseline,
            VAProfile::VAProfileH264Main,
            VAProfile::VAProfileH264High,
        ] {
            let eps = d.query_config_entrypoints(profile).unwrap_or_default();
            if eps.contains(&VAEntrypoint::VAEntrypointEncSlice)
                || eps.contains(&VAEntrypoint::VAEntrypointEncSliceLP)
            {
                return Ok(format!("{n} ({vendor}) encodes H.264"));
            }
        }
        why.push(format!("{n} ({vendor}) has no H.264 encode entry point"));
    }
    Err(why.join("; "))
}
