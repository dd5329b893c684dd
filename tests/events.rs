//! Where events go: a file, and every client of a Unix socket livepush listens
//! on. Both carry the same JSON lines stdout would.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn config(port: u16, to: &str) -> String {
    format!("url = \"rtmp://127.0.0.1:{port}/live/k\"\nautopush = true\n[video]\nwidth = 320\nheight = 180\n[events]\nto = \"{to}\"\n")
}

#[test]
fn events_appended_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &[]);
    let file = dir.path().join("events.jsonl");
    let p = push(
        dir.path(),
        &config(r.port, &format!("file:{}", file.display())),
        3.0,
    );
    assert!(p.status.success(), "{}", p.stderr);
    assert!(
        p.stdout.is_empty(),
        "events went to the file, not stdout: {}",
        p.stdout
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<i64> = events
        .iter()
        .filter(|e| e["event"] == "statechange")
        .map(|e| e["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![1003, 1007, 1008, 1001, 1002]);
    assert!(events.iter().filter(|e| e["event"] == "netstatus").count() >= 2);
    r.finish(Duration::from_secs(10));
}

#[test]
fn an_events_file_off_tmpfs_is_warned_about_and_one_on_tmpfs_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &["--keep-listening"]);
    // the oracle for the file system's type: coreutils' stat
    let fs_type = |p: &std::path::Path| {
        let o = Command::new("stat")
            .args(["-f", "-c", "%T"])
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let target = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    assert_eq!(fs_type(shm.path()), "tmpfs");
    for d in [shm.path(), target.path()] {
        let file = d.join("events.jsonl");
        let p = push(
            dir.path(),
            &config(r.port, &format!("file:{}", file.display())),
            1.5,
        );
        assert!(p.status.success(), "{}", p.stderr);
        let on_ram = matches!(fs_type(d).as_str(), "tmpfs" | "ramfs");
        let warned = p.stderr.contains("is not on tmpfs");
        assert_eq!(
            warned,
            !on_ram,
            "{} ({}): {}",
            d.display(),
            fs_type(d),
            p.stderr
        );
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("\"code\":1002"));
    }
}

#[test]
fn events_streamed_to_unix_socket_clients() {
    let dir = tempfile::tempdir().unwrap();
    let r = Receiver::start(dir.path(), &[]);
    let sock = dir.path().join("events.sock");
    let cfg = dir.path().join("livepush.toml");
    std::fs::write(&cfg, config(r.port, &format!("unix:{}", sock.display()))).unwrap();
    let mut child = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--seconds", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let client = loop {
        if let Ok(c) = UnixStream::connect(&sock) {
            break c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "no events socket at {}",
            sock.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let lines: Vec<serde_json::Value> = BufReader::new(client)
        .lines()
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap())
        .take_while(|_| t.elapsed() < Duration::from_secs(10))
        .collect();
    assert!(child.wait().unwrap().success());
    // a client sees every event from the moment it connected
    assert!(
        lines.iter().filter(|e| e["event"] == "netstatus").count() >= 2,
        "{lines:?}"
    );
    r.finish(Duration::from_secs(10));
}
