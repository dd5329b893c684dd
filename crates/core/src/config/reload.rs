//! A reload (`POST /v1/reload`, SIGHUP): which of a new, already checked
//! configuration's changes apply to the running service, and which wait
//! for a restart. Pure: the shell carries the plan out (the publisher takes
//! the URL, bitrates and pause settings; the video thread the waiting
//! image; the event log its target) and says the rest in its answer.

use super::Config;

/// What a reload does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Keys whose new values apply now.
    pub applied: Vec<&'static str>,
    /// Keys that changed but take effect only after a restart (the
    /// running values stay).
    pub restart: Vec<&'static str>,
}

impl Plan {
    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.restart.is_empty()
    }
}

/// Compares the running configuration with the new one.
pub fn plan(old: &Config, new: &Config) -> Plan {
    let mut p = Plan::default();
    let mut check = |changed: bool, key: &'static str, live: bool| {
        if changed {
            if live {
                p.applied.push(key);
            } else {
                p.restart.push(key);
            }
        }
    };
    // the stream key may change through url-key-file: compare the whole URL
    check(
        old.url != new.url || old.url_key_file != new.url_key_file,
        "url",
        true,
    );
    check(old.min_bitrate != new.min_bitrate, "min-bitrate", true);
    check(old.max_bitrate != new.max_bitrate, "max-bitrate", true);
    check(
        old.waiting_image != new.waiting_image || old.waiting_image_md5 != new.waiting_image_md5,
        "waiting-image",
        true,
    );
    check(
        old.background_mute != new.background_mute,
        "background-mute",
        true,
    );
    check(old.pause_fps != new.pause_fps, "pause-fps", true);
    check(old.pause_time_s != new.pause_time_s, "pause-time", true);
    check(old.events != new.events, "events", true);
    check(
        old.indicators.dim_after_s != new.indicators.dim_after_s,
        "indicators.dim-after-s",
        true,
    );
    check(
        old.indicators.enabled != new.indicators.enabled,
        "indicators.enabled",
        false,
    );
    // what the running pipeline was built from
    check(old.mode != new.mode, "mode", false);
    check(old.autopush != new.autopush, "autopush", false);
    check(old.muted != new.muted, "muted", false);
    check(
        old.enable_camera != new.enable_camera,
        "enable-camera",
        false,
    );
    check(old.auto_focus != new.auto_focus, "auto-focus", false);
    check(old.orientation != new.orientation, "orientation", false);
    check(old.aspect != new.aspect, "aspect", false);
    check(old.beauty != new.beauty, "beauty", true);
    check(old.whiteness != new.whiteness, "whiteness", true);
    // a bitrate inside [video] is the start rate: a restart's business, but
    // the bounds above apply now
    check(old.video != new.video, "video", false);
    check(old.audio != new.audio, "audio", false);
    check(old.network != new.network, "network", false);
    check(old.control != new.control, "control", false);
    check(old.board != new.board, "board", false);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> Config {
        crate::config::parse(&format!("url = \"rtmp://h/live/k\"\n{extra}"))
            .unwrap()
            .config
    }

    #[test]
    fn live_keys_apply_and_pipeline_keys_wait_for_a_restart() {
        let old = cfg("max-bitrate = 1000\n[video]\nfps = 30\n");
        assert!(plan(&old, &old).is_empty());
        let new = cfg("max-bitrate = 800\npause-fps = 2\nmode = \"HD\"\n[video]\nfps = 15\n[events]\nto = \"file:/tmp/e\"\n");
        let p = plan(&old, &new);
        assert_eq!(p.applied, vec!["max-bitrate", "pause-fps", "events"]);
        assert_eq!(p.restart, vec!["mode", "video"]);
        let new = crate::config::parse(
            "url = \"rtmp://h/live/other\"\nmax-bitrate = 1000\n[video]\nfps = 30\n",
        )
        .unwrap()
        .config;
        assert_eq!(plan(&old, &new).applied, vec!["url"]);
    }
}
