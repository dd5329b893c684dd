//! A reload's reading and checking (`POST /v1/reload`, SIGHUP): the file
//! read, parsed and checked exactly as at the start (the key file, the
//! waiting image decoded, sources preflighted), on a blocking thread, never
//! on the loop; a good result goes to the loop, which applies what can
//! change live (`livepush_core::config::reload::plan`); a bad one changes
//! nothing and says every error with its line and column.

use livepush_core::config::reload::Plan;
use livepush_core::config::Config;

/// A configuration that passed every check.
pub struct Checked {
    /// The configuration.
    pub config: Config,
    /// Its waiting image, decoded (I420 at the output size).
    pub still: Option<Vec<u8>>,
}

/// What a reload did: the plan carried out, or every error.
pub type Outcome = Result<Plan, Vec<String>>;

/// Reads and checks `path` (blocking).
pub fn check(path: &str) -> Result<Checked, Vec<String>> {
    let parsed = crate::load(path)?;
    let blocking: Vec<String> = parsed
        .notices
        .iter()
        .filter(|n| n.blocks_run)
        .map(|n| format!("{path}: {n}"))
        .collect();
    if !blocking.is_empty() {
        return Err(blocking);
    }
    crate::preflight(&parsed.config).map_err(|e| vec![format!("{path}: {e}")])?;
    let still = crate::waiting_image(&parsed.config).map_err(|e| vec![format!("{path}: {e}")])?;
    Ok(Checked {
        config: parsed.config,
        still,
    })
}

/// The running configuration after a reload: the live keys from `new`,
/// everything else as it runs (so a later reload still reports those
/// changes as waiting for a restart).
pub fn merge(running: &Config, new: &Config) -> Config {
    let mut c = running.clone();
    c.url = new.url.clone();
    c.url_key_file = new.url_key_file.clone();
    c.min_bitrate = new.min_bitrate;
    c.max_bitrate = new.max_bitrate;
    c.waiting_image = new.waiting_image.clone();
    c.waiting_image_md5 = new.waiting_image_md5.clone();
    c.background_mute = new.background_mute;
    c.pause_fps = new.pause_fps;
    c.pause_time_s = new.pause_time_s;
    c.beauty = new.beauty;
    c.whiteness = new.whiteness;
    c.events = new.events.clone();
    c.indicators.dim_after_s = new.indicators.dim_after_s;
    c
}
