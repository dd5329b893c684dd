//! The board profiles built into the binary (`boards/*.toml`), and the lookup
//! of `board = "ID"`: a site file `/etc/livepush/boards/ID.toml` wins over the
//! built-in one, so a new board needs no rebuild.

use livepush_core::config::board::Board;

/// Every profile in `boards/`, by id (a test checks this list against the folder).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("qemu-virt", include_str!("../boards/qemu-virt.toml")),
    ("rk3588", include_str!("../boards/rk3588.toml")),
    ("rpi4", include_str!("../boards/rpi4.toml")),
    ("rpi5", include_str!("../boards/rpi5.toml")),
    ("x86-vaapi", include_str!("../boards/x86-vaapi.toml")),
];

/// Where site profiles live (`LIVEPUSH_BOARDS_DIR` moves it, for tests and
/// the benchmark).
pub const SITE_DIR: &str = "/etc/livepush/boards";

/// Loads board `id`. Errors name the file, or list the known ids.
pub fn load(id: &str) -> Result<Board, String> {
    let dir = std::env::var("LIVEPUSH_BOARDS_DIR").unwrap_or_else(|_| SITE_DIR.to_string());
    let site = format!("{dir}/{id}.toml");
    let (text, origin) = match crate::files::read_text(
        &site,
        "board profile",
        crate::files::BOARD_LIMIT,
    ) {
        Ok(t) => (t, site),
        // a site file that exists but cannot be used is an error, not a fall-back
        Err(e) if std::fs::symlink_metadata(&site).is_ok() => return Err(e),
        Err(_) => match BUILT_IN.iter().find(|(b, _)| *b == id) {
            Some((_, t)) => (t.to_string(), format!("built-in boards/{id}.toml")),
            None => {
                let known: Vec<&str> = BUILT_IN.iter().map(|(b, _)| *b).collect();
                return Err(format!(
                    "board {id:?}: no such profile (built in: {}; or put one at {SITE_DIR}/{id}.toml)",
                    known.join(", ")
                ));
            }
        },
    };
    livepush_core::config::parse_board(&text).map_err(|errs| {
        let lines: Vec<String> = errs.iter().map(|e| format!("{origin}: {e}")).collect();
        lines.join("\n")
    })
}
