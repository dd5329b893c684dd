//! What a box can run out of (issue 18): the disk under the waiting image's
//! cache fills up, /run is read-only (the control socket's default place),
//! /tmp is unusable. Each is a clear warning and the stream goes on. Each
//! case runs `livepush run` in a private mount namespace (`unshare -rm`:
//! a tmpfs of 16 KiB, a read-only bind mount), so the machine's own mounts
//! are not touched.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const SECRET: &str = "TOKEN99";

/// Runs `livepush run --config CONFIG --seconds 6` after `setup` (shell
/// commands), then `after`, inside a new user and mount namespace; (exit
/// code, stdout, stderr).
fn run_in_namespace(
    dir: &Path,
    setup: &str,
    after: &str,
    config: &str,
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let cfg = dir.join("livepush.toml");
    std::fs::write(&cfg, config).unwrap();
    // the binary and the config are opened (fds 3 and 4) before `setup`
    // mounts anything: a clone under /tmp stays reachable through them
    let script = format!(
        "set -e\nexec 3<{} 4<{}\n{setup}\nset +e\n/proc/self/fd/3 run --config /proc/self/fd/4 --seconds 6\nrc=$?\n{after}\nexit $rc\n",
        bin(),
        cfg.display()
    );
    let out = Command::new("unshare")
        .args(["-rm", "--propagation", "private", "sh", "-c", &script])
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .expect("unshare (util-linux)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn codes(stdout: &str) -> Vec<i64> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "statechange")
        .filter_map(|e| e["code"].as_i64())
        .collect()
}

/// The waiting image comes over HTTP and its cache sits on a full disk (a
/// 16 KiB tmpfs, the image about 100 KB): a warning naming the cache and
/// the reason, no partial file left, the image used and the stream up.
#[test]
fn a_full_disk_under_the_waiting_image_cache_is_a_warning() {
    need("nginx");
    need("ffmpeg");
    // not under /tmp: one case mounts over it
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // nginx serves <dir>/files/ at /files/
    let served = nginx.dir.join("files");
    std::fs::create_dir_all(&served).unwrap();
    let ok = Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=640x360,noise=alls=40",
            "-frames:v",
            "1",
        ])
        .arg(served.join("waiting.png"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert!(std::fs::metadata(served.join("waiting.png")).unwrap().len() > 32 * 1024);
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let config = format!(
        "url = \"rtmp://127.0.0.1:{}/live/full\"\nautopush = true\nmode = \"RTC\"\nwaiting-image = \"http://127.0.0.1:{}/files/waiting.png?token={SECRET}\"\n[video]\nwidth = 320\nheight = 180\n[control]\nlisten = []\n",
        nginx.rtmp_port, nginx.http_port
    );
    let (code, stdout, stderr) = run_in_namespace(
        dir.path(),
        &format!("mount -t tmpfs -o size=16k tmpfs {}", cache.display()),
        &format!(
            "ls -A {} > {}",
            cache.display(),
            dir.path().join("cache-listing").display()
        ),
        &config,
        &[("CACHE_DIRECTORY", cache.to_str().unwrap())],
    );
    assert_eq!(code, 0, "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("waiting-image cache"))
        .unwrap_or_else(|| panic!("no warning about the cache:\n{stderr}"));
    assert!(warning.contains("No space left on device"), "{warning}");
    assert!(stderr.contains("fetched"), "the image was used:\n{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stdout.contains(SECRET),
        "the token shows"
    );
    let c = codes(&stdout);
    assert_eq!(
        c.iter().filter(|c| **c == 1002).count(),
        1,
        "{c:?}\n{stderr}"
    );
    // what the full cache held when livepush had finished: no partial copy
    let listing = std::fs::read_to_string(dir.path().join("cache-listing")).unwrap();
    assert!(listing.trim().is_empty(), "left in the cache: {listing}");
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert!(probe(&rec[0]).duration > 4.0);
}

/// /run read-only (the control API's default socket cannot be made) and /tmp
/// an empty read-only tmpfs with TMPDIR pointing nowhere: a warning for the
/// API, nothing about /tmp (livepush writes no temporary files), and the
/// stream goes out as always.
#[test]
fn a_read_only_run_and_no_usable_tmp_leave_the_stream_alone() {
    need("nginx");
    // not under /tmp: one case mounts over it
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let nginx = Nginx::start(dir.path(), "");
    // the default [control]: unix:/run/livepush/control.sock
    let config = format!(
        "url = \"rtmp://127.0.0.1:{}/live/ro\"\nautopush = true\nmode = \"RTC\"\n[video]\nwidth = 320\nheight = 180\n",
        nginx.rtmp_port
    );
    let (code, stdout, stderr) = run_in_namespace(
        dir.path(),
        "mount --bind /run /run\nmount -o remount,bind,ro /run\nmount -t tmpfs -o ro,size=4k tmpfs /tmp",
        "",
        &config,
        &[("TMPDIR", "/nonexistent")],
    );
    assert_eq!(code, 0, "{stderr}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("control API: unix:/run/livepush/control.sock"))
        .unwrap_or_else(|| panic!("no warning about the socket:\n{stderr}"));
    assert!(
        warning.contains("Read-only file system") && warning.contains("not listening there"),
        "{warning}"
    );
    let c = codes(&stdout);
    assert_eq!(
        c.iter().filter(|c| **c == 1002).count(),
        1,
        "{c:?}\n{stderr}"
    );
    assert!(
        !c.iter().any(|c| *c < 0 || (3001..=3005).contains(c)),
        "{c:?}"
    );
    drop(nginx);
    let rec = Nginx::recordings_in(dir.path());
    assert_eq!(rec.len(), 1, "{rec:?}");
    assert!(probe(&rec[0]).duration > 4.0);
}
