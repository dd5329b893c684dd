//! The TOML configuration and the board profiles: what `livepush run`,
//! `check-config` and a reload do with a file's text (parse, validate, the
//! board it names, a reload plan against itself), and every error's text
//! (line and column). Never a panic, whatever the file holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livepush_core::config;

fuzz_target!(|data: &[u8]| {
    // the shell refuses a file that is not UTF-8 before parsing
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = config::board_named(text);
    match config::parse(text) {
        Ok(p) => {
            let _ = p.config.video_params();
            let _ = config::reload::plan(&p.config, &p.config);
            for n in &p.notices {
                let _ = format!("{n:?}");
            }
        }
        Err(errs) => {
            assert!(!errs.is_empty());
            for e in &errs {
                let _ = e.to_string();
            }
        }
    }
    match config::parse_board(text) {
        Ok(b) => {
            let _ = format!("{b:?}");
        }
        Err(errs) => {
            assert!(!errs.is_empty());
            for e in &errs {
                let _ = e.to_string();
            }
        }
    }
});
